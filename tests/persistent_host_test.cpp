// The persistent recurrent algorithm on the host (RecurrentAlgorithm::persistent; the worker pool
// of src/ops/host/host_recurrence.hpp): right against the reference, equal to the standard
// algorithm in double where only summation order differs, and the same bits for any thread count,
// memory mode, repetition and vector width.

#include <atomic>
#include <cstring>
#include <utility>

#if FUSELSTM_HAVE_OPENMP
#include <omp.h>
#endif

#include "agreement.hpp"
#include "ops/host/host_cell_simd.hpp"
#include "ops/host/host_recurrence.hpp"

namespace fuselstm::testing {
namespace {

// The shapes the partition can get wrong: H below one 16-unit block (one worker), H not a multiple
// of 16 with more blocks than workers, odd H, B = 1 and 13, both cells, bidirectional, 1-3 layers.
std::vector<Case> partition_cases() {
  std::vector<Case> cases;
  for (CellActivation cell : {CellActivation::tanh, CellActivation::identity}) {
    cases.push_back({7, 1, 3, 5, 1, cell});
    cases.push_back({9, 13, 6, 40, 2, cell});
    cases.push_back({5, 13, 4, 37, 3, cell, true, true});
    cases.push_back({11, 1, 5, 33, 2, cell, false, true});
    cases.push_back({4, 2, 17, 64, 1, cell});
  }
  return cases;
}

class PersistentHost : public ::testing::TestWithParam<DType> {};

TEST_P(PersistentHost, MatchesReference) {
  AgreementOptions o;
  o.dtype = GetParam();
  o.tol = o.dtype == DType::f64 ? f64_tolerance() : f32_tolerance();
  o.algorithm = RecurrentAlgorithm::persistent;
  std::uint64_t seed = 100;
  std::vector<Case> cases = agreement_cases();
  for (const Case& c : partition_cases()) cases.push_back(c);
  // H = 520: backward's K = 4H = 2080 is more than one panel chunk (2048 rows in float, 1024 in
  // double), so a block's products are summed over several calls through the partial sums.
  cases.push_back({3, 5, 4, 520, 1, CellActivation::tanh});
  for (const Case& c : cases) {
    o.seed = seed++;
    check_agreement(c, o);
  }
  // Backward recomputing segments of 3 steps through the same algorithm.
  o.memory_mode = MemoryMode::recompute;
  o.segment_steps = 3;
  for (const Case& c : partition_cases()) {
    o.seed = seed++;
    check_agreement(c, o);
  }
}

INSTANTIATE_TEST_SUITE_P(DTypes, PersistentHost, ::testing::Values(DType::f64, DType::f32),
                         [](const auto& info) { return dtype_name(info.param); });

struct Outputs {
  std::vector<std::vector<double>> tensors;  // y, hT, cT, dx, dh0, dc0, every gradient
};

// A padded, batch-first, bidirectional 2-layer run with unsorted lengths (1 and T included).
Outputs run_padded(DType dtype, RecurrentAlgorithm algorithm, MemoryMode mode, std::int64_t k) {
  const std::int64_t T = 8, B = 13, X = 5, H = 37, L = 2, D = 2;
  LstmConfig cfg;
  cfg.input_size = X;
  cfg.hidden_size = H;
  cfg.num_layers = L;
  cfg.bidirectional = true;
  cfg.batch_first = true;
  cfg.dtype = dtype;
  cfg.algorithm = algorithm;
  cfg.memory_mode = mode;
  cfg.segment_steps = k;
  Lstm model(cfg);
  model.init_pytorch_default(5);
  std::mt19937_64 rng(77);
  const std::vector<std::int64_t> lengths = {3, 8, 1, 5, 8, 2, 7, 8, 4, 6, 1, 8, 5};
  const Tensor x = Tensor::from_vector({B, T, X}, random_values(B * T * X, rng), dtype);
  const Tensor h0 = Tensor::from_vector({L * D, B, H}, random_values(L * D * B * H, rng), dtype);
  const Tensor c0 = Tensor::from_vector({L * D, B, H}, random_values(L * D * B * H, rng), dtype);
  const Tensor dy = Tensor::from_vector({B, T, D * H}, random_values(B * T * D * H, rng), dtype);
  const Tensor dhT = Tensor::from_vector({L * D, B, H}, random_values(L * D * B * H, rng), dtype);
  const Tensor dcT = Tensor::from_vector({L * D, B, H}, random_values(L * D * B * H, rng), dtype);
  Outputs out;
  {
    ForwardResult f = model.forward(x, h0, c0, lengths);
    BackwardResult b = model.backward(f.context, dy, dhT, dcT);
    for (const Tensor* t : {&f.y, &f.hT, &f.cT, &b.dx, &b.dh0, &b.dc0}) {
      out.tensors.push_back(t->to_vector<double>());
    }
  }
  for (const auto& name : model.parameter_names()) {
    out.tensors.push_back(model.gradient(name).to_vector<double>());
  }
  return out;
}

TEST(PersistentHost, PaddedBidirectionalBatchFirstEqualsStandardInDouble) {
  const Outputs standard =
      run_padded(DType::f64, RecurrentAlgorithm::standard, MemoryMode::store_all, 0);
  const Outputs persistent =
      run_padded(DType::f64, RecurrentAlgorithm::persistent, MemoryMode::store_all, 0);
  ASSERT_EQ(standard.tensors.size(), persistent.tensors.size());
  for (std::size_t i = 0; i < standard.tensors.size(); ++i) {
    expect_scaled_close(persistent.tensors[i], standard.tensors[i], f64_tolerance(),
                        "tensor " + std::to_string(i));
  }
}

TEST(PersistentHost, BitwiseAcrossMemoryModesAndRepeats) {
  for (DType dtype : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Outputs stored =
        run_padded(dtype, RecurrentAlgorithm::persistent, MemoryMode::store_all, 0);
    const Outputs again =
        run_padded(dtype, RecurrentAlgorithm::persistent, MemoryMode::store_all, 0);
    EXPECT_EQ(stored.tensors, again.tensors) << "a repeated run differs";
    for (std::int64_t k : {1, 3, 5}) {
      const Outputs recomputed =
          run_padded(dtype, RecurrentAlgorithm::persistent, MemoryMode::recompute, k);
      EXPECT_EQ(stored.tensors, recomputed.tensors) << "recompute with k = " << k << " differs";
    }
  }
}

// The pool's partition changes with the thread count; the bits must not.
template <typename T>
struct RecurrenceData {
  std::int64_t steps, batch, hidden;
  std::vector<T> weight, bias_ih, bias_hh, gates, c, h, dy, dh_rec, dc, da, dh_carry;
  std::vector<std::int32_t> lengths;

