// The non-finite guard: counts NaN/Inf on the device, names the first offender.

#include "fuselstm/guard.hpp"

#include <cmath>

#include "fuselstm/error.hpp"
#include "train/param_reduce.hpp"

namespace fuselstm {
namespace {

std::string where(const std::string& name, int layer, std::int64_t step) {
  return name + (layer >= 0 ? " (layer " + std::to_string(layer) + ")" : "") + " at step " +
         std::to_string(step);
}

[[noreturn]] void throw_nonfinite(const std::string& name, int layer, std::int64_t step,
                                  std::int64_t count, std::int64_t total) {
  throw ValueError("fuselstm: non-finite gradient of " + where(name, layer, step) + ": " +
                   std::to_string(count) + " of " + std::to_string(total) +
                   " values are NaN or Inf");
}

}  // namespace

void check_finite_loss(double loss, std::int64_t step) {
  if (!std::isfinite(loss)) {
    throw ValueError("fuselstm: non-finite loss (" + std::to_string(loss) + ") at step " +
                     std::to_string(step));
  }
}

void check_finite_gradients(const ParameterList& params, std::int64_t step) {
  const std::vector<double> counts =
      detail::reduce_gradients(params, kernels::ReduceKind::count_nonfinite);
  for (std::size_t k = 0; k < params.size(); ++k) {
    if (counts[k] != 0) {
      throw_nonfinite(params[k].name, params[k].layer, step, static_cast<std::int64_t>(counts[k]),
                      params[k].gradient->numel());
    }
  }
}

void check_finite(const Tensor& tensor, const std::string& name, int layer, std::int64_t step) {
  std::int64_t count = 0;
  for (double v : tensor.to_vector<double>()) count += std::isfinite(v) ? 0 : 1;
  if (count) {
    throw ValueError("fuselstm: non-finite values in " + where(name, layer, step) + ": " +
                     std::to_string(count) + " of " + std::to_string(tensor.numel()) +
                     " values are NaN or Inf");
  }
}

}  // namespace fuselstm
