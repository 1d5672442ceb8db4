// Values, not only shapes: NaN or infinite weights are refused on load (naming tensor and first bad
// index) unless asked for, and a poisoned optimizer state (NaN moments, negative exp_avg_sq, an
// absurd step) is refused with the optimizer unchanged. Each case reaches the loader through a
// real file written by the library and then tampered with.

#include <cmath>
#include <limits>
#include <random>

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

// The all-or-nothing resume: one bad part (model, head, optimizer, random engine) and nothing of
// the others changes either, bitwise.
struct Trainer {
  Lstm model{small_config()};
  Linear head{model, 2, 7};
  Adam adam{parameters_of(model, head)};
  std::mt19937_64 rng{11};
  explicit Trainer(std::uint64_t seed) : rng(seed) {
    model.init_uniform(seed, -0.5, 0.5);
    for (const ParameterRef& p : parameters_of(model, head)) {
      p.gradient->assign(std::vector<double>(p.value->numel(), 0.01 * double(seed)));
    }
    adam.step();
    rng.discard(seed);
  }
  // Everything a resume may change, as values.
  std::vector<std::vector<double>> snapshot() const {
    std::vector<std::vector<double>> out;
    for (const std::string& name : model.parameter_names()) {
      out.push_back(model.parameter(name).to_vector<double>());
    }
    for (const ParameterRef& p : parameters_of(const_cast<Linear&>(head))) {
      out.push_back(p.value->to_vector<double>());
    }
    for (const auto& [name, t] : adam.state()) out.push_back(t.get().to_vector<double>());
    out.push_back({double(adam.step_count()), adam.lr(), double(model.dropout_offset())});
    std::mt19937_64 copy = rng;
    out.push_back({double(copy() >> 11)});
    return out;
  }
  ResumeTargets targets() {
    ResumeTargets t;
    t.parameters = parameters_of(head);
    t.optimizer = &adam;
    t.rngs.push_back(rng_target("data_rng", rng));
    return t;
  }
};

class AllOrNothingResume : public ::testing::Test {
protected:
  ScratchDir dir;
  std::string path = dir.file("resume.safetensors");
  TrainingState state;
  Trainer saved{1};

  void SetUp() override {
    save_parameters(parameters_of(saved.head), state);
    save_optimizer_state(saved.adam, state);
    state.metadata["data_rng"] = rng_state(saved.rng);
    state.step = 1;
  }
  void poison(const std::string& name, std::int64_t index) {
    Tensor& t = state.tensors.at(name);
    std::vector<double> v = t.to_vector<double>();
    v[index] = std::nan("");
    t.assign(v);
  }
  void expect_refused_and_unchanged(const std::vector<std::string>& parts) {
    save_checkpoint(path, saved.model, state);
    Trainer target(2);
    const auto before = target.snapshot();
    std::vector<std::string> all = parts;
    all.push_back(path);
    expect_error_with<FormatError>([&] { load_checkpoint(path, target.model, target.targets()); },
                                   all);
    EXPECT_EQ(target.snapshot(), before) << "a failed resume changed something";
  }
};

TEST_F(AllOrNothingResume, AGoodCheckpointRestoresEveryPart) {
  save_checkpoint(path, saved.model, state);
  Trainer target(2);
  ASSERT_NE(target.snapshot(), saved.snapshot());
  load_checkpoint(path, target.model, target.targets());
  EXPECT_EQ(target.snapshot(), saved.snapshot());
}

TEST_F(AllOrNothingResume, BadModelWeightsChangeNothing) {
  std::vector<double> v = saved.model.parameter("weight_ih_l0").to_vector<double>();
  v[1] = std::nan("");
  saved.model.parameter("weight_ih_l0").assign(v);
  expect_refused_and_unchanged({"weight_ih_l0", "flat index 1"});
}

TEST_F(AllOrNothingResume, BadHeadChangesNothing) {
  poison("head.weight", 3);
  expect_refused_and_unchanged({"head.weight", "flat index 3"});
}

TEST_F(AllOrNothingResume, MissingHeadChangesNothing) {
  state.tensors.erase("head.bias");
  expect_refused_and_unchanged({"no tensor 'head.bias'"});
}

TEST_F(AllOrNothingResume, BadOptimizerStateChangesNothing) {
  poison("optim.exp_avg.weight_hh_l1", 0);
  expect_refused_and_unchanged({"exp_avg.weight_hh_l1", "flat index 0"});
}

TEST_F(AllOrNothingResume, BadOptimizerStepChangesNothing) {
  state.metadata["optim.step"] = "9223372036854775807";
  expect_refused_and_unchanged({"optim.step", "2^53"});
}

TEST_F(AllOrNothingResume, BadRandomEngineStateChangesNothing) {
  state.metadata["data_rng"] = "1 2 3";
  expect_refused_and_unchanged({"data_rng"});
  state.metadata.erase("data_rng");
  expect_refused_and_unchanged({"no random engine state 'data_rng'"});
}

}  // namespace
}  // namespace fuselstm::testing
