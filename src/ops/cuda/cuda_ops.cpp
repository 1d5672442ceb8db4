// CUDA implementation of the ops: cuBLAS for the products, kernels/ for the fused steps.

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "kernels/launch.hpp"
#include "kernels/layer_launch.hpp"
#include "kernels/persistent_launch.hpp"
#include "kernels/train_launch.hpp"
#include "ops/cuda/cuda_graph.hpp"
#include "ops/ops.hpp"
#include "ops/recurrence_standard.hpp"
#include "runtime/arena.hpp"
#include "runtime/cuda/cuda_check.hpp"
#include "runtime/memory.hpp"

namespace fuselstm::ops {
namespace {

cublasOperation_t to_cublas(Trans t) { return t == Trans::N ? CUBLAS_OP_N : CUBLAS_OP_T; }

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
  // The handle is configured once: its stream, math mode and workspace never change after this.
  CudaOps(const Device& device, void* stream, MathMode math, detail::CachingArena& arena)
      : device_(device), stream_(static_cast<cudaStream_t>(stream)), arena_(arena) {
    detail::DeviceScope scope(device_);
    FUSELSTM_CUBLAS_CHECK(cublasCreate(&handle_));
    try {
      FUSELSTM_CUBLAS_CHECK(cublasSetStream(handle_, stream_));
      // TF32 only when asked for, and only for fp32 data. The default math mode computes fp32
      // products in fp32 (no tensor-core shortcut) and leaves cuBLAS its fastest such kernels.
      FUSELSTM_CUBLAS_CHECK(cublasSetMathMode(handle_, (math == MathMode::tf32 && sizeof(T) == 4)
                                                           ? CUBLAS_TF32_TENSOR_OP_MATH
                                                           : CUBLAS_DEFAULT_MATH));
      // A fixed workspace from the arena: cuBLAS allocates nothing per call, and the same call
      // picks the same algorithm every time (deterministic results).
      workspace_ = arena_.allocate(kWorkspaceBytes);
      FUSELSTM_CUBLAS_CHECK(cublasSetWorkspace(handle_, workspace_, kWorkspaceBytes));
      FUSELSTM_CUDA_CHECK(kernels::query_persistent_device(device_.index, &persistent_device_));
    } catch (...) {
      release();
      throw;
    }
  }
  ~CudaOps() override { release(); }
  CudaOps(const CudaOps&) = delete;
  CudaOps& operator=(const CudaOps&) = delete;

  Device device() const override { return device_; }

