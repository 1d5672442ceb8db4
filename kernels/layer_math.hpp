#pragma once
// Per-element math of the layers around an LSTM: the last-step gather and its gradient, the
// activations between MLP layers, and the embedding's lookup and segmented gradient. Shared by the
// CUDA kernels (kernels/layer_kernels.cu) and the host ops like cell_math.hpp.

#include <cstdint>

#include "cell_math.hpp"

namespace fuselstm::kernels {

/// The row of step t of sequence b in [T, B, W] (or [B, T, W] when batch_first).
FUSELSTM_HD std::int64_t sequence_row(std::int64_t t, std::int64_t b, std::int64_t steps,
                                      std::int64_t batch, bool batch_first) {
  return batch_first ? b * steps + t : t * batch + b;
}

/// The last real step of sequence b: lengths[b] − 1, or T − 1 without lengths.
FUSELSTM_HD std::int64_t last_step_of(std::int64_t b, std::int64_t steps,
                                      const std::int32_t* lengths) {
  return (lengths ? lengths[b] : steps) - 1;
}

/// Element e of dst [B, W] = src [T, B, W] (or [B, T, W]) at each sequence's last real step.
template <typename T>
FUSELSTM_HD void gather_last_step_element(std::int64_t e, std::int64_t steps, std::int64_t batch,
                                          std::int64_t width, const std::int32_t* lengths,
                                          bool batch_first, const T* src, T* dst) {
  const std::int64_t b = e / width, col = e - b * width;
  const std::int64_t row = sequence_row(last_step_of(b, steps, lengths), b, steps, batch, batch_first);
  dst[e] = src[row * width + col];
}

/// Element e of dsrc [T, B, W] (or [B, T, W]): dlast [B, W] at each sequence's last real step, 0 at
/// every other step (padding included). Every element is written: no separate fill.
template <typename T>
FUSELSTM_HD void scatter_last_step_element(std::int64_t e, std::int64_t steps, std::int64_t batch,
                                           std::int64_t width, const std::int32_t* lengths,
                                           bool batch_first, const T* dlast, T* dsrc) {
  const std::int64_t row = e / width, col = e - row * width;
  const std::int64_t t = batch_first ? row % steps : row / batch;
  const std::int64_t b = batch_first ? row / steps : row % batch;
  dsrc[e] = t == last_step_of(b, steps, lengths) ? dlast[b * width + col] : T(0);
}

/// The activation between two layers of an MLP (values of fuselstm::Activation).
enum class ActivationKind : int { tanh = 0, relu = 1 };

/// y[e] = act(x[e]); x may equal y.
template <typename T>
FUSELSTM_HD void activation_forward_element(std::int64_t e, ActivationKind kind, const T* x, T* y) {
  const T v = x[e];
  y[e] = kind == ActivationKind::tanh ? tanh_of(v) : (v > T(0) ? v : T(0));
}

/// dx[e] = dy[e]·act'(x[e]) written from the activation's output y = act(x): 1 − y² for tanh, [y >
/// 0] for ReLU (PyTorch's choice at 0: gradient 0). dy may equal dx.
template <typename T>
FUSELSTM_HD void activation_backward_element(std::int64_t e, ActivationKind kind, const T* y,
                                             const T* dy, T* dx) {
  const T out = y[e];
  dx[e] = kind == ActivationKind::tanh ? dy[e] * (T(1) - out * out)
                                       : (out > T(0) ? dy[e] : T(0));
}

/// Element e of out [N, W] = weight [V, W] at row ids[e / W] (ids checked in [0, V) before).
template <typename T>
FUSELSTM_HD void embedding_forward_element(std::int64_t e, std::int64_t width,
                                           const std::int64_t* ids, const T* weight, T* out) {
  const std::int64_t n = e / width, col = e - n * width;
  out[e] = weight[ids[n] * width + col];
}

/// The embedding's gradient without atomics: the N positions sorted by id (order), cut into S
/// segments of one id each (segment s holds order[start[s] .. start[s + 1]) and id segment_id[s]).
/// Element e ∈ [0, S·W) sums its segment's rows of dout [N, W] in that fixed order and adds the sum
/// to dweight [V, W]: one writer per element, the same bits on every run and device.
template <typename T>
FUSELSTM_HD void embedding_backward_element(std::int64_t e, std::int64_t width,
                                            const std::int64_t* start,
                                            const std::int64_t* segment_id,
                                            const std::int64_t* order, const T* dout, T* dweight) {
  const std::int64_t s = e / width, col = e - s * width;
  T sum = T(0);
  for (std::int64_t k = start[s]; k < start[s + 1]; ++k) sum += dout[order[k] * width + col];
  dweight[segment_id[s] * width + col] += sum;
}

}  // namespace fuselstm::kernels
