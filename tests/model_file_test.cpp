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
  cfg.bidirectional = c.bidirectional;
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
                                   {1, 1, 7, 4, 3, CellActivation::identity, true},
                                   {1, 1, 1, 1, 1, CellActivation::tanh, true, true},
                                   {1, 1, 3, 5, 2, CellActivation::identity, false, true}};
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
      EXPECT_EQ(got.bidirectional, c.bidirectional) << what;
      EXPECT_EQ(got.dtype, dtype) << what;
      expect_same_parameters(original, loaded.model, what);
      ASSERT_EQ(loaded.extra.size(), 1u) << what;
      EXPECT_TRUE(same_bits(loaded.extra.at("head.weight"), extra.at("head.weight"))) << what;
      EXPECT_EQ(loaded.metadata.at("note"), "trained on toy data") << what;
      EXPECT_EQ(loaded.metadata.at("fuselstm.format"), "lstm-model") << what;
      EXPECT_EQ(loaded.metadata.at("fuselstm.format_version"), std::to_string(kModelFormatVersion))
          << what;
      EXPECT_EQ(loaded.metadata.at("fuselstm.bidirectional"), c.bidirectional ? "true" : "false")
          << what;

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
  EXPECT_TRUE(same_bits(a.hT, b.hT));
  EXPECT_TRUE(same_bits(a.cT, b.cT));
}

TEST(ModelFile, BidirectionalModelComputesTheSameBitsAfterLoading) {
  ScratchDir dir;
  const Case c{4, 3, 5, 3, 3, CellActivation::tanh, true, true};
  Lstm original = seeded_model(c, DType::f64, 31);
  save_model(original, dir.file("m.safetensors"));
  LoadedModel loaded = load_model(dir.file("m.safetensors"));
  ASSERT_TRUE(loaded.model.config().bidirectional);
  expect_same_parameters(original, loaded.model, c.str());
  std::mt19937_64 rng(32);
  const Tensor x =
      Tensor::from_vector({c.T, c.B, c.X}, random_values(c.T * c.B * c.X, rng), DType::f64);
  const Tensor h0 = Tensor::from_vector({2 * c.L, c.B, c.H},
                                        random_values(2 * c.L * c.B * c.H, rng), DType::f64);
  const ForwardResult a = original.forward(x, h0);
  const ForwardResult b = loaded.model.forward(x, h0);
  EXPECT_TRUE(same_bits(a.y, b.y)) << c.str();
  EXPECT_TRUE(same_bits(a.hT, b.hT)) << c.str();
  EXPECT_TRUE(same_bits(a.cT, b.cT)) << c.str();
}

TEST(ModelFile, BatchFirstAndDropoutAreRecordedAndRestored) {
  ScratchDir dir;
  LstmConfig cfg = config_of({1, 1, 3, 4, 2, CellActivation::tanh, true, true}, DType::f32);
  cfg.batch_first = true;
  cfg.dropout = 0.1;  // not exact in binary: the text must read back to the same double
  cfg.dropout_seed = 18446744073709551615ULL;  // the largest seed
  Lstm original(cfg);
  const std::string path = dir.file("m.safetensors");
  save_model(original, path);
  const TensorFile file = read_safetensors(path);
  EXPECT_EQ(file.metadata.at("fuselstm.batch_first"), "true");
  EXPECT_EQ(file.metadata.at("fuselstm.dropout"), "0.1");
  EXPECT_EQ(file.metadata.at("fuselstm.dropout_seed"), "18446744073709551615");

  LoadedModel loaded = load_model(path);
  EXPECT_TRUE(loaded.model.config().batch_first);
  EXPECT_EQ(loaded.model.config().dropout, 0.1);
  EXPECT_EQ(loaded.model.config().dropout_seed, cfg.dropout_seed);
  expect_same_parameters(original, loaded.model, "batch_first + dropout");

  // LoadOptions overrides them, and sets what the file does not record.
  LoadOptions options;
  options.batch_first = false;
  options.dropout = 0.0;
  options.dropout_seed = 5;
  options.memory_mode = MemoryMode::recompute;
  options.segment_steps = 2;
  LoadedModel overridden = load_model(path, options);
  EXPECT_FALSE(overridden.model.config().batch_first);
  EXPECT_EQ(overridden.model.config().dropout, 0.0);
  EXPECT_EQ(overridden.model.config().dropout_seed, 5u);
  EXPECT_EQ(overridden.model.config().memory_mode, MemoryMode::recompute);
  EXPECT_EQ(overridden.model.config().segment_steps, 2);
  options.dropout = 1.0;
  EXPECT_THROW(load_model(path, options), ValueError);

  // A plain state_dict has no such record: PyTorch's defaults unless the options say otherwise.
  write_safetensors(path, state_dict(original));
  LoadedModel plain = load_model(path);
  EXPECT_FALSE(plain.model.config().batch_first);
  EXPECT_EQ(plain.model.config().dropout, 0.0);
  EXPECT_TRUE(plain.model.config().bidirectional);
  LoadOptions batch_first;
  batch_first.batch_first = true;
  EXPECT_TRUE(load_model(path, batch_first).model.config().batch_first);
}

