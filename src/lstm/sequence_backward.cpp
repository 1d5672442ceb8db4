// Backward orchestration. Per layer (top first), unit (direction) and segment (last first):
// recompute the segment's gates and cell states when they were not stored; then the segment's
// steps in pieces that end at gradient-block boundaries (per step one fused step, the cell-state
// recursion, and one GEMM for dh through W_hh), and as soon as a piece completes a gradient block
// of S steps, dW_hhᵀ, dW_ihᵀ (or dW_hh, dW_ih: Ops::weight_gradients_transposed) and dx as one GEMM
// each and the bias sums, while its da rows are still in cache; at the unit's end the sums are
// added to the gradients. No atomics: deterministic.

#include "lstm/segment.hpp"

namespace fuselstm::detail {
namespace {

// One direction of one layer, everything in that unit's own time order.
template <typename T>
struct UnitBackward {
  ops::Ops<T>& ops;
  CellActivation cell;
  bool persistent;
  const SequenceDims& dims;
  const SegmentPlan& plan;
  const LayerWeights<T>& w;
  const LayerGradients<T>& g;
  const LayerSaved<T>& saved;
  const SegmentWorkspace<T>& segment;
  const BackwardWorkspace<T>& work;
  const T* input;           // [T, B, X_k]
  std::int64_t input_size;  // X_k
  const T* dy;              // row (t, b) at dy + t·dy_step + b·dy_batch, or null
  std::int64_t dy_step, dy_batch;
  T* dx;  // [T, B, X_k] or null

  bool regenerate_gates;  // plan.da_in_gates and an earlier backward spent the saved gates

  T* da_at(std::int64_t t) const {
    const std::int64_t slice = dims.batch * 4 * dims.hidden;
    if (plan.da_in_gates) return saved.gates + t * slice;
    return work.da + (t % plan.da_ring_steps()) * slice;
  }

  // The gradient block [u, v): all its da rows are computed and contiguous in the ring.
  void flush_block(std::int64_t u, std::int64_t v) const {
    using ops::Trans;
    const std::int64_t B = dims.batch, H = dims.hidden, G = 4 * H, X = input_size;
    const std::int64_t rows = (v - u) * B;
    const T* da = da_at(u);
    if (ops.weight_gradients_transposed()) {
      // dW_hhᵀ[H, 4H] += h(u..v−1)[rows, H]ᵀ·da[rows, 4H] (and dW_ihᵀ with the input): oneDNN's
      // sgemm on an Intel Xeon ran this shape 1.3-1.5x faster than dW = daᵀ·h (H = 256, 512).
      ops.gemm(Trans::N, Trans::T, G, H, rows, T(1), da, G, saved.h + u * B * H, H, T(1),
               work.dweight_t + X * G, G);
      ops.gemm(Trans::N, Trans::T, G, X, rows, T(1), da, G, input + u * B * X, X, T(1),
               work.dweight_t, G);
    } else {
      // dW_hh[4H, H] += da[rows, 4H]ᵀ·h(u..v−1)[rows, H] (and dW_ih): the faster form with the
      // same library on an AMD EPYC (Zen 4). Summed in the workspace as [4H, X] over [4H, H].
      ops.gemm(Trans::N, Trans::T, H, G, rows, T(1), saved.h + u * B * H, H, da, G, T(1),
               work.dweight_t + X * G, H);
      ops.gemm(Trans::N, Trans::T, X, G, rows, T(1), input + u * B * X, X, da, G, T(1),
               work.dweight_t, X);
    }
    // dx[rows, X] = da·W_ih (those rows of dy are consumed already: safe when dx aliases dy).
    // Blocks are flushed last first: the unit's first (v = T) packs W_ih for the others.
    if (dx) {
      ops.weight_gemm(Trans::N, Trans::N, X, rows, G, w.weight_ih, X, da, G, T(0),
                      dx + u * B * X, X, /*a_unchanged=*/v < dims.steps);
    }
    if (g.bias_ih || g.bias_hh) ops.add_column_sums(rows, G, da, work.dbias);
  }