  void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
            const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
            std::int64_t ldc) override {
    if (m == 0 || n == 0) return;
    gemm_call(handle_, to_cublas(ta), to_cublas(tb), m, n, k, &alpha, a, lda, b, ldb, &beta, c,
              ldc);
  }
  void forward_step(CellActivation cell, const kernels::ForwardStepArgs<T>& args) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_forward_step(stream_, cell == CellActivation::tanh, args));
  }
  void backward_step(CellActivation cell, const kernels::BackwardStepArgs<T>& args) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_backward_step(stream_, cell == CellActivation::tanh, args));
  }
  void add_column_sums(std::int64_t rows, std::int64_t cols, const T* src, T* dst) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_add_column_sums(stream_, rows, cols, src, dst));
  }
  void axpy(std::int64_t n, T alpha, const T* x, T* y) override {
    if (n == 0) return;
    FUSELSTM_CUDA_CHECK(kernels::launch_axpy(stream_, n, alpha, x, y));
  }
  void fill(T* dst, std::int64_t n, T value) override {
    if (n == 0) return;
    FUSELSTM_CUDA_CHECK(kernels::launch_fill(stream_, dst, n, value));
  }
  void copy(T* dst, const T* src, std::int64_t n) override {
    if (n == 0) return;
    FUSELSTM_CUDA_CHECK(
        cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, stream_));
  }
  void zero_padded_steps(std::int64_t steps, std::int64_t batch, std::int64_t width,
                         const std::int32_t* lengths, bool batch_first, T* data) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_zero_padded_steps(stream_, steps, batch, width, lengths, batch_first, data));
  }
  void swap_axes(std::int64_t outer, std::int64_t inner, std::int64_t width, const T* src,
                 T* dst) override {
    if (outer * inner * width == 0) return;
    FUSELSTM_CUDA_CHECK(kernels::launch_swap_axes(stream_, outer, inner, width, src, dst));
  }
  void reverse_time(std::int64_t steps, std::int64_t batch, std::int64_t width,
                    const std::int32_t* lengths, const T* src, std::int64_t src_step,
                    std::int64_t src_batch, T* dst, bool accumulate) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_reverse_time(stream_, steps, batch, width, lengths, src, src_step, src_batch,
                                 dst, accumulate));
  }
  void join_directions(std::int64_t steps, std::int64_t batch, std::int64_t hidden,
                       const std::int32_t* lengths, const T* fwd, const T* rev, T* out,
                       bool batch_first) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_join_directions(stream_, steps, batch, hidden, lengths, fwd, rev, out,
                                    batch_first));
  }
  void synchronize() override {
    FUSELSTM_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  void broadcast_rows(std::int64_t rows, std::int64_t cols, const T* src, T* dst) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_broadcast_rows(stream_, rows, cols, src, dst));
  }
  void scale(std::int64_t n, T alpha, T* x) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_scale(stream_, n, alpha, x));
  }
  void clamp(std::int64_t n, T low, T high, T* x) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_clamp(stream_, n, low, high, x));
  }
  void reduce(kernels::ReduceKind kind, std::int64_t n, const T* src, double* out) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_reduce(stream_, kind, n, src, out));
  }
  void mse_loss(const kernels::MseArgs<T>& args) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_mse_loss(stream_, args));
  }
  void cross_entropy_loss(const kernels::CrossEntropyArgs<T>& args) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_cross_entropy_loss(stream_, args));
  }
  void sgd_update(std::int64_t n, const kernels::SgdStepArgs<T>& args) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_sgd_update(stream_, n, args));
  }
  void adam_update(std::int64_t n, const kernels::AdamStepArgs<T>& args) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_adam_update(stream_, n, args));
  }
  void dropout(std::int64_t n, const kernels::DropoutKey& key, const T* src, T* dst) override {
    FUSELSTM_CUDA_CHECK(kernels::launch_dropout(stream_, n, key, src, dst));
  }
  // The persistent kernel (kernels/persistent_math.hpp) when the plan is eligible, else the
  // standard steps. Runs only when RecurrentAlgorithm::persistent is asked: correct on an H200 but
  // faster than the standard steps only at B = 1 there (bench/RESULTS.md, session 9).
  void forward_recurrence(CellActivation cell,
                          const kernels::ForwardRecurrenceArgs<T>& args) override {
    const bool tanh_cell = cell == CellActivation::tanh;
    kernels::PersistentPlan plan;
    FUSELSTM_CUDA_CHECK(kernels::plan_persistent_call<T>(persistent_device_, false, tanh_cell,
                                                         args.hidden, args.batch, &plan));
    if (!plan.eligible) return standard_forward_recurrence<T>(*this, cell, args);
    FUSELSTM_CUDA_CHECK(kernels::launch_persistent_forward<T>(stream_, tanh_cell, plan, args));
  }
  void backward_recurrence(CellActivation cell,
                           const kernels::BackwardRecurrenceArgs<T>& args) override {
    const bool tanh_cell = cell == CellActivation::tanh;
    kernels::PersistentPlan plan;
    FUSELSTM_CUDA_CHECK(kernels::plan_persistent_call<T>(persistent_device_, true, tanh_cell,
                                                         args.hidden, args.batch, &plan));
    if (!plan.eligible) return standard_backward_recurrence<T>(*this, cell, args);
    // The partial products' scratch, from the stream-ordered arena: returned right after the
    // launch is queued, reused only by work queued after it.
    struct Scratch {
      detail::CachingArena& arena;
      void* data;
      ~Scratch() { arena.deallocate(data); }
    } scratch{arena_, arena_.allocate(static_cast<std::size_t>(plan.scratch_elements()) * sizeof(T))};
    FUSELSTM_CUDA_CHECK(kernels::launch_persistent_backward<T>(stream_, tanh_cell, plan, args,
                                                               static_cast<T*>(scratch.data)));
  }

  void gather_last_step(std::int64_t steps, std::int64_t batch, std::int64_t width,
                        const std::int32_t* lengths, bool batch_first, const T* src,
                        T* dst) override {
    if (batch * width == 0) return;
    FUSELSTM_CUDA_CHECK(kernels::launch_gather_last_step(stream_, steps, batch, width, lengths,
                                                         batch_first, src, dst));
  }
  void scatter_last_step(std::int64_t steps, std::int64_t batch, std::int64_t width,
                         const std::int32_t* lengths, bool batch_first, const T* dlast,
                         T* dsrc) override {
    if (steps * batch * width == 0) return;
    FUSELSTM_CUDA_CHECK(kernels::launch_scatter_last_step(stream_, steps, batch, width, lengths,
                                                          batch_first, dlast, dsrc));
  }
  void activation_forward(kernels::ActivationKind kind, std::int64_t n, const T* x,
                          T* y) override {
    if (n == 0) return;
    FUSELSTM_CUDA_CHECK(kernels::launch_activation_forward(stream_, kind, n, x, y));
  }
  void activation_backward(kernels::ActivationKind kind, std::int64_t n, const T* y, const T* dy,
                           T* dx) override {
    if (n == 0) return;
    FUSELSTM_CUDA_CHECK(kernels::launch_activation_backward(stream_, kind, n, y, dy, dx));
  }
  void embedding_forward(std::int64_t count, std::int64_t width, const std::int64_t* ids,
                         const T* weight, T* out) override {
    if (count * width == 0) return;
    FUSELSTM_CUDA_CHECK(kernels::launch_embedding_forward(stream_, count, width, ids, weight, out));
  }
  void embedding_backward(std::int64_t segments, std::int64_t width, const std::int64_t* start,
                          const std::int64_t* segment_id, const std::int64_t* order, const T* dout,
                          T* dweight) override {
    if (segments * width == 0) return;
    FUSELSTM_CUDA_CHECK(kernels::launch_embedding_backward(stream_, segments, width, start,
                                                           segment_id, order, dout, dweight));
  }

  void run_recorded(const CallLog<T>& calls) override {
    // The legacy default stream (a borrowed stream 0, e.g. PyTorch's default stream) cannot be
    // captured: the calls then run as they are, in order.
    if (stream_ == nullptr) return calls.replay(*this);
    graphs_.run(calls);
  }
  GraphStats graph_stats() const override { return graphs_.stats(); }

