#pragma once
// The sequence algorithm (cuDNN's "standard" algorithm, Appleyard et al. 2016), written once against
// the ops interface: it decides which GEMMs run with which layouts and per-step offsets, which fused
// steps run, and what is saved for backward. All pointers are memory of ops.device().
//
// Time is cut into segments of k steps (k = T when everything is stored). Per layer and segment
// [a, b): one input-projection GEMM over its k·B rows, then per step one recurrent GEMM and one
// fused step. Backward walks the segments last to first (recomputing a segment's gates and cell
// states from its checkpoint when they were not stored), and accumulates the weight gradients in
// gradient blocks of S steps aligned to absolute time, so the arithmetic, and hence every bit of
// the result, is the same whatever k is.
//
// Layouts (row-major unless said): x [T, B, X]; h [T+1, B, H] per layer with row 0 = h0; gates
// [k, B, 4H] per segment (pre-activations, then the saved activations i, f, g, o). A row-major
// [r, c] matrix is, to cuBLAS, a column-major c×r matrix with leading dimension c.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuselstm/config.hpp"
#include "ops/ops.hpp"

namespace fuselstm::detail {

struct SequenceDims {
  std::int64_t steps = 0;   // T
  std::int64_t batch = 0;   // B
  std::int64_t input = 0;   // X of layer 0
  std::int64_t hidden = 0;  // H
  std::int64_t layers = 0;  // L
  std::int64_t directions = 1;  // D: 2 for bidirectional layers
  const std::int32_t* lengths = nullptr;  // [B] steps of each sequence (device memory); null: T
  bool batch_first = false;  // the caller's y, dy, dx are [B, T, F] (x is always copied time-major)
  std::int64_t layer_input(std::int64_t layer) const {
    return layer == 0 ? input : directions * hidden;
  }
  std::int64_t units() const { return layers * directions; }  // unit = layer·D + direction
};

/// What ties layers and directions together (owned by the context): empty vectors when D = 1
/// and there is no dropout, where layer k's input is simply layer k−1's h.
template <typename T>
struct LayerLinks {
  std::vector<T*> reversed_input;  // per layer [T, B, X_k]: the reverse unit's input
  std::vector<T*> output;          // per layer < L−1 [T, B, 2H]: [forward h, reverse h] per step
  // Inter-layer dropout (training only; empty: none), per layer k > 0 at index k: forward writes
  // mask ⊙ (layer k−1's output) [T, B, D·H] here and layer k reads it as its input; backward
  // reads it for dW_ih and masks the gradient it passes down with the same key.
  std::vector<T*> dropped_input;
  std::vector<kernels::DropoutKey> dropout_keys;
  T* dropped(std::int64_t layer) const {
    return layer < static_cast<std::int64_t>(dropped_input.size()) ? dropped_input[layer] : nullptr;
  }
};

/// How time is cut. Stored: one segment of T steps whose buffers are kept. Recompute: segments of
/// k steps sharing one workspace, with c checkpointed at each segment start.
///
/// Same calls, same bits: no BLAS promises that a row comes out with the same bits from GEMM calls
/// of different shapes (OpenBLAS's edge micro-kernels and cuBLAS's tile/split-K choices sum in
/// another order). So every GEMM whose shape could depend on the memory mode is cut into blocks
/// fixed in absolute time, with sizes that depend only on (T, B, device):
/// - the input projection runs in blocks [j·P, min((j+1)·P, T)), P = projection_steps;
/// - k is a multiple of P (or T), so a segment is a whole number of projection blocks;
/// - the weight gradients and dx run in blocks [j·S, min((j+1)·S, T)), S = gradient_steps;
/// - the per-step GEMMs have one shape whatever the mode.
/// Every mode (stored, recompute with any k, inference) then issues identical calls on identical
/// data, and the results are bitwise equal on any BLAS.
struct SegmentPlan {
  std::int64_t steps = 0;             // T
  std::int64_t segment_steps = 0;     // k, 1..T: a multiple of P, or T
  std::int64_t projection_steps = 0;  // P, 1..T: steps per input-projection GEMM block
  std::int64_t gradient_steps = 0;    // S, 1..T: steps per weight-gradient GEMM block
  bool recompute = false;
  /// Stored, on the host: backward writes da(t) over the saved gates(t), which it has just read
  /// and never reads again, instead of into a ring of its own. The cell step's stores then land
  /// on lines it has just loaded (the ring's lines had to be fetched before each store): 1.6-5%
  /// faster training steps at H = 256 on a Zen 4, 0.1-1.6% at H = 512 (bench/RESULTS.md, session
  /// 11). The context's gates are then spent: a second backward through it recomputes them first
  /// (ContextData::gates_spent). CUDA keeps the ring (not measured there). Either way the GEMMs see
  /// the same values in the same blocks: the same bits.
  bool da_in_gates = false;
  std::int64_t segments() const { return (steps + segment_steps - 1) / segment_steps; }
  /// Steps of the backward da ring: one gradient block. Backward runs the recurrence in pieces
  /// that end at block boundaries and flushes each block as soon as it is complete, so only one
  /// block's da is live, and block j sits at slices 0..S−1 (contiguous for its GEMMs). Holding a
  /// whole segment instead cost T·B·4H values in store_all (512 MiB at T = 1000, B = 64,
  /// H = 512), and its GEMMs read da back from DRAM. 0 when da_in_gates: no ring.
  std::int64_t da_ring_steps() const { return da_in_gates ? 0 : gradient_steps; }
};

/// Steps per input-projection block (P): at least `rows` GEMM rows (P·B) so the block stays
/// compute-bound (1024 rows on the host: 2-3% faster training steps than 512 at B = 16 and 64 with
/// oneDNN's sgemm), capped at T; `requested` > 0 (LstmConfig::projection_steps) overrides. A function
/// of (T, B, device) alone: the GPU wants larger blocks than the host's BLAS.
inline std::int64_t projection_block_steps(std::int64_t steps, std::int64_t batch, bool cuda,
                                           std::int64_t requested) {
  const std::int64_t rows = cuda ? 4096 : 1024;
  const std::int64_t p = requested > 0 ? requested : (rows + batch - 1) / batch;
  return std::max<std::int64_t>(1, std::min(steps, p));
}

/// The smallest multiple of P that is >= k, capped at T (a segment is whole projection blocks).
inline std::int64_t round_segment_steps(std::int64_t k, std::int64_t projection_steps,
                                        std::int64_t steps) {
  const std::int64_t blocks = (std::max<std::int64_t>(k, 1) + projection_steps - 1) / projection_steps;
  return std::min(steps, blocks * projection_steps);
}

/// Steps per weight-gradient block: at least 1024 rows per GEMM (K = S·B) so the blocks stay
/// compute-bound, capped at T; a function of T and B alone so that every memory mode adds the same
/// products in the same order.
inline std::int64_t gradient_block_steps(std::int64_t steps, std::int64_t batch) {
  return std::min(steps, (1024 + batch - 1) / batch);
}

template <typename T>
struct LayerWeights {
  const T* weight_ih = nullptr;  // [4H, X_k]
  const T* weight_hh = nullptr;  // [4H, H]
  const T* bias_ih = nullptr;    // [4H] or null
  const T* bias_hh = nullptr;    // [4H] or null
};

template <typename T>
struct LayerGradients {
  T* weight_ih = nullptr;  // [4H, X_k], accumulated
  T* weight_hh = nullptr;  // [4H, H], accumulated
  T* bias_ih = nullptr;    // [4H] or null, accumulated
  T* bias_hh = nullptr;    // [4H] or null, accumulated
};

/// What forward keeps per layer (owned by the forward context).
template <typename T>
struct LayerSaved {
  T* h = nullptr;            // [T+1, B, H] h(0..T): the next layer's input and dW_hh's rows
  T* checkpoints = nullptr;  // c(s·k) for s = 0..segments: stored: the full c [T+1, B, H]
                             // (stride T); recompute: [segments+1, B, H] (stride 1)
  std::int64_t checkpoint_stride = 0;  // in [B, H] slices
  T* gates = nullptr;        // stored: [T, B, 4H] the saved activations; recompute: null
};

/// Segment buffers: the context's own when stored, this shared workspace when recomputing.
template <typename T>
struct SegmentWorkspace {
  T* gates = nullptr;    // [k, B, 4H]
  T* c = nullptr;        // [k, B, H] c(a+1..b−1) of the segment being worked on
  T* h_spare = nullptr;  // [B, H] where a recomputed h goes (the kept h already holds it)
};

/// Backward's scratch, sized for (T, B, plan) and reused across calls.
template <typename T>
struct BackwardWorkspace {
  T* da = nullptr;  // [da_ring_steps, B, 4H] gate-gradients, step t at ring row t mod ring; at
                    // least [4H, max(X_k, H)] (a unit's end transposes dweight_t back into it).
                    // With plan.da_in_gates, da(t) goes over the saved gates(t) instead.
  T* dh_rec = nullptr;    // [B, H] the gradient reaching h(t) through step t+1
  T* dc = nullptr;        // [B, H] the gradient reaching c(t) through step t+1
  T* dx_inner = nullptr;  // [T, B, H] dx of layer k > 0 = dy of layer k−1; null when L = 1
  T* dbias = nullptr;     // [4H] Σ over steps and batch of da (both bias gradients get it)
  T* dweight_t = nullptr;    // [X_k + H, 4H] Σ over blocks of dW_ihᵀ (rows < X_k), dW_hhᵀ (rest);
                             // untransposed (Ops::weight_gradients_transposed false): [4H, X_k], [4H, H]
  T* dh_carry = nullptr;  // [B, H] with lengths: dJ/dh carried through padded steps
  T* dx_time_major = nullptr;  // [T, B, X] when batch_first: dx before it is transposed
  T* dy_reverse = nullptr;     // [T, B, H] when D = 2: the reverse unit's dy in its own time
  T* dx_reverse = nullptr;     // [T, B, max X_k] when D = 2: the reverse unit's dx, reversed
};

/// What the forward and the backward of one call share, built in one place (lstm.cpp's
/// call_of) from the model and its ForwardContext. Backward only reads through `saved` and
/// `links`, except the saved gates when plan.da_in_gates (backward writes da over them).
template <typename T>
struct SequenceCall {
  CellActivation cell = CellActivation::tanh;
  bool persistent = false;  // the recurrent steps run as the ops' persistent algorithm
  SequenceDims dims;
  SegmentPlan plan;
  const T* x = nullptr;                  // [T, B, X] the input, time-major
  std::vector<LayerWeights<T>> weights;  // per unit (layer·D + direction)
  std::vector<LayerSaved<T>> saved;      // per unit
  LayerLinks<T> links;
  SegmentWorkspace<T> segment;
  bool regenerate_gates = false;  // backward: the saved gates were spent (da_in_gates) by an
                                  // earlier backward; recompute them first
};

/// The states and outputs at the ends of a forward; h0, c0 may be null (zeros).
template <typename T>
struct ForwardIo {
  const T* h0 = nullptr;  // [L·D, B, H] or null
  const T* c0 = nullptr;  // [L·D, B, H] or null
  T* y = nullptr;         // [T, B, D·H] (batch_first: [B, T, D·H]); zero past each length
  T* hT = nullptr;        // [L·D, B, H] at each sequence's own last step
  T* cT = nullptr;        // [L·D, B, H]
};

/// The gradients in and out of a backward; dy, dhT, dcT may be null (zero), dx null (skipped).
template <typename T>
struct BackwardIo {
  const T* dy = nullptr;   // [T, B, D·H] (batch_first: [B, T, D·H]) or null
  const T* dhT = nullptr;  // [L·D, B, H] or null
  const T* dcT = nullptr;  // [L·D, B, H] or null
  T* dx = nullptr;         // [T, B, X] (batch_first: [B, T, X]) or null
  T* dh0 = nullptr;        // [L·D, B, H]
  T* dc0 = nullptr;        // [L·D, B, H]
};

/// Forward through all layers: fills call.saved and writes io's outputs.
template <typename T>
void sequence_forward(ops::Ops<T>& ops, const SequenceCall<T>& call, const ForwardIo<T>& io);

/// Writes y from the top layer's h(1..T) [T, B, H]: transposed when batch_first, zero past each
/// length.
template <typename T>
void write_outputs(ops::Ops<T>& ops, const SequenceDims& dims, const T* top_h, T* y);

/// Inference buffers: what a forward without backward needs, O(T·B·H) for the layer outputs and
/// O(P·B·H) for one projection block, instead of every step's gates.
template <typename T>
struct InferenceBuffers {
  T* h[2] = {nullptr, nullptr};  // [T+1, B, H] each: layer k writes h[k % 2], reads h[(k−1) % 2]
  T* c = nullptr;                // [B, H] the running cell state
  T* gates = nullptr;            // [P, B, 4H] one projection block
  T* c_mid = nullptr;            // [P, B, H]
};

/// Forward without saving anything for backward (same kernels, same GEMMs: same results).
/// call.saved, call.links and call.segment are unused (unidirectional models only).
template <typename T>
void sequence_infer(ops::Ops<T>& ops, const SequenceCall<T>& call,
                    const InferenceBuffers<T>& buffers, const ForwardIo<T>& io);

/// BPTT through all layers, t = T..1 and layer L−1..0: accumulates into `grads` (per unit) and
/// writes io's dx, dh0, dc0.
template <typename T>
void sequence_backward(ops::Ops<T>& ops, const SequenceCall<T>& call, const BackwardIo<T>& io,
                       const std::vector<LayerGradients<T>>& grads,
                       const BackwardWorkspace<T>& work);

}  // namespace fuselstm::detail
