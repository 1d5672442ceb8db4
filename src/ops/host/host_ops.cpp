// Host implementation of the ops: the same semantics as the CUDA ops, element functions shared.

#include <algorithm>
#include <type_traits>
#include <vector>

#include "ops/ops.hpp"
#include "ops/host/blas_blocks.hpp"
#include "ops/host/blas_check.hpp"
#include "ops/host/host_cell_simd.hpp"
#include "ops/host/host_graph.hpp"
#include "ops/host/host_recurrence.hpp"
#include "ops/host/onednn_gemm.hpp"
#include "ops/host/onednn_matmul.hpp"

#if FUSELSTM_HAVE_CBLAS
#include <cblas.h>
#endif

namespace fuselstm::ops {
namespace {

// Reference loops for C = alpha·op(A)·op(B) + beta·C, column-major.
template <typename T>
void gemm_loops(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
                const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
                std::int64_t ldc) {
  for (std::int64_t col = 0; col < n; ++col) {
    for (std::int64_t row = 0; row < m; ++row) {
      T sum = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const T av = ta == Trans::N ? a[row + p * lda] : a[p + row * lda];
        const T bv = tb == Trans::N ? b[p + col * ldb] : b[col + p * ldb];
        sum += av * bv;
      }
      T& out = c[row + col * ldc];
      out = beta == T(0) ? alpha * sum : alpha * sum + beta * out;
    }
  }
}

#if FUSELSTM_HAVE_CBLAS
CBLAS_TRANSPOSE to_cblas(Trans t) { return t == Trans::N ? CblasNoTrans : CblasTrans; }
// Only after blas_column_block: every size is then <= INT_MAX.
int blas_int(std::int64_t size) { return static_cast<int>(size); }
void blas_gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
               const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
               float* c, std::int64_t ldc) {
  cblas_sgemm(CblasColMajor, to_cblas(ta), to_cblas(tb), blas_int(m), blas_int(n), blas_int(k),
              alpha, a, blas_int(lda), b, blas_int(ldb), beta, c, blas_int(ldc));
}
void blas_gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
               const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
               double* c, std::int64_t ldc) {
  cblas_dgemm(CblasColMajor, to_cblas(ta), to_cblas(tb), blas_int(m), blas_int(n), blas_int(k),
              alpha, a, blas_int(lda), b, blas_int(ldb), beta, c, blas_int(ldc));
}
#endif

template <typename T>
class HostOps final : public Ops<T> {
public:
  explicit HostOps(bool use_blas) : use_blas_(use_blas), recurrence_(simd_) {}
  Device device() const override { return Device::cpu(); }