TEST(ModelFile, Version1FilesLoadWithTheNewFieldsAtTheirDefaults) {
  // What format_version 1 wrote: no bidirectional, batch_first, dropout or dropout_seed keys.
  ScratchDir dir;
  const Lstm original = seeded_model({1, 1, 3, 5, 2}, DType::f32, 33);
  const std::string path = dir.file("v1.safetensors");
  write_safetensors(path, state_dict(original),
                    {{"fuselstm.format", "lstm-model"}, {"fuselstm.format_version", "1"},
                     {"fuselstm.input_size", "3"}, {"fuselstm.hidden_size", "5"},
                     {"fuselstm.num_layers", "2"}, {"fuselstm.bias", "true"},
                     {"fuselstm.cell", "identity"}});
  LoadedModel loaded = load_model(path);
  EXPECT_EQ(loaded.model.config().cell, CellActivation::identity);
  EXPECT_FALSE(loaded.model.config().bidirectional);
  EXPECT_FALSE(loaded.model.config().batch_first);
  EXPECT_EQ(loaded.model.config().dropout, 0.0);
  expect_same_parameters(original, loaded.model, "version 1");
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
  for (bool bidirectional : {false, true}) for (bool bias : {true, false}) {
    // identity must not be inferred
    const Case c{1, 1, 3, 5, 2, CellActivation::identity, bias, bidirectional};
    const Lstm original = seeded_model(c, DType::f64, 5);
    const std::string path = dir.file("plain.safetensors");
    write_safetensors(path, state_dict(original));
    LoadedModel loaded = load_model(path);
    EXPECT_EQ(loaded.model.config().input_size, 3);
    EXPECT_EQ(loaded.model.config().hidden_size, 5);
    EXPECT_EQ(loaded.model.config().num_layers, 2);
    EXPECT_EQ(loaded.model.config().bias, bias);
    EXPECT_EQ(loaded.model.config().bidirectional, bidirectional);
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

TEST_F(ModelFileErrors, ProjectionsAreRejected) {
  expect_load_error([](TensorMap& t) { t.emplace("weight_hr_l0", Tensor::zeros({2, 5}, DType::f32)); },
                    {"weight_hr_l0", "proj_size", "not support"});
  expect_load_error([](TensorMap& t) { t.emplace("weight_hr_l1_reverse", Tensor::zeros({2, 5}, DType::f32)); },
                    {"weight_hr_l1_reverse", "proj_size"});
}

TEST_F(ModelFileErrors, IncompleteOrMisshapedBidirectionalModels) {
  // One _reverse tensor makes the model bidirectional: every other reverse tensor is missing.
  expect_load_error([](TensorMap& t) { t.emplace("weight_ih_l0_reverse", Tensor::zeros({20, 3}, DType::f32)); },
                    {"missing tensor 'weight_hh_l0_reverse'", "bidirectional"});
  const Lstm bidirectional = seeded_model({1, 1, 3, 5, 2, CellActivation::tanh, true, true}, DType::f32, 12);
  const auto from_bidirectional = [&](auto edit, const std::vector<std::string>& parts) {
    expect_load_error([&](TensorMap& t) { t = state_dict(bidirectional); edit(t); }, parts);
  };
  from_bidirectional([](TensorMap& t) { t.erase("bias_hh_l1_reverse"); },
                     {"missing tensor 'bias_hh_l1_reverse'"});
  // Layer 1 reads both directions of layer 0: 2H = 10 inputs, not H = 5.
  from_bidirectional([](TensorMap& t) { t["weight_ih_l1"] = Tensor::zeros({20, 5}, DType::f32); },
                     {"'weight_ih_l1' has shape [20, 5]", "bidirectional", "[20, 10]"});
  from_bidirectional([](TensorMap& t) { t["weight_ih_l1_reverse"] = Tensor::zeros({20, 5}, DType::f32); },
                     {"'weight_ih_l1_reverse' has shape [20, 5]", "[20, 10]"});
  // A metadata record that says unidirectional disowns the reverse tensors.
  Metadata meta = {{"fuselstm.format", "lstm-model"}, {"fuselstm.format_version", "2"},
                   {"fuselstm.input_size", "3"}, {"fuselstm.hidden_size", "5"},
                   {"fuselstm.num_layers", "2"}, {"fuselstm.bias", "true"},
                   {"fuselstm.cell", "tanh"}, {"fuselstm.bidirectional", "false"},
                   {"fuselstm.batch_first", "false"}, {"fuselstm.dropout", "0"},
                   {"fuselstm.dropout_seed", "0"}};
  expect_load_error([&](TensorMap& t) { t = state_dict(bidirectional); },
                    {"'weight_ih_l1' has shape [20, 10]", "needs [20, 5]"}, meta);
  const Lstm one_layer = seeded_model({1, 1, 3, 5, 1, CellActivation::tanh, true, true}, DType::f32, 13);
  Metadata one_layer_meta = meta;
  one_layer_meta["fuselstm.num_layers"] = "1";
  expect_load_error([&](TensorMap& t) { t = state_dict(one_layer); },
                    {"unexpected tensor 'bias_hh_l0_reverse'"}, one_layer_meta);
  meta["fuselstm.bidirectional"] = "true";
  expect_load_error([](TensorMap&) {}, {"missing tensor 'weight_ih_l0_reverse'", "bidirectional"}, meta);
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
  const std::string newer = std::to_string(kModelFormatVersion + 1);
  m["fuselstm.format_version"] = newer;
  expect_load_error(none, {"newer fuselstm", "format_version " + newer, "upgrade"}, m);
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

  // Version 2's keys: required there, and checked.
  Metadata v2 = meta;
  v2["fuselstm.format_version"] = "2";
  v2["fuselstm.bidirectional"] = "false";
  v2["fuselstm.batch_first"] = "true";
  v2["fuselstm.dropout"] = "0.25";
  v2["fuselstm.dropout_seed"] = "7";
  write_safetensors(path, state_dict(original), v2);
  EXPECT_EQ(load_model(path).model.config().dropout, 0.25);
  for (const char* key : {"fuselstm.bidirectional", "fuselstm.batch_first", "fuselstm.dropout",
                          "fuselstm.dropout_seed"}) {
    m = v2;
    m.erase(key);
    expect_load_error(none, {std::string("lacks ") + key}, m);
  }
  m = v2;
  m["fuselstm.batch_first"] = "1";
  expect_load_error(none, {"fuselstm.batch_first", "'1'"}, m);
  for (const char* bad : {"1", "-0.5", "nan", "0.5x", ""}) {
    m = v2;
    m["fuselstm.dropout"] = bad;
    expect_load_error(none, {"fuselstm.dropout", "[0, 1)", std::string("'") + bad + "'"}, m);
  }
  for (const char* bad : {"-1", "18446744073709551616", "7 "}) {
    m = v2;
    m["fuselstm.dropout_seed"] = bad;
    expect_load_error(none, {"fuselstm.dropout_seed", std::string("'") + bad + "'"}, m);
  }
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

  // A bidirectional file into a unidirectional model of the same sizes.
  Lstm both_ways = seeded_model({1, 1, 3, 5, 2, CellActivation::tanh, true, true}, DType::f32, 3);
  save_model(both_ways, path);
  expect_error_with<FormatError>([&] { load_weights(target, path); },
                                 {path, "bidirectional", "true", "false"});
  expect_same_parameters(before, target, "after a refused direction count");

  // A model with fewer layers than the file.
  Lstm one_layer = seeded_model({1, 1, 3, 5, 1}, DType::f32, 2);
  write_safetensors(path, state_dict(original));
  expect_error_with<FormatError>([&] { load_weights(one_layer, path); }, {"unexpected tensor '", "_l1'"});
}

}  // namespace
}  // namespace fuselstm::testing
