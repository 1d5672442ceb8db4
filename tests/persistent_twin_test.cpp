// The persistent CUDA kernel's logic without a GPU, and the kernel itself when one is usable.
//
// Host twin (runs in CI): TwinOps is the host loop ops except for forward_recurrence /
// backward_recurrence, which plan with kernels::plan_persistent + persistent_check_occupancy (the
// code the CUDA ops run) for a chosen device and then run kernels/persistent_twin.hpp: the kernel's
// per-block functions over the kernel's partition, block after block between barriers. A whole
// Lstm (forward, backward, every layer, direction, segment) runs through it and is compared with
// the double-precision reference.
//
// CUDA (skip without a GPU): RecurrentAlgorithm::persistent on the device vs the reference and vs
// the standard algorithm on the same shapes, after checking the kernel's plan is eligible for
// them (so the comparison is the kernel's, not the fallback's).

#include <functional>
#include <map>

#include "agreement.hpp"
#include "kernels/persistent_twin.hpp"
#include "lstm/model_impl.hpp"
#include "ops/call_log.hpp"
#include "ops/ops.hpp"
#include "ops/recurrence_standard.hpp"

namespace fuselstm::testing {
namespace {

using kernels::PersistentDevice;
using kernels::PersistentPlan;

// Devices the twin plans for: a small one (few SMs: several units per block, the last block
// short) and an H100/H200-like one (132 SMs, 227 KiB opt-in shared memory per block).
PersistentDevice small_device() { return {3, 48 * 1024, true}; }
PersistentDevice h100_device() { return {132, 227 * 1024, true}; }

PersistentPlan twin_plan(std::int64_t hidden, std::int64_t batch, std::int64_t element_bytes,
                         const PersistentDevice& device) {
  PersistentPlan p = kernels::plan_persistent(hidden, batch, element_bytes, device);
  kernels::persistent_check_occupancy(p, device, 1);  // the twin's nominal device: 1 block per SM
  return p;
}

struct TwinCounts {
  int forward = 0, backward = 0, fallback = 0;
};

// The host loop ops with the persistent kernel's host twin as its recurrence.
template <typename T>
class TwinOps final : public ops::Ops<T> {
public:
  TwinOps(const PersistentDevice& device, std::shared_ptr<TwinCounts> counts)
      : device_(device), counts_(std::move(counts)) {}
  using Trans = ops::Trans;

  void forward_recurrence(CellActivation cell,
                          const kernels::ForwardRecurrenceArgs<T>& a) override {
    const PersistentPlan p = twin_plan(a.hidden, a.batch, sizeof(T), device_);
    if (!p.eligible) {
      ++counts_->fallback;
      return ops::standard_forward_recurrence<T>(*this, cell, a);
    }
    ++counts_->forward;
    if (cell == CellActivation::tanh) kernels::persistent_forward_twin<T, true>(p, a);
    else kernels::persistent_forward_twin<T, false>(p, a);
  }
  void backward_recurrence(CellActivation cell,
                           const kernels::BackwardRecurrenceArgs<T>& a) override {
    const PersistentPlan p = twin_plan(a.hidden, a.batch, sizeof(T), device_);
    if (!p.eligible) {
      ++counts_->fallback;
      return ops::standard_backward_recurrence<T>(*this, cell, a);
    }
    ++counts_->backward;
    if (cell == CellActivation::tanh) kernels::persistent_backward_twin<T, true>(p, a);
    else kernels::persistent_backward_twin<T, false>(p, a);
  }

