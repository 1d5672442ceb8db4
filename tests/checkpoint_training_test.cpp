// Checkpoints of a full training run: an AdamW run with a Linear head, cross-entropy and dropout
// between two layers, stopped and resumed into fresh objects, is bitwise the run that never
// stopped; leaving out the optimizer state or the dropout offset is not. Plus the optimizer-state
// and extra-parameter round trips and their errors.

#include "io_test_util.hpp"

namespace fuselstm::testing {
namespace {

constexpr std::int64_t T = 4, B = 3, X = 3, H = 5, L = 2, K = 3;

LstmConfig dropout_config(DType dtype, Device device = Device::cpu()) {
  LstmConfig cfg;
  cfg.device = device;
  cfg.input_size = X;
  cfg.hidden_size = H;
  cfg.num_layers = L;
  cfg.dtype = dtype;
  cfg.dropout = 0.3;  // masks on layer 1's input: the dropout stream must resume where it stopped
  cfg.dropout_seed = 17;
  return cfg;
}

AdamOptions adamw_options(double lr) {
  AdamOptions o = AdamW::default_options();
  o.lr = lr;
  o.weight_decay = 0.05;
  return o;
}

// Everything a training loop owns. Built in place and never moved (the head points at the model).
struct AdamWRun {
  Lstm model;
  Linear head;
  CrossEntropyLoss loss;
  AdamW optimizer;
  std::mt19937_64 data_rng;  // draws each step's batch and targets
  std::int64_t step = 0;
  AdamWRun(DType dtype, std::uint64_t init_seed, double lr, std::uint64_t data_seed,
           Device device = Device::cpu())
      : model(dropout_config(dtype, device)),
        head(model, K, init_seed + 1),
        loss(),
        optimizer(parameters_of(model, head), adamw_options(lr)),
        data_rng(data_seed) {
    model.init_uniform(init_seed, -0.5, 0.5);
  }
};

void train_step(AdamWRun& run) {
  const DType dt = run.model.config().dtype;
  const Tensor x = Tensor::from_vector({T, B, X}, random_values(T * B * X, run.data_rng), dt,
                                       run.model.config().device);
  std::vector<std::int64_t> targets(T * B);
  for (std::int64_t& t : targets) t = static_cast<std::int64_t>(run.data_rng() % K);
  run.model.zero_grad();
  run.head.zero_grad();
  ForwardResult f = run.model.forward(x);
  const LossResult r = run.loss(run.head.forward(f.y), targets);
  run.model.backward(f.context, run.head.backward(f.y, r.grad));
  run.optimizer.step();
  ++run.step;
}

void save(AdamWRun& run, const std::string& path) {
  TrainingState state;
  state.step = run.step;
  save_optimizer_state(run.optimizer, state);
  save_parameters(parameters_of(run.head), state);
  state.metadata["data_rng"] = rng_state(run.data_rng);
  save_checkpoint(path, run.model, state);
}

struct Restore {
  bool optimizer = true;
  bool dropout_offset = true;
};

void resume(AdamWRun& run, const std::string& path, Restore restore = {}) {
  const TrainingState state = load_checkpoint(path, run.model);
  if (!restore.dropout_offset) run.model.set_dropout_offset(0);
  load_parameters(parameters_of(run.head), state);
  if (restore.optimizer) load_optimizer_state(run.optimizer, state);
  restore_rng_state(run.data_rng, state.metadata.at("data_rng"), "data_rng");
  run.step = state.step;
}

// Parameters of model and head, and the optimizer's step count and state, bit for bit.
bool same_run_state(AdamWRun& a, AdamWRun& b) {
  const ParameterList pa = parameters_of(a.model, a.head), pb = parameters_of(b.model, b.head);
  for (std::size_t k = 0; k < pa.size(); ++k) {
    if (!same_bits(*pa[k].value, *pb[k].value)) return false;
  }
  const NamedTensors sa = a.optimizer.state(), sb = b.optimizer.state();
  for (std::size_t k = 0; k < sa.size(); ++k) {
    if (sa[k].first != sb[k].first || !same_bits(sa[k].second, sb[k].second)) return false;
  }
  return a.optimizer.step_count() == b.optimizer.step_count() &&
         a.model.dropout_offset() == b.model.dropout_offset();
}

// TrainingState holds move-only tensors: a deep copy, to break one entry at a time.
TrainingState copy_of(const TrainingState& state) {
  TrainingState copy;
  copy.step = state.step;
  copy.metadata = state.metadata;
  for (const auto& [name, tensor] : state.tensors) copy.tensors.emplace(name, tensor.clone());
  return copy;
}

// Same device, same bits: the resumed run is the uninterrupted one on that device.
void check_resume(DType dtype, Device device) {
  SCOPED_TRACE(std::string(dtype_name(dtype)) + " on " + device.str());
  ScratchDir dir;
  const std::int64_t total = 8, stop_at = 3;
  const std::string path = dir.file("ckpt.safetensors");
  AdamWRun straight(dtype, 1, 0.02, 2, device);
  for (std::int64_t k = 0; k < total; ++k) train_step(straight);
  ASSERT_GT(straight.model.dropout_offset(), 0u) << "dropout must have drawn masks";

  AdamWRun first(dtype, 1, 0.02, 2, device);
  for (std::int64_t k = 0; k < stop_at; ++k) train_step(first);
  save(first, path);

  // Fresh objects with another start, lr and data stream: everything must come from the file.
  AdamWRun resumed(dtype, 77, 0.5, 99, device);
  resume(resumed, path);
  EXPECT_EQ(resumed.step, stop_at);
  EXPECT_EQ(resumed.optimizer.lr(), 0.02);
  EXPECT_EQ(resumed.optimizer.step_count(), stop_at);
  EXPECT_EQ(resumed.model.dropout_offset(), first.model.dropout_offset());
  EXPECT_TRUE(same_run_state(first, resumed)) << "the checkpoint is the state at step 3";
  while (resumed.step < total) train_step(resumed);
  EXPECT_TRUE(same_run_state(straight, resumed)) << "resumed run differs";

  // The test can tell: without the optimizer state (fresh moments, step count 0, the same lr)
  // the run goes elsewhere.
  AdamWRun no_optimizer(dtype, 77, 0.02, 99, device);
  resume(no_optimizer, path, {/*optimizer=*/false, /*dropout_offset=*/true});
  while (no_optimizer.step < total) train_step(no_optimizer);
  EXPECT_FALSE(same_run_state(straight, no_optimizer));
  const ParameterList ps = parameters_of(straight.model, straight.head);
  const ParameterList pn = parameters_of(no_optimizer.model, no_optimizer.head);
  bool weights_differ = false;
  for (std::size_t k = 0; k < ps.size(); ++k)
    weights_differ |= !same_bits(*ps[k].value, *pn[k].value);
  EXPECT_TRUE(weights_differ) << "the weights themselves, not only the optimizer's bookkeeping";

  // Nor with the dropout masks drawn again from the start of the stream.
  AdamWRun no_offset(dtype, 77, 0.5, 99, device);
  resume(no_offset, path, {/*optimizer=*/true, /*dropout_offset=*/false});
  while (no_offset.step < total) train_step(no_offset);
  const ParameterList po = parameters_of(no_offset.model, no_offset.head);
  bool masks_matter = false;
  for (std::size_t k = 0; k < ps.size(); ++k)
    masks_matter |= !same_bits(*ps[k].value, *po[k].value);
  EXPECT_TRUE(masks_matter);
}

class AdamWResume : public ::testing::TestWithParam<DType> {};

TEST_P(AdamWResume, ResumedRunIsBitwiseTheUninterruptedRun) {
  check_resume(GetParam(), Device::cpu());
}

TEST(AdamWResumeCuda, ResumedRunIsBitwiseTheUninterruptedRun) {
  FUSELSTM_REQUIRE_GPU();
  for (DType dtype : {DType::f32, DType::f64}) check_resume(dtype, Device::cuda(0));
}

INSTANTIATE_TEST_SUITE_P(DTypes, AdamWResume, ::testing::Values(DType::f64, DType::f32),
                         [](const auto& info) { return dtype_name(info.param); });

TEST(OptimizerState, SavedUnderOptimWithTypeLrAndStep) {
  AdamWRun run(DType::f32, 3, 0.1, 4);
  train_step(run);
  train_step(run);
  TrainingState state;
  state.metadata["optim.stale"] = "from an earlier save";
  state.tensors.emplace("optim.stale", Tensor::zeros({1}, DType::f32));
  save_optimizer_state(run.optimizer, state);
  EXPECT_EQ(state.metadata.at("optim.type"), "adamw");
  EXPECT_EQ(state.metadata.at("optim.lr"), "0.1");
  EXPECT_EQ(state.metadata.at("optim.step"), "2");
  EXPECT_EQ(state.metadata.count("optim.stale"), 0u) << "a save replaces every optim. entry";
  const NamedTensors expected = run.optimizer.state();
  ASSERT_EQ(state.tensors.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_EQ(state.tensors.count("optim." + name), 1u) << name;
    EXPECT_TRUE(same_bits(state.tensors.at("optim." + name), tensor)) << name;
  }
  EXPECT_EQ(state.tensors.count("optim.exp_avg.head.weight"), 1u);
  EXPECT_EQ(state.tensors.count("optim.exp_avg_sq.weight_hh_l1"), 1u);
}

TEST(OptimizerState, SgdMomentumRoundTripsAndVersion1SgdTypeStillMatches) {
  Lstm model(dropout_config(DType::f64));
  model.init_uniform(5, -0.5, 0.5);
  SgdOptions o;
  o.lr = 0.125;
  o.momentum = 0.9;
  Sgd sgd(parameters_of(model), o);
  std::mt19937_64 rng(6);
  for (const std::string& name : model.parameter_names()) {
    model.gradient(name).assign(random_values(model.gradient(name).numel(), rng));
  }
  sgd.step();
  TrainingState state;
  save_optimizer_state(sgd, state);
  EXPECT_EQ(state.metadata.at("optim.type"), "sgd") << "what format_version 1 wrote for Sgd";
  EXPECT_EQ(state.tensors.size(), model.parameter_names().size()) << "one momentum_buffer each";

  SgdOptions other = o;
  other.lr = 3;
  Sgd fresh(parameters_of(model), other);
  load_optimizer_state(fresh, state);
  EXPECT_EQ(fresh.lr(), 0.125);
  EXPECT_EQ(fresh.step_count(), 1);
  const NamedTensors a = sgd.state(), b = fresh.state();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k)
    EXPECT_TRUE(same_bits(a[k].second, b[k].second)) << a[k].first;
}

TEST(OptimizerState, BadStateIsAClearErrorAndChangesNothing) {
  AdamWRun source(DType::f64, 3, 0.1, 4);
  train_step(source);
  TrainingState good;
  save_optimizer_state(source.optimizer, good);

  AdamWRun target(DType::f64, 5, 0.25, 6);
  train_step(target);
  TrainingState before;
  save_optimizer_state(target.optimizer, before);
  const auto unchanged = [&] {
    TrainingState now;
    save_optimizer_state(target.optimizer, now);
    EXPECT_EQ(now.metadata, before.metadata);
    for (const auto& [name, tensor] : before.tensors) {
      EXPECT_TRUE(same_bits(now.tensors.at(name), tensor)) << name;
    }
  };
  const auto expect_refused = [&](const TrainingState& bad, const std::vector<std::string>& parts) {
    expect_error_with<FormatError>([&] { load_optimizer_state(target.optimizer, bad); }, parts);
    unchanged();
  };

  TrainingState s = copy_of(good);
  s.metadata["optim.type"] = "adam";  // Adam's state has the same names: only the type tells
  expect_refused(s, {"load_optimizer_state", "'adam'", "'adamw'"});
  s = TrainingState();
  expect_refused(s, {"not recorded", "optim.type"});
  for (const char* lr : {"-0.5", "inf", "0.1x"}) {
    s = copy_of(good);
    s.metadata["optim.lr"] = lr;
    expect_refused(s, {"optim.lr", std::string("'") + lr + "'"});
  }
  s = copy_of(good);
  s.metadata.erase("optim.step");
  expect_refused(s, {"optim.step", "none"});
  s = copy_of(good);
  s.metadata["optim.step"] = "-1";
  expect_refused(s, {"optim.step", "'-1'"});
  // The tensors: each state() name with its shape, nothing else. The failing one is last in
  // order, so everything before it would have been copied by a careless loader.
  s = copy_of(good);
  s.tensors.erase("optim.exp_avg_sq.head.bias");
  expect_refused(s, {"optim.", "missing", "exp_avg_sq.head.bias"});
  s = copy_of(good);
  s.tensors["optim.exp_avg_sq.head.bias"] = Tensor::zeros({K + 1}, DType::f64);
  expect_refused(s, {"exp_avg_sq.head.bias", "[3]", "[4]"});
  s = copy_of(good);
  s.tensors.emplace("optim.exp_avg.weight_ih_l9", Tensor::zeros({1}, DType::f64));
  expect_refused(s, {"unexpected", "exp_avg.weight_ih_l9"});

  load_optimizer_state(target.optimizer, good);  // and the good one loads
  EXPECT_EQ(target.optimizer.step_count(), 1);
  EXPECT_EQ(target.optimizer.lr(), 0.1);
}

TEST(ExtraParameters, HeadRoundTripsAndBadTensorsChangeNothing) {
  ScratchDir dir;
  AdamWRun run(DType::f32, 3, 0.1, 4);
  TrainingState state;
  save_parameters(parameters_of(run.head), state);
  ASSERT_EQ(state.tensors.size(), 2u);
  save_checkpoint(dir.file("c.safetensors"), run.model, state);

  AdamWRun other(DType::f32, 8, 0.1, 4);
  const TrainingState back = load_checkpoint(dir.file("c.safetensors"), other.model);
  load_parameters(parameters_of(other.head), back);
  EXPECT_TRUE(same_bits(other.head.weight(), run.head.weight()));
  EXPECT_TRUE(same_bits(other.head.bias(), run.head.bias()));

  AdamWRun target(DType::f32, 9, 0.1, 4);
  const std::vector<float> weight = target.head.weight().to_vector<float>();
  TrainingState bad = copy_of(back);
  bad.tensors.erase("head.bias");
  expect_error_with<FormatError>([&] { load_parameters(parameters_of(target.head), bad); },
                                 {"no tensor 'head.bias'"});
  bad = copy_of(back);
  bad.tensors["head.bias"] = Tensor::zeros({K, 1}, DType::f32);
  expect_error_with<FormatError>([&] { load_parameters(parameters_of(target.head), bad); },
                                 {"'head.bias'", "[3]", "[3, 1]"});
  EXPECT_EQ(target.head.weight().to_vector<float>(), weight) << "weight comes first: untouched";

  // The model's own parameters belong to save_checkpoint: saving them here too is a clash.
  TrainingState clash;
  save_parameters(parameters_of(run.model), clash);
  expect_error_with<ValueError>(
      [&] { save_checkpoint(dir.file("d.safetensors"), run.model, clash); },
      {"state tensor '", "has the name of a model parameter"});
}

TEST(CheckpointDropoutOffset, SavedRestoredAndChecked) {
  ScratchDir dir;
  const std::string path = dir.file("c.safetensors");
  Lstm model(dropout_config(DType::f32));
  model.set_dropout_offset(18446744073709551611ULL);  // near the top: no narrowing on the way
  save_checkpoint(path, model, {});
  EXPECT_EQ(read_safetensors(path).metadata.at("fuselstm.dropout_offset"), "18446744073709551611");
  Lstm other(dropout_config(DType::f32));
  load_checkpoint(path, other);
  EXPECT_EQ(other.dropout_offset(), 18446744073709551611ULL);

  // Tampered or missing offsets are refused before the model changes.
  TensorFile file = read_safetensors(path);
  TensorMap tensors;
  for (auto& [name, t] : file.tensors) tensors.emplace(name, std::move(t));
  Lstm target(dropout_config(DType::f32));
  target.init_uniform(4, -1, 1);
  target.set_dropout_offset(8);
  const std::vector<float> before = target.parameter("weight_hh_l1").to_vector<float>();
  for (const char* bad : {"-1", "12a", ""}) {
    Metadata m = file.metadata;
    m["fuselstm.dropout_offset"] = bad;
    write_safetensors(path, tensors, m);
    expect_error_with<FormatError>([&] { load_checkpoint(path, target); },
                                   {path, "fuselstm.dropout_offset", std::string("'") + bad + "'"});
  }
  Metadata m = file.metadata;
  m.erase("fuselstm.dropout_offset");
  write_safetensors(path, tensors, m);
  expect_error_with<FormatError>([&] { load_checkpoint(path, target); },
                                 {path, "lacks fuselstm.dropout_offset"});
  EXPECT_EQ(target.dropout_offset(), 8u);
  EXPECT_EQ(target.parameter("weight_hh_l1").to_vector<float>(), before);

  // A format_version 1 checkpoint (before dropout, so without the four new configuration keys
  // and the offset) loads and starts the stream at 0.
  m["fuselstm.format_version"] = "1";
  for (const char* key : {"fuselstm.bidirectional", "fuselstm.batch_first", "fuselstm.dropout",
                          "fuselstm.dropout_seed"}) {
    m.erase(key);
  }
  write_safetensors(path, tensors, m);
  load_checkpoint(path, target);
  EXPECT_EQ(target.dropout_offset(), 0u);
}

}  // namespace
}  // namespace fuselstm::testing
