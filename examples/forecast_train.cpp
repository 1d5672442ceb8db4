#include "forecast_train.hpp"

#include <cmath>
#include <string>

namespace fuselstm::examples {
namespace {

constexpr double kTwoPi = 6.283185307179586;

double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

const ForecastOptions& checked(const ForecastOptions& o) {
  const auto require = [](bool ok, const std::string& what) {
    if (!ok) throw ValueError("fuselstm: forecast: " + what);
  };
  require(o.hidden_size >= 1, "hidden_size must be >= 1, got " + std::to_string(o.hidden_size));
  require(o.num_layers >= 1, "num_layers must be >= 1, got " + std::to_string(o.num_layers));
  require(o.window >= 1, "window must be >= 1, got " + std::to_string(o.window));
  require(o.batch >= 1, "batch must be >= 1, got " + std::to_string(o.batch));
  require(o.steps >= 1, "steps must be >= 1, got " + std::to_string(o.steps));
  require(o.horizon >= 1, "horizon must be >= 1, got " + std::to_string(o.horizon));
  require(std::isfinite(o.lr) && o.lr > 0, "lr must be finite and > 0");
  require(std::isfinite(o.clip) && o.clip > 0, "clip must be finite and > 0");
  require(std::isfinite(o.noise) && o.noise >= 0, "noise must be finite and >= 0");
  require(o.test_fraction > 0 && o.test_fraction < 1, "test_fraction must be in (0, 1)");
  const auto n_test = static_cast<std::int64_t>(std::llround(o.series_length * o.test_fraction));
  require(n_test >= o.window + o.horizon && o.series_length - n_test >= o.window + o.horizon,
          "series_length " + std::to_string(o.series_length) +
              " is too short: both parts need window + horizon = " +
              std::to_string(o.window + o.horizon) + " points");
  return o;
}

LstmConfig model_config(const ForecastOptions& o) {
  LstmConfig cfg;
  cfg.input_size = 1;
  cfg.hidden_size = o.hidden_size;
  cfg.num_layers = o.num_layers;
  cfg.dtype = o.dtype;
  cfg.device = o.device;
  return cfg;
}

}  // namespace

std::vector<double> make_signal(std::int64_t length, double noise, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const double periods[3] = {11.0, 29.0, 71.0}, amplitudes[3] = {1.0, 0.6, 0.3};
  double phases[3];
  for (double& phase : phases) phase = kTwoPi * uniform01(rng);
  std::vector<double> s(static_cast<std::size_t>(length));
  for (std::int64_t t = 0; t < length; ++t) {
    double v = 0;
    for (int k = 0; k < 3; ++k) v += amplitudes[k] * std::sin(kTwoPi * t / periods[k] + phases[k]);
    const double u1 = 1.0 - uniform01(rng), u2 = uniform01(rng);  // u1 in (0, 1]: log is finite
    s[t] = v + noise * std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
  }
  return s;
}

Forecaster::Forecaster(const ForecastOptions& options)
    : options_(checked(options)),
      series_(make_signal(options_.series_length, options_.noise, options_.seed)),
      train_points_(options_.series_length - static_cast<std::int64_t>(std::llround(
                                                 options_.series_length * options_.test_fraction))),
      model_(model_config(options_)),
      head_(model_, 1, options_.seed + 1),
      loss_(),
      optimizer_(parameters_of(model_, head_), AdamOptions{options_.lr, 0.9, 0.999, 1e-8, 0}),
      schedule_(options_.lr, options_.steps / 20, options_.steps, options_.lr / 10),
      windows_(options_.seed + 2) {
  model_.init_pytorch_default(options_.seed);
}

double Forecaster::train_step() {
  const std::int64_t T = options_.window, B = options_.batch, h = options_.horizon;
  std::vector<double> x(T * B), y(T * B);
  const auto starts = static_cast<std::uint64_t>(train_points_ - T - h + 1);  // targets stay in
  for (std::int64_t b = 0; b < B; ++b) {
    const auto start = static_cast<std::int64_t>(windows_() % starts);  // modulo bias ~starts/2^64
    for (std::int64_t t = 0; t < T; ++t) {
      x[t * B + b] = series_[start + t];
      y[t * B + b] = series_[start + t + h];
    }
  }
  const Tensor inputs = Tensor::from_vector({T, B, 1}, x, options_.dtype, options_.device);
  const Tensor targets = Tensor::from_vector({T, B, 1}, y, options_.dtype, options_.device);
  ForwardResult f = model_.forward(inputs);
  const LossResult r = loss_(head_.forward(f.y), targets);
  model_.zero_grad();
  head_.zero_grad();
  model_.backward(f.context, head_.backward(f.y, r.grad), Tensor(), Tensor(), false);
  clip_grad_norm(optimizer_.parameters(), options_.clip);
  schedule_.step(optimizer_);
  optimizer_.step();
  ++step_;
  return r.value;
}

ForecastEvaluation Forecaster::evaluate() {
  const std::int64_t T = options_.window, h = options_.horizon;
  const std::int64_t first = train_points_, n = options_.series_length;
  const std::int64_t W = (n - first - h) / T;  // windows whose targets are all in the series
  std::vector<double> x(T * W);
  for (std::int64_t w = 0; w < W; ++w)
    for (std::int64_t t = 0; t < T; ++t) x[t * W + w] = series_[first + w * T + t];
  const Tensor inputs = Tensor::from_vector({T, W, 1}, x, options_.dtype, options_.device);
  const std::vector<double> predicted =
      head_.forward(model_.infer(inputs).y).to_vector<double>();  // [T, W, 1]

  ForecastEvaluation e;
  for (std::int64_t w = 0; w < W; ++w) {
    for (std::int64_t t = 0; t < T; ++t) {
      const std::int64_t at = first + w * T + t;
      const double target = series_[at + h], p = predicted[t * W + w];
      e.time.push_back(at);
      e.input.push_back(series_[at]);
      e.target.push_back(target);
      e.prediction.push_back(p);
      e.model_mse += (p - target) * (p - target);
      e.baseline_mse += (series_[at] - target) * (series_[at] - target);
    }
  }
  e.model_mse /= static_cast<double>(T * W);
  e.baseline_mse /= static_cast<double>(T * W);
  return e;
}

}  // namespace fuselstm::examples
