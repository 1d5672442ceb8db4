// The seed's run, reproduced: numpy's generator, the seed's exact start, its loss trace.
// The seed's losses (double, identity cell) are from DESIGN.md "The seed, exactly"; the tanh-cell
// values from the seed's code with h = o·tanh(s).

#include "examples/numpy_random.hpp"
#include "test_util.hpp"
#include "toy_seed.hpp"

namespace fuselstm::testing {
namespace {

using examples::ToyIteration;
using examples::ToyOptions;

void expect_relative(double got, double want, double rtol, const std::string& what) {
  EXPECT_LE(std::fabs(got - want), rtol * std::fabs(want))
      << what << ": got " << got << ", seed " << want << " (rtol " << rtol << ")";
}

TEST(NumpyRandomState, MatchesNumpyKnownValues) {
  NumpyRandomState zero(0);
  EXPECT_EQ(zero.random_sample(), 0.5488135039273248);
  EXPECT_EQ(zero.random_sample(), 0.7151893663724195);
  EXPECT_EQ(zero.random_sample(), 0.6027633760716439);
  NumpyRandomState other(12345);
  EXPECT_EQ(other.random_sample(), 0.9296160928171479);
  EXPECT_EQ(other.random_sample(), 0.3163755545817859);
}

// A longer stretch against an independent computation: MT19937 written out from its definition
// (Matsumoto & Nishimura's init_genrand and tempering), not std::mt19937.
TEST(NumpyRandomState, ThousandDrawsMatchAnIndependentMt19937) {
  std::uint32_t mt[624];
  mt[0] = 7;
  for (int k = 1; k < 624; ++k) mt[k] = 1812433253u * (mt[k - 1] ^ (mt[k - 1] >> 30)) + k;
  int index = 624;
  auto next = [&]() -> std::uint32_t {
    if (index == 624) {
      for (int k = 0; k < 624; ++k) {
        const std::uint32_t y = (mt[k] & 0x80000000u) | (mt[(k + 1) % 624] & 0x7fffffffu);
        mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
      }
      index = 0;
    }
    std::uint32_t y = mt[index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
  };
  NumpyRandomState rng(7);
  for (int k = 0; k < 1000; ++k) {
    const std::uint32_t a = next() >> 5, b = next() >> 6;
    ASSERT_EQ(rng.random_sample(), (a * 67108864.0 + b) / 9007199254740992.0) << "draw " << k;
  }
}

ToyOptions seed_options(CellActivation cell, DType dtype, const Device& device = Device::cpu()) {
  ToyOptions o;
  o.cell = cell;
  o.dtype = dtype;
  o.device = device;
  return o;
}

// The seed's checkpoints: 1e-12 where only rounding differs (iterations 0, 1), 1e-6 later where
// another summation order is amplified by the run (DESIGN.md: the run is not chaotic, ~1e-7).
void expect_seed_identity_trace(const std::vector<ToyIteration>& h) {
  ASSERT_EQ(h.size(), 100u);
  expect_relative(h[0].loss, 0.7534838862531601, 1e-12, "iteration 0");
  expect_relative(h[1].loss, 0.5990650839532333, 1e-12, "iteration 1");
  expect_relative(h[2].loss, 0.4450955656992025, 1e-6, "iteration 2");
  expect_relative(h[39].loss, 0.0007172100492300906, 1e-6, "iteration 39 (local minimum)");
  expect_relative(h[46].loss, 0.3050136070282608, 1e-6, "iteration 46 (spike)");
  expect_relative(h[99].loss, 2.6107635548313486e-06, 1e-6, "iteration 99");
}

TEST(SeedRun, IdentityCellMatchesTheSeedInDouble) {
  expect_seed_identity_trace(examples::train_toy(seed_options(CellActivation::identity, DType::f64)));
}

TEST(SeedRun, TanhCellMatchesTheSeedInDouble) {
  const auto h = examples::train_toy(seed_options(CellActivation::tanh, DType::f64));
  expect_relative(h[0].loss, 0.7518020666204661, 1e-12, "iteration 0");
  expect_relative(h[1].loss, 0.5230372541301491, 1e-12, "iteration 1");
  expect_relative(h[99].loss, 1.6924217326929157e-07, 1e-6, "iteration 99");
}

TEST(SeedRun, FloatFollowsDoubleEarlyAndConverges) {
  const auto d = examples::train_toy(seed_options(CellActivation::identity, DType::f64));
  const auto f = examples::train_toy(seed_options(CellActivation::identity, DType::f32));
  for (int it = 0; it <= 30; ++it) {
    expect_relative(f[it].loss, d[it].loss, 1e-4, "f32 iteration " + std::to_string(it));
  }
  EXPECT_LT(f[99].loss, 1e-5);
}

// The foundation's check: with the seed's sizes and any uniform start, 100 iterations of SGD reach
// a loss below 1e-3 (the loss is not asserted to fall at every step: it spikes near 45).
TEST(ToyExample, UniformStartTrainsBelowThreshold) {
  ToyOptions o = seed_options(CellActivation::identity, DType::f64);
  o.init = examples::ToyInit::uniform;
  o.seed = 3;
  const auto h = examples::train_toy(o);
  EXPECT_GT(h.front().loss, 1e-2);
  EXPECT_LT(h.back().loss, 1e-3);
}

TEST(SeedRun, StartIsTheSeeds) {
  // Train zero iterations is not possible through train_toy; check the start through iteration 0's
  // prediction, which the seed prints: [0.04135, 0.06930, 0.11699, 0.16562].
  ToyOptions o = seed_options(CellActivation::identity, DType::f64);
  o.iterations = 1;
  const auto h = examples::train_toy(o);
  const double seed_prediction[4] = {0.04135, 0.06930, 0.11699, 0.16562};
  for (int t = 0; t < 4; ++t) EXPECT_NEAR(h[0].prediction[t], seed_prediction[t], 5e-6) << t;
}

TEST(SeedRun, CudaMatchesTheSeedInDouble) {
  FUSELSTM_REQUIRE_GPU();
  expect_seed_identity_trace(
      examples::train_toy(seed_options(CellActivation::identity, DType::f64, Device::cuda(0))));
}

}  // namespace
}  // namespace fuselstm::testing
