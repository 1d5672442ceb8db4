#pragma once
// The "Simple LSTM" seed's experiment through the public API: fit y = [−0.5, 0.2, 0.1, −0.5] from
// four random inputs with H = 100 memory cells, X = 50 inputs, loss Σ_t (h_0(t) − y(t))², plain SGD.

#include <functional>
#include <vector>

#include "fuselstm/fuselstm.hpp"

namespace fuselstm::examples {

enum class ToyInit {
  seed,     ///< the seed's exact start: numpy RandomState(0) re-seeded per tensor (see .cpp)
  uniform,  ///< init_uniform(seed, −0.1, 0.1) and inputs from the same mt19937_64 stream
};

struct ToyOptions {
  Device device = Device::cpu();
  DType dtype = DType::f64;
  CellActivation cell = CellActivation::identity;
  ToyInit init = ToyInit::seed;
  std::uint64_t seed = 0;  // for ToyInit::uniform
  int iterations = 100;
  double lr = 0.1;
};

struct ToyIteration {
  int iteration;
  std::vector<double> prediction;  // h_0(t), t = 0..3, before this iteration's update
  double loss;                     // Σ_t (h_0(t) − y(t))², before this iteration's update
};

/// Trains and returns every iteration's prediction and loss; `on_iteration` (optional) sees each as
/// it happens.
std::vector<ToyIteration> train_toy(const ToyOptions& options,
                                    const std::function<void(const ToyIteration&)>& on_iteration = {});

}  // namespace fuselstm::examples
