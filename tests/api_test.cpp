// The public API's contracts: argument checks that name what is wrong and change nothing,
// gradient accumulation, determinism, devices and tensors.

#include "lstm/model_impl.hpp"
#include "test_util.hpp"

namespace fuselstm::testing {
namespace {

LstmConfig small_config(DType dtype = DType::f64) {
  LstmConfig cfg;
  cfg.input_size = 3;
  cfg.hidden_size = 4;
  cfg.num_layers = 2;
  cfg.dtype = dtype;
  return cfg;
}

// Runs `body` and expects ShapeError/ValueError whose message contains every one of `parts`.
template <typename E, typename F>
void expect_error(F body, std::initializer_list<const char*> parts) {
  try {
    body();
    ADD_FAILURE() << "no exception; expected one mentioning " << *parts.begin();
  } catch (const E& e) {
    for (const char* p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
        << "message '" << e.what() << "' lacks '" << p << "'";
  }
}

TEST(Config, RejectsNonPositiveSizes) {
  LstmConfig cfg = small_config();
  cfg.hidden_size = 0;
  expect_error<ValueError>([&] { Lstm m(cfg); }, {"hidden_size", "0"});
  cfg = small_config();
  cfg.num_layers = -1;
  expect_error<ValueError>([&] { Lstm m(cfg); }, {"num_layers"});
}

// cuda:N with N GPUs present names a device that does not exist: cuda:0 on a machine without a GPU
// (or a build without CUDA), cuda:1 on a one-GPU machine. Runs, never skips, on both.
TEST(Config, MissingGpuDeviceIsAClearError) {
  const int missing = cuda_device_count();
  LstmConfig cfg = small_config();
  cfg.device = Device::cuda(missing);
  const std::string name = "cuda:" + std::to_string(missing);
  expect_error<DeviceError>([&] { Lstm m(cfg); }, {name.c_str()});
}

TEST(Device, ParsesAndPrints) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:3"), Device::cuda(3));
  EXPECT_EQ(Device::cuda(2).str(), "cuda:2");
  expect_error<ValueError>([] { Device::parse("gpu"); }, {"gpu"});
  expect_error<ValueError>([] { Device::parse("cuda:x"); }, {"cuda:x"});
}

TEST(Tensor, RoundTripsAndChecksSizes) {
  const std::vector<double> v = {1.5, -2.25, 3.0, 4.0, 5.0, 6.0};
  Tensor t = Tensor::from_vector({2, 3}, v, DType::f32);
  EXPECT_EQ(t.describe(), "f32[2, 3] on cpu");
  EXPECT_EQ(t.to_vector<double>(), v);
  Tensor c = t.clone();
  c.fill(2.0);
  EXPECT_EQ(t.to_vector<double>(), v);  // a clone is a deep copy
  expect_error<ShapeError>([&] { t.assign(std::vector<double>(5)); }, {"6", "5"});
  EXPECT_EQ(t.to_vector<double>(), v);  // nothing written
  expect_error<ShapeError>([&] { t.data_as<double>(); }, {"f64", "f32[2, 3]"});
}

TEST(Lstm, ParameterNamesAndShapesFollowPyTorch) {
  Lstm m(small_config());
  const std::vector<std::string> names = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                          "bias_hh_l0",   "weight_ih_l1", "weight_hh_l1",
                                          "bias_ih_l1",   "bias_hh_l1"};
  EXPECT_EQ(m.parameter_names(), names);
  EXPECT_EQ(m.parameter("weight_ih_l0").shape(), (Shape{16, 3}));
  EXPECT_EQ(m.parameter("weight_ih_l1").shape(), (Shape{16, 4}));
  EXPECT_EQ(m.parameter("weight_hh_l1").shape(), (Shape{16, 4}));
  EXPECT_EQ(m.gradient("bias_hh_l1").shape(), (Shape{16}));
  expect_error<ValueError>([&] { m.parameter("weight_ih_l2"); }, {"weight_ih_l2", "weight_hh_l0"});
}

TEST(Lstm, InitIsSeededAndInRange) {
  Lstm a(small_config()), b(small_config());
  a.init_uniform(42, -0.1, 0.1);
  b.init_uniform(42, -0.1, 0.1);
  for (const auto& name : a.parameter_names()) {
    const auto va = a.parameter(name).to_vector<double>();
    EXPECT_EQ(va, b.parameter(name).to_vector<double>()) << name;
    for (double v : va) EXPECT_TRUE(v >= -0.1 && v < 0.1) << name << " " << v;
  }
  b.init_uniform(43, -0.1, 0.1);
  EXPECT_NE(a.parameter("weight_hh_l0").to_vector<double>(),
            b.parameter("weight_hh_l0").to_vector<double>());
  a.init_pytorch_default(1);
  for (double v : a.parameter("weight_ih_l0").to_vector<double>()) EXPECT_LE(std::fabs(v), 0.5);
}

TEST(Lstm, ForwardRejectsWrongShapesNamingThem) {
  Lstm m(small_config());
  const Tensor x = Tensor::zeros({5, 2, 3}, DType::f64);
  expect_error<ShapeError>([&] { m.forward(Tensor::zeros({5, 2, 4}, DType::f64)); },
                           {"x", "X = 3", "f64[5, 2, 4]"});
  expect_error<ShapeError>([&] { m.forward(Tensor::zeros({5, 3}, DType::f64)); }, {"x"});
  expect_error<ShapeError>([&] { m.forward(Tensor::zeros({0, 2, 3}, DType::f64)); }, {"T >= 1"});
  expect_error<ShapeError>([&] { m.forward(Tensor::zeros({5, 2, 3}, DType::f32)); },
                           {"x", "f64[5, 2, 3]", "f32[5, 2, 3]"});
  expect_error<ShapeError>([&] { m.forward(x, Tensor::zeros({2, 3, 4}, DType::f64)); },
                           {"h0", "f64[2, 2, 4]", "f64[2, 3, 4]"});
  expect_error<ShapeError>(
      [&] { m.forward(x, Tensor(), Tensor::zeros({1, 2, 4}, DType::f64)); }, {"c0", "[2, 2, 4]"});
}

TEST(Lstm, BackwardRejectsWrongShapesAndForeignContexts) {
  Lstm m(small_config()), other(small_config());
  const Tensor x = Tensor::zeros({5, 2, 3}, DType::f64);
  ForwardResult f = m.forward(x);
  const auto before = m.gradient("weight_hh_l0").to_vector<double>();
  expect_error<ShapeError>([&] { m.backward(f.context, Tensor::zeros({5, 2, 3}, DType::f64)); },
                           {"dy", "f64[5, 2, 4]", "f64[5, 2, 3]"});
  expect_error<ShapeError>(
      [&] { m.backward(f.context, Tensor(), Tensor::zeros({2, 2, 5}, DType::f64)); }, {"dhT"});
  expect_error<ShapeError>(
      [&] { m.backward(f.context, Tensor(), Tensor(), Tensor::zeros({2, 1, 4}, DType::f64)); },
      {"dcT"});
  expect_error<ValueError>([&] { other.backward(f.context, Tensor()); }, {"another model"});
  expect_error<ValueError>([&] { m.backward(ForwardContext(), Tensor()); }, {"empty"});
  EXPECT_EQ(m.gradient("weight_hh_l0").to_vector<double>(), before);  // nothing modified
}

TEST(Lstm, BackwardAccumulatesAndZeroGradClears) {
  Lstm m(small_config());
  std::mt19937_64 rng(5);
  const Tensor x = Tensor::from_vector({4, 2, 3}, random_values(24, rng), DType::f64);
  const Tensor dy = Tensor::from_vector({4, 2, 4}, random_values(32, rng), DType::f64);
  ForwardResult f = m.forward(x);
  m.zero_grad();
  m.backward(f.context, dy);
  const auto once = m.gradient("weight_ih_l0").to_vector<double>();
  m.backward(f.context, dy);
  const auto twice = m.gradient("weight_ih_l0").to_vector<double>();
  for (std::size_t k = 0; k < once.size(); ++k) EXPECT_NEAR(twice[k], 2 * once[k], 1e-14);
  m.zero_grad();
  for (double v : m.gradient("weight_ih_l0").to_vector<double>()) EXPECT_EQ(v, 0.0);
}

TEST(Lstm, DeterministicBitForBit) {
  std::vector<double> results[2];
  for (auto& r : results) {
    Lstm m(small_config(DType::f32));
    m.init_pytorch_default(9);
    std::mt19937_64 rng(6);
    const Tensor x = Tensor::from_vector({7, 3, 3}, random_values(63, rng), DType::f32);
    const Tensor dy = Tensor::from_vector({7, 3, 4}, random_values(84, rng), DType::f32);
    ForwardResult f = m.forward(x);
    m.zero_grad();
    m.backward(f.context, dy);
    r = m.gradient("weight_hh_l1").to_vector<double>();
  }
  EXPECT_EQ(results[0], results[1]);
}

TEST(Lstm, WorkspaceIsReusedAcrossCalls) {
  const ExecutionContext ctx(Device::cpu());  // counters of this model alone
  LstmConfig cfg = small_config();
  cfg.context = ctx;
  Lstm m(cfg);
  const detail::ModelImpl& impl = detail::ModelAccess::impl(m);
  const Tensor x = Tensor::zeros({6, 2, 3}, DType::f64, ctx);
  const Tensor shorter = Tensor::zeros({3, 2, 3}, DType::f64, ctx);
  const auto train = [&](const Tensor& input) {
    ForwardResult f = m.forward(input);
    m.backward(f.context, Tensor());
  };
  train(x);
  const void* da = impl.work.da.data();
  const void* dx_inner = impl.work.dx_inner.data();
  const MemoryStats before = ctx.memory_stats();
  train(shorter);  // smaller: the workspace is not regrown
  EXPECT_EQ(impl.work.da.data(), da);
  EXPECT_EQ(impl.work.dx_inner.data(), dx_inner);
  EXPECT_EQ(ctx.memory_stats().current_bytes, before.current_bytes);  // nothing leaked
  // Blocks cut for the larger shape serve the smaller one by best fit; after a few calls the
  // assignment settles and the shape is served from the cache alone.
  for (int k = 0; k < 3; ++k) train(shorter);
  const std::int64_t settled = ctx.memory_stats().system_allocations;
  train(shorter);
  EXPECT_EQ(ctx.memory_stats().system_allocations, settled);
}

TEST(Lstm, OutOfMemoryIsAClearErrorAndLeavesNothingAllocated) {
  const std::int64_t before = memory_stats(Device::cpu()).current_bytes;
  LstmConfig cfg = small_config();
  cfg.input_size = std::int64_t(1) << 23;  // weight_ih: 4H·X·8 bytes = 2.2 PB
  cfg.hidden_size = std::int64_t(1) << 23;
  try {
    Lstm m(cfg);
    ADD_FAILURE() << "expected OutOfMemoryError";
  } catch (const OutOfMemoryError& e) {
    EXPECT_NE(std::string(e.what()).find("out of host memory"), std::string::npos) << e.what();
  }
  EXPECT_EQ(memory_stats(Device::cpu()).current_bytes, before);
}

TEST(Sgd, UpdatesOnlyTrainedParameters) {
  Lstm m(small_config());
  std::mt19937_64 rng(8);
  const Tensor x = Tensor::from_vector({3, 2, 3}, random_values(18, rng), DType::f64);
  const Tensor dy = Tensor::from_vector({3, 2, 4}, random_values(24, rng), DType::f64);
  ForwardResult f = m.forward(x);
  m.zero_grad();
  m.backward(f.context, dy);
  const auto w = m.parameter("weight_hh_l0").to_vector<double>();
  const auto g = m.gradient("weight_hh_l0").to_vector<double>();
  const auto frozen = m.parameter("bias_hh_l0").to_vector<double>();
  Sgd sgd(m, 0.5, {"bias_hh_l0"});
  sgd.step();
  const auto w2 = m.parameter("weight_hh_l0").to_vector<double>();
  for (std::size_t k = 0; k < w.size(); ++k) EXPECT_DOUBLE_EQ(w2[k], w[k] - 0.5 * g[k]);
  EXPECT_EQ(m.parameter("bias_hh_l0").to_vector<double>(), frozen);
  expect_error<ValueError>([&] { Sgd bad(m, 0.1, {"bias_hh_l7"}); }, {"bias_hh_l7"});
  expect_error<ValueError>([&] { Sgd bad(m, -1.0); }, {"lr"});
}

}  // namespace
}  // namespace fuselstm::testing
