// Segment recomputation (MemoryMode::recompute / automatic): bitwise equal to storing everything,
// right against the reference, and within the memory it announces.

#include <chrono>
#include <cstdio>
#include <limits>

#include "agreement.hpp"
#include "lstm/memory_plan.hpp"
#include "lstm/sequence.hpp"

namespace fuselstm::testing {
namespace {

struct RunResult {
  std::vector<std::vector<double>> tensors;  // y, hT, cT, dx, dh0, dc0, then every gradient
  std::int64_t peak_bytes_above_start = 0;
};

LstmConfig make_config(const Case& c, DType dtype, MemoryMode mode, std::int64_t k,
                       std::int64_t projection_steps = 0) {
  LstmConfig cfg;
  cfg.input_size = c.X;
  cfg.hidden_size = c.H;
  cfg.num_layers = c.L;
  cfg.cell = c.cell;
  cfg.bidirectional = c.bidirectional;
  cfg.dtype = dtype;
  cfg.memory_mode = mode;
  cfg.segment_steps = k;
  cfg.projection_steps = projection_steps;
  return cfg;
}

RunResult run(const Case& c, const LstmConfig& cfg, std::uint64_t seed, bool compute_dx = true) {
  Lstm model(cfg);
  model.init_pytorch_default(seed);
  std::mt19937_64 rng(seed + 17);
  const std::int64_t U = c.L * c.D();
  const Shape seq{c.T, c.B, c.X}, out{c.T, c.B, c.D() * c.H}, state{U, c.B, c.H};
  const Tensor x = Tensor::from_vector(seq, random_values(c.T * c.B * c.X, rng), cfg.dtype);
  const Tensor h0 = Tensor::from_vector(state, random_values(U * c.B * c.H, rng), cfg.dtype);
  const Tensor c0 = Tensor::from_vector(state, random_values(U * c.B * c.H, rng), cfg.dtype);
  const Tensor dy = Tensor::from_vector(out, random_values(c.T * c.B * c.D() * c.H, rng), cfg.dtype);
  const Tensor dhT = Tensor::from_vector(state, random_values(U * c.B * c.H, rng), cfg.dtype);
  const Tensor dcT = Tensor::from_vector(state, random_values(U * c.B * c.H, rng), cfg.dtype);
  RunResult r;
  reset_peak_memory(Device::cpu());
  const std::int64_t start = memory_stats(Device::cpu()).current_bytes;
  {
    ForwardResult f = model.forward(x, h0, c0);
    BackwardResult b = model.backward(f.context, dy, dhT, dcT, compute_dx);
    r.peak_bytes_above_start = memory_stats(Device::cpu()).peak_bytes - start;
    for (const Tensor* t : {&f.y, &f.hT, &f.cT, &b.dx, &b.dh0, &b.dc0}) {
      r.tensors.push_back(t->to_vector<double>());
    }
  }
  for (const auto& name : model.parameter_names()) {
    r.tensors.push_back(model.gradient(name).to_vector<double>());
  }
  return r;
}

// Bitwise: same values in the same dtype (f32 widened to double exactly); NaN never equal.
void expect_bitwise_equal(const RunResult& got, const RunResult& want, const std::string& what) {
  ASSERT_EQ(got.tensors.size(), want.tensors.size()) << what;
  for (std::size_t k = 0; k < got.tensors.size(); ++k) {
    ASSERT_EQ(got.tensors[k].size(), want.tensors[k].size()) << what << " tensor " << k;
    for (std::size_t e = 0; e < got.tensors[k].size(); ++e) {
      if (!(got.tensors[k][e] == want.tensors[k][e])) {
        ADD_FAILURE() << what << ": tensor " << k << " (y, hT, cT, dx, dh0, dc0, grads...) ["
                      << e << "]: " << got.tensors[k][e] << " vs stored " << want.tensors[k][e];
        return;
      }
    }
  }
}

class RecomputeBitwise : public ::testing::TestWithParam<DType> {};

TEST_P(RecomputeBitwise, EqualsStoredForEverySegmentLength) {
  const DType dtype = GetParam();
  std::vector<Case> cases;
  for (CellActivation cell : {CellActivation::tanh, CellActivation::identity}) {
    cases.push_back({17, 1, 5, 7, 1, cell});
    cases.push_back({17, 3, 4, 9, 2, cell});
    cases.push_back({11, 2, 3, 6, 3, cell});
    cases.push_back({13, 300, 3, 4, 2, cell});  // B = 300: gradient blocks of 4 steps
    cases.push_back({10, 2, 3, 5, 2, cell, true, true});  // bidirectional
    // Where BLAS kernels differ between call shapes (DESIGN "The runtime"): K >= 8 (X = 9, 16;
    // H = 11), B = 13 so that N = P·B is odd and not a multiple of 12 for odd P.
    cases.push_back({23, 13, 9, 11, 2, cell});
    cases.push_back({19, 13, 16, 10, 1, cell, true, true});
  }
  std::uint64_t seed = 50;
  for (const Case& c : cases) {
    ++seed;
    // P = 1 lets k take any value; P = 3 rounds k up to multiples of 3; 0 is the automatic P.
    for (std::int64_t P : {std::int64_t(1), std::int64_t(3), std::int64_t(0)}) {
      const RunResult stored = run(c, make_config(c, dtype, MemoryMode::store_all, 0, P), seed);
      for (std::int64_t k : {std::int64_t(1), std::int64_t(2), std::int64_t(7), c.T - 1, c.T}) {
        const LstmConfig cfg = make_config(c, dtype, MemoryMode::recompute, k, P);
        const std::int64_t used = Lstm(cfg).plan_memory(c.T, c.B).segment_steps;
        const std::string what = c.str() + " P=" + std::to_string(P) + " k=" + std::to_string(k) +
                                 " (used " + std::to_string(used) + ")";
        if (P > 0) {
          EXPECT_TRUE(used % P == 0 || used == c.T) << what;
        }
        expect_bitwise_equal(run(c, cfg, seed), stored, what);
      }
    }
  }
}

// Stored on the host, backward writes da over the saved gates (SegmentPlan::da_in_gates): a
// second backward through the same context must recompute them and give the first one's bits,
// with every feature that changes what the gates hold or where the input comes from.
TEST_P(RecomputeBitwise, SecondBackwardThroughAContextEqualsTheFirst) {
  const DType dtype = GetParam();
  struct Setup {
    Case c;
    bool lengths, batch_first, dropout;
  };
  const std::vector<Setup> setups = {
      {{17, 13, 9, 11, 2}, false, false, false},
      {{17, 13, 9, 11, 2, CellActivation::identity}, false, false, false},
      {{12, 5, 4, 6, 2}, true, true, false},          // padding and batch-first
      {{10, 3, 5, 7, 3, CellActivation::tanh, true, true}, true, false, false},  // bidirectional
      {{9, 4, 3, 5, 3}, false, false, true},          // inter-layer dropout masks from the context
      {{40, 300, 3, 4, 1}, false, false, false},      // B = 300: 4-step gradient blocks, 10 of them
  };
  std::uint64_t seed = 900;
  for (const Setup& s : setups) {
    const Case& c = s.c;
    LstmConfig cfg = make_config(c, dtype, MemoryMode::store_all, 0);
    cfg.batch_first = s.batch_first;
    if (s.dropout) cfg.dropout = 0.3, cfg.dropout_seed = 5;
    ASSERT_TRUE(detail::resolve_segment_plan(cfg, c.T, c.B, s.dropout, 0).da_in_gates) << c.str();
    Lstm model(cfg);
    model.init_pytorch_default(++seed);
    std::mt19937_64 rng(seed);
    const std::int64_t U = c.L * c.D();
    const Shape seq = s.batch_first ? Shape{c.B, c.T, c.X} : Shape{c.T, c.B, c.X};
    const Shape out = s.batch_first ? Shape{c.B, c.T, c.D() * c.H} : Shape{c.T, c.B, c.D() * c.H};
    const Shape state{U, c.B, c.H};
    const Tensor x = Tensor::from_vector(seq, random_values(c.T * c.B * c.X, rng), cfg.dtype);
    const Tensor dy = Tensor::from_vector(out, random_values(c.T * c.B * c.D() * c.H, rng), cfg.dtype);
    const Tensor dhT = Tensor::from_vector(state, random_values(U * c.B * c.H, rng), cfg.dtype);
    std::vector<std::int64_t> lengths;
    if (s.lengths) {
      for (std::int64_t b = 0; b < c.B; ++b) lengths.push_back(b == 1 ? c.T : 1 + (b * 5) % c.T);
    }
    const ForwardResult f = model.forward(x, Tensor(), Tensor(), lengths);
    std::vector<std::vector<double>> first;
    for (int pass = 0; pass < 3; ++pass) {  // the third pass: spent gates recomputed twice over
      model.zero_grad();
      const BackwardResult b = model.backward(f.context, dy, dhT);
      std::vector<std::vector<double>> got;
      for (const Tensor* t : {&b.dx, &b.dh0, &b.dc0}) got.push_back(t->to_vector<double>());
      for (const auto& name : model.parameter_names()) {
        got.push_back(model.gradient(name).to_vector<double>());
      }
      if (pass == 0) {
        first = got;
        continue;
      }
      for (std::size_t k = 0; k < got.size(); ++k) {
        for (std::size_t e = 0; e < got[k].size(); ++e) {
          if (!(got[k][e] == first[k][e])) {
            ADD_FAILURE() << c.str() << " lengths=" << s.lengths << " batch_first=" << s.batch_first
                          << " dropout=" << s.dropout << " pass " << pass << ": tensor " << k
                          << " (dx, dh0, dc0, grads...) [" << e << "]: " << got[k][e]
                          << " vs the first backward's " << first[k][e];
            break;
          }
        }
      }
    }
  }
}

// The rule that makes every mode issue the same calls: k is a multiple of P (or T), and automatic
// only searches those, in O(√(T/P)) candidates: planning 10⁹ steps answers at once.
TEST(MemoryPlan, SegmentsAreWholeProjectionBlocks) {
  for (const Case& c : {Case{1000, 1, 8, 32, 1}, Case{777, 13, 9, 11, 2}, Case{50, 3, 4, 5, 1}}) {
    for (std::int64_t k : {1, 5, 100, 999}) {
      const LstmConfig cfg = make_config(c, DType::f32, MemoryMode::recompute, k);
      const MemoryPlan plan = Lstm(cfg).plan_memory(c.T, c.B);
      const std::int64_t P = detail::projection_block_steps(c.T, c.B, false, 0);
      EXPECT_TRUE(plan.segment_steps % P == 0 || plan.segment_steps == c.T)
          << c.str() << " k=" << k << " used " << plan.segment_steps << " P=" << P;
      EXPECT_GE(plan.segment_steps, std::min<std::int64_t>(k, c.T)) << c.str() << " k=" << k;
    }
  }
  const Case huge{1000000000, 1, 64, 64, 1};
  LstmConfig cfg = make_config(huge, DType::f32, MemoryMode::automatic, 0);
  // store_all needs ~2.3 TB; recompute at least ~1.0 TB (x, h, y and dx of every step).
  cfg.memory_limit_bytes = std::int64_t(3) << 39;  // 1.5 TiB
  const auto start = std::chrono::steady_clock::now();
  const MemoryPlan plan = Lstm(cfg).plan_memory(huge.T, huge.B);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("  T = 1e9: k = %lld, %lld bytes, planned in %.3f ms\n",
              static_cast<long long>(plan.segment_steps), static_cast<long long>(plan.total_bytes()),
              seconds * 1e3);
  EXPECT_EQ(plan.mode, MemoryMode::recompute);
  EXPECT_LE(plan.total_bytes(), cfg.memory_limit_bytes);
  EXPECT_EQ(plan.segment_steps % detail::projection_block_steps(huge.T, 1, false, 0), 0);
  // A loop over 1..T candidates takes tens of seconds here; the √ search about a millisecond.
  EXPECT_LT(seconds, 1.0);
}

INSTANTIATE_TEST_SUITE_P(DTypes, RecomputeBitwise, ::testing::Values(DType::f64, DType::f32),
                         [](const auto& info) { return dtype_name(info.param); });

TEST(Recompute, MatchesReference) {
  AgreementOptions o;
  o.memory_mode = MemoryMode::recompute;
  std::uint64_t seed = 70;
  for (const Case& c : agreement_cases()) {
    o.seed = seed++;
    o.segment_steps = 1 + static_cast<std::int64_t>(seed % 3);
    check_agreement(c, o);
  }
}

// The agreement cases have B ≤ 6 and so one gradient block. B = 300 gives blocks of ⌈1024/300⌉ = 4
// steps: T = 11 runs the backward recurrence in three pieces, each block's GEMMs as soon as its
// piece is done, through a da ring of one block; stored and recomputed (k = 4, 8: segments of
// one and two blocks), both recurrent algorithms, f64 and f32, against the reference.
TEST(Recompute, ManyGradientBlocksMatchReference) {
  for (CellActivation cell : {CellActivation::tanh, CellActivation::identity}) {
    const Case c{11, 300, 3, 5, 2, cell};
    for (DType dtype : {DType::f64, DType::f32}) {
      for (RecurrentAlgorithm algorithm :
           {RecurrentAlgorithm::standard, RecurrentAlgorithm::persistent}) {
        for (std::int64_t k : {std::int64_t(0), std::int64_t(4), std::int64_t(8)}) {
          SCOPED_TRACE(std::string(dtype_name(dtype)) + " " +
                       recurrent_algorithm_name(algorithm) + " k=" + std::to_string(k));
          AgreementOptions o;
          o.dtype = dtype;
          o.tol = dtype == DType::f64 ? f64_tolerance() : f32_tolerance();
          o.algorithm = algorithm;
          o.memory_mode = k == 0 ? MemoryMode::store_all : MemoryMode::recompute;
          o.segment_steps = k;
          o.seed = 90 + static_cast<std::uint64_t>(k);
          check_agreement(c, o);
        }
      }
    }
  }
}

TEST(Recompute, SkippingDxLeavesGradientsUnchanged) {
  const Case c{9, 2, 4, 5, 2};
  const LstmConfig cfg = make_config(c, DType::f64, MemoryMode::recompute, 4);
  const RunResult with_dx = run(c, cfg, 3, true);
  const RunResult without = run(c, cfg, 3, false);
  EXPECT_TRUE(without.tensors[3].empty());  // dx undefined
  for (std::size_t k = 6; k < with_dx.tensors.size(); ++k) {
    EXPECT_EQ(without.tensors[k], with_dx.tensors[k]) << "gradient " << k - 6;
  }
  EXPECT_LT(without.peak_bytes_above_start, with_dx.peak_bytes_above_start);
}

// plan_memory() is what forward + backward actually allocate on a fresh model.
TEST(MemoryPlan, MatchesWhatIsAllocated) {
  for (const Case& c : {Case{23, 3, 6, 8, 2}, Case{9, 2, 5, 4, 3, CellActivation::tanh, true, true}})
  for (MemoryMode mode : {MemoryMode::store_all, MemoryMode::recompute}) {
    for (std::int64_t k : {0, 5}) {
      const LstmConfig cfg = make_config(c, DType::f32, mode, k);
      const MemoryPlan plan = Lstm(cfg).plan_memory(c.T, c.B);
      const RunResult r = run(c, cfg, 4);
      EXPECT_EQ(r.peak_bytes_above_start, plan.total_bytes())
          << memory_mode_name(mode) << " k=" << k << ": planned " << plan.total_bytes();
    }
  }
}

TEST(MemoryPlan, AutomaticStaysWithinTheBudget) {
  const Case c{400, 2, 16, 32, 2};
  // P = 8 leaves automatic room to choose k (the automatic P would be 256 of the 400 steps).
  const LstmConfig stored_cfg = make_config(c, DType::f32, MemoryMode::store_all, 0, 8);
  const std::int64_t stored_bytes = Lstm(stored_cfg).plan_memory(c.T, c.B).total_bytes();
  LstmConfig cfg = make_config(c, DType::f32, MemoryMode::automatic, 0, 8);
  cfg.memory_limit_bytes = stored_bytes;  // everything fits: automatic stores
  EXPECT_EQ(Lstm(cfg).plan_memory(c.T, c.B).mode, MemoryMode::store_all);
  // Does not: recompute within the budget. (The smallest recompute plan here is ~62% of the
  // stored one: recomputing keeps a da ring of one gradient block, here all 400 steps, where
  // storing writes da over its saved gates, and the outputs do not shrink with k.)
  cfg.memory_limit_bytes = stored_bytes * 4 / 5;
  const MemoryPlan plan = Lstm(cfg).plan_memory(c.T, c.B);
  EXPECT_EQ(plan.mode, MemoryMode::recompute);
  EXPECT_LE(plan.total_bytes(), cfg.memory_limit_bytes);
  const RunResult r = run(c, cfg, 5);
  EXPECT_LE(r.peak_bytes_above_start, cfg.memory_limit_bytes);
  expect_bitwise_equal(r, run(c, stored_cfg, 5), "automatic vs stored");
  cfg.memory_limit_bytes = 1000;  // nothing fits: a clear error, nothing allocated
  try {
    Lstm(cfg).plan_memory(c.T, c.B);
    ADD_FAILURE() << "expected OutOfMemoryError";
  } catch (const OutOfMemoryError& e) {
    EXPECT_NE(std::string(e.what()).find("needs at least"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1000 available"), std::string::npos) << e.what();
  }
}

// A long sequence on the CPU: T = 100,000 steps, one forward + backward with k chosen by automatic
// under a small budget, bitwise equal to the stored path (which still fits at this size).
TEST(Recompute, HundredThousandStepsUnderASmallBudget) {
  const Case c{100000, 1, 8, 32, 1};
  const LstmConfig stored_cfg = make_config(c, DType::f32, MemoryMode::store_all, 0);
  LstmConfig cfg = make_config(c, DType::f32, MemoryMode::automatic, 0);
  const MemoryPlan stored_plan = Lstm(stored_cfg).plan_memory(c.T, c.B);
  cfg.memory_limit_bytes = stored_plan.total_bytes() / 2;
  const MemoryPlan plan = Lstm(cfg).plan_memory(c.T, c.B);
  std::printf("  stored %lld bytes; automatic: k = %lld, %lld bytes (budget %lld)\n",
              static_cast<long long>(stored_plan.total_bytes()),
              static_cast<long long>(plan.segment_steps),
              static_cast<long long>(plan.total_bytes()),
              static_cast<long long>(cfg.memory_limit_bytes));
  ASSERT_EQ(plan.mode, MemoryMode::recompute);
  const RunResult r = run(c, cfg, 6);
  EXPECT_LE(r.peak_bytes_above_start, cfg.memory_limit_bytes);
  expect_bitwise_equal(r, run(c, stored_cfg, 6), "T=100000 automatic vs stored");
}

}  // namespace
}  // namespace fuselstm::testing
