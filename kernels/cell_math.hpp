#pragma once
// Per-element math of one LSTM cell, forward and backward, both cell-output variants. Compiled by
// nvcc into the kernels and by the host compiler into the host ops: one definition, so the indexing
// the CUDA kernels use is exercised by every CPU test too.

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define FUSELSTM_HD __host__ __device__ __forceinline__
#else
#define FUSELSTM_HD inline
#endif

namespace fuselstm::kernels {

/// One forward step of one layer. Per step the gate buffer holds, for each batch row b, 4H
/// pre-activations in the order i, f, g, o (W_ih·x + W_hh·h(t−1), biases not yet added).
template <typename T>
struct ForwardStepArgs {
  std::int64_t batch = 0;      // B
  std::int64_t hidden = 0;     // H
  T* gates = nullptr;          // [B, 4H] in: pre-activations; out (when save_gates): i, f, g, o
  const T* bias_ih = nullptr;  // [4H] or null
  const T* bias_hh = nullptr;  // [4H] or null
  const T* c_prev = nullptr;   // [B, H] c(t−1)
  T* c = nullptr;              // [B, H] out: c(t)
  T* h = nullptr;              // [B, H] out: h(t)
  const T* h_prev = nullptr;   // [B, H] h(t−1): carried to h(t) past a sequence's end
  const std::int32_t* lengths = nullptr;  // [B] steps of each sequence, or null: all T
  std::int64_t step = 0;       // t (0-based) of this step, compared with lengths
  bool save_gates = true;      // write the activations back for backward
};

/// One backward step of one layer (the BPTT cell-state recursion), from saved activations.
template <typename T>
struct BackwardStepArgs {
  std::int64_t batch = 0;      // B
  std::int64_t hidden = 0;     // H
  const T* gates = nullptr;    // [B, 4H] saved i, f, g, o of step t
  const T* c = nullptr;        // [B, H] c(t)
  const T* c_prev = nullptr;   // [B, H] c(t−1)
  const T* dy = nullptr;       // dJ/dy(t), row b at dy + b·dy_batch_stride; null = 0
  std::int64_t dy_batch_stride = 0;  // H for [T, B, H] gradients, T·H for batch-first [B, T, H]
  const T* dh_rec = nullptr;   // [B, H] dJ/dh(t) through step t+1 (W_hhᵀ·da(t+1), or dhT)
  T* dc = nullptr;             // [B, H] in: dJ/dc(t) through step t+1; out: dJ/dc(t−1) (in place)
  T* da = nullptr;             // [B, 4H] out: dJ/d(pre-activations) of step t, order i, f, g, o
  const std::int32_t* lengths = nullptr;  // [B] steps of each sequence, or null: all T
  std::int64_t step = 0;       // t (0-based)
  T* dh_carry = nullptr;       // [B, H] with lengths: dJ/dh carried through padded steps (in place)
};

FUSELSTM_HD float exp_of(float x) { return expf(x); }
FUSELSTM_HD double exp_of(double x) { return exp(x); }
FUSELSTM_HD float tanh_of(float x) { return tanhf(x); }
FUSELSTM_HD double tanh_of(double x) { return tanh(x); }

template <typename T>
FUSELSTM_HD T sigmoid(T x) {
  return T(1) / (T(1) + exp_of(-x));
}

/// act(c) and act'(c) of the cell output h = o ⊙ act(c).
template <typename T, bool kTanhCell>
FUSELSTM_HD T cell_output_activation(T c) {
  if constexpr (kTanhCell) return tanh_of(c);
  else return c;
}

/// Forward of element e ∈ [0, B·H) of one step: b = e / H, j = e mod H.
template <typename T, bool kTanhCell>
FUSELSTM_HD void lstm_forward_element(std::int64_t e, const ForwardStepArgs<T>& a) {
  const std::int64_t H = a.hidden;
  const std::int64_t b = e / H;
  const std::int64_t j = e - b * H;
  if (a.lengths && a.step >= a.lengths[b]) {  // past this sequence's end: the state is carried
    a.c[e] = a.c_prev[e];
    a.h[e] = a.h_prev[e];
    return;
  }
  T* gate_row = a.gates + b * 4 * H;
  T pre_i = gate_row[j], pre_f = gate_row[H + j], pre_g = gate_row[2 * H + j],
    pre_o = gate_row[3 * H + j];
  if (a.bias_ih) {
    pre_i += a.bias_ih[j], pre_f += a.bias_ih[H + j];
    pre_g += a.bias_ih[2 * H + j], pre_o += a.bias_ih[3 * H + j];
  }
  if (a.bias_hh) {
    pre_i += a.bias_hh[j], pre_f += a.bias_hh[H + j];
    pre_g += a.bias_hh[2 * H + j], pre_o += a.bias_hh[3 * H + j];
  }
  const T i = sigmoid(pre_i), f = sigmoid(pre_f), g = tanh_of(pre_g), o = sigmoid(pre_o);
  const T c = f * a.c_prev[e] + i * g;
  a.c[e] = c;
  a.h[e] = o * cell_output_activation<T, kTanhCell>(c);
  if (a.save_gates) {
    gate_row[j] = i, gate_row[H + j] = f, gate_row[2 * H + j] = g, gate_row[3 * H + j] = o;
  }
}

/// Backward of element e ∈ [0, B·H) of one step, from the saved activations (past a sequence's
/// end the step is the identity on (h, c): da = 0, dc unchanged, dh carried in dh_carry):
///   dh = dy + dh_rec; dc_total = dh⊙o⊙act'(c) + dc
///   da = [dc_total⊙g⊙i(1−i), dc_total⊙c_prev⊙f(1−f), dc_total⊙i⊙(1−g²), dh⊙act(c)⊙o(1−o)]
///   dc ← dc_total⊙f (carried to step t−1)
template <typename T, bool kTanhCell>
FUSELSTM_HD void lstm_backward_element(std::int64_t e, const BackwardStepArgs<T>& a) {
  const std::int64_t H = a.hidden;
  const std::int64_t b = e / H;
  const std::int64_t j = e - b * H;
  T* da_row = a.da + b * 4 * H;
  const T carried = a.dh_carry ? a.dh_carry[e] : T(0);
  if (a.lengths && a.step >= a.lengths[b]) {  // a padded step: the identity on (h, c)
    da_row[j] = da_row[H + j] = da_row[2 * H + j] = da_row[3 * H + j] = T(0);
    a.dh_carry[e] = carried + a.dh_rec[e];  // dc passes through unchanged
    return;
  }
  if (a.dh_carry) a.dh_carry[e] = T(0);
  const T* gate_row = a.gates + b * 4 * H;
  const T i = gate_row[j], f = gate_row[H + j], g = gate_row[2 * H + j], o = gate_row[3 * H + j];
  const T c = a.c[e];
  const T dh = (a.dy ? a.dy[b * a.dy_batch_stride + j] : T(0)) + a.dh_rec[e] + carried;
  T act, dact;
  if constexpr (kTanhCell) {
    act = tanh_of(c);
    dact = T(1) - act * act;
  } else {
    act = c;
    dact = T(1);
  }
  const T dc_total = dh * o * dact + a.dc[e];
  da_row[j] = dc_total * g * i * (T(1) - i);
  da_row[H + j] = dc_total * a.c_prev[e] * f * (T(1) - f);
  da_row[2 * H + j] = dc_total * i * (T(1) - g * g);
  da_row[3 * H + j] = dh * act * o * (T(1) - o);
  a.dc[e] = dc_total * f;
}

}  // namespace fuselstm::kernels
