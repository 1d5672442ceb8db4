// Gradient clipping against a directly computed norm; the non-finite guard catching a NaN injected
// into the input, with a message naming the tensor, the layer and the step, before any update.

#include <cmath>

#include "fuselstm/clip.hpp"
#include "fuselstm/guard.hpp"
#include "fuselstm/optim.hpp"
#include "train_test_util.hpp"

namespace fuselstm::testing {
namespace {

// A model and head with seeded, non-zero gradients in every tensor.
struct Filled {
  Lstm model;
  Linear head;
  explicit Filled(DType dtype, Device device = Device::cpu())
      : model(train_config(3, 5, 2, dtype, device)), head(model, 4, 1) {
    std::mt19937_64 rng(31);
    for (const ParameterRef& p : parameters_of(model, head)) {
      p.gradient->assign(random_values(p.gradient->numel(), rng, -2, 2));
    }
  }
  std::vector<double> all_gradients() {
    std::vector<double> out;
    for (const ParameterRef& p : parameters_of(model, head)) {
      const auto g = p.gradient->to_vector<double>();
      out.insert(out.end(), g.begin(), g.end());
    }
    return out;
  }
};

double direct_norm(const std::vector<double>& v) {
  long double s = 0;  // long double: an independent, more precise sum than the library's
  for (double x : v) s += static_cast<long double>(x) * x;
  return static_cast<double>(std::sqrt(s));
}

TEST(Clip, GlobalNormMatchesDirectNormAndScales) {
  for (DType dtype : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dtype));
    Filled f(dtype);
    const std::vector<double> before = f.all_gradients();
    const double norm = direct_norm(before);
    // The library sums in double (f32 values are exact in double): agreement to ~1e-15.
    EXPECT_NEAR(grad_norm(parameters_of(f.model, f.head)), norm, 1e-14 * norm);
    const double max_norm = norm / 3;
    const double returned = clip_grad_norm(parameters_of(f.model, f.head), max_norm);
    EXPECT_NEAR(returned, norm, 1e-14 * norm) << "the norm before clipping";
    const double coefficient = max_norm / (norm + 1e-6);
    std::vector<double> expected;
    for (double g : before) expected.push_back(g * coefficient);
    // f32: the coefficient is rounded to float, then one product: 2 roundings of 6e-8.
    const double rtol = dtype == DType::f64 ? 1e-15 : 2e-7;
    expect_close(f.all_gradients(), expected, 0, rtol, "clipped gradients");
    EXPECT_NEAR(direct_norm(f.all_gradients()), max_norm, 1e-6 * max_norm);
  }
}

TEST(Clip, BelowTheMaximumNothingChanges) {
  Filled f(DType::f32);
  const std::vector<double> before = f.all_gradients();
  clip_grad_norm(parameters_of(f.model, f.head), direct_norm(before) * 2);
  EXPECT_EQ(f.all_gradients(), before);
}

TEST(Clip, ByValueClampsEveryElement) {
  Filled f(DType::f64);
  const std::vector<double> before = f.all_gradients();
  clip_grad_value(parameters_of(f.model, f.head), 0.5);
  std::vector<double> expected;
  for (double g : before) expected.push_back(std::min(0.5, std::max(-0.5, g)));
  EXPECT_EQ(f.all_gradients(), expected);
  EXPECT_THROW(clip_grad_value(parameters_of(f.model), 0.0), ValueError);
  EXPECT_THROW(clip_grad_norm(parameters_of(f.model), -1.0), ValueError);
}

TEST(ClipCuda, MatchesHost) {
  FUSELSTM_REQUIRE_GPU();
  Filled host(DType::f64), gpu(DType::f64, Device::cuda(0));
  const double n_host = clip_grad_norm(parameters_of(host.model, host.head), 1.0);
  const double n_gpu = clip_grad_norm(parameters_of(gpu.model, gpu.head), 1.0);
  EXPECT_NEAR(n_gpu, n_host, 1e-14 * n_host);
  expect_close(gpu.all_gradients(), host.all_gradients(), 1e-15, 1e-13, "clipped on cuda");
  clip_grad_value(parameters_of(gpu.model, gpu.head), 0.01);
  clip_grad_value(parameters_of(host.model, host.head), 0.01);
  expect_close(gpu.all_gradients(), host.all_gradients(), 1e-15, 1e-13, "clamped on cuda");
}