private:
  // 32 MiB: what NVIDIA recommends for Hopper (4 MiB suffices before it).
  static constexpr std::size_t kWorkspaceBytes = std::size_t(32) << 20;

  void release() noexcept {
    if (handle_) cublasDestroy(handle_);
    handle_ = nullptr;
    arena_.deallocate(workspace_);
    workspace_ = nullptr;
  }

  Device device_;
  cudaStream_t stream_ = nullptr;
  detail::CachingArena& arena_;
  cublasHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  kernels::PersistentDevice persistent_device_;  // queried once: what eligibility needs
  // RecurrentAlgorithm::graphs; after stream_, which its backend keeps.
  CudaGraphBackend<T> graph_backend_{*this, stream_};
  GraphRunner<T> graphs_{graph_backend_};
};

}  // namespace

template <typename T>
std::unique_ptr<Ops<T>> make_cuda_ops(const Device& device, void* stream, MathMode math,
                                      detail::CachingArena& arena) {
  return std::make_unique<CudaOps<T>>(device, stream, math, arena);
}

kernels::PersistentPlan cuda_persistent_plan(const Device& device, DType dtype, bool backward,
                                             CellActivation cell, std::int64_t hidden,
                                             std::int64_t batch) {
  detail::DeviceScope scope(device);
  kernels::PersistentDevice d;
  FUSELSTM_CUDA_CHECK(kernels::query_persistent_device(device.index, &d));
  kernels::PersistentPlan plan;
  const bool tanh_cell = cell == CellActivation::tanh;
  if (dtype == DType::f64) {
    FUSELSTM_CUDA_CHECK(
        kernels::plan_persistent_call<double>(d, backward, tanh_cell, hidden, batch, &plan));
  } else if (dtype == DType::f32) {
    FUSELSTM_CUDA_CHECK(
        kernels::plan_persistent_call<float>(d, backward, tanh_cell, hidden, batch, &plan));
  } else {
    plan.reason = "only float and double";
  }
  return plan;
}

template std::unique_ptr<Ops<float>> make_cuda_ops<float>(const Device&, void*, MathMode,
                                                          detail::CachingArena&);
template std::unique_ptr<Ops<double>> make_cuda_ops<double>(const Device&, void*, MathMode,
                                                            detail::CachingArena&);

}  // namespace fuselstm::ops
