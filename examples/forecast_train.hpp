#pragma once
// Sequence regression: forecasting a noisy multi-frequency signal, the library calls of the
// forecast example, in a class the example and the tests share.
//
// The series is s(t) = sin(2πt/11 + φ1) + 0.6·sin(2πt/29 + φ2) + 0.3·sin(2πt/71 + φ3) + σ·n(t),
// n(t) standard normal, phases and noise drawn from the seed. Its first part trains, its tail is
// held out. At every step t of a window the model reads s(t) and predicts s(t + horizon); the
// baseline predicts s(t) (the last value seen).

#include <cstdint>
#include <random>
#include <vector>

#include "fuselstm/fuselstm.hpp"

namespace fuselstm::examples {

struct ForecastOptions {
  Device device = Device::cpu();
  DType dtype = DType::f32;
  std::int64_t hidden_size = 64;       ///< H
  std::int64_t num_layers = 1;         ///< L
  std::int64_t window = 48;            ///< T, steps per training and evaluation window
  std::int64_t batch = 32;             ///< B, windows per step (random starts in the train part)
  std::int64_t steps = 1000;           ///< Adam steps (the schedule's length)
  std::int64_t horizon = 1;            ///< predict s(t + horizon) from s(0..t)
  double lr = 1e-2;                    ///< Adam's peak learning rate (cosine decay to lr/10)
  double clip = 1.0;                   ///< max global gradient norm
  std::int64_t series_length = 20000;  ///< points generated
  double test_fraction = 0.2;          ///< the series' tail held out
  double noise = 0.1;                  ///< σ
  std::uint64_t seed = 1;              ///< the series, the weights and the windows
};

/// The seeded series (see above): `length` points. Normal draws by Box–Muller from our own
/// uniform conversion of std::mt19937_64, so the series is the same with every standard library.
std::vector<double> make_signal(std::int64_t length, double noise, std::uint64_t seed);

/// Held-out results: every step of every held-out window is scored, for both predictors.
struct ForecastEvaluation {
  double model_mse = 0;     ///< mean of (prediction − s(t + horizon))²
  double baseline_mse = 0;  ///< mean of (s(t) − s(t + horizon))²: predict the last value
  /// In time order over the scored steps: t, s(t), s(t + horizon), the model's prediction.
  std::vector<std::int64_t> time;
  std::vector<double> input, target, prediction;
};

class Forecaster {
 public:
  /// Generates the series and makes the model (LSTM with X = 1 + Linear head with K = 1).
  /// ValueError naming the option when it is out of range or the parts are too short for a
  /// window.
  explicit Forecaster(const ForecastOptions& options);
  /// One Adam step on B random training windows (MSE over every step). Returns the loss.
  double train_step();
  /// Scores the held-out tail, cut into consecutive windows of T, each from zero state, with the
  /// inference-only forward.
  ForecastEvaluation evaluate();
  std::int64_t step() const { return step_; }
  std::int64_t points_per_step() const { return options_.window * options_.batch; }
  const ForecastOptions& options() const { return options_; }
  const std::vector<double>& series() const { return series_; }
  std::int64_t train_points() const { return train_points_; }

 private:
  ForecastOptions options_;
  std::vector<double> series_;
  std::int64_t train_points_;
  Lstm model_;
  Linear head_;
  MseLoss loss_;
  Adam optimizer_;
  CosineWarmupLr schedule_;
  std::mt19937_64 windows_;  // draws the training windows' starts
  std::int64_t step_ = 0;
};

}  // namespace fuselstm::examples
