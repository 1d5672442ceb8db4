// Gradient clipping: per-tensor sums of squares on the device, added on the host in list order.

#include "fuselstm/clip.hpp"

#include <cmath>

#include "train/param_reduce.hpp"
#include "train/train_util.hpp"

namespace fuselstm {
namespace {

void check_positive(const char* where, const char* name, double value) {
  if (!(value > 0) || !std::isfinite(value)) {
    throw ValueError(std::string("fuselstm: ") + where + ": " + name +
                     " must be finite and > 0, got " + std::to_string(value));
  }
}

}  // namespace

double grad_norm(const ParameterList& params) {
  double total = 0;
  for (double s : detail::reduce_gradients(params, kernels::ReduceKind::sum_of_squares)) total += s;
  return std::sqrt(total);
}

double clip_grad_norm(const ParameterList& params, double max_norm) {
  check_positive("clip_grad_norm", "max_norm", max_norm);
  const double norm = grad_norm(params);
  const double coefficient = max_norm / (norm + 1e-6);
  if (coefficient < 1) {  // false for a NaN norm: the gradients stay as they are
    for (const ParameterRef& p : params) {
      detail::with_ops(*p.value, [&](auto& ops) {
        using T = detail::elem_t<decltype(ops)>;
        ops.scale(p.gradient->numel(), T(coefficient), p.gradient->template data_as<T>());
      });
    }
  }
  return norm;
}

void clip_grad_value(const ParameterList& params, double clip_value) {
  check_positive("clip_grad_value", "clip_value", clip_value);
  for (const ParameterRef& p : params) {
    detail::with_ops(*p.value, [&](auto& ops) {
      using T = detail::elem_t<decltype(ops)>;
      ops.clamp(p.gradient->numel(), T(-clip_value), T(clip_value),
                p.gradient->template data_as<T>());
    });
  }
}

}  // namespace fuselstm
