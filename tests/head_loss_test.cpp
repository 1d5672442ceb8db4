// The Linear head and the losses: values against plain-loop definitions, gradients against central
// differences in double (every entry; ignore_index, both reductions, last-step-only), argument
// checks, and the CUDA ops against the host ops (skipped without a GPU).

#include <cmath>

#include "train_test_util.hpp"

namespace fuselstm::testing {
namespace {

// Central differences in double of functions that are at most quadratic in the perturbed entry
// (the head is linear, MSE quadratic) or smooth (log-sum-exp): the truncation error is ~eps² and
// the rounding error ~1e-16·|f|/eps ≈ 1e-10, so 1e-8 + 1e-6·|ref| holds with margin.
constexpr double kFdAtol = 1e-8, kFdRtol = 1e-6;

TEST(Linear, ForwardMatchesDefinitionAndBackwardMatchesFiniteDifferences) {
  for (const bool bias : {true, false}) {
    const std::int64_t T = 3, B = 2, H = 5, K = 7;
    Lstm model(train_config(2, H, 1));
    Linear head(model, K, 11, bias);
    std::mt19937_64 rng(5);
    std::vector<double> w = random_values(K * H, rng), b = random_values(K, rng),
                        x = random_values(T * B * H, rng), r = random_values(T * B * K, rng);
    // J = ⟨R, head(x)⟩ with the head's parameters set from w, b.
    auto J = [&]() {
      head.weight().assign(w);
      if (bias) head.bias().assign(b);
      const std::vector<double> out =
          head.forward(Tensor::from_vector({T, B, H}, x, DType::f64)).to_vector<double>();
      double j = 0;
      for (std::size_t k = 0; k < out.size(); ++k) j += r[k] * out[k];
      return j;
    };
    // Forward against out[row, k] = Σ_j x[row, j]·W[k, j] + b[k].
    J();
    const auto out =
        head.forward(Tensor::from_vector({T, B, H}, x, DType::f64)).to_vector<double>();
    std::vector<double> expected(T * B * K);
    for (std::int64_t row = 0; row < T * B; ++row)
      for (std::int64_t k = 0; k < K; ++k) {
        double s = bias ? b[k] : 0.0;
        for (std::int64_t j = 0; j < H; ++j) s += x[row * H + j] * w[k * H + j];
        expected[row * K + k] = s;
      }
    expect_close(out, expected, 1e-14, 1e-13, "head forward");

    head.zero_grad();
    const Tensor dx = head.backward(Tensor::from_vector({T, B, H}, x, DType::f64),
                                    Tensor::from_vector({T, B, K}, r, DType::f64));
    expect_close(head.weight_grad().to_vector<double>(), central_differences(w, J), kFdAtol,
                 kFdRtol, "dweight");
    if (bias) {
      expect_close(head.bias_grad().to_vector<double>(), central_differences(b, J), kFdAtol,
                   kFdRtol, "dbias");
    }
    expect_close(dx.to_vector<double>(), central_differences(x, J), kFdAtol, kFdRtol, "dinput");
    EXPECT_EQ(dx.shape(), (Shape{T, B, H}));
  }
}

TEST(Linear, RejectsWrongInputs) {
  Lstm model(train_config(2, 4, 1));
  Linear head(model, 3);
  EXPECT_THROW(head.forward(Tensor::zeros({2, 1, 5}, DType::f64)), ShapeError);
  EXPECT_THROW(head.forward(Tensor::zeros({2, 1, 4}, DType::f32)), ShapeError);
  EXPECT_THROW(
      head.backward(Tensor::zeros({2, 1, 4}, DType::f64), Tensor::zeros({2, 1, 4}, DType::f64)),
      ShapeError);
  EXPECT_THROW(Linear(model, 0), ValueError);
}

TEST(Linear, ParameterListsSurviveMovingTheHead) {
  Lstm model(train_config(2, 4, 1));
  Linear a(model, 3);
  const ParameterList before = parameters_of(a);
  Linear b = std::move(a);
  EXPECT_EQ(before[0].value, &b.weight());
  EXPECT_EQ(before[1].gradient, &b.bias_grad());
  EXPECT_EQ(before[1].name, "head.bias");
}

struct LossCase {
  Reduction reduction;
  LossSteps steps;
  std::string str() const {
    return std::string(reduction == Reduction::sum ? "sum" : "mean") +
           (steps == LossSteps::all ? "/all steps" : "/last step");
  }
};

std::vector<LossCase> loss_cases() {
  return {{Reduction::sum, LossSteps::all},
          {Reduction::mean, LossSteps::all},
          {Reduction::sum, LossSteps::last},
          {Reduction::mean, LossSteps::last}};
}

TEST(MseLoss, ValueAndGradientForEveryReductionAndStepChoice) {
  const std::int64_t T = 3, B = 2, K = 3;
  Lstm model(train_config(2, 4, 1));
  std::mt19937_64 rng(7);
  for (const LossCase& c : loss_cases()) {
    SCOPED_TRACE(c.str());
    LossOptions o;
    o.reduction = c.reduction;
    o.steps = c.steps;
    MseLoss loss(o);
    const bool last = c.steps == LossSteps::last;
    std::vector<double> p = random_values(T * B * K, rng);
    const std::vector<double> y = random_values((last ? 1 : T) * B * K, rng);
    const Tensor target = last ? Tensor::from_vector({B, K}, y, DType::f64)
                               : Tensor::from_vector({T, B, K}, y, DType::f64);
    auto L = [&]() { return loss(Tensor::from_vector({T, B, K}, p, DType::f64), target).value; };
    // The definition: Σ over the elements seen, divided by their count for the mean.
    const std::int64_t first = last ? (T - 1) * B * K : 0;
    double expected = 0;
    for (std::size_t k = 0; k < y.size(); ++k) expected += std::pow(p[first + k] - y[k], 2);
    if (c.reduction == Reduction::mean) expected /= static_cast<double>(y.size());
    const LossResult r = loss(Tensor::from_vector({T, B, K}, p, DType::f64), target);
    EXPECT_NEAR(r.value, expected, 1e-14 * std::fabs(expected));
    expect_close(r.grad.to_vector<double>(), central_differences(p, L), kFdAtol, kFdRtol,
                 "mse " + c.str());
  }
}

TEST(CrossEntropyLoss, ValueAndGradientWithIgnoreIndex) {
  const std::int64_t T = 3, B = 3, K = 5;
  Lstm model(train_config(2, 4, 1));
  std::mt19937_64 rng(8);
  for (const LossCase& c : loss_cases()) {
    SCOPED_TRACE(c.str());
    LossOptions o;
    o.reduction = c.reduction;
    o.steps = c.steps;
    o.ignore_index = -1;
    CrossEntropyLoss loss(o);
    const bool last = c.steps == LossSteps::last;
    // Logits up to ±30: exp would lose everything without the max subtraction in float.
    std::vector<double> z = random_values(T * B * K, rng, -30, 30);
    std::vector<std::int64_t> targets;
    for (std::int64_t r = 0; r < (last ? B : T * B); ++r) targets.push_back((r * 3 + 1) % K);
    targets[1] = -1;  // one padded row in every case
    auto L = [&]() { return loss(Tensor::from_vector({T, B, K}, z, DType::f64), targets).value; };
    const std::int64_t first = last ? (T - 1) * B : 0;
    double expected = 0;
    int counted = 0;
    for (std::size_t r = 0; r < targets.size(); ++r) {
      if (targets[r] == -1) continue;
      const double* row = z.data() + (first + r) * K;
      double s = 0;
      for (std::int64_t j = 0; j < K; ++j) s += std::exp(row[j]);  // fine in double at ±30
      expected += std::log(s) - row[targets[r]];
      ++counted;
    }
    if (c.reduction == Reduction::mean) expected /= counted;
    const LossResult r = loss(Tensor::from_vector({T, B, K}, z, DType::f64), targets);
    EXPECT_NEAR(r.value, expected, 1e-13 * std::fabs(expected));
    const auto grad = r.grad.to_vector<double>();
    expect_close(grad, central_differences(z, L), kFdAtol, kFdRtol, "cross-entropy " + c.str());
    for (std::int64_t j = 0; j < K; ++j) EXPECT_EQ(grad[(first + 1) * K + j], 0.0) << "ignored row";
  }
}

TEST(CrossEntropyLoss, StableForHugeLogitsInFloat) {
  Lstm model(train_config(2, 4, 1, DType::f32));
  CrossEntropyLoss loss({Reduction::sum, LossSteps::all, -100});
  // exp(1000) overflows float; the stable form gives log(1 + e^-1) + 1 = 1.3132616875...
  const LossResult r =
      loss(Tensor::from_vector({1, 1, 2}, std::vector<double>{1000, 999}, DType::f32), {1});
  EXPECT_NEAR(r.value, 1.0 + std::log1p(std::exp(-1.0)), 1e-6);
}

TEST(CrossEntropyLoss, AllIgnoredMeanIsZeroAndBadTargetsAreNamed) {
  Lstm model(train_config(2, 4, 1));
  CrossEntropyLoss loss;
  const Tensor z =
      Tensor::from_vector({1, 2, 3}, std::vector<double>{1, 2, 3, 4, 5, 6}, DType::f64);
  const LossResult r = loss(z, {-100, -100});
  EXPECT_EQ(r.value, 0.0);
  for (double g : r.grad.to_vector<double>()) EXPECT_EQ(g, 0.0);
  try {
    loss(z, {0, 3});
    ADD_FAILURE() << "no error for target 3 with K = 3";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("targets[1] = 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(loss(z, {0}), ShapeError);
}

// Head + cross-entropy + LSTM end to end: dJ/dθ from the three backward passes against central
// differences of the whole pipeline, for a sample of LSTM and head parameters.
TEST(HeadAndLoss, ChainRuleThroughTheLstm) {
  const std::int64_t T = 4, B = 2, X = 3, H = 5, K = 4;
  Lstm model(train_config(X, H, 2));
  model.init_pytorch_default(3);
  Linear head(model, K, 4);
  CrossEntropyLoss loss({Reduction::mean, LossSteps::all, -100});
  std::mt19937_64 rng(12);
  const Tensor x = Tensor::from_vector({T, B, X}, random_values(T * B * X, rng), DType::f64);
  std::vector<std::int64_t> targets;
  for (std::int64_t r = 0; r < T * B; ++r) targets.push_back(r % K);
  std::vector<double> w_hh = model.parameter("weight_hh_l0").to_vector<double>();
  std::vector<double> w_head = head.weight().to_vector<double>();
  auto J = [&]() {
    model.parameter("weight_hh_l0").assign(w_hh);
    head.weight().assign(w_head);
    return loss(head.forward(model.forward(x).y), targets).value;
  };
  J();
  ForwardResult f = model.forward(x);
  const Tensor logits = head.forward(f.y);
  const LossResult r = loss(logits, targets);
  model.zero_grad();
  head.zero_grad();
  model.backward(f.context, head.backward(f.y, r.grad));
  expect_close(model.gradient("weight_hh_l0").to_vector<double>(), central_differences(w_hh, J),
               kFdAtol, kFdRtol, "dweight_hh_l0");
  expect_close(head.weight_grad().to_vector<double>(), central_differences(w_head, J), kFdAtol,
               kFdRtol, "dhead.weight");
}

// CUDA ops against host ops for the head and both losses (f64: the same math, another summation
// order: near machine precision).
TEST(HeadAndLossCuda, MatchHost) {
  FUSELSTM_REQUIRE_GPU();
  const std::int64_t T = 5, B = 3, H = 6, K = 7;
  std::mt19937_64 rng(21);
  const auto xv = random_values(T * B * H, rng), yv = random_values(T * B * K, rng);
  std::vector<std::int64_t> targets;
  for (std::int64_t r = 0; r < T * B; ++r) targets.push_back(r % 3 == 0 ? -100 : r % K);
  std::vector<double> got[2][6];
  for (int d = 0; d < 2; ++d) {
    const Device dev = d == 0 ? Device::cpu() : Device::cuda(0);
    Lstm model(train_config(2, H, 1, DType::f64, dev));
    Linear head(model, K, 9);
    const Tensor x = Tensor::from_vector({T, B, H}, xv, DType::f64, dev);
    const Tensor out = head.forward(x);
    MseLoss mse;
    CrossEntropyLoss ce({Reduction::mean, LossSteps::last, -100});
    const LossResult m = mse(out, Tensor::from_vector({T, B, K}, yv, DType::f64, dev));
    std::vector<std::int64_t> last(targets.begin(), targets.begin() + B);
    const LossResult c = ce(out, last);
    const Tensor dx = head.backward(x, m.grad);
    got[d][0] = out.to_vector<double>();
    got[d][1] = {m.value, c.value};
    got[d][2] = m.grad.to_vector<double>();
    got[d][3] = c.grad.to_vector<double>();
    got[d][4] = dx.to_vector<double>();
    got[d][5] = head.weight_grad().to_vector<double>();
  }
  const char* names[6] = {"logits", "loss values", "mse grad", "ce grad", "dx", "dweight"};
  for (int k = 0; k < 6; ++k) expect_close(got[1][k], got[0][k], 1e-13, 1e-12, names[k]);
}

}  // namespace
}  // namespace fuselstm::testing
