// The ops interface: the host GEMM's cuBLAS-convention arguments against a row-major definition,
// for every transpose combination, through BLAS and through the loops; and the exact op sequence
// the orchestration issues, with no allocation inside the time loop.

#include <set>
#include <string>
#include <utility>

#include "lstm/model_impl.hpp"
#include "ops/call_log.hpp"
#include "ops/ops.hpp"
#include "test_util.hpp"

namespace fuselstm::testing {
namespace {

using ops::Trans;

// C[m×n] = op(A)·op(B) with column-major storage, computed directly from the definition.
std::vector<double> gemm_definition(Trans ta, Trans tb, int m, int n, int k,
                                    const std::vector<double>& a, int lda,
                                    const std::vector<double>& b, int ldb) {
  std::vector<double> c(m * n, 0.0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j)
      for (int p = 0; p < k; ++p) {
        const double av = ta == Trans::N ? a[i + p * lda] : a[p + i * lda];
        const double bv = tb == Trans::N ? b[p + j * ldb] : b[j + p * ldb];
        c[i + j * m] += av * bv;
      }
  return c;
}

// Shapes from the trivial to where BLAS kernels change path: K >= 8, N >= 12, odd N, N not a
// multiple of 12, M not a multiple of the register block; leading dimensions padded.
template <typename T>
void check_gemm(ops::Ops<T>& o, const std::string& name) {
  std::mt19937_64 rng(3);
  struct Size {
    int m, n, k;
  };
  for (const Size& z : {Size{1, 1, 1}, Size{5, 7, 3}, Size{13, 25, 9}, Size{17, 12, 33},
                        Size{40, 39, 64}}) {
    for (Trans ta : {Trans::N, Trans::T}) {
      for (Trans tb : {Trans::N, Trans::T}) {
        const int m = z.m, n = z.n, k = z.k;
        const int lda = (ta == Trans::N ? m : k) + 2, ldb = (tb == Trans::N ? k : n) + 1;
        const auto a = random_values(lda * (ta == Trans::N ? k : m), rng);
        const auto b = random_values(ldb * (tb == Trans::N ? n : k), rng);
        const auto c0 = random_values(m * n, rng);
        std::vector<T> at(a.begin(), a.end()), bt(b.begin(), b.end()), ct(c0.begin(), c0.end());
        o.gemm(ta, tb, m, n, k, T(2), at.data(), lda, bt.data(), ldb, T(0.5), ct.data(), m);
        // The definition in double from the same (for f32: rounded) inputs.
        const std::vector<double> ad(at.begin(), at.end()), bd(bt.begin(), bt.end());
        auto expected = gemm_definition(ta, tb, m, n, k, ad, lda, bd, ldb);
        for (int e = 0; e < m * n; ++e) expected[e] = 2 * expected[e] + 0.5 * double(T(c0[e]));
        // Entries are 2·(a sum of k <= 64 products of magnitude <= 1) + c/2: the rounding error is
        // at most about 2·k·eps·Σ|a·b| <= 2·64·eps·64 (eps 2^-53 or 2^-24), i.e. 1e-12 in f64 and
        // 5e-4 in f32 in the worst case, ~1e-6 typically; a layout mistake is an O(1) error.
        const double tol = sizeof(T) == 8 ? 1e-12 : 1e-4;
        expect_close(std::vector<double>(ct.begin(), ct.end()), expected, tol, tol,
                     name + " gemm m=" + std::to_string(m) + " n=" + std::to_string(n) +
                         " k=" + std::to_string(k) + " ta=" + std::to_string(int(ta)) +
                         " tb=" + std::to_string(int(tb)));
      }
    }
  }
}

TEST(HostOps, GemmFollowsCublasConvention) {
  check_gemm(*ops::make_host_ops<double>(), "blas f64");
  check_gemm(*ops::make_host_ops<float>(), "blas f32");
  check_gemm(*ops::make_host_loop_ops<double>(), "loops f64");
  check_gemm(*ops::make_host_loop_ops<float>(), "loops f32");
}

TEST(HostOps, ColumnSumsAxpyFillCopy) {
  auto o = ops::make_host_ops<double>();
  std::vector<double> src = {1, 2, 3, 4, 5, 6}, dst = {10, 20, 30};
  o->add_column_sums(2, 3, src.data(), dst.data());
  EXPECT_EQ(dst, (std::vector<double>{15, 27, 39}));
  std::vector<double> y = {1, 1, 1};
  o->axpy(3, -2.0, dst.data(), y.data());
  EXPECT_EQ(y, (std::vector<double>{-29, -53, -77}));
  o->fill(y.data(), 2, 7.0);
  EXPECT_EQ(y, (std::vector<double>{7, 7, -77}));
  o->copy(y.data() + 1, src.data(), 2);
  EXPECT_EQ(y, (std::vector<double>{7, 1, 2}));
}

// Delegates to the host ops and records each call with the allocation count at that moment.
class RecordingOps final : public ops::Ops<double> {
public:
  struct Call {
    std::string op;
    std::int64_t allocations;
    std::int64_t n = 0;  // gemm: the column count (B for the per-step GEMMs)
    const double* weights = nullptr;  // weight_gemm: A, its layout and the caller's promise
    Trans weights_layout = Trans::N;
    bool weights_unchanged = false;
  };
  std::vector<Call> calls;
  Device device() const override { return Device::cpu(); }
  void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
            const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
            double* c, std::int64_t ldc) override {
    record("gemm");
    calls.back().n = n;
    inner_->gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void weight_gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k,
                   const double* a, std::int64_t lda, const double* b, std::int64_t ldb,
                   double beta, double* c, std::int64_t ldc, bool a_unchanged) override {
    record("weight_gemm");
    calls.back().weights = a;
    calls.back().weights_layout = ta;
    calls.back().weights_unchanged = a_unchanged;
    inner_->weight_gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, a_unchanged);
  }
  void forward_step(CellActivation cell, const kernels::ForwardStepArgs<double>& a) override {
    record("forward_step");
    inner_->forward_step(cell, a);
  }
  void backward_step(CellActivation cell, const kernels::BackwardStepArgs<double>& a) override {
    record("backward_step");
    inner_->backward_step(cell, a);
  }
  void add_column_sums(std::int64_t r, std::int64_t c, const double* s, double* d) override {
    record("column_sums");
    inner_->add_column_sums(r, c, s, d);
  }
  void axpy(std::int64_t n, double alpha, const double* x, double* y) override {
    record("axpy");
    inner_->axpy(n, alpha, x, y);
  }
  void fill(double* d, std::int64_t n, double v) override {
    record("fill");
    inner_->fill(d, n, v);
  }
  void copy(double* d, const double* s, std::int64_t n) override {
    record("copy");
    inner_->copy(d, s, n);
  }
  void zero_padded_steps(std::int64_t steps, std::int64_t batch, std::int64_t width,
                         const std::int32_t* lengths, bool batch_first, double* data) override {
    record("zero_padded_steps");
    inner_->zero_padded_steps(steps, batch, width, lengths, batch_first, data);
  }
  void swap_axes(std::int64_t outer, std::int64_t inner, std::int64_t width, const double* src,
                 double* dst) override {
    record("swap_axes");
    inner_->swap_axes(outer, inner, width, src, dst);
  }
  void reverse_time(std::int64_t steps, std::int64_t batch, std::int64_t width,
                    const std::int32_t* lengths, const double* src, std::int64_t src_step,
                    std::int64_t src_batch, double* dst, bool accumulate) override {
    record("reverse_time");
    inner_->reverse_time(steps, batch, width, lengths, src, src_step, src_batch, dst, accumulate);
  }
  void join_directions(std::int64_t steps, std::int64_t batch, std::int64_t hidden,
                       const std::int32_t* lengths, const double* fwd, const double* rev,
                       double* out, bool batch_first) override {
    record("join_directions");
    inner_->join_directions(steps, batch, hidden, lengths, fwd, rev, out, batch_first);
  }
  void synchronize() override { record("synchronize"); }
  void broadcast_rows(std::int64_t r, std::int64_t c, const double* s, double* d) override {
    record("broadcast_rows");
    inner_->broadcast_rows(r, c, s, d);
  }
  void scale(std::int64_t n, double alpha, double* x) override {
    record("scale");
    inner_->scale(n, alpha, x);
  }
  void clamp(std::int64_t n, double lo, double hi, double* x) override {
    record("clamp");
    inner_->clamp(n, lo, hi, x);
  }
  void reduce(kernels::ReduceKind k, std::int64_t n, const double* s, double* out) override {
    record("reduce");
    inner_->reduce(k, n, s, out);
  }
  void mse_loss(const kernels::MseArgs<double>& a) override {
    record("mse_loss");
    inner_->mse_loss(a);
  }
  void cross_entropy_loss(const kernels::CrossEntropyArgs<double>& a) override {
    record("cross_entropy_loss");
    inner_->cross_entropy_loss(a);
  }
  void sgd_update(std::int64_t n, const kernels::SgdStepArgs<double>& a) override {
    record("sgd_update");
    inner_->sgd_update(n, a);
  }
  void adam_update(std::int64_t n, const kernels::AdamStepArgs<double>& a) override {
    record("adam_update");
    inner_->adam_update(n, a);
  }
  void dropout(std::int64_t n, const kernels::DropoutKey& k, const double* s, double* d) override {
    record("dropout");
    inner_->dropout(n, k, s, d);
  }
  void forward_recurrence(CellActivation cell,
                          const kernels::ForwardRecurrenceArgs<double>& a) override {
    record("forward_recurrence");
    inner_->forward_recurrence(cell, a);
  }
  void backward_recurrence(CellActivation cell,
                           const kernels::BackwardRecurrenceArgs<double>& a) override {
    record("backward_recurrence");
    inner_->backward_recurrence(cell, a);
  }
  void gather_last_step(std::int64_t t, std::int64_t b, std::int64_t w, const std::int32_t* len,
                        bool bf, const double* s, double* d) override {
    record("gather_last_step");
    inner_->gather_last_step(t, b, w, len, bf, s, d);
  }
  void scatter_last_step(std::int64_t t, std::int64_t b, std::int64_t w, const std::int32_t* len,
                         bool bf, const double* s, double* d) override {
    record("scatter_last_step");
    inner_->scatter_last_step(t, b, w, len, bf, s, d);
  }
  void activation_forward(kernels::ActivationKind k, std::int64_t n, const double* x,
                          double* y) override {
    record("activation_forward");
    inner_->activation_forward(k, n, x, y);
  }
  void activation_backward(kernels::ActivationKind k, std::int64_t n, const double* y,
                           const double* dy, double* dx) override {
    record("activation_backward");
    inner_->activation_backward(k, n, y, dy, dx);
  }
  void embedding_forward(std::int64_t n, std::int64_t w, const std::int64_t* ids,
                         const double* weight, double* out) override {
    record("embedding_forward");
    inner_->embedding_forward(n, w, ids, weight, out);
  }
  void embedding_backward(std::int64_t s, std::int64_t w, const std::int64_t* start,
                          const std::int64_t* id, const std::int64_t* order, const double* dout,
                          double* dweight) override {
    record("embedding_backward");
    inner_->embedding_backward(s, w, start, id, order, dout, dweight);
  }
  // Recorded sequences (RecurrentAlgorithm::graphs) run call by call through this object.
  void run_recorded(const ops::CallLog<double>& log) override { log.replay(*this); }
  ops::GraphStats graph_stats() const override { return {}; }
  int count(const std::string& op) const {
    int n = 0;
    for (const Call& c : calls) n += c.op == op;
    return n;
  }

private:
  void record(const char* op) { calls.push_back({op, memory_stats(Device::cpu()).allocations}); }
  std::unique_ptr<ops::Ops<double>> inner_ = ops::make_host_ops<double>();
};

