// Checkpoints: stopping an SGD run, saving, loading into fresh objects and continuing gives
// bitwise the weights of the run that never stopped; the pieces of state (step, optimizer, random
// engine, extra tensors) each survive, and a bad checkpoint changes nothing.

#include "io_test_util.hpp"

namespace fuselstm::testing {
namespace {

const Case kCase{3, 2, 5, 3, 2};

LstmConfig run_config(DType dtype) {
  LstmConfig cfg;
  cfg.input_size = kCase.X;
  cfg.hidden_size = kCase.H;
  cfg.num_layers = kCase.L;
  cfg.dtype = dtype;
  return cfg;
}

// Everything a training loop owns.
struct TrainingRun {
  Lstm model;
  Sgd sgd;
  std::mt19937_64 data_rng;  // draws each step's batch and loss weights
  std::int64_t step = 0;
  TrainingRun(DType dtype, std::uint64_t init_seed, double lr, std::uint64_t data_seed)
      : model(run_config(dtype)), sgd(model, lr), data_rng(data_seed) {
    model.init_uniform(init_seed, -0.5, 0.5);
  }
};

// One SGD step on fresh data: J = <R, y>, so dy = R.
void train_step(TrainingRun& run) {
  const DType dt = run.model.config().dtype;
  const std::int64_t n = kCase.T * kCase.B;
  const Tensor x = Tensor::from_vector({kCase.T, kCase.B, kCase.X},
                                       random_values(n * kCase.X, run.data_rng), dt);
  const Tensor r = Tensor::from_vector({kCase.T, kCase.B, kCase.H},
                                       random_values(n * kCase.H, run.data_rng), dt);
  run.model.zero_grad();
  ForwardResult fwd = run.model.forward(x);
  run.model.backward(fwd.context, r);
  run.sgd.step();
  ++run.step;
}

void save(const TrainingRun& run, const std::string& path) {
  TrainingState state;
  state.step = run.step;
  save_optimizer_state(run.sgd, state);
  state.metadata["data_rng"] = rng_state(run.data_rng);
  save_checkpoint(path, run.model, state);
}

void resume(TrainingRun& run, const std::string& path) {
  const TrainingState state = load_checkpoint(path, run.model);
  load_optimizer_state(run.sgd, state);
  restore_rng_state(run.data_rng, state.metadata.at("data_rng"), "data_rng");
  run.step = state.step;
}

bool same_weights(const Lstm& a, const Lstm& b) {
  for (const std::string& name : a.parameter_names()) {
    if (!same_bits(a.parameter(name), b.parameter(name))) return false;
  }
  return true;
}

class CheckpointResume : public ::testing::TestWithParam<DType> {};

TEST_P(CheckpointResume, ResumedRunIsBitwiseTheUninterruptedRun) {
  ScratchDir dir;
  const std::int64_t total = 8, stop_at = 3;
  TrainingRun straight(GetParam(), 1, 0.05, 2);
  for (std::int64_t k = 0; k < total; ++k) train_step(straight);

  TrainingRun first(GetParam(), 1, 0.05, 2);
  for (std::int64_t k = 0; k < stop_at; ++k) train_step(first);
  save(first, dir.file("ckpt.safetensors"));

  // Fresh objects with a different start, lr and data stream: everything must come from the file.
  TrainingRun resumed(GetParam(), 77, 0.9, 99);
  resume(resumed, dir.file("ckpt.safetensors"));
  EXPECT_EQ(resumed.step, stop_at);
  EXPECT_EQ(resumed.sgd.lr(), 0.05);
  EXPECT_TRUE(same_weights(first.model, resumed.model));
  while (resumed.step < total) train_step(resumed);
  EXPECT_TRUE(same_weights(straight.model, resumed.model)) << "resumed run differs";

  // The test can tell: resuming without the data stream's state goes elsewhere.
  TrainingRun forgetful(GetParam(), 77, 0.9, 99);
  const TrainingState state = load_checkpoint(dir.file("ckpt.safetensors"), forgetful.model);
  load_optimizer_state(forgetful.sgd, state);
  forgetful.step = state.step;
  while (forgetful.step < total) train_step(forgetful);
  EXPECT_FALSE(same_weights(straight.model, forgetful.model));
}

INSTANTIATE_TEST_SUITE_P(DTypes, CheckpointResume, ::testing::Values(DType::f64, DType::f32),
                         [](const auto& info) { return dtype_name(info.param); });

TEST(Checkpoint, KeepsStateTensorsAndMetadataAndIsAModelFile) {
  ScratchDir dir;
  Lstm model(run_config(DType::f32));
  TrainingState state;
  state.step = 12345678901LL;
  state.metadata["user.note"] = "epoch 3";
  // What Adam will store: one moment per parameter, named after it.
  state.tensors.emplace("optim.exp_avg.weight_ih_l0",
                        Tensor::from_vector({12, 5}, std::vector<double>(60, 0.125), DType::f32));
  const std::string path = dir.file("c.safetensors");
  save_checkpoint(path, model, state);

  Lstm other(run_config(DType::f32));
  other.init_uniform(5, -1, 1);
  const TrainingState back = load_checkpoint(path, other);
  EXPECT_TRUE(same_weights(model, other));
  EXPECT_EQ(back.step, state.step);
  EXPECT_EQ(back.metadata, state.metadata) << "fuselstm.* keys are not handed back";
  ASSERT_EQ(back.tensors.size(), 1u);
  EXPECT_TRUE(same_bits(back.tensors.at("optim.exp_avg.weight_ih_l0"),
                        state.tensors.at("optim.exp_avg.weight_ih_l0")));

  // load_model reads the model out of a checkpoint; the state tensors come back as extras even
  // though their names end in a parameter's name.
  LoadedModel loaded = load_model(path);
  EXPECT_TRUE(same_weights(model, loaded.model));
  EXPECT_EQ(loaded.extra.size(), 1u);
}

TEST(Checkpoint, RandomEngineStatesRoundTrip) {
  std::mt19937 a(5);
  std::mt19937_64 b(6);
  for (int k = 0; k < 1000; ++k) { a(); b(); }
  std::mt19937 a2;
  std::mt19937_64 b2;
  restore_rng_state(a2, rng_state(a));
  restore_rng_state(b2, rng_state(b));
  for (int k = 0; k < 10; ++k) {
    EXPECT_EQ(a(), a2());
    EXPECT_EQ(b(), b2());
  }
  std::mt19937_64 untouched(7);
  const std::mt19937_64 copy = untouched;
  expect_error_with<FormatError>([&] { restore_rng_state(untouched, "1 2 3", "data_rng"); },
                                 {"data_rng", "not the state"});
  expect_error_with<FormatError>([&] { restore_rng_state(untouched, rng_state(b) + " 5"); },
                                 {"not the state"});
  EXPECT_TRUE(untouched == copy);
}

TEST(Checkpoint, BadCheckpointsAreClearErrorsAndChangeNothing) {
  ScratchDir dir;
  Lstm model(run_config(DType::f64));
  Sgd sgd(model, 0.25);
  const std::string path = dir.file("c.safetensors");

  save_model(model, path);
  expect_error_with<FormatError>([&] { load_checkpoint(path, model); },
                                 {path, "not a fuselstm checkpoint", "'lstm-model'", "load_model"});

  // A checkpoint whose step was tampered with.
  TrainingState state;
  state.step = 4;
  save_optimizer_state(sgd, state);
  save_checkpoint(path, model, state);
  TensorFile file = read_safetensors(path);
  file.metadata["fuselstm.step"] = "-3";
  TensorMap tensors;
  for (auto& [name, t] : file.tensors) tensors.emplace(name, std::move(t));
  write_safetensors(path, tensors, file.metadata);
  Lstm target(run_config(DType::f64));
  target.init_uniform(3, -1, 1);
  Lstm target_copy(run_config(DType::f64));
  target_copy.init_uniform(3, -1, 1);
  expect_error_with<FormatError>([&] { load_checkpoint(path, target); }, {path, "fuselstm.step", "'-3'"});
  EXPECT_TRUE(same_weights(target, target_copy));

  // A checkpoint of another model shape.
  LstmConfig wide = run_config(DType::f64);
  wide.hidden_size = 4;
  Lstm wide_model(wide);
  save_checkpoint(path, wide_model, state);
  expect_error_with<FormatError>([&] { load_checkpoint(path, target); }, {path, "hidden_size", "4", "3"});
  EXPECT_TRUE(same_weights(target, target_copy));

  // Optimizer state of another kind, or a broken lr.
  TrainingState adam;
  adam.metadata["optim.type"] = "adam";
  expect_error_with<FormatError>([&] { load_optimizer_state(sgd, adam); }, {"'adam'", "sgd"});
  TrainingState broken;
  broken.metadata["optim.type"] = "sgd";
  broken.metadata["optim.lr"] = "nan";
  expect_error_with<FormatError>([&] { load_optimizer_state(sgd, broken); }, {"optim.lr", "'nan'"});
  EXPECT_EQ(sgd.lr(), 0.25);

  // Saving: reserved keys, clashing names, negative steps.
  TrainingState reserved;
  reserved.metadata["fuselstm.step"] = "1";
  expect_error_with<ValueError>([&] { save_checkpoint(path, model, reserved); }, {"fuselstm.step", "reserved"});
  TrainingState clash;
  clash.tensors.emplace("weight_hh_l0", Tensor::zeros({12, 3}, DType::f64));
  expect_error_with<ValueError>([&] { save_checkpoint(path, model, clash); }, {"weight_hh_l0"});
  TrainingState negative;
  negative.step = -1;
  expect_error_with<ValueError>([&] { save_checkpoint(path, model, negative); }, {"step", "-1"});
}

}  // namespace
}  // namespace fuselstm::testing
