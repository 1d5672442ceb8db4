// CUDA implementation of the ops: cuBLAS for the products, kernels/ for the fused steps.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "kernels/launch.hpp"
#include "kernels/train_launch.hpp"
#include "ops/ops.hpp"
#include "runtime/cuda/cuda_check.hpp"

namespace fuselstm::ops {
namespace {

cublasOperation_t to_cublas(Trans t) { return t == Trans::N ? CUBLAS_OP_N : CUBLAS_OP_T; }

// Sets a handle's stream and math mode for one call and restores what was there before, so a
// handle shared with other code (or a future borrowed one) is left as it was found.
class CublasStateGuard {
public:
  CublasStateGuard(cublasHandle_t handle, cudaStream_t stream, cublasMath_t math)
      : handle_(handle) {
    FUSELSTM_CUBLAS_CHECK(cublasGetStream(handle_, &saved_stream_));
    FUSELSTM_CUBLAS_CHECK(cublasGetMathMode(handle_, &saved_math_));
    FUSELSTM_CUBLAS_CHECK(cublasSetStream(handle_, stream));
    FUSELSTM_CUBLAS_CHECK(cublasSetMathMode(handle_, math));
  }
  ~CublasStateGuard() {
    cublasSetStream(handle_, saved_stream_);
    cublasSetMathMode(handle_, saved_math_);
  }
  CublasStateGuard(const CublasStateGuard&) = delete;
  CublasStateGuard& operator=(const CublasStateGuard&) = delete;

private:
  cublasHandle_t handle_;
  cudaStream_t saved_stream_ = nullptr;
  cublasMath_t saved_math_ = CUBLAS_DEFAULT_MATH;
};

void gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, std::int64_t m,
               std::int64_t n, std::int64_t k, const float* alpha, const float* a,
               std::int64_t lda, const float* b, std::int64_t ldb, const float* beta, float* c,
               std::int64_t ldc) {
  FUSELSTM_CUBLAS_CHECK(cublasSgemm_64(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}
void gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, std::int64_t m,
               std::int64_t n, std::int64_t k, const double* alpha, const double* a,
               std::int64_t lda, const double* b, std::int64_t ldb, const double* beta,
               double* c, std::int64_t ldc) {
  FUSELSTM_CUBLAS_CHECK(cublasDgemm_64(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

template <typename T>
class CudaOps final : public Ops<T> {
public:
  CudaOps(const Device& device, void* stream, MathMode math) : device_(device) {
    FUSELSTM_CUDA_CHECK(cudaSetDevice(device_.index));
    if (stream) {
      stream_ = static_cast<cudaStream_t>(stream);
    } else {
      // A blocking stream: the synchronous copies of Tensor (on the legacy default stream) are
      // then ordered after the work queued here, with no explicit synchronisation.
      FUSELSTM_CUDA_CHECK(cudaStreamCreate(&stream_));
      owns_stream_ = true;
    }
    const cublasStatus_t status = cublasCreate(&handle_);
    if (status != CUBLAS_STATUS_SUCCESS) {
      release_stream();
      FUSELSTM_CUBLAS_CHECK(status);
    }
    // TF32 only when asked for, and only for fp32 data; fp64 products have no such shortcut.
    math_ = (math == MathMode::tf32 && sizeof(T) == 4) ? CUBLAS_TF32_TENSOR_OP_MATH
                                                       : CUBLAS_PEDANTIC_MATH;
  }
  ~CudaOps() override {
    if (handle_) cublasDestroy(handle_);
    release_stream();
  }
  CudaOps(const CudaOps&) = delete;
  CudaOps& operator=(const CudaOps&) = delete;

  Device device() const override { return device_; }

  void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
            const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
            std::int64_t ldc) override {
    if (m == 0 || n == 0) return;
    activate();
    CublasStateGuard guard(handle_, stream_, math_);
    gemm_call(handle_, to_cublas(ta), to_cublas(tb), m, n, k, &alpha, a, lda, b, ldb, &beta, c,
              ldc);
  }
  void forward_step(CellActivation cell, const kernels::ForwardStepArgs<T>& args) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_forward_step(stream_, cell == CellActivation::tanh, args));
  }
  void backward_step(CellActivation cell, const kernels::BackwardStepArgs<T>& args) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_backward_step(stream_, cell == CellActivation::tanh, args));
  }
  void add_column_sums(std::int64_t rows, std::int64_t cols, const T* src, T* dst) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_add_column_sums(stream_, rows, cols, src, dst));
  }
  void axpy(std::int64_t n, T alpha, const T* x, T* y) override {
    if (n == 0) return;
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_axpy(stream_, n, alpha, x, y));
  }
  void fill(T* dst, std::int64_t n, T value) override {
    if (n == 0) return;
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_fill(stream_, dst, n, value));
  }
  void copy(T* dst, const T* src, std::int64_t n) override {
    if (n == 0) return;
    activate();
    FUSELSTM_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, stream_));
  }
  void zero_padded_steps(std::int64_t steps, std::int64_t batch, std::int64_t width,
                         const std::int32_t* lengths, bool batch_first, T* data) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_zero_padded_steps(stream_, steps, batch, width, lengths, batch_first, data));
  }
  void swap_axes(std::int64_t outer, std::int64_t inner, std::int64_t width, const T* src,
                 T* dst) override {
    if (outer * inner * width == 0) return;
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_swap_axes(stream_, outer, inner, width, src, dst));
  }
  void reverse_time(std::int64_t steps, std::int64_t batch, std::int64_t width,
                    const std::int32_t* lengths, const T* src, std::int64_t src_step,
                    std::int64_t src_batch, T* dst, bool accumulate) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_reverse_time(stream_, steps, batch, width, lengths, src, src_step, src_batch,
                                 dst, accumulate));
  }
  void join_directions(std::int64_t steps, std::int64_t batch, std::int64_t hidden,
                       const std::int32_t* lengths, const T* fwd, const T* rev, T* out,
                       bool batch_first) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_join_directions(stream_, steps, batch, hidden, lengths, fwd, rev, out,
                                    batch_first));
  }
  void synchronize() override {
    activate();
    FUSELSTM_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  void broadcast_rows(std::int64_t rows, std::int64_t cols, const T* src, T* dst) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_broadcast_rows(stream_, rows, cols, src, dst));
  }
  void scale(std::int64_t n, T alpha, T* x) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_scale(stream_, n, alpha, x));
  }
  void clamp(std::int64_t n, T low, T high, T* x) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_clamp(stream_, n, low, high, x));
  }
  void reduce(kernels::ReduceKind kind, std::int64_t n, const T* src, double* out) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_reduce(stream_, kind, n, src, out));
  }
  void mse_loss(const kernels::MseArgs<T>& args) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_mse_loss(stream_, args));
  }
  void cross_entropy_loss(const kernels::CrossEntropyArgs<T>& args) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_cross_entropy_loss(stream_, args));
  }
  void sgd_update(std::int64_t n, const kernels::SgdStepArgs<T>& args) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_sgd_update(stream_, n, args));
  }
  void adam_update(std::int64_t n, const kernels::AdamStepArgs<T>& args) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_adam_update(stream_, n, args));
  }
  void dropout(std::int64_t n, const kernels::DropoutKey& key, const T* src, T* dst) override {
    activate();
    FUSELSTM_CUDA_CHECK(kernels::launch_dropout(stream_, n, key, src, dst));
  }

private:
  void activate() { FUSELSTM_CUDA_CHECK(cudaSetDevice(device_.index)); }
  void release_stream() noexcept {
    if (owns_stream_ && stream_) FUSELSTM_CUDA_WARN(cudaStreamDestroy(stream_));
    owns_stream_ = false;
  }

  Device device_;
  cudaStream_t stream_ = nullptr;
  bool owns_stream_ = false;
  cublasHandle_t handle_ = nullptr;
  cublasMath_t math_ = CUBLAS_PEDANTIC_MATH;
};

}  // namespace

template <typename T>
std::unique_ptr<Ops<T>> make_cuda_ops(const Device& device, void* stream, MathMode math) {
  return std::make_unique<CudaOps<T>>(device, stream, math);
}

template std::unique_ptr<Ops<float>> make_cuda_ops<float>(const Device&, void*, MathMode);
template std::unique_ptr<Ops<double>> make_cuda_ops<double>(const Device&, void*, MathMode);

}  // namespace fuselstm::ops