// Ops::weight_gemm's promise, over the calls of one public call (weights change only between
// them): A is said unchanged exactly when an earlier call of this one read the same address with
// the same layout, so each W_ih is packed once per layout and call, and never trusted across calls.
// Returns how many calls were promised unchanged.
int expect_weights_promised_unchanged_only_after_a_pack(const RecordingOps& rec) {
  std::set<std::pair<const double*, Trans>> read;
  int promised = 0;
  for (std::size_t e = 0; e < rec.calls.size(); ++e) {
    const RecordingOps::Call& c = rec.calls[e];
    if (c.op != "weight_gemm") continue;
    const bool seen = !read.insert({c.weights, c.weights_layout}).second;
    EXPECT_EQ(c.weights_unchanged, seen) << "call " << e << ": W_ih at " << c.weights << ", layout "
                                         << int(c.weights_layout);
    promised += c.weights_unchanged;
  }
  return promised;
}

// Runs one forward and one backward through an Lstm whose ops record every call, and checks the
// op counts the design promises and that no allocation happens between the first and last op.
void check_op_sequence(MemoryMode mode, std::int64_t segment_steps) {
  const std::int64_t T = 6, B = 300, X = 3, H = 5, L = 3;
  LstmConfig cfg;
  cfg.input_size = X;
  cfg.hidden_size = H;
  cfg.num_layers = L;
  cfg.dtype = DType::f64;
  cfg.memory_mode = mode;
  cfg.segment_steps = segment_steps;
  Lstm model(cfg);
  auto recording = std::make_unique<RecordingOps>();
  RecordingOps& rec = *recording;
  detail::ModelAccess::impl(model).ops_f64 = std::move(recording);
  const detail::SegmentPlan plan = detail::ModelAccess::impl(model).segment_plan(T, B);
  // The input projection runs in blocks of P steps fixed in absolute time, in every mode.
  const std::int64_t projections = (T + plan.projection_steps - 1) / plan.projection_steps;
  const std::int64_t blocks = (T + plan.gradient_steps - 1) / plan.gradient_steps;
  SCOPED_TRACE(std::string(memory_mode_name(mode)) + " k=" + std::to_string(plan.segment_steps) +
               " P=" + std::to_string(plan.projection_steps) +
               " S=" + std::to_string(plan.gradient_steps));
  ASSERT_GT(blocks, 1);       // B = 300 makes S = 4 < T: several gradient blocks
  ASSERT_GT(projections, 1);  // and P = 2 < T: several projection blocks

  std::mt19937_64 rng(4);
  const Tensor x = Tensor::from_vector({T, B, X}, random_values(T * B * X, rng), DType::f64);
  const Tensor dy = Tensor::from_vector({T, B, H}, random_values(T * B * H, rng), DType::f64);
  ForwardResult f = model.forward(x);
  // Forward: per layer and projection block one input GEMM (a weight_gemm: W_ih), per step one
  // recurrent GEMM and fused step.
  EXPECT_EQ(rec.count("weight_gemm"), L * projections);
  EXPECT_EQ(rec.count("gemm"), L * T);
  EXPECT_GT(expect_weights_promised_unchanged_only_after_a_pack(rec), 0);  // projections > 1
  EXPECT_EQ(rec.count("forward_step"), L * T);
  EXPECT_EQ(rec.count("synchronize"), 0);
  for (const auto& call : rec.calls) EXPECT_EQ(call.allocations, rec.calls[0].allocations);

  rec.calls.clear();
  model.backward(f.context, dy);
  // Backward: per step a fused step and a dh GEMM; per gradient block dW_hh, dW_ih, dx GEMMs and
  // one bias sum; when recomputing, each segment's forward again.
  EXPECT_EQ(rec.count("backward_step"), L * T);
  EXPECT_EQ(rec.count("forward_step"), plan.recompute ? L * T : 0);
  EXPECT_EQ(rec.count("gemm"), L * (T + 2 * blocks) + (plan.recompute ? L * T : 0));
  EXPECT_EQ(rec.count("weight_gemm"), L * blocks + (plan.recompute ? L * projections : 0));
  EXPECT_GT(expect_weights_promised_unchanged_only_after_a_pack(rec), 0);  // blocks > 1
  EXPECT_EQ(rec.count("column_sums"), L * blocks);
  EXPECT_EQ(rec.count("synchronize"), 0);
  for (const auto& call : rec.calls) EXPECT_EQ(call.allocations, rec.calls[0].allocations);
}