  void run(const T* dhT, const T* dcT, T* dh0, T* dc0) const {
    using ops::Trans;
    const std::int64_t B = dims.batch, H = dims.hidden, G = 4 * H, state = B * H;
    const std::int64_t S = plan.gradient_steps;
    if (dhT) ops.copy(work.dh_rec, dhT, state);
    else ops.fill(work.dh_rec, state, T(0));
    if (dcT) ops.copy(work.dc, dcT, state);
    else ops.fill(work.dc, state, T(0));
    if (g.bias_ih || g.bias_hh) ops.fill(work.dbias, G, T(0));
    ops.fill(work.dweight_t, (input_size + H) * G, T(0));
    if (dims.lengths) ops.fill(work.dh_carry, state, T(0));

    if (regenerate_gates) {
      // A backward through this context already wrote da over its gates: the forward's calls
      // again, on the same inputs, give them back bit for bit (and rewrite h and c unchanged).
      forward_segment(ops, cell, persistent, dims, plan.projection_steps, input, input_size, w,
                      /*w_ih_packed=*/false, segment_view(dims, plan, saved, segment, 0), saved.h,
                      saved.h, state);
    }
    std::int64_t flushed_from = dims.steps;  // gradient blocks at and after this step are done
    for (std::int64_t seg = plan.segments() - 1; seg >= 0; --seg) {
      const SegmentView<T> v = segment_view(dims, plan, saved, segment, seg);
      if (plan.recompute) {
        // Segments run last first: the first recomputed packs W_ih for the others.
        forward_segment(ops, cell, persistent, dims, plan.projection_steps, input, input_size, w,
                        /*w_ih_packed=*/seg < plan.segments() - 1, v, saved.h, segment.h_spare, 0);
      }
      kernels::BackwardRecurrenceArgs<T> r;
      r.first = v.first;
      r.end = v.end;
      r.batch = B;
      r.hidden = H;
      r.weight_hh = w.weight_hh;
      r.gates = v.gates;
      r.c_first = v.c_first;
      r.c_mid = v.c_mid;
      r.c_last = v.c_last;
      r.dy = dy;
      r.dy_step = dy_step;
      r.dy_batch = dy_batch;
      r.dh_rec = work.dh_rec;
      r.dc = work.dc;
      r.da = plan.da_in_gates ? saved.gates : work.da;
      r.da_ring_steps = plan.da_in_gates ? dims.steps : plan.da_ring_steps();
      r.lengths = dims.lengths;
      r.dh_carry = work.dh_carry;
      // Pieces ending at multiples of S, last first; a piece that reaches its block's first step
      // completes the block (a block that straddles segments is finished by the earlier one).
      // The ring then holds one block: SegmentPlan::da_ring_steps (or da_in_gates: none).
      for (std::int64_t end = v.end; end > v.first;) {
        const std::int64_t start = std::max(v.first, (end - 1) / S * S);
        // W_hh does not change within a unit's backward: pieces after its first reuse the panels.
        r.same_weights_as_before = end < dims.steps;
        ops::run_backward_recurrence(ops, persistent, cell, r.steps(start, end));
        if (start % S == 0) {
          flush_block(start, flushed_from);
          flushed_from = start;
        }
        end = start;
      }
    }
    // Every length is >= 1, so nothing is left in dh_carry after step 0.
    ops.copy(dh0, work.dh_rec, state);
    ops.copy(dc0, work.dc, state);
    // db_ih and db_hh get the same Σ_t da(t): summed once, added to both.
    if (g.bias_ih) ops.axpy(G, T(1), work.dbias, g.bias_ih);
    if (g.bias_hh) ops.axpy(G, T(1), work.dbias, g.bias_hh);
    const std::int64_t X = input_size;
    if (!ops.weight_gradients_transposed()) {
      ops.axpy(G * X, T(1), work.dweight_t, g.weight_ih);
      ops.axpy(G * H, T(1), work.dweight_t + X * G, g.weight_hh);
      return;
    }
    // dW_ih += (dW_ihᵀ)ᵀ, dW_hh += (dW_hhᵀ)ᵀ, each transposed back through the da ring (every
    // block is flushed, so it is free): one transpose and one add each per call.
    ops.swap_axes(G, X, 1, work.dweight_t, work.da);
    ops.axpy(G * X, T(1), work.da, g.weight_ih);
    ops.swap_axes(G, H, 1, work.dweight_t + X * G, work.da);
    ops.axpy(G * H, T(1), work.da, g.weight_hh);
  }
};

}  // namespace

template <typename T>
void sequence_backward(ops::Ops<T>& ops, const SequenceCall<T>& call, const BackwardIo<T>& io,
                       const std::vector<LayerGradients<T>>& grads,
                       const BackwardWorkspace<T>& work) {
  const SequenceDims& dims = call.dims;
  const SegmentPlan& plan = call.plan;
  const CellActivation cell = call.cell;
  const LayerLinks<T>& links = call.links;
  const auto& saved = call.saved;
  const auto& weights = call.weights;
  const SegmentWorkspace<T>& segment = call.segment;
  const T *x = call.x, *dy = io.dy, *dhT = io.dhT, *dcT = io.dcT;
  T *dx = io.dx, *dh0 = io.dh0, *dc0 = io.dc0;
  const std::int64_t T_ = dims.steps, B = dims.batch, H = dims.hidden, D = dims.directions;
  const std::int64_t state = B * H, width = D * H;  // width of a layer's output

  for (std::int64_t layer = dims.layers - 1; layer >= 0; --layer) {
    const std::int64_t X = dims.layer_input(layer);
    const T* input = layer == 0 ? x : D == 1 ? saved[layer - 1].h + state : links.output[layer - 1];
    if (const T* dropped = links.dropped(layer)) input = dropped;  // what forward read
    // The gradient reaching this layer's output: the caller's dy (maybe batch-first) for the top
    // layer; below, the layer above's dx, which it wrote into dx_inner block by block after
    // reading its own dy rows (so dx_inner is read here and overwritten here the same way).
    const bool top = layer == dims.layers - 1;
    const T* d_out = top ? dy : work.dx_inner;
    const bool batch_first = top && dims.batch_first;
    const std::int64_t out_step = batch_first ? width : B * width;
    const std::int64_t out_batch = batch_first ? T_ * width : width;
    T* layer_dx = layer > 0 ? work.dx_inner : dx && dims.batch_first ? work.dx_time_major : dx;
    if (D == 2 && d_out) {  // the reverse unit's dy, taken before the forward unit overwrites it
      ops.reverse_time(T_, B, H, dims.lengths, d_out + H, out_step, out_batch, work.dy_reverse,
                       false);
    }
    for (std::int64_t direction = 0; direction < D; ++direction) {
      const std::int64_t unit = layer * D + direction;
      const bool reverse = direction == 1;
      const UnitBackward<T> ub{ops,
                               cell,
                               call.persistent,
                               dims,
                               plan,
                               weights[unit],
                               grads[unit],
                               saved[unit],
                               segment,
                               work,
                               reverse ? links.reversed_input[layer] : input,
                               X,
                               reverse ? (d_out ? work.dy_reverse : nullptr) : d_out,
                               reverse ? state : out_step,
                               reverse ? H : out_batch,
                               reverse ? (layer_dx ? work.dx_reverse : nullptr) : layer_dx,
                               call.regenerate_gates};
      ub.run(dhT ? dhT + unit * state : nullptr, dcT ? dcT + unit * state : nullptr,
             dh0 + unit * state, dc0 + unit * state);
      if (reverse && layer_dx) {  // add the reverse unit's dx, back in natural time
        ops.reverse_time(T_, B, X, dims.lengths, work.dx_reverse, B * X, X, layer_dx, true);
      }
    }
    // Inter-layer dropout: the gradient reaches layer k−1's output through the same mask.
    if (links.dropped(layer)) ops.dropout(T_ * B * X, links.dropout_keys[layer], layer_dx, layer_dx);
  }
  if (dx && dims.batch_first) ops.swap_axes(B, T_, dims.input, work.dx_time_major, dx);
}

#define FUSELSTM_INSTANTIATE(T)                                                            \
  template void sequence_backward<T>(ops::Ops<T>&, const SequenceCall<T>&, const BackwardIo<T>&, \
                                     const std::vector<LayerGradients<T>>&,                     \
                                     const BackwardWorkspace<T>&);
FUSELSTM_INSTANTIATE(float)
FUSELSTM_INSTANTIATE(double)
#undef FUSELSTM_INSTANTIATE

}  // namespace fuselstm::detail