  // Everything else: the host loop ops.
  Device device() const override { return inner_->device(); }
  void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
            const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
            std::int64_t ldc) override {
    inner_->gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void add_column_sums(std::int64_t r, std::int64_t c, const T* s, T* d) override {
    inner_->add_column_sums(r, c, s, d);
  }
  void axpy(std::int64_t n, T alpha, const T* x, T* y) override { inner_->axpy(n, alpha, x, y); }
  void fill(T* d, std::int64_t n, T v) override { inner_->fill(d, n, v); }
  void copy(T* d, const T* s, std::int64_t n) override { inner_->copy(d, s, n); }
  void synchronize() override { inner_->synchronize(); }
  void run_recorded(const ops::CallLog<T>& log) override { log.replay(*this); }
  ops::GraphStats graph_stats() const override { return {}; }
  void broadcast_rows(std::int64_t rows, std::int64_t cols, const T* src, T* dst) override {
    inner_->broadcast_rows(rows, cols, src, dst);
  }
  void scale(std::int64_t n, T alpha, T* x) override { inner_->scale(n, alpha, x); }
  void clamp(std::int64_t n, T low, T high, T* x) override { inner_->clamp(n, low, high, x); }
  void reduce(kernels::ReduceKind kind, std::int64_t n, const T* src, double* out) override {
    inner_->reduce(kind, n, src, out);
  }
  void forward_step(CellActivation cell, const kernels::ForwardStepArgs<T>& a) override {
    inner_->forward_step(cell, a);
  }
  void backward_step(CellActivation cell, const kernels::BackwardStepArgs<T>& a) override {
    inner_->backward_step(cell, a);
  }
  void zero_padded_steps(std::int64_t steps, std::int64_t batch, std::int64_t width,
                         const std::int32_t* lengths, bool batch_first, T* data) override {
    inner_->zero_padded_steps(steps, batch, width, lengths, batch_first, data);
  }
  void swap_axes(std::int64_t outer, std::int64_t inner, std::int64_t width, const T* src,
                 T* dst) override {
    inner_->swap_axes(outer, inner, width, src, dst);
  }
  void reverse_time(std::int64_t steps, std::int64_t batch, std::int64_t width,
                    const std::int32_t* lengths, const T* src, std::int64_t src_step,
                    std::int64_t src_batch, T* dst, bool accumulate) override {
    inner_->reverse_time(steps, batch, width, lengths, src, src_step, src_batch, dst, accumulate);
  }
  void join_directions(std::int64_t steps, std::int64_t batch, std::int64_t hidden,
                       const std::int32_t* lengths, const T* fwd, const T* rev, T* out,
                       bool batch_first) override {
    inner_->join_directions(steps, batch, hidden, lengths, fwd, rev, out, batch_first);
  }
  void dropout(std::int64_t n, const kernels::DropoutKey& key, const T* src, T* dst) override {
    inner_->dropout(n, key, src, dst);
  }
  void mse_loss(const kernels::MseArgs<T>& a) override { inner_->mse_loss(a); }
  void cross_entropy_loss(const kernels::CrossEntropyArgs<T>& a) override {
    inner_->cross_entropy_loss(a);
  }
  void sgd_update(std::int64_t n, const kernels::SgdStepArgs<T>& a) override {
    inner_->sgd_update(n, a);
  }
  void adam_update(std::int64_t n, const kernels::AdamStepArgs<T>& a) override {
    inner_->adam_update(n, a);
  }
  void gather_last_step(std::int64_t steps, std::int64_t batch, std::int64_t width,
                        const std::int32_t* lengths, bool batch_first, const T* src,
                        T* dst) override {
    inner_->gather_last_step(steps, batch, width, lengths, batch_first, src, dst);
  }
  void scatter_last_step(std::int64_t steps, std::int64_t batch, std::int64_t width,
                         const std::int32_t* lengths, bool batch_first, const T* dlast,
                         T* dsrc) override {
    inner_->scatter_last_step(steps, batch, width, lengths, batch_first, dlast, dsrc);
  }
  void activation_forward(kernels::ActivationKind kind, std::int64_t n, const T* x,
                          T* y) override {
    inner_->activation_forward(kind, n, x, y);
  }
  void activation_backward(kernels::ActivationKind kind, std::int64_t n, const T* y, const T* dy,
                           T* dx) override {
    inner_->activation_backward(kind, n, y, dy, dx);
  }
  void embedding_forward(std::int64_t count, std::int64_t width, const std::int64_t* ids,
                         const T* weight, T* out) override {
    inner_->embedding_forward(count, width, ids, weight, out);
  }
  void embedding_backward(std::int64_t segments, std::int64_t width, const std::int64_t* start,
                          const std::int64_t* segment_id, const std::int64_t* order, const T* dout,
                          T* dweight) override {
    inner_->embedding_backward(segments, width, start, segment_id, order, dout, dweight);
  }

private:
  std::unique_ptr<ops::Ops<T>> inner_ = ops::make_host_loop_ops<T>();
  PersistentDevice device_;
  std::shared_ptr<TwinCounts> counts_;
};

// Gives a host model the twin as its ops backend; the counts say how often each path ran.
std::function<void(Lstm&)> use_twin(const PersistentDevice& device,
                                    std::shared_ptr<TwinCounts> counts) {
  return [device, counts](Lstm& model) {
    detail::ModelImpl& impl = detail::ModelAccess::impl(model);
    if (impl.ops_f32) impl.ops_f32 = std::make_shared<TwinOps<float>>(device, counts);
    else impl.ops_f64 = std::make_shared<TwinOps<double>>(device, counts);
  };
}

// f64: the twin sums in another order than the reference, nothing else (near machine precision).
Tolerance twin_f64_tolerance() { return {1e-12, 1e-10}; }
Tolerance tolerance_for(DType dtype) {
  return dtype == DType::f64 ? twin_f64_tolerance() : f32_tolerance();
}

// The shapes of issue 19 on top of agreement_cases(): odd H, H not a multiple of the units per
// block (on the small device: H = 7 → 3+3+1, 17 → 6+6+5, 31 → 11+11+9, 33 → 11·3), B = 1 and
// B = 7, both cells, bidirectional, no bias.
std::vector<Case> persistent_cases() {
  std::vector<Case> cases = agreement_cases();
  for (CellActivation cell : {CellActivation::tanh, CellActivation::identity}) {
    cases.push_back({5, 7, 3, 7, 2, cell});
    cases.push_back({4, 1, 5, 31, 1, cell});
    cases.push_back({6, 7, 4, 17, 2, cell, true, true});
    cases.push_back({3, 7, 2, 1, 1, cell, false, true});
  }
  return cases;
}

struct TwinSetup {
  DType dtype;
  PersistentDevice device;
  const char* device_name;
  MemoryMode mode = MemoryMode::store_all;
  std::int64_t segment_steps = 0;
};

void check_twin_agreement(const TwinSetup& s) {
  SCOPED_TRACE(std::string("twin on ") + s.device_name + ", " + memory_mode_name(s.mode));
  std::uint64_t seed = 300;
  for (const Case& c : persistent_cases()) {
    auto counts = std::make_shared<TwinCounts>();
    AgreementOptions o;
    o.dtype = s.dtype;
    o.tol = tolerance_for(s.dtype);
    o.seed = seed++;
    o.memory_mode = s.mode;
    o.segment_steps = s.segment_steps;
    o.algorithm = RecurrentAlgorithm::persistent;
    o.prepare = use_twin(s.device, counts);
    check_agreement(c, o);
    // Every recurrence ran as the twin: one forward per unit (and per recomputed segment), one
    // backward per unit and segment.
    SCOPED_TRACE(c.str());
    EXPECT_EQ(counts->fallback, 0);
    EXPECT_GE(counts->forward, c.L * c.D());
    EXPECT_GE(counts->backward, c.L * c.D());
  }
}

TEST(PersistentPlan, PartitionCoversEveryUnitOnce) {
  for (int sms : {1, 2, 3, 4, 7, 8, 108, 132}) {
    for (std::int64_t H : {1, 2, 3, 7, 17, 31, 33, 64, 100, 255, 256, 768, 1024}) {
      SCOPED_TRACE("SMs " + std::to_string(sms) + ", H " + std::to_string(H));
      const PersistentPlan p = kernels::plan_persistent(H, 4, 4, {sms, 1 << 30, true});
      ASSERT_TRUE(p.eligible) << p.reason;
      EXPECT_LE(p.blocks, sms);
      EXPECT_EQ(p.units, (H + sms - 1) / sms);
      std::vector<int> owner(static_cast<std::size_t>(H), -1);
      for (int k = 0; k < p.blocks; ++k) {
        EXPECT_GE(p.units_in(k), 1);
        EXPECT_LE(p.units_in(k), p.units);
        for (std::int64_t u = p.first_unit(k); u < p.first_unit(k) + p.units_in(k); ++u) {
          EXPECT_EQ(owner[u], -1) << "unit " << u << " owned twice";
          owner[u] = k;
        }
      }
      for (std::int64_t u = 0; u < H; ++u) EXPECT_GE(owner[u], 0) << "unit " << u << " unowned";
      EXPECT_EQ(p.shared_bytes, 4 * p.units * H * 4);
    }
  }
}

TEST(PersistentPlan, EligibilityIsDecidedByShapeAndDevice) {
  const PersistentDevice h100 = h100_device();
  // fp32: W_hh is 16·H² bytes over 132 blocks of at most 227 KiB.
  EXPECT_TRUE(twin_plan(1024, 16, 4, h100).eligible);
  EXPECT_TRUE(twin_plan(768, 64, 4, h100).eligible);
  EXPECT_FALSE(twin_plan(2048, 16, 4, h100).eligible);
  EXPECT_TRUE(twin_plan(768, 16, 8, h100).eligible);
  EXPECT_FALSE(twin_plan(1024, 16, 8, h100).eligible);
  // Batch, dtype, cooperative launch, occupancy.
  EXPECT_TRUE(twin_plan(256, kernels::kPersistentMaxBatch, 4, h100).eligible);
  const PersistentPlan big_batch = twin_plan(256, kernels::kPersistentMaxBatch + 1, 4, h100);
  EXPECT_FALSE(big_batch.eligible);
  EXPECT_NE(std::string(big_batch.reason).find("batch"), std::string::npos) << big_batch.reason;
  EXPECT_FALSE(twin_plan(256, 16, 2, h100).eligible);
  EXPECT_FALSE(twin_plan(256, 16, 4, {132, 227 * 1024, false}).eligible);
  PersistentPlan crowded = kernels::plan_persistent(256, 16, 4, h100);
  ASSERT_TRUE(crowded.eligible);
  kernels::persistent_check_occupancy(crowded, h100, 0);
  EXPECT_FALSE(crowded.eligible);
  EXPECT_NE(std::string(crowded.reason).find("occupancy"), std::string::npos) << crowded.reason;
  // The test shapes are eligible on both twin devices, and the small one splits units unevenly.
  for (const Case& c : persistent_cases()) {
    for (std::int64_t bytes : {4, 8}) {
      EXPECT_TRUE(twin_plan(c.H, c.B, bytes, small_device()).eligible) << c.str();
      EXPECT_TRUE(twin_plan(c.H, c.B, bytes, h100).eligible) << c.str();
    }
  }
  const PersistentPlan uneven = twin_plan(7, 7, 8, small_device());
  EXPECT_EQ(uneven.units, 3);
  EXPECT_EQ(uneven.blocks, 3);
  EXPECT_EQ(uneven.units_in(2), 1);
}

TEST(PersistentTwin, MatchesReferenceF64) {
  check_twin_agreement({DType::f64, small_device(), "3 SMs"});
  check_twin_agreement({DType::f64, h100_device(), "132 SMs"});
}

TEST(PersistentTwin, MatchesReferenceF32) {
  check_twin_agreement({DType::f32, small_device(), "3 SMs"});
  check_twin_agreement({DType::f32, h100_device(), "132 SMs"});
}

TEST(PersistentTwin, RecomputeMatchesReference) {
  check_twin_agreement({DType::f64, small_device(), "3 SMs", MemoryMode::recompute, 2});
  check_twin_agreement({DType::f32, small_device(), "3 SMs", MemoryMode::recompute, 3});
}

// An ineligible shape (B above the limit) runs the standard steps, with the same results.
TEST(PersistentTwin, IneligibleShapeFallsBackToStandardSteps) {
  auto counts = std::make_shared<TwinCounts>();
  AgreementOptions o;
  o.algorithm = RecurrentAlgorithm::persistent;
  o.tol = twin_f64_tolerance();
  o.prepare = use_twin(small_device(), counts);
  check_agreement({3, kernels::kPersistentMaxBatch + 1, 2, 5, 1, CellActivation::tanh}, o);
  EXPECT_EQ(counts->forward + counts->backward, 0);
  EXPECT_EQ(counts->fallback, 2);
}

// Padded batches: each sequence of the batch against the reference run on that sequence alone
// (the reference has no lengths); the parameter gradients are the sum over the sequences.
struct LengthsSetup {
  Device device = Device::cpu();
  DType dtype = DType::f64;
  CellActivation cell = CellActivation::tanh;
  bool bidirectional = false;
  MemoryMode mode = MemoryMode::store_all;
  RecurrentAlgorithm algorithm = RecurrentAlgorithm::persistent;
  std::function<void(Lstm&)> prepare;
};

void check_lengths_against_reference(const LengthsSetup& s) {
  const std::int64_t T = 7, B = 7, X = 3, H = 7, L = 2, D = s.bidirectional ? 2 : 1;
  const std::int64_t U = L * D, W = D * H;
  const std::vector<std::int64_t> lengths = {3, 7, 1, 5, 7, 2, 6};  // unsorted, with 1 and T
  SCOPED_TRACE(std::string("lengths, ") + dtype_name(s.dtype) + ", " +
               cell_activation_name(s.cell) + (s.bidirectional ? ", bidirectional" : "") + ", " +
               memory_mode_name(s.mode) + " on " + s.device.str());
  LstmConfig cfg;
  cfg.input_size = X;
  cfg.hidden_size = H;
  cfg.num_layers = L;
  cfg.cell = s.cell;
  cfg.dtype = s.dtype;
  cfg.device = s.device;
  cfg.memory_mode = s.mode;
  cfg.segment_steps = 3;
  cfg.bidirectional = s.bidirectional;
  cfg.algorithm = s.algorithm;
  Lstm model(cfg);
  if (s.prepare) s.prepare(model);
  model.init_pytorch_default(11);
  std::mt19937_64 rng(23);
  // Random values in the padding too: none of them may leak into any result.
  const auto xv = random_values(T * B * X, rng), dyv = random_values(T * B * W, rng);
  const auto h0v = random_values(U * B * H, rng, -0.5, 0.5), c0v = random_values(U * B * H, rng, -0.5, 0.5);
  const auto dhv = random_values(U * B * H, rng), dcv = random_values(U * B * H, rng);
  auto tensor = [&](const Shape& shape, const std::vector<double>& v) {
    return Tensor::from_vector(shape, v, s.dtype, s.device);
  };
  // What the model saw (rounded to its dtype), for the reference.
  const auto x_seen = tensor({T, B, X}, xv).to_vector<double>();
  const auto dy_seen = tensor({T, B, W}, dyv).to_vector<double>();
  const auto h0_seen = tensor({U, B, H}, h0v).to_vector<double>();
  const auto c0_seen = tensor({U, B, H}, c0v).to_vector<double>();
  const auto dh_seen = tensor({U, B, H}, dhv).to_vector<double>();
  const auto dc_seen = tensor({U, B, H}, dcv).to_vector<double>();
  ForwardResult f = model.forward(tensor({T, B, X}, xv), tensor({U, B, H}, h0v),
                                  tensor({U, B, H}, c0v), lengths);
  model.zero_grad();
  BackwardResult g = model.backward(f.context, tensor({T, B, W}, dyv), tensor({U, B, H}, dhv),
                                    tensor({U, B, H}, dcv));
  const auto y = f.y.to_vector<double>(), hT = f.hT.to_vector<double>(),
             cT = f.cT.to_vector<double>(), dx = g.dx.to_vector<double>(),
             dh0 = g.dh0.to_vector<double>(), dc0 = g.dc0.to_vector<double>();

  const reference::Params<double> params = params_of(model);
  // The twin: near machine precision in f64; the GPU's transcendentals add a few ulps more.
  const Tolerance tol = s.device.is_cpu()    ? tolerance_for(s.dtype)
                        : s.dtype == DType::f64 ? f64_tolerance()
                                                : f32_tolerance();
  std::map<std::string, std::vector<double>> dparams;
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t n = lengths[b];
    SCOPED_TRACE("sequence " + std::to_string(b) + " of length " + std::to_string(n));
    // Row b of [rows, B, width], the first `count` rows; zero rows up to `pad`.
    auto take = [&](const std::vector<double>& v, std::int64_t width, std::int64_t count,
                    std::int64_t pad = 0) {
      std::vector<double> out;
      for (std::int64_t r = 0; r < count; ++r)
        out.insert(out.end(), v.begin() + (r * B + b) * width, v.begin() + (r * B + b + 1) * width);
      out.resize(std::max(count, pad) * width, 0.0);
      return out;
    };
    const reference::Dims dims{n, 1, X, H, L, s.bidirectional};
    const auto xb = take(x_seen, X, n), h0b = take(h0_seen, H, U), c0b = take(c0_seen, H, U);
    const auto rf = reference::forward(dims, s.cell, params, xb, h0b, c0b);
    const auto rb = reference::backward(dims, s.cell, params, xb, h0b, c0b, take(dy_seen, W, n),
                                        take(dh_seen, H, U), take(dc_seen, H, U));
    std::vector<double> y_ref = rf.y, dx_ref = rb.dx;
    y_ref.resize(T * W, 0.0);  // zero past the end
    dx_ref.resize(T * X, 0.0);
    expect_scaled_close(take(y, W, T), y_ref, tol, "y");
    expect_scaled_close(take(hT, H, U), rf.hT, tol, "hT");
    expect_scaled_close(take(cT, H, U), rf.cT, tol, "cT");
    expect_scaled_close(take(dx, X, T), dx_ref, tol, "dx");
    expect_scaled_close(take(dh0, H, U), rb.dh0, tol, "dh0");
    expect_scaled_close(take(dc0, H, U), rb.dc0, tol, "dc0");
    reference::Params<double> grads = rb.dparams;
    for (const std::string& name : model.parameter_names()) {
      const std::vector<double>& d = param_by_name(grads, name, D);
      std::vector<double>& sum = dparams[name];
      sum.resize(d.size(), 0.0);
      for (std::size_t k = 0; k < d.size(); ++k) sum[k] += d[k];
    }
  }
  for (const std::string& name : model.parameter_names()) {
    expect_scaled_close(model.gradient(name).to_vector<double>(), dparams[name], tol, "d" + name);
  }
}

TEST(PersistentTwin, VariableLengthsMatchReference) {
  for (DType dtype : {DType::f64, DType::f32}) {
    for (CellActivation cell : {CellActivation::tanh, CellActivation::identity}) {
      for (bool bidirectional : {false, true}) {
        for (MemoryMode mode : {MemoryMode::store_all, MemoryMode::recompute}) {
          auto counts = std::make_shared<TwinCounts>();
          LengthsSetup s;
          s.dtype = dtype;
          s.cell = cell;
          s.bidirectional = bidirectional;
          s.mode = mode;
          s.prepare = use_twin(small_device(), counts);
          check_lengths_against_reference(s);
          EXPECT_EQ(counts->fallback, 0);
          EXPECT_GT(counts->forward, 0);
          EXPECT_GT(counts->backward, 0);
        }
      }
    }
  }
}

// --- the CUDA kernel (skipped without a GPU) -------------------------------------------------

// The kernel's own plan on this GPU accepts every test shape: the comparisons below test the
// kernel, not the standard fallback.
TEST(CudaPersistentPlan, IsEligibleForTheTestShapes) {
  FUSELSTM_REQUIRE_GPU();
  for (const Case& c : persistent_cases()) {
    for (DType dtype : {DType::f32, DType::f64}) {
      for (bool backward : {false, true}) {
        const PersistentPlan p =
            ops::cuda_persistent_plan(Device::cuda(0), dtype, backward, c.cell, c.H, c.B);
        EXPECT_TRUE(p.eligible) << c.str() << " " << dtype_name(dtype) << ": " << p.reason;
      }
    }
  }
  // A realistic shape of the bench (H = 1024, B = 16, fp32).
  const PersistentPlan big =
      ops::cuda_persistent_plan(Device::cuda(0), DType::f32, true, CellActivation::tanh, 1024, 16);
  EXPECT_TRUE(big.eligible) << big.reason;
}

class CudaPersistent : public ::testing::TestWithParam<DType> {};

TEST_P(CudaPersistent, MatchesReference) {
  FUSELSTM_REQUIRE_GPU();
  AgreementOptions o;
  o.device = Device::cuda(0);
  o.dtype = GetParam();
  o.tol = o.dtype == DType::f64 ? f64_tolerance() : f32_tolerance();
  o.algorithm = RecurrentAlgorithm::persistent;
  std::uint64_t seed = 500;
  for (const Case& c : persistent_cases()) {
    o.seed = seed++;
    check_agreement(c, o);
  }
  o.memory_mode = MemoryMode::recompute;
  o.segment_steps = 2;
  for (const Case& c : persistent_cases()) {
    o.seed = seed++;
    check_agreement(c, o);
  }
}

// The same model and data with the standard and the persistent algorithm on the GPU (other
// summation orders only).
void check_persistent_vs_standard(const Case& c, DType dtype, MemoryMode mode) {
  SCOPED_TRACE(c.str() + " " + dtype_name(dtype) + " " + memory_mode_name(mode));
  auto run = [&](RecurrentAlgorithm algorithm) {
    LstmConfig cfg;
    cfg.input_size = c.X;
    cfg.hidden_size = c.H;
    cfg.num_layers = c.L;
    cfg.bias = c.bias;
    cfg.bidirectional = c.bidirectional;
    cfg.cell = c.cell;
    cfg.dtype = dtype;
    cfg.device = Device::cuda(0);
    cfg.memory_mode = mode;
    cfg.segment_steps = mode == MemoryMode::recompute ? 3 : 0;
    cfg.algorithm = algorithm;
    Lstm model(cfg);
    model.init_pytorch_default(17);
    std::mt19937_64 rng(29);
    const std::int64_t D = c.D(), U = c.L * D;
    auto tensor = [&](const Shape& shape, std::int64_t n) {
      return Tensor::from_vector(shape, random_values(n, rng), dtype, Device::cuda(0));
    };
    Tensor x = tensor({c.T, c.B, c.X}, c.T * c.B * c.X);
    Tensor h0 = tensor({U, c.B, c.H}, U * c.B * c.H), c0 = tensor({U, c.B, c.H}, U * c.B * c.H);
    Tensor dy = tensor({c.T, c.B, D * c.H}, c.T * c.B * D * c.H);
    ForwardResult f = model.forward(x, h0, c0);
    model.zero_grad();
    BackwardResult b = model.backward(f.context, dy);
    std::map<std::string, std::vector<double>> out;
    out["y"] = f.y.to_vector<double>();
    out["hT"] = f.hT.to_vector<double>();
    out["cT"] = f.cT.to_vector<double>();
    out["dx"] = b.dx.to_vector<double>();
    out["dh0"] = b.dh0.to_vector<double>();
    out["dc0"] = b.dc0.to_vector<double>();
    for (const std::string& name : model.parameter_names())
      out["d" + name] = model.gradient(name).to_vector<double>();
    return out;
  };
  auto standard = run(RecurrentAlgorithm::standard);
  auto persistent = run(RecurrentAlgorithm::persistent);
  const Tolerance tol = dtype == DType::f64 ? f64_tolerance() : f32_tolerance();
  for (const auto& [name, values] : standard) expect_scaled_close(persistent[name], values, tol, name);
}

TEST_P(CudaPersistent, MatchesStandard) {
  FUSELSTM_REQUIRE_GPU();
  for (const Case& c : persistent_cases()) {
    check_persistent_vs_standard(c, GetParam(), MemoryMode::store_all);
  }
  // Bench-like shapes (the reference would be slow): W_hh slices of 8 units per block.
  check_persistent_vs_standard({20, 16, 64, 1024, 1, CellActivation::tanh}, GetParam(),
                               MemoryMode::store_all);
  check_persistent_vs_standard({12, 5, 32, 700, 2, CellActivation::identity, true, true},
                               GetParam(), MemoryMode::recompute);
}

TEST_P(CudaPersistent, VariableLengthsMatchReference) {
  FUSELSTM_REQUIRE_GPU();
  for (CellActivation cell : {CellActivation::tanh, CellActivation::identity}) {
    for (bool bidirectional : {false, true}) {
      LengthsSetup s;
      s.device = Device::cuda(0);
      s.dtype = GetParam();
      s.cell = cell;
      s.bidirectional = bidirectional;
      check_lengths_against_reference(s);
      s.mode = MemoryMode::recompute;
      check_lengths_against_reference(s);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(DTypes, CudaPersistent, ::testing::Values(DType::f64, DType::f32),
                         [](const auto& info) { return dtype_name(info.param); });

}  // namespace
}  // namespace fuselstm::testing