// Expects ValueError whose message holds every part.
template <typename F>
void expect_value_error(F body, std::initializer_list<const char*> parts) {
  try {
    body();
    ADD_FAILURE() << "no ValueError";
  } catch (const ValueError& e) {
    for (const char* p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message '" << e.what() << "' lacks '" << p << "'";
    }
  }
}

// Where the NaN enters: the input (every gradient turns NaN, the first tensor checked names it)
// or only the last gradient the guard checks (head.bias): a guard that updated tensors while it
// checked them would have changed all the others by then.
enum class Poison { none, input, last_gradient };

// Every parameter and every optimizer moment, as values.
std::vector<std::vector<double>> training_state(Lstm& model, Linear& head, const Adam& adam) {
  std::vector<std::vector<double>> out;
  for (const ParameterRef& p : parameters_of(model, head)) out.push_back(p.value->to_vector<double>());
  for (const auto& [name, t] : adam.state()) out.push_back(t.get().to_vector<double>());
  return out;
}

void nan_is_caught_before_any_update(Device device, Poison where) {
  const std::int64_t T = 4, B = 2, X = 3, H = 5, K = 3;
  Lstm model(train_config(X, H, 2, DType::f32, device));
  Linear head(model, K, 2);
  CrossEntropyLoss loss;
  Adam adam(parameters_of(model, head));
  adam.set_check_finite(true);
  std::mt19937_64 rng(8);
  std::vector<double> xv = random_values(T * B * X, rng);
  const std::vector<std::int64_t> targets = {0, 1, 2, 0, 1, 2, 0, 1};
  auto train_step = [&](Poison poison) {
    std::vector<double> input = xv;
    if (poison == Poison::input) input[2 * B * X + X + 1] = NAN;  // step t = 2, row 1, feature 1
    const Tensor x = Tensor::from_vector({T, B, X}, input, DType::f32, device);
    ForwardResult f = model.forward(x);
    const LossResult r = loss(head.forward(f.y), targets);
    model.zero_grad();
    head.zero_grad();
    model.backward(f.context, head.backward(f.y, r.grad));
    if (poison == Poison::last_gradient) {
      std::vector<double> g = head.bias_grad().to_vector<double>();
      g[K - 1] = NAN;
      head.bias_grad().assign(g);
    }
    adam.step();
    return r.value;
  };
  train_step(Poison::none);
  train_step(Poison::none);
  const auto before = training_state(model, head, adam);
  // Step 3 is the update that would have happened.
  if (where == Poison::input) {
    expect_value_error([&] { train_step(where); },
                       {"non-finite gradient", "weight_ih_l0", "layer 0", "step 3"});
  } else {
    expect_value_error([&] { train_step(where); }, {"non-finite gradient", "head.bias", "step 3"});
  }
  EXPECT_EQ(adam.step_count(), 2);
  EXPECT_EQ(training_state(model, head, adam), before) << "a parameter or moment was updated";
}

TEST(Guard, NanInTheInputIsCaughtBeforeAnyUpdate) {
  nan_is_caught_before_any_update(Device::cpu(), Poison::input);
}

TEST(Guard, NanInTheLastCheckedGradientIsCaughtBeforeAnyUpdate) {
  nan_is_caught_before_any_update(Device::cpu(), Poison::last_gradient);
}

TEST(GuardCuda, NanInTheInputIsCaughtBeforeAnyUpdate) {
  FUSELSTM_REQUIRE_GPU();
  nan_is_caught_before_any_update(Device::cuda(0), Poison::input);
}

TEST(Guard, NamesLossHeadTensorsAndPlainTensors) {
  expect_value_error([] { check_finite_loss(NAN, 17); }, {"non-finite loss", "step 17"});
  check_finite_loss(1.5, 1);
  Filled f(DType::f64);
  check_finite_gradients(parameters_of(f.model, f.head), 4);  // all finite: no throw
  std::vector<double> g = f.head.bias_grad().to_vector<double>();
  g[2] = INFINITY;
  f.head.bias_grad().assign(g);
  expect_value_error([&] { check_finite_gradients(parameters_of(f.model, f.head), 9); },
                     {"head.bias", "step 9", "1 of 4"});
  expect_value_error([&] { check_finite(f.head.bias_grad(), "dy", 1, 2); },
                     {"dy (layer 1) at step 2"});
}

}  // namespace
}  // namespace fuselstm::testing