  void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
            const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
            std::int64_t ldc) override {
    if (m == 0 || n == 0) return;
    if constexpr (std::is_same_v<T, float>) {
      if (use_blas_ && onednn_sgemm_selected()) {
        onednn_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
      }
    }
#if FUSELSTM_HAVE_CBLAS
    if (use_blas_) {
      const std::int64_t block = blas_column_block(m, n, k, lda, ldb, ldc);
      for_each_column_block(tb, n, ldb, ldc, block,
                            [&](std::int64_t width, std::int64_t b_offset, std::int64_t c_offset) {
                              blas_gemm(ta, tb, m, width, k, alpha, a, lda, b + b_offset, ldb,
                                        beta, c + c_offset, ldc);
                            });
      return;
    }
#endif
    gemm_loops(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }

  void weight_gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
                   std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc,
                   bool a_unchanged) override {
    if (m == 0 || n == 0) return;
    if constexpr (std::is_same_v<T, float>) {
      if (use_blas_ && k > 0 && onednn_weight_matmul_selected() &&
          weight_matmul_.run(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, a_unchanged)) {
        return;
      }
    }
    gemm(ta, tb, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
  }

  bool weight_gradients_transposed() const override {
    return host_weight_gradients_transposed(std::is_same_v<T, float> && use_blas_ &&
                                            onednn_sgemm_selected());
  }

  // float: the vector cell steps where the CPU has them (host_cell_simd.hpp); double: scalar.
  void forward_step(CellActivation cell, const kernels::ForwardStepArgs<T>& args) override {
    if constexpr (std::is_same_v<T, float>) {
      host_forward_step(simd_, cell, args);
    } else {
      scalar_forward_step(cell, args);
    }
  }

  void backward_step(CellActivation cell, const kernels::BackwardStepArgs<T>& args) override {
    if constexpr (std::is_same_v<T, float>) {
      host_backward_step(simd_, cell, args);
    } else {
      scalar_backward_step(cell, args);
    }
  }

  void add_column_sums(std::int64_t rows, std::int64_t cols, const T* src, T* dst) override {
    // Per thread: one host ops object serves every model of a context, from any thread.
    thread_local std::vector<T> sums;
    sums.assign(static_cast<std::size_t>(cols), T(0));
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* row = src + r * cols;
      for (std::int64_t j = 0; j < cols; ++j) sums[j] += row[j];
    }
    for (std::int64_t j = 0; j < cols; ++j) dst[j] += sums[j];
  }

  void axpy(std::int64_t n, T alpha, const T* x, T* y) override {
    for (std::int64_t e = 0; e < n; ++e) y[e] += alpha * x[e];
  }
  void fill(T* dst, std::int64_t n, T value) override {
    for (std::int64_t e = 0; e < n; ++e) dst[e] = value;
  }
  void copy(T* dst, const T* src, std::int64_t n) override {
    for (std::int64_t e = 0; e < n; ++e) dst[e] = src[e];
  }
  void zero_padded_steps(std::int64_t steps, std::int64_t batch, std::int64_t width,
                         const std::int32_t* lengths, bool batch_first, T* data) override {
    const std::int64_t n = steps * batch * width;
    for (std::int64_t e = 0; e < n; ++e) {
      kernels::zero_padded_element(e, steps, batch, width, lengths, batch_first, data);
    }
  }
  void swap_axes(std::int64_t outer, std::int64_t inner, std::int64_t width, const T* src,
                 T* dst) override {
    if (width == 1) {  // a transpose: in tiles, so both sides stay in cache
      constexpr std::int64_t kTile = 32;
      for (std::int64_t o0 = 0; o0 < outer; o0 += kTile) {
        for (std::int64_t i0 = 0; i0 < inner; i0 += kTile) {
          for (std::int64_t o = o0; o < std::min(outer, o0 + kTile); ++o) {
            for (std::int64_t i = i0; i < std::min(inner, i0 + kTile); ++i) {
              dst[o * inner + i] = src[i * outer + o];
            }
          }
        }
      }
      return;
    }
    const std::int64_t n = outer * inner * width;
    for (std::int64_t e = 0; e < n; ++e) kernels::swap_axes_element(e, outer, inner, width, src, dst);
  }
  void reverse_time(std::int64_t steps, std::int64_t batch, std::int64_t width,
                    const std::int32_t* lengths, const T* src, std::int64_t src_step,
                    std::int64_t src_batch, T* dst, bool accumulate) override {
    const std::int64_t n = steps * batch * width;
    for (std::int64_t e = 0; e < n; ++e) {
      kernels::reverse_time_element(e, steps, batch, width, lengths, src, src_step, src_batch, dst,
                                    accumulate);
    }
  }
  void join_directions(std::int64_t steps, std::int64_t batch, std::int64_t hidden,
                       const std::int32_t* lengths, const T* fwd, const T* rev, T* out,
                       bool batch_first) override {
    const std::int64_t n = steps * batch * 2 * hidden;
    for (std::int64_t e = 0; e < n; ++e) {
      kernels::join_directions_element(e, steps, batch, hidden, lengths, fwd, rev, out,
                                       batch_first);
    }
  }
  void synchronize() override {}

  void broadcast_rows(std::int64_t rows, std::int64_t cols, const T* src, T* dst) override {
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t j = 0; j < cols; ++j) dst[r * cols + j] = src[j];
    }
  }
  void scale(std::int64_t n, T alpha, T* x) override {
    for (std::int64_t e = 0; e < n; ++e) x[e] *= alpha;
  }
  void clamp(std::int64_t n, T low, T high, T* x) override {
    for (std::int64_t e = 0; e < n; ++e) x[e] = kernels::clamp_value(x[e], low, high);
  }
  void reduce(kernels::ReduceKind kind, std::int64_t n, const T* src, double* out) override {
    double sum = 0;
    for (std::int64_t e = 0; e < n; ++e) sum += kernels::reduce_term(kind, src[e]);
    *out = sum;
  }
  void mse_loss(const kernels::MseArgs<T>& args) override {
    for (std::int64_t e = 0; e < args.n; ++e) kernels::mse_element(e, args);
  }
  void cross_entropy_loss(const kernels::CrossEntropyArgs<T>& args) override {
    for (std::int64_t r = 0; r < args.rows; ++r) kernels::cross_entropy_row(r, args);
  }
  void sgd_update(std::int64_t n, const kernels::SgdStepArgs<T>& args) override {
    for (std::int64_t e = 0; e < n; ++e) kernels::sgd_element(e, args);
  }
  void adam_update(std::int64_t n, const kernels::AdamStepArgs<T>& args) override {
    for (std::int64_t e = 0; e < n; ++e) kernels::adam_element(e, args);
  }
  void dropout(std::int64_t n, const kernels::DropoutKey& key, const T* src, T* dst) override {
    for (std::int64_t e = 0; e < n; ++e) kernels::dropout_element(e, key, src, dst);
  }
  void forward_recurrence(CellActivation cell,
                          const kernels::ForwardRecurrenceArgs<T>& args) override {
    recurrence_.forward(cell, args);
  }
  void backward_recurrence(CellActivation cell,
                           const kernels::BackwardRecurrenceArgs<T>& args) override {
    recurrence_.backward(cell, args);
  }

  void gather_last_step(std::int64_t steps, std::int64_t batch, std::int64_t width,
                        const std::int32_t* lengths, bool batch_first, const T* src,
                        T* dst) override {
    for (std::int64_t e = 0; e < batch * width; ++e) {
      kernels::gather_last_step_element(e, steps, batch, width, lengths, batch_first, src, dst);
    }
  }
  void scatter_last_step(std::int64_t steps, std::int64_t batch, std::int64_t width,
                         const std::int32_t* lengths, bool batch_first, const T* dlast,
                         T* dsrc) override {
    for (std::int64_t e = 0; e < steps * batch * width; ++e) {
      kernels::scatter_last_step_element(e, steps, batch, width, lengths, batch_first, dlast, dsrc);
    }
  }
  void activation_forward(kernels::ActivationKind kind, std::int64_t n, const T* x,
                          T* y) override {
    for (std::int64_t e = 0; e < n; ++e) kernels::activation_forward_element(e, kind, x, y);
  }
  void activation_backward(kernels::ActivationKind kind, std::int64_t n, const T* y, const T* dy,
                           T* dx) override {
    for (std::int64_t e = 0; e < n; ++e) kernels::activation_backward_element(e, kind, y, dy, dx);
  }
  void embedding_forward(std::int64_t count, std::int64_t width, const std::int64_t* ids,
                         const T* weight, T* out) override {
    for (std::int64_t e = 0; e < count * width; ++e) {
      kernels::embedding_forward_element(e, width, ids, weight, out);
    }
  }
  void embedding_backward(std::int64_t segments, std::int64_t width, const std::int64_t* start,
                          const std::int64_t* segment_id, const std::int64_t* order, const T* dout,
                          T* dweight) override {
    for (std::int64_t e = 0; e < segments * width; ++e) {
      kernels::embedding_backward_element(e, width, start, segment_id, order, dout, dweight);
    }
  }

  void run_recorded(const CallLog<T>& calls) override { graphs_.run(calls); }
  GraphStats graph_stats() const override { return graphs_.stats(); }

private:
  bool use_blas_;
  HostSimd simd_ = host_simd_selected();  // read once per process
  HostRecurrence<T> recurrence_;          // the persistent algorithm (its threads start on first use)
  OneDnnWeightMatmul weight_matmul_;      // float32's weight_gemm: W_ih packed once per call
  HostGraphBackend<T> graph_backend_{*this};  // RecurrentAlgorithm::graphs' host twin
  GraphRunner<T> graphs_{graph_backend_};
};

}  // namespace

template <typename T>
std::unique_ptr<Ops<T>> make_host_ops() {
#if FUSELSTM_HAVE_CBLAS
  note_slow_openblas_kernels();
#endif
  return std::make_unique<HostOps<T>>(true);
}
template <typename T>
std::unique_ptr<Ops<T>> make_host_loop_ops() {
  return std::make_unique<HostOps<T>>(false);
}

template std::unique_ptr<Ops<float>> make_host_ops<float>();
template std::unique_ptr<Ops<double>> make_host_ops<double>();
template std::unique_ptr<Ops<float>> make_host_loop_ops<float>();
template std::unique_ptr<Ops<double>> make_host_loop_ops<double>();

}  // namespace fuselstm::ops
