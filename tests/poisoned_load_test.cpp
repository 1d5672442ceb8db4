// Values, not only shapes: NaN or infinite weights are refused on load (naming tensor and first bad
// index) unless asked for, and a poisoned optimizer state (NaN moments, negative exp_avg_sq, an
// absurd step) is refused with the optimizer unchanged. Each case reaches the loader through a
// real file written by the library and then tampered with.

#include <cmath>
#include <limits>

#include "io_test_util.hpp"

namespace fuselstm::testing {
namespace {

LstmConfig small_config() {
  LstmConfig cfg;
  cfg.input_size = 3;
  cfg.hidden_size = 2;
  cfg.num_layers = 2;
  return cfg;
}

std::vector<double> values_of(const Tensor& t) { return t.to_vector<double>(); }

// A model file whose weight_hh_l1 holds `bad` at flat index 5.
std::string poisoned_model_file(const ScratchDir& dir, double bad) {
  Lstm model(small_config());
  model.init_uniform(1, -0.5, 0.5);
  std::vector<double> v = values_of(model.parameter("weight_hh_l1"));
  v[5] = bad;
  model.parameter("weight_hh_l1").assign(v);
  const std::string path = dir.file("poisoned.safetensors");
  save_model(model, path);
  return path;
}

TEST(PoisonedLoad, NonFiniteWeightsAreRefusedByDefaultNamingTensorAndIndex) {
  ScratchDir dir;
  for (const double bad : {std::nan(""), std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()}) {
    const std::string path = poisoned_model_file(dir, bad);
    expect_error_with<FormatError>([&] { load_model(path); },
                                   {path, "weight_hh_l1", "flat index 5", "allow_non_finite"});
    Lstm target(small_config());
    target.init_uniform(2, -0.5, 0.5);
    const std::vector<double> before = values_of(target.parameter("weight_hh_l1"));
    expect_error_with<FormatError>([&] { load_weights(target, path); },
                                   {path, "weight_hh_l1", "flat index 5"});
    EXPECT_EQ(values_of(target.parameter("weight_hh_l1")), before) << "load_weights changed it";

    // Asked for: they load as they are.
    LoadOptions allow;
    allow.allow_non_finite = true;
    const LoadedModel loaded = load_model(path, allow);
    const double got = values_of(loaded.model.parameter("weight_hh_l1"))[5];
    EXPECT_TRUE(std::isnan(bad) ? std::isnan(got) : got == bad);
    load_weights(target, path, std::nullopt, true);
  }
}

TEST(PoisonedLoad, NonFiniteCheckpointWeightsAreRefusedAndChangeNothing) {
  ScratchDir dir;
  Lstm model(small_config());
  model.init_uniform(1, -0.5, 0.5);
  std::vector<double> v = values_of(model.parameter("bias_ih_l0"));
  v.back() = std::nan("");
  model.parameter("bias_ih_l0").assign(v);
  const std::string path = dir.file("c.safetensors");
  save_checkpoint(path, model, TrainingState{});
  Lstm target(small_config());
  target.init_uniform(2, -0.5, 0.5);
  const std::vector<double> before = values_of(target.parameter("bias_ih_l0"));
  expect_error_with<FormatError>([&] { load_checkpoint(path, target); },
                                 {path, "bias_ih_l0", "flat index 7"});
  EXPECT_EQ(values_of(target.parameter("bias_ih_l0")), before);
}

// An Adam state written by the library, then one value or the step tampered with.
class PoisonedOptimizer : public ::testing::Test {
protected:
  Lstm model{small_config()};
  AdamOptions options;
  Adam adam{parameters_of(model), options};
  TrainingState state;

  void SetUp() override {
    model.init_uniform(1, -0.5, 0.5);
    // A real state: two steps of training moved the moments off zero.
    for (int k = 0; k < 2; ++k) {
      for (const std::string& name : model.parameter_names()) {
        const std::int64_t n = model.parameter(name).numel();
        model.gradient(name).assign(std::vector<double>(n, 0.1 * (k + 1)));
      }
      adam.step();
    }
    save_optimizer_state(adam, state);
  }
  void poison(const std::string& name, std::int64_t index, double value) {
    Tensor& t = state.tensors.at(name);
    std::vector<double> v = t.to_vector<double>();
    v[index] = value;
    t.assign(v);
  }
  // Loading into a fresh Adam fails with `parts` and leaves it as it was.
  void expect_refused(const std::vector<std::string>& parts) {
    Lstm other(small_config());
    Adam fresh(parameters_of(other), options);
    const std::int64_t steps = fresh.step_count();
    expect_error_with<FormatError>([&] { load_optimizer_state(fresh, state); }, parts);
    EXPECT_EQ(fresh.step_count(), steps);
    for (const auto& [name, tensor] : fresh.state()) {
      for (const double x : tensor.get().to_vector<double>()) ASSERT_EQ(x, 0.0) << name;
    }
  }
};

TEST_F(PoisonedOptimizer, NanMomentIsRefused) {
  poison("optim.exp_avg.weight_ih_l1", 3, std::nan(""));
  expect_refused({"exp_avg.weight_ih_l1", "flat index 3", "finite"});
}

TEST_F(PoisonedOptimizer, InfiniteSecondMomentIsRefused) {
  poison("optim.exp_avg_sq.bias_hh_l0", 0, std::numeric_limits<double>::infinity());
  expect_refused({"exp_avg_sq.bias_hh_l0", "flat index 0"});
}

TEST_F(PoisonedOptimizer, NegativeSecondMomentIsRefused) {
  poison("optim.exp_avg_sq.weight_hh_l0", 2, -1e-3);
  expect_refused({"exp_avg_sq.weight_hh_l0", "flat index 2", ">= 0"});
}

TEST_F(PoisonedOptimizer, StepOutsideZeroToTwoToThe53IsRefused) {
  state.metadata["optim.step"] = std::to_string(std::numeric_limits<std::int64_t>::max());
  expect_refused({"optim.step", "[0, 2^53]"});
  state.metadata["optim.step"] = std::to_string((std::int64_t(1) << 53) + 1);
  expect_refused({"optim.step", "[0, 2^53]"});
  state.metadata["optim.step"] = "-1";
  expect_refused({"optim.step"});
}

TEST_F(PoisonedOptimizer, TheUntamperedStateLoadsAndStepsToFiniteValues) {
  Lstm other(small_config());
  other.init_uniform(1, -0.5, 0.5);
  Adam fresh(parameters_of(other), options);
  load_optimizer_state(fresh, state);
  EXPECT_EQ(fresh.step_count(), 2);
  state.metadata["optim.step"] = std::to_string(std::int64_t(1) << 53);  // the bound itself loads
  load_optimizer_state(fresh, state);
}

}  // namespace
}  // namespace fuselstm::testing
