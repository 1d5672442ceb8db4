// The ops interface: the host GEMM's cuBLAS-convention arguments against a row-major definition,
// for every transpose combination, through BLAS and through the loops; and the exact op sequence
// the orchestration issues, with no allocation inside the time loop.

#include <string>

#include "ops/ops.hpp"
#include "sequence.hpp"
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

template <typename T>
void check_gemm(ops::Ops<T>& o, const std::string& name) {
  std::mt19937_64 rng(3);
  for (Trans ta : {Trans::N, Trans::T}) {
    for (Trans tb : {Trans::N, Trans::T}) {
      const int m = 5, n = 7, k = 3;
      const int lda = (ta == Trans::N ? m : k) + 2, ldb = (tb == Trans::N ? k : n) + 1;
      const auto a = random_values(lda * (ta == Trans::N ? k : m), rng);
      const auto b = random_values(ldb * (tb == Trans::N ? n : k), rng);
      const auto c0 = random_values(m * n, rng);
      std::vector<T> at(a.begin(), a.end()), bt(b.begin(), b.end()), ct(c0.begin(), c0.end());
      o.gemm(ta, tb, m, n, k, T(2), at.data(), lda, bt.data(), ldb, T(0.5), ct.data(), m);
      auto expected = gemm_definition(ta, tb, m, n, k, a, lda, b, ldb);
      for (int e = 0; e < m * n; ++e) expected[e] = 2 * expected[e] + 0.5 * c0[e];
      expect_close(std::vector<double>(ct.begin(), ct.end()), expected, 1e-5, 1e-5,
                   name + " gemm ta=" + std::to_string(int(ta)) + " tb=" + std::to_string(int(tb)));
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
  };
  std::vector<Call> calls;
  Device device() const override { return Device::cpu(); }
  void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
            const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
            double* c, std::int64_t ldc) override {
    record("gemm");
    inner_->gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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
  int count(const std::string& op) const {
    int n = 0;
    for (const Call& c : calls) n += c.op == op;
    return n;
  }

private:
  void record(const char* op) { calls.push_back({op, memory_stats(Device::cpu()).allocations}); }
  std::unique_ptr<ops::Ops<double>> inner_ = ops::make_host_ops<double>();
};

TEST(Orchestration, ExactOpSequenceAndNoAllocationInTheLoop) {
  const detail::SequenceDims d{6, 2, 3, 5, 3};
  const std::int64_t G = 4 * d.hidden, state = d.batch * d.hidden;
  std::mt19937_64 rng(4);
  std::vector<std::vector<double>> w_ih, w_hh, b_ih, b_hh, gates, c, h, dw_ih, dw_hh, db_ih, db_hh;
  std::vector<detail::LayerWeights<double>> weights;
  std::vector<detail::LayerActivations<double>> saved;
  std::vector<detail::LayerGradients<double>> grads;
  for (std::int64_t l = 0; l < d.layers; ++l) {
    const std::int64_t X = d.layer_input(l);
    w_ih.push_back(random_values(G * X, rng));
    w_hh.push_back(random_values(G * d.hidden, rng));
    b_ih.push_back(random_values(G, rng));
    b_hh.push_back(random_values(G, rng));
    gates.emplace_back(d.steps * d.batch * G);
    c.emplace_back((d.steps + 1) * state);
    h.emplace_back((d.steps + 1) * state);
    dw_ih.emplace_back(G * X);
    dw_hh.emplace_back(G * d.hidden);
    db_ih.emplace_back(G);
    db_hh.emplace_back(G);
  }
  for (std::int64_t l = 0; l < d.layers; ++l) {
    weights.push_back({w_ih[l].data(), w_hh[l].data(), b_ih[l].data(), b_hh[l].data()});
    saved.push_back({gates[l].data(), c[l].data(), h[l].data()});
    grads.push_back({dw_ih[l].data(), dw_hh[l].data(), db_ih[l].data(), db_hh[l].data()});
  }
  auto x = random_values(d.steps * d.batch * d.input, rng);
  std::vector<double> y(d.steps * state), hT(d.layers * state), cT(d.layers * state);
  RecordingOps rec;
  detail::sequence_forward<double>(rec, CellActivation::tanh, d, x.data(), nullptr, nullptr,
                                   weights, saved, y.data(), hT.data(), cT.data());
  // Forward: per layer 1 input GEMM + T recurrent GEMMs and T fused steps.
  EXPECT_EQ(rec.count("gemm"), d.layers * (1 + d.steps));
  EXPECT_EQ(rec.count("forward_step"), d.layers * d.steps);
  EXPECT_EQ(rec.count("synchronize"), 0);
  for (const auto& call : rec.calls) EXPECT_EQ(call.allocations, rec.calls[0].allocations);

  std::vector<double> da(d.steps * d.batch * G), dh_rec(state), dc(state), dx_inner(d.steps * state),
      dbias(G), dx(d.steps * d.batch * d.input), dh0(d.layers * state), dc0(d.layers * state);
  const detail::BackwardWorkspace<double> work{da.data(), dh_rec.data(), dc.data(),
                                               dx_inner.data(), dbias.data()};
  auto dy = random_values(d.steps * state, rng);
  rec.calls.clear();
  detail::sequence_backward<double>(rec, CellActivation::tanh, d, x.data(), weights, saved,
                                    dy.data(), nullptr, nullptr, grads, work, dx.data(),
                                    dh0.data(), dc0.data());
  // Backward: per layer T fused steps, T dh GEMMs, then dW_hh, dW_ih, dx GEMMs and one bias sum.
  EXPECT_EQ(rec.count("backward_step"), d.layers * d.steps);
  EXPECT_EQ(rec.count("gemm"), d.layers * (d.steps + 3));
  EXPECT_EQ(rec.count("column_sums"), d.layers);
  EXPECT_EQ(rec.count("synchronize"), 0);
  for (const auto& call : rec.calls) EXPECT_EQ(call.allocations, rec.calls[0].allocations);
}

}  // namespace
}  // namespace fuselstm::testing
