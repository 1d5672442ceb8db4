#pragma once
// Per-element optimizer updates (PyTorch's definitions) and the small element ops of clipping and
// the non-finite guard, shared by the CUDA kernels and the host ops.

#include <cstdint>

#include "cell_math.hpp"

namespace fuselstm::kernels {

FUSELSTM_HD float sqrt_of(float x) {
  return sqrtf(x);
}
FUSELSTM_HD double sqrt_of(double x) {
  return sqrt(x);
}

/// torch.optim.SGD, one element:
///   g = grad + weight_decay·p
///   with momentum: b = g on the first step, else b = momentum·b + (1 − dampening)·g;
///                  g = g + momentum·b (Nesterov) or g = b
///   p = p − lr·g
template <typename T>
struct SgdStepArgs {
  T* param = nullptr;
  const T* grad = nullptr;
  T* momentum_buffer = nullptr;  // null: no momentum
  T lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first_step = false;  // the buffer is initialised with g (PyTorch's lazily created buffer)
};

template <typename T>
FUSELSTM_HD void sgd_element(std::int64_t e, const SgdStepArgs<T>& a) {
  T g = a.grad[e];
  if (a.weight_decay != T(0)) g += a.weight_decay * a.param[e];
  if (a.momentum_buffer) {
    const T b = a.first_step ? g : a.momentum * a.momentum_buffer[e] + (T(1) - a.dampening) * g;
    a.momentum_buffer[e] = b;
    g = a.nesterov ? g + a.momentum * b : b;
  }
  a.param[e] -= a.lr * g;
}

/// torch.optim.Adam / AdamW (amsgrad off), one element, at step t ≥ 1:
///   AdamW: p = p·(1 − lr·weight_decay);   Adam: g = grad + weight_decay·p
///   m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²
///   p = p − step_size·m / (√v / bias_correction2_sqrt + eps)
/// with step_size = lr / (1 − β1ᵗ) and bias_correction2_sqrt = √(1 − β2ᵗ), computed in double on
/// the host as PyTorch does.
template <typename T>
struct AdamStepArgs {
  T* param = nullptr;
  const T* grad = nullptr;
  T* exp_avg = nullptr;     // m
  T* exp_avg_sq = nullptr;  // v
  T lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
  T step_size = 0, bias_correction2_sqrt = 1;
  bool decoupled_weight_decay = false;  // AdamW
};

template <typename T>
FUSELSTM_HD void adam_element(std::int64_t e, const AdamStepArgs<T>& a) {
  T p = a.param[e];
  T g = a.grad[e];
  if (a.decoupled_weight_decay)
    p *= T(1) - a.lr * a.weight_decay;
  else if (a.weight_decay != T(0))
    g += a.weight_decay * p;
  const T m = a.beta1 * a.exp_avg[e] + (T(1) - a.beta1) * g;
  const T v = a.beta2 * a.exp_avg_sq[e] + (T(1) - a.beta2) * g * g;
  a.exp_avg[e] = m;
  a.exp_avg_sq[e] = v;
  const T denom = sqrt_of(v) / a.bias_correction2_sqrt + a.eps;
  a.param[e] = p - a.step_size * m / denom;
}

/// What a reduction adds up (each term in double).
enum class ReduceKind {
  sum,              // x
  sum_of_squares,   // x² (the squared 2-norm)
  count_nonfinite,  // 1 when x is NaN or ±Inf, else 0
};

template <typename T>
FUSELSTM_HD double reduce_term(ReduceKind kind, T x) {
  const double d = static_cast<double>(x);
  switch (kind) {
    case ReduceKind::sum:
      return d;
    case ReduceKind::sum_of_squares:
      return d * d;
    default:
      return (x - x) == T(0) ? 0.0 : 1.0;  // x − x is NaN exactly when x is NaN or ±Inf
  }
}

/// x clamped into [low, high]; NaN stays NaN (as torch.clamp).
template <typename T>
FUSELSTM_HD T clamp_value(T x, T low, T high) {
  return x < low ? low : (x > high ? high : x);
}

}  // namespace fuselstm::kernels
