#pragma once
// One segment [a, b) of one layer: where its gates and cell states live, and its forward (used by
// forward, and by backward when it recomputes). Internal to the orchestration.

#include <algorithm>

#include "lstm/sequence.hpp"
#include "ops/recurrence_standard.hpp"

namespace fuselstm::detail {

template <typename T>
struct SegmentView {
  std::int64_t first = 0;  // a
  std::int64_t end = 0;    // b
  std::int64_t state = 0;  // B·H
  T* gates = nullptr;      // [b−a, B, 4H], step t at row (t − a)
  T* c_first = nullptr;    // c(a): a checkpoint
  T* c_mid = nullptr;      // c(a+1..b−1), c(τ) at slice τ − a − 1
  T* c_last = nullptr;     // c(b): the next checkpoint
  T* c_at(std::int64_t tau) const {
    if (tau == first) return c_first;
    if (tau == end) return c_last;
    return c_mid + (tau - first - 1) * state;
  }
};

template <typename T>
SegmentView<T> segment_view(const SequenceDims& dims, const SegmentPlan& plan,
                            const LayerSaved<T>& saved, const SegmentWorkspace<T>& work,
                            std::int64_t segment) {
  const std::int64_t state = dims.batch * dims.hidden;
  SegmentView<T> v;
  v.first = segment * plan.segment_steps;
  v.end = std::min(dims.steps, v.first + plan.segment_steps);
  v.state = state;
  v.c_first = saved.checkpoints + segment * saved.checkpoint_stride * state;
  v.c_last = saved.checkpoints + (segment + 1) * saved.checkpoint_stride * state;
  if (plan.recompute) {
    v.gates = work.gates;
    v.c_mid = work.c;
  } else {  // one stored segment [0, T): the context's full buffers
    v.gates = saved.gates;
    v.c_mid = saved.checkpoints + state;
  }
  return v;
}

/// The forward of one segment: the input projection of its rows in blocks of P steps, then its
/// recurrent steps (per step one recurrent GEMM and one fused step, or the ops' persistent
/// algorithm). h(t−1) is read from the kept h [T+1, B, H]; h(t) goes to h_out + t·B·H (the kept h
/// itself, or when recomputing, a spare slice with h_out_stride 0). save_gates = false (inference)
/// leaves the pre-activations in the gate buffer.
template <typename T>
void forward_segment(ops::Ops<T>& ops, CellActivation cell, bool persistent,
                     const SequenceDims& dims, std::int64_t projection_steps, const T* input,
                     std::int64_t input_size, const LayerWeights<T>& w, bool w_ih_packed,
                     const SegmentView<T>& v, const T* h, T* h_out, std::int64_t h_out_stride,
                     bool save_gates = true) {
  using ops::Trans;
  const std::int64_t B = dims.batch, H = dims.hidden, G = 4 * H, X = input_size;
  // gates[rows, 4H] = input[a·B .. b·B, X]·W_ihᵀ (column-major: W_ih is X×4H, so op T), in the
  // plan's projection blocks of absolute time (a is a multiple of P): the same calls in every mode.
  // W_ih is packed by the first block unless the caller packed it earlier in this call.
  for (std::int64_t block = v.first; block < v.end; block += projection_steps) {
    const std::int64_t rows = (std::min(v.end, block + projection_steps) - block) * B;
    ops.weight_gemm(Trans::T, Trans::N, G, rows, X, w.weight_ih, X, input + block * B * X, X,
                    T(0), v.gates + (block - v.first) * B * G, G, w_ih_packed || block > v.first);
  }
  kernels::ForwardRecurrenceArgs<T> r;
  r.first = v.first;
  r.end = v.end;
  r.batch = B;
  r.hidden = H;
  r.weight_hh = w.weight_hh;
  r.bias_ih = w.bias_ih;
  r.bias_hh = w.bias_hh;
  r.gates = v.gates;
  r.c_first = v.c_first;
  r.c_mid = v.c_mid;
  r.c_last = v.c_last;
  r.h = h;
  r.h_out = h_out;
  r.h_out_stride = h_out_stride;
  r.lengths = dims.lengths;
  r.save_gates = save_gates;
  ops::run_forward_recurrence(ops, persistent, cell, r);
}

}  // namespace fuselstm::detail
