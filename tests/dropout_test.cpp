// Inter-layer dropout: Philox4x32-10 against Random123's known answers; the mask's statistics;
// host and CUDA drawing the same mask; forward semantics against a layer-by-layer construction;
// gradients with dropout against central differences; evaluation mode and single layers unmasked.

#include <cmath>

#include "ops/ops.hpp"
#include "runtime/context_state.hpp"
#include "train_test_util.hpp"

namespace fuselstm::testing {
namespace {

using kernels::DropoutKey;

DropoutKey key_for(double p, std::uint64_t seed, std::uint64_t offset) {
  DropoutKey k;
  k.seed = seed;
  k.offset = offset;
  k.keep_bound = kernels::dropout_keep_bound(p);
  k.scale = 1.0 / (1.0 - p);
  return k;
}

TEST(Philox, KnownAnswersOfRandom123) {
  // Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter, key -> expected.
  struct Kat {
    kernels::Philox4x32 counter;
    std::uint32_t key0, key1;
    std::uint32_t expected[4];
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       0xffffffff,
       0xffffffff,
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       0xa4093822,
       0x299f31d0,
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    const kernels::Philox4x32 out = kernels::philox4x32_10(k.counter, k.key0, k.key1);
    for (int w = 0; w < 4; ++w) EXPECT_EQ(out.v[w], k.expected[w]) << "word " << w;
  }
}

template <typename T>
std::vector<T> mask_on_host(std::int64_t n, const DropoutKey& key) {
  std::vector<T> ones(n, T(1)), out(n);
  ops::make_host_ops<T>()->dropout(n, key, ones.data(), out.data());
  return out;
}

TEST(DropoutMask, FractionKeptAndScale) {
  const std::int64_t n = 1 << 20;
  for (const double p : {0.1, 0.5, 0.8}) {
    const std::vector<float> m = mask_on_host<float>(n, key_for(p, 1234, 0));
    std::int64_t kept = 0;
    for (float v : m) {
      if (v != 0.0f) {
        ++kept;
        EXPECT_EQ(v, static_cast<float>(1.0 / (1.0 - p)));
      }
    }
    // Binomial: the kept fraction's standard deviation is √(p(1 − p)/n) ≤ 5e-4; allow 5 of them.
    const double sigma = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(static_cast<double>(kept) / n, 1 - p, 5 * sigma) << "p = " << p;
  }
  // p = 0 keeps everything with scale 1.
  for (double v : mask_on_host<double>(1000, key_for(0.0, 5, 0))) EXPECT_EQ(v, 1.0);
}

TEST(DropoutMask, CounterBasedOffsetsAndSeeds) {
  const auto whole = mask_on_host<double>(103, key_for(0.5, 9, 40));
  const auto tail = mask_on_host<double>(50, key_for(0.5, 9, 93));  // positions 93..142
  for (int e = 0; e < 50; ++e) EXPECT_EQ(tail[e], whole[53 + e]) << "position " << 93 + e;
  EXPECT_NE(mask_on_host<double>(103, key_for(0.5, 10, 40)), whole) << "another seed";
  EXPECT_NE(mask_on_host<double>(103, key_for(0.5, 9, 1040)), whole) << "another offset";
}

TEST(DropoutMaskCuda, IdenticalToHost) {
  FUSELSTM_REQUIRE_GPU();
  const std::int64_t n = 100003;  // not a multiple of the block size or of 4
  std::mt19937_64 rng(2);
  const std::vector<double> values = random_values(n, rng);
  for (const DType dtype : {DType::f32, DType::f64}) {
    const DropoutKey key = key_for(0.35, 0xfeedfacecafeULL, 12345);
    Tensor host = Tensor::from_vector({n}, values, dtype);
    Tensor dev = Tensor::from_vector({n}, values, dtype, Device::cuda(0));
    if (dtype == DType::f32) {
      ops::make_host_ops<float>()->dropout(n, key, host.data_as<float>(), host.data_as<float>());
      auto o = dev.context().state()->ops<float>();  // the tensor's own context
      o->dropout(n, key, dev.data_as<float>(), dev.data_as<float>());
      o->synchronize();
    } else {
      ops::make_host_ops<double>()->dropout(n, key, host.data_as<double>(), host.data_as<double>());
      auto o = dev.context().state()->ops<double>();
      o->dropout(n, key, dev.data_as<double>(), dev.data_as<double>());
      o->synchronize();
    }
    EXPECT_EQ(dev.to_vector<double>(), host.to_vector<double>()) << dtype_name(dtype);
  }
}

LstmConfig dropout_config(std::int64_t L, double p, Device device = Device::cpu()) {
  LstmConfig cfg = train_config(3, 4, L, DType::f64, device);
  cfg.dropout = p;
  cfg.dropout_seed = 77;
  return cfg;
}

// Layer by layer: layer 0 alone, its output masked with key (seed, offset 0), layer 1 alone on
// that. The stacked model must give the same y; the offset then advances by one layer's span.
TEST(DropoutModel, ForwardIsTheLayerwiseConstruction) {
  const std::int64_t T = 3, B = 2, X = 3, H = 4;
  Lstm stacked(dropout_config(2, 0.5));
  stacked.init_pytorch_default(4);
  Lstm first(train_config(X, H, 1)), second(train_config(H, H, 1));
  for (const char* base : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
    first.parameter(std::string(base) + "_l0")
        .assign(stacked.parameter(std::string(base) + "_l0").to_vector<double>());
    second.parameter(std::string(base) + "_l0")
        .assign(stacked.parameter(std::string(base) + "_l1").to_vector<double>());
  }
  std::mt19937_64 rng(6);
  const Tensor x = Tensor::from_vector({T, B, X}, random_values(T * B * X, rng), DType::f64);
  const ForwardResult f = stacked.forward(x);
  EXPECT_EQ(stacked.dropout_offset(), 24u);  // ⌈T·B·H / 4⌉·4 = 24 for one masked layer

  Tensor h1 = first.forward(x).y;
  ops::make_host_ops<double>()->dropout(T * B * H, key_for(0.5, 77, 0), h1.data_as<double>(),
                                        h1.data_as<double>());
  EXPECT_EQ(f.y.to_vector<double>(), second.forward(h1).y.to_vector<double>());
}

TEST(DropoutModel, EvaluationModeAndSingleLayersAreUnmasked) {
  const std::int64_t T = 4, B = 3, X = 3;
  std::mt19937_64 rng(7);
  const Tensor x = Tensor::from_vector({T, B, X}, random_values(T * B * X, rng), DType::f64);
  for (const std::int64_t L : {1, 3}) {
    Lstm with(dropout_config(L, 0.5)), without(dropout_config(L, 0.0));
    const auto plain = without.forward(x).y.to_vector<double>();
    with.set_training(false);
    EXPECT_EQ(with.forward(x).y.to_vector<double>(), plain) << "evaluation, L = " << L;
    with.set_training(true);
    const auto trained = with.forward(x).y.to_vector<double>();
    if (L == 1)
      EXPECT_EQ(trained, plain) << "no dropout after the last layer";
    else
      EXPECT_NE(trained, plain) << "training with L = 3 masks layers 1 and 2";
  }
  LstmConfig bad = dropout_config(2, 1.0);
  EXPECT_THROW(Lstm m(bad), ValueError);
}

// dJ/dθ with dropout against central differences of the same function (the mask is fixed by
// resetting the stream position before every forward). Double: tolerance as the reference's FD.
void check_gradients_with_dropout(Device device) {
  const std::int64_t T = 3, B = 2, X = 3, H = 4, L = 3;
  Lstm model(dropout_config(L, 0.4, device));
  model.init_pytorch_default(8);
  std::mt19937_64 rng(9);
  std::vector<double> xv = random_values(T * B * X, rng);
  const auto ry = random_values(T * B * H, rng), rh = random_values(L * B * H, rng),
             rc = random_values(L * B * H, rng);
  auto make = [&](const Shape& s, const std::vector<double>& v) {
    return Tensor::from_vector(s, v, DType::f64, device);
  };
  std::map<std::string, std::vector<double>> params;
  for (const char* n : {"weight_ih_l1", "weight_hh_l0", "bias_ih_l2", "weight_ih_l2"}) {
    params[n] = model.parameter(n).to_vector<double>();
  }
  auto J = [&]() {
    for (auto& [n, v] : params) model.parameter(n).assign(v);
    model.set_dropout_offset(0);
    const ForwardResult f = model.forward(make({T, B, X}, xv));
    double j = 0;
    const auto y = f.y.to_vector<double>(), h = f.hT.to_vector<double>(),
               c = f.cT.to_vector<double>();
    for (std::size_t k = 0; k < y.size(); ++k) j += ry[k] * y[k];
    for (std::size_t k = 0; k < h.size(); ++k) j += rh[k] * h[k] + rc[k] * c[k];
    return j;
  };
  model.set_dropout_offset(0);
  ForwardResult f = model.forward(make({T, B, X}, xv));
  model.zero_grad();
  const BackwardResult b =
      model.backward(f.context, make({T, B, H}, ry), make({L, B, H}, rh), make({L, B, H}, rc));
  const auto dx = b.dx.to_vector<double>();
  for (auto& [n, v] : params) {
    expect_close(model.gradient(n).to_vector<double>(), central_differences(v, J), 1e-8, 1e-6,
                 "d" + n);
  }
  expect_close(dx, central_differences(xv, J), 1e-8, 1e-6, "dx");
}

TEST(DropoutModel, GradientsMatchFiniteDifferences) {
  check_gradients_with_dropout(Device::cpu());
}

TEST(DropoutModelCuda, GradientsMatchFiniteDifferences) {
  FUSELSTM_REQUIRE_GPU();
  check_gradients_with_dropout(Device::cuda(0));
}

}  // namespace
}  // namespace fuselstm::testing
