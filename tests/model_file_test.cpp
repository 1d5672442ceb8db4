// Model files: fuselstm -> file -> fuselstm is bitwise; PyTorch state_dicts (plain or under a
// module prefix) load with the configuration inferred; every mismatch is a FormatError that
// names the file and the problem, and leaves an existing model unchanged.

#include "io_test_util.hpp"

namespace fuselstm::testing {
namespace {

LstmConfig config_of(const Case& c, DType dtype) {
  LstmConfig cfg;
  cfg.input_size = c.X;
  cfg.hidden_size = c.H;
  cfg.num_layers = c.L;
  cfg.bias = c.bias;
  cfg.cell = c.cell;
  cfg.dtype = dtype;
  return cfg;
}

Lstm seeded_model(const Case& c, DType dtype, std::uint64_t seed) {
  Lstm m(config_of(c, dtype));
  m.init_uniform(seed, -0.5, 0.5);
  return m;
}

void expect_same_parameters(const Lstm& a, const Lstm& b, const std::string& what) {
  ASSERT_EQ(a.parameter_names(), b.parameter_names()) << what;
  for (const std::string& name : a.parameter_names()) {
    EXPECT_TRUE(same_bits(a.parameter(name), b.parameter(name))) << what << ": " << name;
  }
}

// The model's parameters as a plain state_dict (PyTorch names, no metadata), under `prefix`.
TensorMap state_dict(const Lstm& m, const std::string& prefix = "") {
  TensorMap t;
  for (const std::string& name : m.parameter_names()) t.emplace(prefix + name, m.parameter(name).clone());
  return t;
}

TEST(ModelFile, RoundTripIsBitwiseAndKeepsConfigExtrasAndMetadata) {
  ScratchDir dir;
  const std::vector<Case> cases = {{1, 1, 1, 1, 1},
                                   {1, 1, 3, 5, 2, CellActivation::tanh, false},
                                   {1, 1, 7, 4, 3, CellActivation::identity, true}};
  std::uint64_t seed = 10;
  for (const Case& c : cases) {
    for (DType dtype : {DType::f32, DType::f64}) {
      const std::string what = c.str() + " " + dtype_name(dtype);
      const Lstm original = seeded_model(c, dtype, seed++);
      TensorMap extra;
      extra.emplace("head.weight", Tensor::from_vector({2, c.H}, std::vector<double>(2 * c.H, 0.25), dtype));
      const std::string path = dir.file("m.safetensors");
      save_model(original, path, {{"note", "trained on toy data"}}, extra);

      LoadedModel loaded = load_model(path);
      const LstmConfig& got = loaded.model.config();
      EXPECT_EQ(got.input_size, c.X) << what;
      EXPECT_EQ(got.hidden_size, c.H) << what;
      EXPECT_EQ(got.num_layers, c.L) << what;
      EXPECT_EQ(got.bias, c.bias) << what;
      EXPECT_EQ(got.cell, c.cell) << what;
      EXPECT_EQ(got.dtype, dtype) << what;
      expect_same_parameters(original, loaded.model, what);
      ASSERT_EQ(loaded.extra.size(), 1u) << what;
      EXPECT_TRUE(same_bits(loaded.extra.at("head.weight"), extra.at("head.weight"))) << what;
      EXPECT_EQ(loaded.metadata.at("note"), "trained on toy data") << what;
      EXPECT_EQ(loaded.metadata.at("fuselstm.format"), "lstm-model") << what;
      EXPECT_EQ(loaded.metadata.at("fuselstm.format_version"), "1") << what;

      // Into an existing model of the same configuration: also bitwise.
      Lstm target(config_of(c, dtype));
      const TensorFile rest = load_weights(target, path);
      expect_same_parameters(original, target, what + " load_weights");
      EXPECT_EQ(rest.tensors.size(), 1u) << what;
    }
  }
}

TEST(ModelFile, LoadedModelComputesTheSameBits) {
  ScratchDir dir;
  const Case c{4, 3, 5, 3, 2};
  Lstm original = seeded_model(c, DType::f32, 3);
  save_model(original, dir.file("m.safetensors"));
  LoadedModel loaded = load_model(dir.file("m.safetensors"));
  std::mt19937_64 rng(4);
  const Tensor x = Tensor::from_vector({c.T, c.B, c.X}, random_values(c.T * c.B * c.X, rng), DType::f32);
  const ForwardResult a = original.forward(x);
  const ForwardResult b = loaded.model.forward(x);
  EXPECT_TRUE(same_bits(a.y, b.y));
  EXPECT_TRUE(same_bits(a.cT, b.cT));
}

TEST(ModelFile, CudaModelsRoundTripThroughFiles) {
  FUSELSTM_REQUIRE_GPU();
  ScratchDir dir;
  const Case c{1, 1, 3, 5, 2};
  for (DType dtype : {DType::f32, DType::f64}) {
    // Saved from the GPU, loaded on the CPU and back onto the GPU: the same bits everywhere.
    LstmConfig cfg = config_of(c, dtype);
    cfg.device = Device::cuda(0);
    Lstm on_gpu(cfg);
    on_gpu.init_uniform(21, -0.5, 0.5);
    save_model(on_gpu, dir.file("gpu.safetensors"));
    LoadedModel on_cpu = load_model(dir.file("gpu.safetensors"));
    expect_same_parameters(on_gpu, on_cpu.model, "cuda -> cpu");
    LoadOptions options;
    options.device = Device::cuda(0);
    LoadedModel back = load_model(dir.file("gpu.safetensors"), options);
    EXPECT_EQ(back.model.config().device, Device::cuda(0));
    expect_same_parameters(on_gpu, back.model, "cuda -> cuda");
  }
}

TEST(ModelFile, PlainStateDictLoadsWithInferredConfig) {
  ScratchDir dir;
  for (bool bias : {true, false}) {
    const Case c{1, 1, 3, 5, 2, CellActivation::identity, bias};  // identity must not be inferred
    const Lstm original = seeded_model(c, DType::f64, 5);
    const std::string path = dir.file("plain.safetensors");
    write_safetensors(path, state_dict(original));
    LoadedModel loaded = load_model(path);
    EXPECT_EQ(loaded.model.config().input_size, 3);
    EXPECT_EQ(loaded.model.config().hidden_size, 5);
    EXPECT_EQ(loaded.model.config().num_layers, 2);
    EXPECT_EQ(loaded.model.config().bias, bias);
    EXPECT_EQ(loaded.model.config().cell, CellActivation::tanh) << "PyTorch's cell";
    EXPECT_EQ(loaded.model.config().dtype, DType::f64);
    EXPECT_TRUE(loaded.extra.empty());
    EXPECT_TRUE(loaded.metadata.empty());
    for (const std::string& name : original.parameter_names()) {
      EXPECT_TRUE(same_bits(original.parameter(name), loaded.model.parameter(name))) << name;
    }
  }
}

TEST(ModelFile, ModulePrefixIsFoundAndOtherTensorsAreExtra) {
  ScratchDir dir;
  const Case c{1, 1, 2, 3, 1};
  const Lstm original = seeded_model(c, DType::f32, 6);
  TensorMap tensors = state_dict(original, "lstm.");
  tensors.emplace("head.weight", Tensor::zeros({1, 3}, DType::f32));
  tensors.emplace("head.bias", Tensor::zeros({1}, DType::f32));
  const std::string path = dir.file("module.safetensors");
  write_safetensors(path, tensors, {{"format", "pt"}});  // what other tools often record
  LoadedModel loaded = load_model(path);
  expect_same_parameters(original, loaded.model, "prefix lstm.");
  EXPECT_EQ(loaded.extra.size(), 2u);
  EXPECT_TRUE(loaded.extra.count("head.weight"));

  // Two LSTMs in one file: ambiguous unless the prefix is given.
  TensorMap two = state_dict(original, "encoder.");
  for (auto& [name, t] : state_dict(original, "decoder.")) two.emplace(name, std::move(t));
  write_safetensors(path, two);
  expect_error_with<FormatError>([&] { load_model(path); },
                                 {path, "several prefixes", "'decoder.'", "'encoder.'", "prefix"});
  LoadOptions options;
  options.prefix = "decoder.";
  LoadedModel decoder = load_model(path, options);
  expect_same_parameters(original, decoder.model, "prefix decoder.");
  EXPECT_EQ(decoder.extra.size(), original.parameter_names().size());  // the encoder's
}

TEST(ModelFile, DtypeConversions) {
  ScratchDir dir;
  const Case c{1, 1, 2, 3, 1};
  const Lstm f64 = seeded_model(c, DType::f64, 7);
  const std::string path = dir.file("f64.safetensors");
  save_model(f64, path);
  LoadOptions to_f32;
  to_f32.dtype = DType::f32;
  LoadedModel loaded = load_model(path, to_f32);
  EXPECT_EQ(loaded.model.config().dtype, DType::f32);
  const std::vector<double> wide = f64.parameter("weight_hh_l0").to_vector<double>();
  const std::vector<float> narrow = loaded.model.parameter("weight_hh_l0").to_vector<float>();
  for (std::size_t k = 0; k < wide.size(); ++k) EXPECT_EQ(narrow[k], static_cast<float>(wide[k]));

  // bf16 weights (as a half-precision PyTorch model saves them) become f32, exactly.
  const std::int64_t H = 1, X = 1;
  std::vector<std::uint8_t> data;
  const std::vector<std::uint16_t> ih = {0x3F80, 0xBF80, 0x3F00, 0xBF00}, hh = {0x4000, 0xC000, 0x3E80, 0xBE80};
  for (auto v : ih) data.insert(data.end(), {static_cast<std::uint8_t>(v & 0xFF), static_cast<std::uint8_t>(v >> 8)});
  for (auto v : hh) data.insert(data.end(), {static_cast<std::uint8_t>(v & 0xFF), static_cast<std::uint8_t>(v >> 8)});
  const std::vector<std::uint8_t> bytes = raw_safetensors(
      R"({"weight_ih_l0":{"dtype":"BF16","shape":[4,1],"data_offsets":[0,8]},)"
      R"("weight_hh_l0":{"dtype":"BF16","shape":[4,1],"data_offsets":[8,16]}})", data);
  LoadedModel half = load_model(parse_safetensors(bytes.data(), bytes.size(), "bf16"));
  EXPECT_EQ(half.model.config().dtype, DType::f32);
  EXPECT_EQ(half.model.config().hidden_size, H);
  EXPECT_EQ(half.model.config().input_size, X);
  EXPECT_FALSE(half.model.config().bias);
  EXPECT_EQ(half.model.parameter("weight_ih_l0").to_vector<double>(), (std::vector<double>{1, -1, 0.5, -0.5}));
  EXPECT_EQ(half.model.parameter("weight_hh_l0").to_vector<double>(), (std::vector<double>{2, -2, 0.25, -0.25}));
}

TEST(ModelFile, SaveRejectsReservedMetadataAndClashingNames) {
  ScratchDir dir;
  const Lstm m = seeded_model({1, 1, 2, 3, 1}, DType::f32, 8);
  expect_error_with<ValueError>([&] { save_model(m, dir.file("a"), {{"fuselstm.cell", "x"}}); },
                                {"fuselstm.cell", "reserved"});
  TensorMap clash;
  clash.emplace("bias_hh_l0", Tensor::zeros({12}, DType::f32));
  expect_error_with<ValueError>([&] { save_model(m, dir.file("a"), {}, clash); }, {"bias_hh_l0"});
  EXPECT_TRUE(dir.entries().empty()) << "nothing written";
}

class ModelFileErrors : public ::testing::Test {
protected:
  ScratchDir dir;
  const Case c{1, 1, 3, 5, 2};
  Lstm original = seeded_model(c, DType::f32, 9);
  std::string path = dir.file("bad.safetensors");

