#pragma once
// The one description of what a forward + backward of (T, B) allocates under a segment plan:
// plan_memory() sums it, and forward, backward and the model's workspace allocate from it, so the
// plan cannot drift from what is allocated. Shapes are in elements of the model's dtype. Internal.

#include <cstdint>
#include <vector>

#include "fuselstm/config.hpp"
#include "fuselstm/tensor.hpp"
#include "lstm/sequence.hpp"

namespace fuselstm::detail {

struct CallBuffers {
  // --- The ForwardContext (per call) ----------------------------------------------------------
  Shape x;                            // [T, B, X] time-major copy of the input
  std::vector<Shape> h;               // per unit [T+1, B, H]
  std::vector<Shape> checkpoints;     // per unit: stored [T+1, B, H]; recompute [segments+1, B, H]
  std::vector<Shape> gates;           // per unit [T, B, 4H] when stored; none when recomputing
  std::vector<Shape> reversed_input;  // bidirectional: per layer [T, B, X_k]
  std::vector<Shape> layer_output;    // bidirectional: per layer < L−1 [T, B, 2H]
  std::vector<Shape> dropped_input;   // inter-layer dropout: per layer k > 0 [T, B, D·H]
  // --- The model's workspace (grown to the largest call, then reused) ------------------------
  Shape segment_gates, segment_c, h_spare;  // recompute: [k·B, 4H], [k·B, H], [B, H]; else empty
  Shape da, dh_rec, dc, dbias;              // [max(ring·B, X_k, H), 4H], [B, H], [B, H], [4H]
  Shape dx_inner;                           // L > 1: [T·B, D·H]; else empty
  Shape dy_reverse, dx_reverse;             // bidirectional: [T·B, H], [T·B, max(X, D·H)]
  Shape dweight_t;  // [max X_k + H, 4H]: a unit's dW_ihᵀ over dW_hhᵀ, summed over its blocks
  // --- Per call, returned or scratch of backward --------------------------------------------
  Shape y, state;       // y [T, B, D·H] (batch_first: [B, T, D·H]); hT, cT, dh0, dc0 [L·D, B, H]
  Shape dx;             // [T, B, X] (batch_first: [B, T, X])
  Shape dx_time_major;  // batch_first: [T, B, X] before its transpose; else empty
  Shape dh_carry;       // with lengths: [B, H] the gradient carried through padding; else empty

  /// Elements of each MemoryPlan group (an empty Shape counts 0).
  std::int64_t context_elements() const;
  std::int64_t workspace_elements() const;  // includes dx_time_major and dh_carry (scratch)
  std::int64_t output_elements() const;     // y, hT, cT, dx, dh0, dc0
};

/// The buffers of (T, B) under `plan`; `dropout` when the forward keeps inter-layer masks,
/// `lengths` when the batch is padded (one [B, H] buffer more; plan_memory() assumes none).
CallBuffers describe_call(const LstmConfig& config, std::int64_t steps, std::int64_t batch,
                          const SegmentPlan& plan, bool dropout, bool lengths = false);

/// Elements of a shape; 0 for an empty (absent) one.
inline std::int64_t elements_of(const Shape& shape) {
  return shape.empty() ? 0 : shape_numel(shape);
}

}  // namespace fuselstm::detail
