// Optimizers against torch.optim: the first two steps of SGD (momentum + dampening + weight decay,
// and Nesterov), Adam and AdamW, from a committed fixture made by tools/make_optim_fixture.py with
// PyTorch; Adam's first step against its closed form; frozen parameters; state save/load;
// argument checks; CUDA against host (skipped without a GPU).

#include "fuselstm/optim.hpp"

#include <cmath>

#include "train_test_util.hpp"

namespace fuselstm::testing {
namespace {

#include "optim_fixture.inc"

// A model whose bias_ih_l0 (H = 2: 8 elements) is the one trained tensor; the rest is frozen.
struct OneTensor {
  Lstm model;
  std::vector<std::string> frozen;
  explicit OneTensor(DType dtype, Device device = Device::cpu())
      : model(train_config(1, 2, 1, dtype, device)) {
    for (const std::string& n : model.parameter_names()) {
      if (n != "bias_ih_l0") frozen.push_back(n);
    }
    model.parameter("bias_ih_l0").assign(kP0);
  }
  std::vector<double> value() const { return model.parameter("bias_ih_l0").to_vector<double>(); }
  void set_grad(const std::vector<double>& g) { model.gradient("bias_ih_l0").assign(g); }
};

enum class Kind { sgd_momentum, sgd_nesterov, adam, adamw };

std::unique_ptr<Optimizer> make(Kind kind, OneTensor& m) {
  ParameterList params = parameters_of(m.model);
  if (kind == Kind::sgd_momentum || kind == Kind::sgd_nesterov) {
    SgdOptions o;
    o.lr = 0.1;
    o.momentum = 0.9;
    o.weight_decay = 0.01;
    if (kind == Kind::sgd_momentum)
      o.dampening = 0.1;
    else
      o.nesterov = true;
    return std::make_unique<Sgd>(params, o, m.frozen);
  }
  AdamOptions o;
  o.lr = 0.01;
  o.beta1 = 0.8;
  o.beta2 = 0.9;
  o.eps = 1e-3;
  o.weight_decay = 0.1;
  if (kind == Kind::adam) return std::make_unique<Adam>(params, o, m.frozen);
  return std::make_unique<AdamW>(params, o, m.frozen);
}

struct FixtureCase {
  Kind kind;
  const char* name;
  const std::vector<double>* step1;
  const std::vector<double>* step2;
};
std::vector<FixtureCase> fixture_cases() {
  return {{Kind::sgd_momentum, "SGD momentum", &k_sgd_momentum_step1, &k_sgd_momentum_step2},
          {Kind::sgd_nesterov, "SGD Nesterov", &k_sgd_nesterov_step1, &k_sgd_nesterov_step2},
          {Kind::adam, "Adam", &k_adam_step1, &k_adam_step2},
          {Kind::adamw, "AdamW", &k_adamw_step1, &k_adamw_step2}};
}

void check_against_pytorch(DType dtype, Device device, double atol, double rtol) {
  for (const FixtureCase& c : fixture_cases()) {
    SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dtype) + " on " + device.str());
    OneTensor m(dtype, device);
    const std::vector<double> frozen_before = m.model.parameter("weight_hh_l0").to_vector<double>();
    auto opt = make(c.kind, m);
    m.set_grad(kG1);
    opt->step();
    expect_close(m.value(), *c.step1, atol, rtol, std::string(c.name) + " step 1");
    m.set_grad(kG2);
    opt->step();
    expect_close(m.value(), *c.step2, atol, rtol, std::string(c.name) + " step 2");
    EXPECT_EQ(opt->step_count(), 2);
    EXPECT_EQ(m.model.parameter("weight_hh_l0").to_vector<double>(), frozen_before) << "frozen";
  }
}

// f64: the same formulas as PyTorch in another association order at most: a few ulps.
TEST(Optimizers, FirstTwoStepsMatchPyTorchF64) {
  check_against_pytorch(DType::f64, Device::cpu(), 1e-15, 1e-13);
}

// f32: every operand and step rounds at 6e-8 relative; values are O(1), so 1e-6 is ~10 ulps.
TEST(Optimizers, FirstTwoStepsMatchPyTorchF32) {
  check_against_pytorch(DType::f32, Device::cpu(), 1e-6, 1e-6);
}

