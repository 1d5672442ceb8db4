#pragma once
// Per-element (MSE) and per-row (softmax cross-entropy) loss math: the loss term and its gradient
// in one pass, shared by the CUDA kernels and the host ops.

#include <cstdint>

#include "cell_math.hpp"

namespace fuselstm::kernels {

FUSELSTM_HD float log_of(float x) {
  return logf(x);
}
FUSELSTM_HD double log_of(double x) {
  return log(x);
}

/// Squared error over n elements: term[e] = (pred − target)², grad[e] = grad_scale·2·(pred −
/// target).
template <typename T>
struct MseArgs {
  std::int64_t n = 0;
  const T* prediction = nullptr;  // [n]
  const T* target = nullptr;      // [n]
  T* term = nullptr;              // [n] out: the loss term of each element
  T* grad = nullptr;              // [n] out: d(scaled loss)/d(prediction)
  T grad_scale = 1;               // 1 for a sum, 1/N for a mean
};

template <typename T>
FUSELSTM_HD void mse_element(std::int64_t e, const MseArgs<T>& a) {
  const T diff = a.prediction[e] - a.target[e];
  a.term[e] = diff * diff;
  a.grad[e] = a.grad_scale * T(2) * diff;
}

/// Softmax cross-entropy of `rows` rows of K logits against integer targets. For row r with
/// target t ≠ ignore_index: m = max_j z_j, s = Σ_j exp(z_j − m), term = (m − z_t) + log(s)
/// (stable log-sum-exp; m − z_t first, so a large m does not swallow log(s) ∈ [0, log K]),
/// grad_j = grad_scale·(exp(z_j − m)/s − [j = t]). Rows with t = ignore_index get term 0 and a
/// zero gradient. Targets are checked on the host before the call (0 ≤ t < K).
template <typename T>
struct CrossEntropyArgs {
  std::int64_t rows = 0;
  std::int64_t classes = 0;               // K
  const T* logits = nullptr;              // [rows, K]
  const std::int64_t* targets = nullptr;  // [rows]
  std::int64_t ignore_index = -100;
  T* term = nullptr;  // [rows] out
  T* grad = nullptr;  // [rows, K] out
  T grad_scale = 1;
};

template <typename T>
FUSELSTM_HD void cross_entropy_row(std::int64_t r, const CrossEntropyArgs<T>& a) {
  const std::int64_t K = a.classes;
  const T* z = a.logits + r * K;
  T* g = a.grad + r * K;
  const std::int64_t target = a.targets[r];
  if (target == a.ignore_index) {
    a.term[r] = T(0);
    for (std::int64_t j = 0; j < K; ++j) g[j] = T(0);
    return;
  }
  T m = z[0];
  for (std::int64_t j = 1; j < K; ++j) m = z[j] > m ? z[j] : m;
  T s = 0;
  for (std::int64_t j = 0; j < K; ++j) s += exp_of(z[j] - m);
  a.term[r] = (m - z[target]) + log_of(s);
  const T inv_s = T(1) / s;
  for (std::int64_t j = 0; j < K; ++j) {
    g[j] = a.grad_scale * (exp_of(z[j] - m) * inv_s - (j == target ? T(1) : T(0)));
  }
}

}  // namespace fuselstm::kernels
