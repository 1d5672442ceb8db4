// Losses meet layouts and lengths: batch_first input, each sequence's own last step, padding that
// is never seen (even NaN), and PyTorch's packed-sequence mean. Each case against a direct
// computation in double from the definition.

#include <cmath>
#include <limits>

#include "fuselstm/loss.hpp"
#include "test_util.hpp"

namespace fuselstm::testing {
namespace {

struct Input {
  std::int64_t T, B, K;
  bool batch_first;
  std::int64_t row(std::int64_t t, std::int64_t b) const {
    return batch_first ? b * T + t : t * B + b;
  }
  Shape shape() const { return batch_first ? Shape{B, T, K} : Shape{T, B, K}; }
};

// Softmax cross-entropy of one row against class y; gradient into g (unscaled).
double ce_row(const double* z, std::int64_t K, std::int64_t y, double* g) {
  double m = z[0];
  for (std::int64_t j = 1; j < K; ++j) m = std::max(m, z[j]);
  double s = 0;
  for (std::int64_t j = 0; j < K; ++j) s += std::exp(z[j] - m);
  for (std::int64_t j = 0; j < K; ++j) g[j] = std::exp(z[j] - m) / s - (j == y ? 1.0 : 0.0);
  return m - z[y] + std::log(s);
}

// B = T, batch_first, LossSteps::last: the rows seen are (b, T−1) of [B, T, K], not row T−1 of a
// [T, B, K] reading (the old, silently wrong answer: a different number, no error).
TEST(LossLayout, BatchFirstLastStepReadsEachSequencesLastStep) {
  const Input in{4, 4, 5, true};
  std::mt19937_64 rng(11);
  const std::vector<double> z = random_values(in.T * in.B * in.K, rng, -2, 2);
  const std::vector<std::int64_t> targets = {1, 4, 0, 2};
  LossOptions o;
  o.steps = LossSteps::last;
  o.batch_first = true;
  const Tensor logits = Tensor::from_vector(in.shape(), z, DType::f64);
  const LossResult r = CrossEntropyLoss(o)(logits, targets);
  double want = 0;
  std::vector<double> grad(z.size(), 0.0), g(in.K);
  for (std::int64_t b = 0; b < in.B; ++b) {
    const std::int64_t row = in.row(in.T - 1, b);
    want += ce_row(&z[row * in.K], in.K, targets[b], g.data()) / in.B;
    for (std::int64_t j = 0; j < in.K; ++j) grad[row * in.K + j] = g[j] / in.B;
  }
  double wrong = 0;  // the time-major reading of the same bytes
  for (std::int64_t b = 0; b < in.B; ++b) {
    wrong += ce_row(&z[((in.T - 1) * in.B + b) * in.K], in.K, targets[b], g.data()) / in.B;
  }
  std::printf("  cross-entropy, B = T = 4, batch_first, last: %.6f (time-major reading: %.6f)\n",
              r.value, wrong);
  EXPECT_NEAR(r.value, want, 1e-13);
  EXPECT_GT(std::fabs(want - wrong), 1e-3);  // the case tells the two readings apart
  expect_close(r.grad.to_vector<double>(), grad, 1e-14, 1e-12, "cross-entropy grad");

  // MSE on the same layout.
  const std::vector<double> y = random_values(in.B * in.K, rng);
  const LossResult m = MseLoss(o)(logits, Tensor::from_vector({in.B, in.K}, y, DType::f64));
  double mse = 0;
  std::vector<double> mgrad(z.size(), 0.0);
  const double n = double(in.B * in.K);
  for (std::int64_t b = 0; b < in.B; ++b) {
    const std::int64_t row = in.row(in.T - 1, b);
    for (std::int64_t j = 0; j < in.K; ++j) {
      const double d = z[row * in.K + j] - y[b * in.K + j];
      mse += d * d / n;
      mgrad[row * in.K + j] = 2 * d / n;
    }
  }
  EXPECT_NEAR(m.value, mse, 1e-13);
  expect_close(m.grad.to_vector<double>(), mgrad, 1e-14, 1e-12, "mse grad");
}

// Padded batches in both layouts: `last` scores each sequence's own last real step, `all` skips
// padding and divides by the real rows; NaN in every padded position changes nothing.
TEST(LossLayout, LengthsSkipPaddingEvenWhenItIsNaN) {
  for (bool batch_first : {false, true}) {
    for (LossSteps steps : {LossSteps::all, LossSteps::last}) {
      const Input in{6, 3, 4, batch_first};
      const std::vector<std::int64_t> lengths = {6, 2, 4};
      std::mt19937_64 rng(12);
      std::vector<double> z = random_values(in.T * in.B * in.K, rng, -2, 2);
      std::vector<double> z_nan = z;
      for (std::int64_t b = 0; b < in.B; ++b)
        for (std::int64_t t = lengths[b]; t < in.T; ++t)
          for (std::int64_t j = 0; j < in.K; ++j)
            z_nan[in.row(t, b) * in.K + j] = std::numeric_limits<double>::quiet_NaN();
      const bool last = steps == LossSteps::last;
      std::vector<std::int64_t> targets(last ? in.B : in.T * in.B);
      for (std::size_t k = 0; k < targets.size(); ++k) targets[k] = std::int64_t(rng() % in.K);
      LossOptions o;
      o.steps = steps;
      o.batch_first = batch_first;
      const std::string what =
          std::string(batch_first ? "batch_first" : "time-major") + (last ? ", last" : ", all");
      // Direct: the rows seen and their targets.
      std::vector<std::pair<std::int64_t, std::int64_t>> seen;  // (row, target)
      for (std::int64_t b = 0; b < in.B; ++b) {
        if (last)
          seen.push_back({in.row(lengths[b] - 1, b), targets[b]});
        else
          for (std::int64_t t = 0; t < lengths[b]; ++t) {
            seen.push_back({in.row(t, b), targets[in.row(t, b)]});
          }
      }
      double want = 0;
      std::vector<double> grad(z.size(), 0.0), g(in.K);
      for (const auto& [row, y] : seen) {
        want += ce_row(&z[row * in.K], in.K, y, g.data()) / double(seen.size());
        for (std::int64_t j = 0; j < in.K; ++j) grad[row * in.K + j] = g[j] / double(seen.size());
      }
      for (const auto* values : {&z, &z_nan}) {
        const Tensor logits = Tensor::from_vector(in.shape(), *values, DType::f64);
        const LossResult r = CrossEntropyLoss(o)(logits, targets, lengths);
        EXPECT_NEAR(r.value, want, 1e-13) << what << (values == &z ? "" : ", NaN padding");
        expect_close(r.grad.to_vector<double>(), grad, 1e-14, 1e-12,
                     "cross-entropy grad, " + what + (values == &z ? "" : ", NaN padding"));
      }
      // MSE: targets of the same layout (all) or [B, K] (last).
      const std::vector<double> y = random_values(last ? in.B * in.K : in.T * in.B * in.K, rng);
      double mse = 0;
      std::vector<double> mgrad(z.size(), 0.0);
      const double n = double(seen.size() * in.K);
      for (std::size_t s = 0; s < seen.size(); ++s) {
        const std::int64_t row = seen[s].first;
        const std::int64_t target_row = last ? std::int64_t(s) : row;
        for (std::int64_t j = 0; j < in.K; ++j) {
          const double d = z[row * in.K + j] - y[target_row * in.K + j];
          mse += d * d / n;
          mgrad[row * in.K + j] = 2 * d / n;
        }
      }
      const Shape target_shape = last ? Shape{in.B, in.K} : in.shape();
      for (const auto* values : {&z, &z_nan}) {
        const LossResult m = MseLoss(o)(Tensor::from_vector(in.shape(), *values, DType::f64),
                                        Tensor::from_vector(target_shape, y, DType::f64), lengths);
        EXPECT_NEAR(m.value, mse, 1e-13) << what << (values == &z ? "" : ", NaN padding");
        expect_close(m.grad.to_vector<double>(), mgrad, 1e-14, 1e-12,
                     "mse grad, " + what + (values == &z ? "" : ", NaN padding"));
      }
    }
  }
}

TEST(LossLayout, BadLengthsAreNamedErrors) {
  const Tensor logits = Tensor::zeros({3, 2, 4}, DType::f32);
  CrossEntropyLoss loss;
  const std::vector<std::int64_t> targets(6, 1);
  EXPECT_THROW(loss(logits, targets, {3}), ShapeError);
  try {
    loss(logits, targets, {3, 4});
    ADD_FAILURE() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("lengths[1] = 4"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fuselstm::testing
