// Forward orchestration: per layer one input-projection GEMM over all T·B rows, then per step one
// recurrent GEMM and one fused step. No allocation and no synchronisation inside the loop.

#include "sequence.hpp"

namespace fuselstm::detail {

template <typename T>
void sequence_forward(ops::Ops<T>& ops, CellActivation cell, const SequenceDims& dims,
                      const T* x, const T* h0, const T* c0,
                      const std::vector<LayerWeights<T>>& weights,
                      const std::vector<LayerActivations<T>>& saved, T* y, T* hT, T* cT) {
  using ops::Trans;
  const std::int64_t T_ = dims.steps, B = dims.batch, H = dims.hidden, G = 4 * H;
  const std::int64_t state = B * H;  // elements of one [B, H] slice

  for (std::int64_t layer = 0; layer < dims.layers; ++layer) {
    const LayerWeights<T>& w = weights[layer];
    const LayerActivations<T>& s = saved[layer];
    const std::int64_t X = dims.layer_input(layer);
    const T* input = layer == 0 ? x : saved[layer - 1].h + state;  // [T, B, X]
    if (s.dropped_input) {  // inter-layer dropout: this layer reads its input through the mask
      ops.dropout(T_ * state, s.input_dropout, input, s.dropped_input);
      input = s.dropped_input;
    }

    if (h0) ops.copy(s.h, h0 + layer * state, state);
    else ops.fill(s.h, state, T(0));
    if (c0) ops.copy(s.c, c0 + layer * state, state);
    else ops.fill(s.c, state, T(0));

    // gates[T·B, 4H] = input[T·B, X]·W_ihᵀ  (column-major: W_ih is X×4H, so op T)
    ops.gemm(Trans::T, Trans::N, G, T_ * B, X, T(1), w.weight_ih, X, input, X, T(0), s.gates, G);

    for (std::int64_t t = 0; t < T_; ++t) {
      T* gates_t = s.gates + t * B * G;
      const T* h_prev = s.h + t * state;
      // gates_t[B, 4H] += h(t−1)[B, H]·W_hhᵀ
      ops.gemm(Trans::T, Trans::N, G, B, H, T(1), w.weight_hh, H, h_prev, H, T(1), gates_t, G);
      kernels::ForwardStepArgs<T> step;
      step.batch = B;
      step.hidden = H;
      step.gates = gates_t;
      step.bias_ih = w.bias_ih;
      step.bias_hh = w.bias_hh;
      step.c_prev = s.c + t * state;
      step.c = s.c + (t + 1) * state;
      step.h = s.h + (t + 1) * state;
      ops.forward_step(cell, step);
    }
    ops.copy(hT + layer * state, s.h + T_ * state, state);
    ops.copy(cT + layer * state, s.c + T_ * state, state);
  }
  ops.copy(y, saved[dims.layers - 1].h + state, T_ * state);
}

template void sequence_forward<float>(ops::Ops<float>&, CellActivation, const SequenceDims&,
                                      const float*, const float*, const float*,
                                      const std::vector<LayerWeights<float>>&,
                                      const std::vector<LayerActivations<float>>&, float*,
                                      float*, float*);
template void sequence_forward<double>(ops::Ops<double>&, CellActivation, const SequenceDims&,
                                       const double*, const double*, const double*,
                                       const std::vector<LayerWeights<double>>&,
                                       const std::vector<LayerActivations<double>>&, double*,
                                       double*, double*);

}  // namespace fuselstm::detail