  // Writes the model's state_dict after `edit`, with `metadata`, and expects load_model to fail
  // with a FormatError naming the file and `parts`.
  template <typename Edit>
  void expect_load_error(Edit edit, const std::vector<std::string>& parts,
                         const Metadata& metadata = {}) {
    TensorMap t = state_dict(original);
    edit(t);
    write_safetensors(path, t, metadata);
    std::vector<std::string> all = parts;
    all.push_back(path);
    expect_error_with<FormatError>([&] { load_model(path); }, all);
  }
};

TEST_F(ModelFileErrors, MissingLayerOrTensor) {
  expect_load_error([](TensorMap& t) { t.erase("weight_hh_l1"); }, {"missing tensor 'weight_hh_l1'"});
  expect_load_error([](TensorMap& t) { t.erase("bias_hh_l0"); }, {"missing tensor 'bias_hh_l0'"});
  expect_load_error([](TensorMap& t) { t.erase("weight_ih_l0"); }, {"weight_ih_l0"});
  expect_load_error([](TensorMap& t) { t.emplace("weight_ih_l7", Tensor::zeros({20, 5}, DType::f32)); },
                    {"num_layers 8", "9 LSTM tensors"});
  expect_load_error([](TensorMap& t) { t.clear(); t.emplace("head.weight", Tensor::zeros({2}, DType::f32)); },
                    {"no LSTM parameters"});
}

TEST_F(ModelFileErrors, WrongShapes) {
  expect_load_error([](TensorMap& t) { t["weight_hh_l0"] = Tensor::zeros({20, 4}, DType::f32); },
                    {"'weight_hh_l0'", "[20, 4]", "[20, 5]"});
  expect_load_error([](TensorMap& t) { t["weight_ih_l0"] = Tensor::zeros({19, 3}, DType::f32); },
                    {"'weight_ih_l0'", "[4H, X]", "[19, 3]"});
  expect_load_error([](TensorMap& t) { t["bias_ih_l1"] = Tensor::zeros({20, 1}, DType::f32); },
                    {"'bias_ih_l1'", "[20, 1]", "[20]"});
}

TEST_F(ModelFileErrors, UnsupportedVariants) {
  expect_load_error([](TensorMap& t) { t.emplace("weight_ih_l0_reverse", Tensor::zeros({20, 3}, DType::f32)); },
                    {"weight_ih_l0_reverse", "bidirectional"});
  expect_load_error([](TensorMap& t) { t.emplace("weight_hr_l0", Tensor::zeros({2, 5}, DType::f32)); },
                    {"weight_hr_l0", "proj_size"});
}

TEST_F(ModelFileErrors, MetadataMustAgreeAndBeReadable) {
  Metadata meta;
  meta["fuselstm.format"] = "lstm-model";
  meta["fuselstm.format_version"] = "1";
  meta["fuselstm.input_size"] = "3";
  meta["fuselstm.hidden_size"] = "5";
  meta["fuselstm.num_layers"] = "2";
  meta["fuselstm.bias"] = "true";
  meta["fuselstm.cell"] = "identity";
  const auto none = [](TensorMap&) {};
  write_safetensors(path, state_dict(original), meta);
  EXPECT_EQ(load_model(path).model.config().cell, CellActivation::identity);

  Metadata m = meta;
  m["fuselstm.num_layers"] = "3";
  expect_load_error(none, {"missing tensor 'weight_ih_l2'", "num_layers 3"}, m);
  m = meta;
  m["fuselstm.hidden_size"] = "4";
  expect_load_error(none, {"'weight_ih_l0' has shape [20, 3]", "[16, 3]"}, m);
  m = meta;
  m["fuselstm.format_version"] = "2";
  expect_load_error(none, {"newer fuselstm", "format_version 2", "upgrade"}, m);
  m = meta;
  m["fuselstm.format"] = "something-else";
  expect_load_error(none, {"something-else", "lstm-model"}, m);
  m = meta;
  m["fuselstm.hidden_size"] = "5x";
  expect_load_error(none, {"fuselstm.hidden_size", "'5x'"}, m);
  m = meta;
  m.erase("fuselstm.cell");
  expect_load_error(none, {"lacks fuselstm.cell"}, m);
  m = meta;
  m["fuselstm.bias"] = "yes";
  expect_load_error(none, {"fuselstm.bias", "'yes'"}, m);
}

TEST_F(ModelFileErrors, LoadWeightsChecksAndChangesNothingOnFailure) {
  Lstm target = seeded_model(c, DType::f32, 99);
  const Lstm before = seeded_model(c, DType::f32, 99);
  TensorMap t = state_dict(original);
  t["weight_hh_l1"] = Tensor::zeros({20, 4}, DType::f32);
  write_safetensors(path, t);
  expect_error_with<FormatError>([&] { load_weights(target, path); }, {path, "weight_hh_l1", "[20, 4]"});
  expect_same_parameters(before, target, "after a failed load_weights");

  // A file whose configuration differs (identity cell) is refused by a tanh model.
  Lstm identity_model = seeded_model({1, 1, 3, 5, 2, CellActivation::identity}, DType::f32, 1);
  save_model(identity_model, path);
  expect_error_with<FormatError>([&] { load_weights(target, path); }, {path, "cell", "identity", "tanh"});
  expect_same_parameters(before, target, "after a refused configuration");

  // A model with fewer layers than the file.
  Lstm one_layer = seeded_model({1, 1, 3, 5, 1}, DType::f32, 2);
  write_safetensors(path, state_dict(original));
  expect_error_with<FormatError>([&] { load_weights(one_layer, path); }, {"unexpected tensor '", "_l1'"});
}

}  // namespace
}  // namespace fuselstm::testing
