// Golden files from PyTorch (tools/make_pytorch_fixtures.py, torch's nn.LSTM in float64): loading
// each through the library's own loader and running fuselstm on the host must reproduce PyTorch's
// outputs, final states and every gradient. This is the proof that the gate order (i, f, g, o),
// the weight layouts and the two biases match PyTorch's exactly: any of them wrong moves the
// results by O(0.1), ten orders of magnitude above the tolerance.

#include <cstring>

#include "io_test_util.hpp"

#ifndef FUSELSTM_FIXTURE_DIR
#error "tests/CMakeLists.txt defines FUSELSTM_FIXTURE_DIR"
#endif

namespace fuselstm::testing {
namespace {

std::string fixture(const std::string& name) { return std::string(FUSELSTM_FIXTURE_DIR) + "/" + name; }

// Practice 12: a fixture of another format version says how to fix it.
void check_fixture_format(const Metadata& metadata, const std::string& path) {
  ASSERT_EQ(metadata.count("fixture.format"), 1u) << path;
  ASSERT_EQ(metadata.at("fixture.format"), "fuselstm-pytorch-fixture") << path;
  ASSERT_EQ(metadata.at("fixture.format_version"), "1")
      << path << ": regenerate with /usr/bin/python3 tools/make_pytorch_fixtures.py, or update "
      << "this test to the new fixture format";
  ::testing::Test::RecordProperty("torch_version", metadata.at("torch.version"));
}

std::vector<double> values(const TensorMap& t, const std::string& name) {
  EXPECT_EQ(t.count(name), 1u) << name;
  return t.count(name) ? t.at(name).to_vector<double>() : std::vector<double>();
}

Tensor as_dtype(const Tensor& t, DType dtype) {
  return Tensor::from_vector(t.shape(), t.to_vector<double>(), dtype);
}

struct Tolerance {
  double atol, rtol;
};

void check_against_pytorch(const std::string& file_name, DType dtype, Tolerance tol) {
  const std::string path = fixture(file_name);
  TensorFile file = read_safetensors(path);
  check_fixture_format(file.metadata, path);
  LoadOptions options;
  options.prefix = file.metadata.at("fixture.prefix");
  options.dtype = dtype;
  LoadedModel loaded = load_model(std::move(file), options, path);
  Lstm& model = loaded.model;
  const TensorMap& t = loaded.extra;
  const std::string what = file_name + " " + loaded.metadata.at("fixture.dims") + " " + dtype_name(dtype);
  EXPECT_EQ(model.config().cell, CellActivation::tanh) << what;
  // No fuselstm metadata in a fixture: bidirectional is inferred from the _reverse tensors.
  const bool bidirectional = loaded.metadata.at("fixture.dims").find("bidirectional=True") !=
                             std::string::npos;
  EXPECT_EQ(model.config().bidirectional, bidirectional) << what;

  ForwardResult fwd = model.forward(as_dtype(t.at("input.x"), dtype), as_dtype(t.at("input.h0"), dtype),
                                    as_dtype(t.at("input.c0"), dtype));
  expect_close(fwd.y.to_vector<double>(), values(t, "output.y"), tol.atol, tol.rtol, what + " y");
  expect_close(fwd.hT.to_vector<double>(), values(t, "output.hT"), tol.atol, tol.rtol, what + " hT");
  expect_close(fwd.cT.to_vector<double>(), values(t, "output.cT"), tol.atol, tol.rtol, what + " cT");

  const BackwardResult bwd = model.backward(fwd.context, as_dtype(t.at("input.Ry"), dtype),
                                            as_dtype(t.at("input.Rh"), dtype),
                                            as_dtype(t.at("input.Rc"), dtype));
  expect_close(bwd.dx.to_vector<double>(), values(t, "grad.x"), tol.atol, tol.rtol, what + " dx");
  expect_close(bwd.dh0.to_vector<double>(), values(t, "grad.h0"), tol.atol, tol.rtol, what + " dh0");
  expect_close(bwd.dc0.to_vector<double>(), values(t, "grad.c0"), tol.atol, tol.rtol, what + " dc0");
  for (const std::string& name : model.parameter_names()) {
    const Comparison c = expect_close(model.gradient(name).to_vector<double>(),
                                      values(t, "grad." + name), tol.atol, tol.rtol,
                                      what + " d" + name);
    std::printf("  %-38s %-4s d%-13s max |fuselstm - torch| = %.3g\n", file_name.c_str(),
                dtype_name(dtype), name.c_str(), c.max_abs_error);
  }
}

// f64: fuselstm (host ops, BLAS) and PyTorch (CPU, MKL/OpenBLAS) add the same terms in different
// orders. Values and gradients are O(1) and each is a sum over at most T·(X_k+H+1)·B ≈ 160
// products (X_k = 2H for a bidirectional layer 1) through T ≤ 5 steps, so rounding differences
// are ~1e-15 absolute; 1e-10 relative (+1e-12
// absolute for entries near zero) leaves a wide margin yet is ten orders below any layout error.
constexpr Tolerance kF64{1e-12, 1e-10};
// f32: the same computation in float (eps 6e-8) from weights and inputs rounded to float, through
// up to 5 steps and 2 layers: errors of a few 1e-6; 1e-4 relative + 1e-5 absolute.
constexpr Tolerance kF32{1e-5, 1e-4};

class PyTorchFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(PyTorchFixture, OutputsStatesAndEveryGradientMatchInF64) {
  check_against_pytorch(GetParam(), DType::f64, kF64);
}

TEST_P(PyTorchFixture, OutputsStatesAndEveryGradientMatchInF32) {
  check_against_pytorch(GetParam(), DType::f32, kF32);
}

INSTANTIATE_TEST_SUITE_P(Cases, PyTorchFixture,
                         ::testing::Values("lstm_1layer.safetensors", "lstm_2layer.safetensors",
                                           "lstm_2layer_nobias_size1.safetensors",
                                           "lstm_2layer_bidirectional.safetensors"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n.substr(0, n.find('.'));
                         });

TEST(PyTorchFixtures, PlainStateDictSavedByPyTorchLoadsAsItIs) {
  // lstm.float().state_dict() of the lstm_1layer model, no metadata, no prefix.
  LoadedModel plain = load_model(fixture("state_dict_f32.safetensors"));
  const LstmConfig& cfg = plain.model.config();
  EXPECT_EQ(cfg.dtype, DType::f32);
  EXPECT_EQ(cfg.input_size, 3);
  EXPECT_EQ(cfg.hidden_size, 5);
  EXPECT_EQ(cfg.num_layers, 1);
  EXPECT_TRUE(cfg.bias);
  EXPECT_EQ(cfg.cell, CellActivation::tanh);
  EXPECT_TRUE(plain.extra.empty());
  const TensorFile golden = read_safetensors(fixture("lstm_1layer.safetensors"));
  for (const std::string& name : plain.model.parameter_names()) {
    // PyTorch's .float() and our cast both round to nearest: the same bits.
    const std::vector<double> wide = golden.tensors.at(name).to_vector<double>();
    std::vector<float> narrow(wide.begin(), wide.end());
    EXPECT_EQ(plain.model.parameter(name).to_vector<float>(), narrow) << name;
  }
}

TEST(PyTorchFixtures, Bf16AndF16DecodeToPyTorchsOwnFloatValues) {
  const std::string path = fixture("halves.safetensors");
  const TensorFile file = read_safetensors(path);
  check_fixture_format(file.metadata, path);
  for (const char* kind : {"bf16", "f16"}) {
    const Tensor& decoded = file.tensors.at(std::string("values.") + kind);
    const Tensor& expected = file.tensors.at(std::string("expect.") + kind);
    ASSERT_EQ(decoded.dtype(), DType::f32) << kind;
    ASSERT_EQ(decoded.shape(), expected.shape()) << kind;
    const float* got = decoded.data_as<float>();
    const float* want = expected.data_as<float>();
    for (std::int64_t k = 0; k < decoded.numel(); ++k) {
      // Bitwise, so -0, infinities, subnormals and NaN are held to PyTorch's exact result.
      EXPECT_EQ(std::memcmp(&got[k], &want[k], sizeof(float)), 0)
          << kind << "[" << k << "]: got " << got[k] << ", torch " << want[k];
    }
  }
}

}  // namespace
}  // namespace fuselstm::testing