  RecurrenceData(std::int64_t t, std::int64_t b, std::int64_t h_, std::uint64_t seed)
      : steps(t), batch(b), hidden(h_) {
    std::mt19937_64 rng(seed);
    const auto fill = [&](std::vector<T>& v, std::size_t n) {
      v.clear();
      for (double e : random_values(n, rng)) v.push_back(static_cast<T>(e));
    };
    const std::int64_t G = 4 * hidden, S = batch * hidden;
    fill(weight, G * hidden);
    fill(bias_ih, G);
    fill(bias_hh, G);
    fill(gates, steps * batch * G);
    fill(c, (steps + 1) * S);
    fill(h, (steps + 1) * S);
    fill(dy, steps * S);
    fill(dh_rec, S);
    fill(dc, S);
    da.assign(steps * batch * G, T(0));
    dh_carry.assign(S, T(0));
    for (std::int64_t r = 0; r < batch; ++r) lengths.push_back(1 + (r * 5) % steps);
  }

  kernels::ForwardRecurrenceArgs<T> forward_args() {
    kernels::ForwardRecurrenceArgs<T> a;
    a.first = 0, a.end = steps, a.batch = batch, a.hidden = hidden;
    a.weight_hh = weight.data(), a.bias_ih = bias_ih.data(), a.bias_hh = bias_hh.data();
    a.gates = gates.data();
    a.c_first = c.data(), a.c_mid = c.data() + batch * hidden, a.c_last = c.data() + steps * batch * hidden;
    a.h = h.data(), a.h_out = h.data(), a.h_out_stride = batch * hidden;
    a.lengths = lengths.data();
    return a;
  }
  kernels::BackwardRecurrenceArgs<T> backward_args() {
    kernels::BackwardRecurrenceArgs<T> a;
    a.first = 0, a.end = steps, a.batch = batch, a.hidden = hidden;
    a.weight_hh = weight.data(), a.gates = gates.data();
    a.c_first = c.data(), a.c_mid = c.data() + batch * hidden, a.c_last = c.data() + steps * batch * hidden;
    a.dy = dy.data(), a.dy_step = batch * hidden, a.dy_batch = hidden;
    a.dh_rec = dh_rec.data(), a.dc = dc.data(), a.da = da.data(), a.da_ring_steps = steps;
    a.lengths = lengths.data(), a.dh_carry = dh_carry.data();
    return a;
  }
};

// The pool kinds this build runs: its own threads always, OpenMP's team when built with OpenMP.
std::vector<ops::PoolThreads> pool_kinds() {
  std::vector<ops::PoolThreads> kinds{ops::PoolThreads::own};
  if (ops::pool_threads_supported(ops::PoolThreads::openmp)) kinds.push_back(ops::PoolThreads::openmp);
  return kinds;
}

template <typename T>
void expect_same_bits(const RecurrenceData<T>& one, const RecurrenceData<T>& many) {
  EXPECT_EQ(one.h, many.h);
  EXPECT_EQ(one.c, many.c);
  EXPECT_EQ(one.gates, many.gates);
  EXPECT_EQ(one.da, many.da);
  EXPECT_EQ(one.dh_rec, many.dh_rec);
  EXPECT_EQ(one.dc, many.dc);
  EXPECT_EQ(one.dh_carry, many.dh_carry);
}

template <typename T>
void check_thread_counts(std::int64_t H) {
  SCOPED_TRACE("H = " + std::to_string(H));
  const ops::HostSimd simd = ops::host_simd_selected();
  RecurrenceData<T> one(6, 13, H, 9);
  ops::HostRecurrence<T>(simd, 1).forward(CellActivation::tanh, one.forward_args());
  ops::HostRecurrence<T>(simd, 1).backward(CellActivation::tanh, one.backward_args());
  for (ops::PoolThreads kind : pool_kinds()) {
    for (int threads : {2, 3, 8}) {
      SCOPED_TRACE(std::to_string(threads) + " threads, pool " + ops::pool_threads_name(kind));
      RecurrenceData<T> many(6, 13, H, 9);
      ops::HostRecurrence<T> recurrence(simd, threads, kind);
      ASSERT_EQ(recurrence.pool_threads(), kind);
      recurrence.forward(CellActivation::tanh, many.forward_args());
      recurrence.backward(CellActivation::tanh, many.backward_args());
      expect_same_bits(one, many);
    }
  }
}

TEST(PersistentHost, SameBitsForEveryThreadCount) {
  for (std::int64_t H : {5, 40, 37, 64, 130}) {
    check_thread_counts<float>(H);
    check_thread_counts<double>(H);
  }
}

// The row split (every worker all units of its rows, no barrier between steps) and the unit split
// (every worker its units of all rows, a barrier per step) compute each element the same way:
// the same bits, for every thread count and pool kind, with lengths, odd and partial-block H, odd
// B, and a team given more workers than rows.
template <typename T>
void check_splits(std::int64_t B, std::int64_t H) {
  SCOPED_TRACE("B = " + std::to_string(B) + ", H = " + std::to_string(H));
  const ops::HostSimd simd = ops::host_simd_selected();
  RecurrenceData<T> one(6, B, H, 9);
  ops::HostRecurrence<T> alone(simd, 1);
  alone.set_split_policy(ops::SplitPolicy::units);
  // A ring of one da slice throughout: by rows no barrier guards it (each worker its own rows).
  auto ring_of_one = [](RecurrenceData<T>& d) {
    auto a = d.backward_args();
    a.da_ring_steps = 1;
    return a;
  };
  alone.forward(CellActivation::tanh, one.forward_args());
  alone.backward(CellActivation::tanh, ring_of_one(one));
  for (ops::PoolThreads kind : pool_kinds()) {
    for (int threads : {2, 3, 8}) {
      for (ops::SplitPolicy policy : {ops::SplitPolicy::units, ops::SplitPolicy::rows}) {
        const bool rows = policy == ops::SplitPolicy::rows;
        SCOPED_TRACE(std::to_string(threads) + " threads, pool " + ops::pool_threads_name(kind) +
                     (rows ? ", by rows" : ", by units"));
        RecurrenceData<T> many(6, B, H, 9);
        ops::HostRecurrence<T> recurrence(simd, threads, kind);
        recurrence.set_split_policy(policy);
        EXPECT_EQ(recurrence.split_for(H, B, threads),
                  rows ? ops::RecurrenceSplit::rows : ops::RecurrenceSplit::units);
        recurrence.forward(CellActivation::tanh, many.forward_args());
        recurrence.backward(CellActivation::tanh, ring_of_one(many));
        expect_same_bits(one, many);
      }
    }
  }
}

TEST(PersistentHost, RowSplitGivesTheBitsOfTheUnitSplit) {
  for (auto [B, H] : {std::pair<std::int64_t, std::int64_t>{13, 37}, {16, 64}, {9, 130},
                      {2, 48}, {40, 5}}) {
    check_splits<float>(B, H);
    check_splits<double>(B, H);
  }
}

// The shape decides the split: rows where every worker gets a 4-row tile and W_hh is at most
// 8 MiB (or 32 rows per worker share each load of it), else units.
TEST(PersistentHost, SplitFollowsTheShape) {
  ops::HostRecurrence<float> recurrence(ops::HostSimd::scalar, 2);
  recurrence.set_split_policy(ops::SplitPolicy::automatic);
  EXPECT_EQ(recurrence.split_for(256, 16, 2), ops::RecurrenceSplit::rows);
  EXPECT_EQ(recurrence.split_for(512, 8, 2), ops::RecurrenceSplit::rows);
  EXPECT_EQ(recurrence.split_for(256, 7, 2), ops::RecurrenceSplit::units);    // 3-4 rows each
  EXPECT_EQ(recurrence.split_for(256, 16, 1), ops::RecurrenceSplit::units);   // one worker
  EXPECT_EQ(recurrence.split_for(1024, 16, 2), ops::RecurrenceSplit::units);  // 16 MiB of W_hh
  EXPECT_EQ(recurrence.split_for(1024, 64, 2), ops::RecurrenceSplit::rows);   // 32 rows each
  ops::HostRecurrence<double> in_double(ops::HostSimd::scalar, 2);
  in_double.set_split_policy(ops::SplitPolicy::automatic);
  EXPECT_EQ(in_double.split_for(1024, 16, 2), ops::RecurrenceSplit::units);
  EXPECT_EQ(in_double.split_for(512, 16, 2), ops::RecurrenceSplit::rows);  // 8 MiB
}

// A ring of one da slice (B > 1024 gives 1-step gradient blocks; recompute with k = 1 then keeps
// one slice): every worker must have read da(t) before anyone writes da(t−1).
TEST(PersistentHost, OneSliceDaRingWaitsForEveryReader) {
  const std::int64_t B = 11, H = 48;  // three 16-unit blocks, work enough for three workers
  for (ops::PoolThreads kind : pool_kinds()) {
    SCOPED_TRACE(std::string("pool ") + ops::pool_threads_name(kind));
    ops::HostRecurrence<double> recurrence(ops::HostSimd::scalar, 3, kind);
    ASSERT_EQ(recurrence.workers_for(H, B), 3);
    RecurrenceData<double> ring(5, B, H, 4), full(5, B, H, 4);
    recurrence.forward(CellActivation::tanh, ring.forward_args());
    recurrence.forward(CellActivation::tanh, full.forward_args());
    auto a = ring.backward_args();
    a.da_ring_steps = 1;
    recurrence.backward(CellActivation::tanh, a);
    recurrence.backward(CellActivation::tanh, full.backward_args());
    EXPECT_EQ(ring.dh_rec, full.dh_rec);
    EXPECT_EQ(ring.dc, full.dc);
  }
}

// Backward runs a unit's steps in pieces (one per gradient block) and packs W_hh's panels once:
// a piece flagged same_weights_as_before reuses them. Two pieces give one run's bits; a flagged
// run with another W_hh (another address) packs afresh.
TEST(PersistentHost, BackwardPiecesReuseThePanelsOnlyForTheSameWeights) {
  const std::int64_t T = 6, B = 13, H = 64;
  const ops::HostSimd simd = ops::host_simd_selected();
  for (ops::PoolThreads kind : pool_kinds()) {
    SCOPED_TRACE(std::string("pool ") + ops::pool_threads_name(kind));
    ops::HostRecurrence<float> recurrence(simd, 3, kind);
    ASSERT_EQ(recurrence.workers_for(H, B), 3);
    RecurrenceData<float> whole(T, B, H, 9), pieces(T, B, H, 9);
    recurrence.forward(CellActivation::tanh, whole.forward_args());
    recurrence.forward(CellActivation::tanh, pieces.forward_args());
    recurrence.backward(CellActivation::tanh, whole.backward_args());
    const auto a = pieces.backward_args();
    recurrence.backward(CellActivation::tanh, a.steps(3, T));
    auto earlier = a.steps(0, 3);
    earlier.same_weights_as_before = true;
    recurrence.backward(CellActivation::tanh, earlier);
    expect_same_bits(whole, pieces);

    RecurrenceData<float> other(T, B, H, 11), fresh(T, B, H, 11);
    recurrence.forward(CellActivation::tanh, other.forward_args());
    auto flagged = other.backward_args();
    flagged.same_weights_as_before = true;  // wrongly: the key (address, H, team) catches it
    recurrence.backward(CellActivation::tanh, flagged);
    ops::HostRecurrence<float> alone(simd, 3, kind);
    alone.forward(CellActivation::tanh, fresh.forward_args());
    alone.backward(CellActivation::tanh, fresh.backward_args());
    expect_same_bits(fresh, other);
  }
}

// The backward panels' layout depends on the split (groups of four from each worker's first
// block by units, from block 0 by rows): a flagged piece after a change of split repacks.
TEST(PersistentHost, BackwardPanelsAreRepackedWhenTheSplitChanges) {
  const std::int64_t T = 6, B = 13, H = 130;  // 9 blocks: 3 per worker by units
  const ops::HostSimd simd = ops::host_simd_selected();
  for (ops::PoolThreads kind : pool_kinds()) {
    SCOPED_TRACE(std::string("pool ") + ops::pool_threads_name(kind));
    ops::HostRecurrence<float> recurrence(simd, 3, kind);
    recurrence.set_split_policy(ops::SplitPolicy::units);
    RecurrenceData<float> whole(T, B, H, 9), pieces(T, B, H, 9);
    recurrence.forward(CellActivation::tanh, whole.forward_args());
    recurrence.forward(CellActivation::tanh, pieces.forward_args());
    recurrence.backward(CellActivation::tanh, whole.backward_args());
    const auto a = pieces.backward_args();
    recurrence.backward(CellActivation::tanh, a.steps(3, T));
    recurrence.set_split_policy(ops::SplitPolicy::rows);
    auto earlier = a.steps(0, 3);
    earlier.same_weights_as_before = true;
    recurrence.backward(CellActivation::tanh, earlier);
    expect_same_bits(whole, pieces);
  }
}

#if FUSELSTM_HAVE_OPENMP
// OpenMP may give a run fewer threads than it asks for: inside another parallel region (nesting
// off) every run gets a team of one. The work is then split by the team that came, with the same
// bits as one thread alone.
TEST(PersistentHost, ASmallerOpenMpTeamGivesTheSameBits) {
  if (omp_get_dynamic() || omp_get_thread_limit() < 2) {
    GTEST_SKIP() << "needs an outer team of exactly 2 (OMP_DYNAMIC or OMP_THREAD_LIMIT < 2 set)";
  }
  const std::int64_t B = 13, H = 64;
  const ops::HostSimd simd = ops::host_simd_selected();
  RecurrenceData<float> alone(6, B, H, 9);
  ops::HostRecurrence<float>(simd, 1).forward(CellActivation::tanh, alone.forward_args());
  ops::HostRecurrence<float>(simd, 1).backward(CellActivation::tanh, alone.backward_args());

  const int levels = omp_get_max_active_levels();
  omp_set_max_active_levels(1);
  std::vector<RecurrenceData<float>> nested(2, RecurrenceData<float>(6, B, H, 9));
  int teams[2] = {0, 0}, workers[2] = {0, 0};
#pragma omp parallel num_threads(2)
  {
    const int me = omp_get_thread_num();
    ops::WorkerPool pool(3, ops::PoolThreads::openmp);
    pool.run(3, [&](int, int team, ops::SpinBarrier&) { teams[me] = team; });
    ops::HostRecurrence<float> recurrence(simd, 3, ops::PoolThreads::openmp);
    workers[me] = recurrence.workers_for(H, B);
    recurrence.forward(CellActivation::tanh, nested[me].forward_args());
    recurrence.backward(CellActivation::tanh, nested[me].backward_args());
  }
  omp_set_max_active_levels(levels);
  for (int me : {0, 1}) {
    EXPECT_EQ(teams[me], 1);
    EXPECT_EQ(workers[me], 3);  // asked for three, got one
    expect_same_bits(alone, nested[me]);
  }
}
#endif

TEST(WorkerPool, RunsEachWorkerOfTheTeamOnce) {
  for (ops::PoolThreads kind : pool_kinds()) {
    SCOPED_TRACE(std::string("pool ") + ops::pool_threads_name(kind));
    ops::WorkerPool pool(3, kind);
    for (int asked : {1, 2, 3, 5}) {
      std::atomic<int> calls[3] = {0, 0, 0}, team_seen{0}, after_barrier{0};
      pool.run(asked, [&](int worker, int team, ops::SpinBarrier& barrier) {
        calls[worker].fetch_add(1);
        team_seen.store(team);
        barrier.wait();
        after_barrier.fetch_add(1);
      });
      const int asked_for = std::min(asked, 3);
      // OpenMP gives the whole team unless OMP_THREAD_LIMIT caps it or OMP_DYNAMIC may shrink it
      // (CTest runs this under both: HostOpenMp.* in tests/CMakeLists.txt).
      int at_least = asked_for, at_most = asked_for;
#if FUSELSTM_HAVE_OPENMP
      if (kind == ops::PoolThreads::openmp) {
        at_most = std::min(asked_for, omp_get_thread_limit());
        at_least = omp_get_dynamic() ? 1 : at_most;
      }
#endif
      const int team = team_seen.load();
      EXPECT_GE(team, at_least) << asked;
      EXPECT_LE(team, at_most) << asked;
      EXPECT_EQ(after_barrier.load(), team) << asked;
      for (int w = 0; w < 3; ++w) EXPECT_EQ(calls[w].load(), w < team ? 1 : 0) << asked;
    }
  }
}

// host_panel_vector.inc's promise: every vector width sums each element in the same order.
TEST(PersistentHost, PanelProductsHaveTheSameBitsOnEveryVectorWidth) {
  std::mt19937_64 rng(3);
  const std::int64_t K = 301, rows = 11;
  std::vector<float> panels(4 * K * 16), x(rows * K), start(rows * 4 * 16);
  for (float& v : panels) v = static_cast<float>(random_values(1, rng)[0]);
  for (float& v : x) v = static_cast<float>(random_values(1, rng)[0]);
  for (float& v : start) v = static_cast<float>(random_values(1, rng)[0]);
  const float* p4[4] = {panels.data(), panels.data() + K * 16, panels.data() + 2 * K * 16,
                        panels.data() + 3 * K * 16};
  std::vector<std::vector<float>> results;
  for (ops::HostSimd kind : {ops::HostSimd::scalar, ops::HostSimd::avx2, ops::HostSimd::avx512}) {
    if (!ops::host_simd_supported(kind)) continue;
    const ops::PanelProducts products = ops::host_panel_products(kind);
    std::vector<float> four = start, one(rows * 16);
    const ops::PanelOut<float> to_four{four.data(), 4 * 16, 16, false};
    products.four(p4, 16, K, x.data(), K, rows, four.data(), to_four);
    products.one(p4, 16, K, x.data(), K, rows, nullptr, {one.data(), 16, 16, false});
    // K split into two calls: the same chain of FMAs.
    std::vector<float> split = start;
    const ops::PanelOut<float> to_split{split.data(), 4 * 16, 16, false};
    products.four(p4, 16, 100, x.data(), K, rows, split.data(), to_split);
    const float* rest[4] = {p4[0] + 100 * 16, p4[1] + 100 * 16, p4[2] + 100 * 16, p4[3] + 100 * 16};
    products.four(rest, 16, K - 100, x.data() + 100, K, rows, split.data(), to_split);
    // The same panels interleaved row by row (step 64): the same bits.
    std::vector<float> interleaved(4 * K * 16);
    for (std::int64_t k = 0; k < K; ++k) {
      for (int p = 0; p < 4; ++p) {
        std::copy_n(p4[p] + k * 16, 16, interleaved.data() + (k * 4 + p) * 16);
      }
    }
    const float* i4[4] = {interleaved.data(), interleaved.data() + 16, interleaved.data() + 32,
                          interleaved.data() + 48};
    std::vector<float> from_interleaved = start;
    products.four(i4, 64, K, x.data(), K, rows, from_interleaved.data(),
                  {from_interleaved.data(), 4 * 16, 16, false});
    EXPECT_EQ(from_interleaved, four) << "interleaved panels";
    // The sums added into a strided destination (the gates' layout: rows 4·H apart, panels H
    // apart, H = 21 here): dst + sum, one add per element, wherever the panels land.
    const std::int64_t H = 21, G = 4 * H;
    std::vector<float> gates(rows * G), added(rows * G);
    for (float& v : gates) v = static_cast<float>(random_values(1, rng)[0]);
    added = gates;
    std::vector<float> sums(rows * 4 * 16);
    products.four(p4, 16, K, x.data(), K, rows, nullptr, {sums.data(), 4 * 16, 16, false});
    products.four(p4, 16, K, x.data(), K, rows, nullptr, {added.data() + 3, G, H, true});
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t q = 0; q < 4; ++q) {
        for (std::int64_t l = 0; l < 16; ++l) {
          const std::int64_t e = r * G + q * H + 3 + l;
          ASSERT_EQ(added[e], gates[e] + sums[(r * 4 + q) * 16 + l]) << "r=" << r << " q=" << q;
          gates[e] = added[e];
        }
      }
    }
    EXPECT_EQ(added, gates) << "an element outside the 16 lanes of a panel was written";
    EXPECT_EQ(split, four) << ops::host_simd_name(kind) << ": splitting K changed the bits";
    four.insert(four.end(), one.begin(), one.end());
    results.push_back(four);
  }
  for (std::size_t i = 1; i < results.size(); ++i) EXPECT_EQ(results[i], results[0]);
  // And what they compute: row 0, panel 2, lane 5 against a double sum.
  double want = start[2 * 16 + 5];
  for (std::int64_t k = 0; k < K; ++k) want += double(p4[2][k * 16 + 5]) * x[k];
  EXPECT_NEAR(results[0][2 * 16 + 5], want, 1e-4);
}

TEST(PersistentHost, AnAlgorithmOutsideTheEnumIsRefused) {
  LstmConfig cfg;
  cfg.input_size = 3;
  cfg.hidden_size = 4;
  cfg.algorithm = static_cast<RecurrentAlgorithm>(42);
  EXPECT_THROW(cfg.validate(), ValueError);
}

}  // namespace
}  // namespace fuselstm::testing
