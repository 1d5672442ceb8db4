#pragma once
// Helpers of the training-toolkit tests: small models, central finite differences.

#include <functional>

#include "fuselstm/fuselstm.hpp"
#include "fuselstm/head.hpp"
#include "fuselstm/loss.hpp"
#include "test_util.hpp"

namespace fuselstm::testing {

inline LstmConfig train_config(std::int64_t X, std::int64_t H, std::int64_t L,
                               DType dtype = DType::f64, Device device = Device::cpu()) {
  LstmConfig cfg;
  cfg.input_size = X;
  cfg.hidden_size = H;
  cfg.num_layers = L;
  cfg.dtype = dtype;
  cfg.device = device;
  return cfg;
}

/// Central differences of f with respect to every entry of `values` (restored afterwards):
/// (f(v + eps) − f(v − eps)) / 2eps. f reads `values` itself.
inline std::vector<double> central_differences(std::vector<double>& values,
                                               const std::function<double()>& f,
                                               double eps = 1e-6) {
  std::vector<double> out(values.size());
  for (std::size_t k = 0; k < values.size(); ++k) {
    const double saved = values[k];
    values[k] = saved + eps;
    const double plus = f();
    values[k] = saved - eps;
    const double minus = f();
    values[k] = saved;
    out[k] = (plus - minus) / (2 * eps);
  }
  return out;
}

}  // namespace fuselstm::testing