// The host work per time step on CUDA: each per-step op maps to a fixed number of CUDA API calls
// in src/ops/cuda/cuda_ops.cpp (a GEMM: one cublas<t>gemm_64; a fused step: one kernel launch and
// one cudaGetLastError; the handle's stream, math mode and workspace are set once, the device
// once per public call). The header (context.hpp) promises at most 6 per step per layer and
// direction, forward and backward each.
constexpr int kApiCallsPerGemm = 1, kApiCallsPerKernel = 2;

double api_calls_per_step(const RecordingOps& rec, std::int64_t batch, std::int64_t unit_steps) {
  std::int64_t calls = 0;
  for (const auto& c : rec.calls) {
    if (c.op == "gemm" && c.n == batch) calls += kApiCallsPerGemm;  // recurrent / dh GEMMs
    if (c.op == "forward_step" || c.op == "backward_step") calls += kApiCallsPerKernel;
  }
  return static_cast<double>(calls) / static_cast<double>(unit_steps);
}

TEST(Orchestration, HostCallsPerStepAreFewAndFixed) {
  for (bool bidirectional : {false, true}) {
    const std::int64_t T = 9, B = 7, X = 3, H = 4, L = 2, D = bidirectional ? 2 : 1;
    LstmConfig cfg;
    cfg.input_size = X;
    cfg.hidden_size = H;
    cfg.num_layers = L;
    cfg.dtype = DType::f64;
    cfg.bidirectional = bidirectional;
    Lstm model(cfg);
    auto recording = std::make_unique<RecordingOps>();
    RecordingOps& rec = *recording;
    detail::ModelAccess::impl(model).ops_f64 = std::move(recording);
    std::mt19937_64 rng(3);
    const Tensor x = Tensor::from_vector({T, B, X}, random_values(T * B * X, rng), DType::f64);
    ForwardResult f = model.forward(x);
    const double forward = api_calls_per_step(rec, B, L * D * T);
    rec.calls.clear();
    model.backward(f.context, Tensor());
    const double backward = api_calls_per_step(rec, B, L * D * T);
    std::printf("  D=%lld: CUDA API calls per step per layer and direction: forward %.1f, "
                "backward %.1f\n", static_cast<long long>(D), forward, backward);
    EXPECT_EQ(forward, kApiCallsPerGemm + kApiCallsPerKernel);
    EXPECT_EQ(backward, kApiCallsPerGemm + kApiCallsPerKernel);
    EXPECT_LE(forward, 6);
    EXPECT_LE(backward, 6);
  }
}