TEST(OptimizersCuda, FirstTwoStepsMatchPyTorch) {
  FUSELSTM_REQUIRE_GPU();
  check_against_pytorch(DType::f64, Device::cuda(0), 1e-15, 1e-13);
  check_against_pytorch(DType::f32, Device::cuda(0), 1e-6, 1e-6);
}

// Adam's first step in closed form, computed here by hand: m̂ = g, v̂ = g² after bias correction,
// so p1 = p0 − lr·g / (|g| + eps).
TEST(Adam, FirstStepClosedForm) {
  OneTensor m(DType::f64);
  AdamOptions o;
  o.lr = 0.05;
  Adam adam(parameters_of(m.model), o, m.frozen);
  m.set_grad(kG1);
  adam.step();
  std::vector<double> expected;
  for (std::size_t k = 0; k < kP0.size(); ++k) {
    expected.push_back(kP0[k] - 0.05 * kG1[k] / (std::fabs(kG1[k]) + 1e-8));
  }
  expect_close(m.value(), expected, 1e-15, 1e-14, "Adam step 1");
}

TEST(Optimizers, StateRoundTripContinuesBitwise) {
  for (Kind kind : {Kind::sgd_momentum, Kind::adam}) {
    OneTensor a(DType::f32), b(DType::f32);
    auto opt_a = make(kind, a);
    a.set_grad(kG1);
    opt_a->step();
    // Save: the state tensors as a checkpoint would (copies on the host) and the step count.
    std::vector<std::pair<std::string, Tensor>> saved;
    for (const auto& [name, t] : opt_a->state())
      saved.emplace_back(name, t.get().to(Device::cpu()));
    NamedTensors restored;
    for (const auto& [name, t] : saved) restored.emplace_back(name, std::cref(t));
    EXPECT_EQ(restored.size(), kind == Kind::adam ? 2u : 1u);
    EXPECT_EQ(restored[0].first,
              kind == Kind::adam ? "exp_avg.bias_ih_l0" : "momentum_buffer.bias_ih_l0");

    b.model.parameter("bias_ih_l0").assign(a.value());
    auto opt_b = make(kind, b);
    opt_b->load_state(opt_a->step_count(), restored);
    a.set_grad(kG2);
    b.set_grad(kG2);
    opt_a->step();
    opt_b->step();
    EXPECT_EQ(a.value(), b.value()) << "a restored optimizer continues bit for bit";
  }
}

TEST(Optimizers, LoadStateChecksAndChangesNothingOnFailure) {
  OneTensor m(DType::f64);
  Adam adam(parameters_of(m.model), {}, m.frozen);
  Tensor right = Tensor::zeros({8}, DType::f64), wrong = Tensor::zeros({3}, DType::f64);
  right.fill(7.0);
  EXPECT_THROW(adam.load_state(5, {{"exp_avg.bias_ih_l0", std::cref(right)}}), ValueError);
  EXPECT_THROW(adam.load_state(5, {{"exp_avg.bias_ih_l0", std::cref(right)},
                                   {"exp_avg_sq.bias_ih_l0", std::cref(wrong)}}),
               ShapeError);
  EXPECT_THROW(adam.load_state(5, {{"exp_avg.bias_ih_l0", std::cref(right)},
                                   {"exp_avg_sq.bias_ih_l0", std::cref(right)},
                                   {"exp_avg.nothing", std::cref(right)}}),
               ValueError);
  EXPECT_EQ(adam.step_count(), 0);
  for (const auto& [name, t] : adam.state()) {
    for (double v : t.get().to_vector<double>()) EXPECT_EQ(v, 0.0) << name;
  }
}

TEST(Optimizers, RejectBadHyperParametersAndNames) {
  OneTensor m(DType::f64);
  SgdOptions s;
  s.nesterov = true;
  EXPECT_THROW(Sgd(parameters_of(m.model), s), ValueError);
  AdamOptions a;
  a.beta1 = 1.0;
  EXPECT_THROW(Adam(parameters_of(m.model), a), ValueError);
  a = AdamOptions();
  a.lr = NAN;
  EXPECT_THROW(AdamW(parameters_of(m.model), a), ValueError);
  EXPECT_THROW(Adam(parameters_of(m.model), {}, {"no_such_tensor"}), ValueError);
  Adam ok(parameters_of(m.model));
  EXPECT_THROW(ok.set_lr(-1), ValueError);
  ok.set_lr(0);  // a schedule may end at 0
  EXPECT_EQ(ok.lr(), 0.0);
}

}  // namespace
}  // namespace fuselstm::testing
