// Backward orchestration: per layer (top first) and step (last first) one fused step (the cell-state
// recursion) and one GEMM for dh through W_hh; after the loop dW_hh, dW_ih and dx as one GEMM each
// over all T·B rows and the bias gradients as column sums. No atomics: deterministic.

#include "sequence.hpp"

namespace fuselstm::detail {

template <typename T>
void sequence_backward(ops::Ops<T>& ops, CellActivation cell, const SequenceDims& dims,
                       const T* x, const std::vector<LayerWeights<T>>& weights,
                       const std::vector<LayerActivations<T>>& saved, const T* dy, const T* dhT,
                       const T* dcT, const std::vector<LayerGradients<T>>& grads,
                       const BackwardWorkspace<T>& work, T* dx, T* dh0, T* dc0) {
  using ops::Trans;
  const std::int64_t T_ = dims.steps, B = dims.batch, H = dims.hidden, G = 4 * H;
  const std::int64_t state = B * H;
  const std::int64_t rows = T_ * B;  // rows of the all-steps GEMMs

  for (std::int64_t layer = dims.layers - 1; layer >= 0; --layer) {
    const LayerWeights<T>& w = weights[layer];
    const LayerGradients<T>& g = grads[layer];
    const LayerActivations<T>& s = saved[layer];
    const std::int64_t X = dims.layer_input(layer);
    const T* input = layer == 0 ? x : saved[layer - 1].h + state;
    if (s.dropped_input) input = s.dropped_input;  // inter-layer dropout: what forward read
    // The layer above wrote this layer's dy into dx_inner (after its own loop had read it).
    const T* layer_dy = layer == dims.layers - 1 ? dy : work.dx_inner;
    T* layer_dx = layer == 0 ? dx : work.dx_inner;

    if (dhT) ops.copy(work.dh_rec, dhT + layer * state, state);
    else ops.fill(work.dh_rec, state, T(0));
    if (dcT) ops.copy(work.dc, dcT + layer * state, state);
    else ops.fill(work.dc, state, T(0));

    for (std::int64_t t = T_ - 1; t >= 0; --t) {
      kernels::BackwardStepArgs<T> step;
      step.batch = B;
      step.hidden = H;
      step.gates = s.gates + t * B * G;
      step.c = s.c + (t + 1) * state;
      step.c_prev = s.c + t * state;
      step.dy = layer_dy ? layer_dy + t * state : nullptr;
      step.dh_rec = work.dh_rec;
      step.dc = work.dc;
      step.da = work.da + t * B * G;
      ops.backward_step(cell, step);
      // dh_rec[B, H] = da_t[B, 4H]·W_hh  (column-major: W_hh is H×4H as stored, op N)
      ops.gemm(Trans::N, Trans::N, H, B, G, T(1), w.weight_hh, H, step.da, G, T(0), work.dh_rec, H);
    }
    ops.copy(dh0 + layer * state, work.dh_rec, state);
    ops.copy(dc0 + layer * state, work.dc, state);

    // dW_hh[4H, H] += da[T·B, 4H]ᵀ·h(0..T−1)[T·B, H]   (h rows 0..T−1 are contiguous)
    ops.gemm(Trans::N, Trans::T, H, G, rows, T(1), s.h, H, work.da, G, T(1), g.weight_hh, H);
    // dW_ih[4H, X] += daᵀ·input[T·B, X]
    ops.gemm(Trans::N, Trans::T, X, G, rows, T(1), input, X, work.da, G, T(1), g.weight_ih, X);
    // dx[T·B, X] = da·W_ih
    ops.gemm(Trans::N, Trans::N, X, rows, G, T(1), w.weight_ih, X, work.da, G, T(0), layer_dx, X);
    // Inter-layer dropout: the gradient reaches layer k−1's output through the same mask.
    if (s.dropped_input) ops.dropout(rows * X, s.input_dropout, layer_dx, layer_dx);
    if (g.bias_ih || g.bias_hh) {
      // db_ih and db_hh get the same Σ_t da(t): sum once, add twice.
      ops.fill(work.dbias, G, T(0));
      ops.add_column_sums(rows, G, work.da, work.dbias);
      if (g.bias_ih) ops.axpy(G, T(1), work.dbias, g.bias_ih);
      if (g.bias_hh) ops.axpy(G, T(1), work.dbias, g.bias_hh);
    }
  }
}

template void sequence_backward<float>(ops::Ops<float>&, CellActivation, const SequenceDims&,
                                       const float*, const std::vector<LayerWeights<float>>&,
                                       const std::vector<LayerActivations<float>>&, const float*,
                                       const float*, const float*,
                                       const std::vector<LayerGradients<float>>&,
                                       const BackwardWorkspace<float>&, float*, float*, float*);
template void sequence_backward<double>(ops::Ops<double>&, CellActivation, const SequenceDims&,
                                        const double*, const std::vector<LayerWeights<double>>&,
                                        const std::vector<LayerActivations<double>>&,
                                        const double*, const double*, const double*,
                                        const std::vector<LayerGradients<double>>&,
                                        const BackwardWorkspace<double>&, double*, double*,
                                        double*);

}  // namespace fuselstm::detail