TEST(Orchestration, StoredOpSequenceAndNoAllocationInTheLoop) {
  check_op_sequence(MemoryMode::store_all, 0);
}

TEST(Orchestration, RecomputeOpSequenceAndNoAllocationInTheLoop) {
  check_op_sequence(MemoryMode::recompute, 4);
}

// RecurrentAlgorithm::graphs records the orchestration and hands the log to the ops: the ops then
// receive exactly the calls the standard algorithm makes, in the same order (same calls, same
// bits), and none while the log is being recorded.
TEST(Orchestration, GraphsHandTheOpsTheStandardCalls) {
  for (MemoryMode mode : {MemoryMode::store_all, MemoryMode::recompute}) {
    auto run = [&](RecurrentAlgorithm algorithm) {
      LstmConfig cfg;
      cfg.input_size = 3;
      cfg.hidden_size = 5;
      cfg.num_layers = 2;
      cfg.bidirectional = true;
      cfg.dtype = DType::f64;
      cfg.memory_mode = mode;
      cfg.segment_steps = 2;
      cfg.algorithm = algorithm;
      Lstm model(cfg);
      auto recording = std::make_unique<RecordingOps>();
      RecordingOps& rec = *recording;
      detail::ModelAccess::impl(model).ops_f64 = std::move(recording);
      std::mt19937_64 rng(8);
      const Tensor x = Tensor::from_vector({6, 4, 3}, random_values(6 * 4 * 3, rng), DType::f64);
      ForwardResult f = model.forward(x, Tensor(), Tensor(), {6, 2, 5, 3});
      model.backward(f.context, Tensor());
      std::vector<std::string> ops;
      for (const auto& c : rec.calls) ops.push_back(c.op + " n=" + std::to_string(c.n));
      return ops;
    };
    const auto standard = run(RecurrentAlgorithm::standard);
    EXPECT_GT(standard.size(), 50u);
    EXPECT_EQ(run(RecurrentAlgorithm::graphs), standard) << memory_mode_name(mode);
  }
}

}  // namespace
}  // namespace fuselstm::testing
