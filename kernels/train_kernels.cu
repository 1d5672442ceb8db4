// The training toolkit's CUDA kernels: thin grid-stride loops over the element functions of
// dropout_math.hpp, loss_math.hpp and optim_math.hpp, plus one deterministic reduction.

#include "grid.cuh"
#include "train_launch.hpp"

namespace fuselstm::kernels {
namespace {

constexpr int kReduceThreads = 1024;

#define FUSELSTM_FOR_EACH(e, n) FUSELSTM_GRID_STRIDE_LOOP(e, n)

template <typename T>
__global__ void broadcast_rows_kernel(std::int64_t rows, std::int64_t cols, const T* src, T* dst) {
  FUSELSTM_FOR_EACH(e, rows * cols) dst[e] = src[e % cols];
}

template <typename T>
__global__ void scale_kernel(std::int64_t n, T alpha, T* x) {
  FUSELSTM_FOR_EACH(e, n) x[e] *= alpha;
}

template <typename T>
__global__ void clamp_kernel(std::int64_t n, T low, T high, T* x) {
  FUSELSTM_FOR_EACH(e, n) x[e] = clamp_value(x[e], low, high);
}

template <typename T>
__global__ void reduce_kernel(ReduceKind kind, std::int64_t n, const T* src, double* out) {
  __shared__ double partial[kReduceThreads];
  double sum = 0;
  for (std::int64_t e = threadIdx.x; e < n; e += kReduceThreads) sum += reduce_term(kind, src[e]);
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int width = kReduceThreads / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) partial[threadIdx.x] += partial[threadIdx.x + width];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = partial[0];
}

template <typename T>
__global__ void mse_kernel(MseArgs<T> args) {
  FUSELSTM_FOR_EACH(e, args.n) mse_element(e, args);
}

template <typename T>
__global__ void cross_entropy_kernel(CrossEntropyArgs<T> args) {
  FUSELSTM_FOR_EACH(r, args.rows) cross_entropy_row(r, args);
}

template <typename T>
__global__ void sgd_kernel(std::int64_t n, SgdStepArgs<T> args) {
  FUSELSTM_FOR_EACH(e, n) sgd_element(e, args);
}

template <typename T>
__global__ void adam_kernel(std::int64_t n, AdamStepArgs<T> args) {
  FUSELSTM_FOR_EACH(e, n) adam_element(e, args);
}

template <typename T>
__global__ void dropout_kernel(std::int64_t n, DropoutKey key, const T* src, T* dst) {
  FUSELSTM_FOR_EACH(e, n) dropout_element(e, key, src, dst);
}

#undef FUSELSTM_FOR_EACH

}  // namespace

template <typename T>
cudaError_t launch_broadcast_rows(cudaStream_t stream, std::int64_t rows, std::int64_t cols, const T* src,
                           T* dst) {
  if (rows * cols == 0) return cudaSuccess;
  broadcast_rows_kernel<T><<<blocks_for(rows * cols), kThreads, 0, stream>>>(rows, cols, src, dst);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_scale(cudaStream_t stream, std::int64_t n, T alpha, T* x) {
  if (n == 0) return cudaSuccess;
  scale_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(n, alpha, x);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_clamp(cudaStream_t stream, std::int64_t n, T low, T high, T* x) {
  if (n == 0) return cudaSuccess;
  clamp_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(n, low, high, x);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_reduce(cudaStream_t stream, ReduceKind kind, std::int64_t n, const T* src,
                   double* out) {
  reduce_kernel<T><<<1, kReduceThreads, 0, stream>>>(kind, n, src, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_mse_loss(cudaStream_t stream, const MseArgs<T>& args) {
  if (args.n == 0) return cudaSuccess;
  mse_kernel<T><<<blocks_for(args.n), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_cross_entropy_loss(cudaStream_t stream, const CrossEntropyArgs<T>& args) {
  if (args.rows == 0) return cudaSuccess;
  cross_entropy_kernel<T><<<blocks_for(args.rows), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_sgd_update(cudaStream_t stream, std::int64_t n, const SgdStepArgs<T>& args) {
  if (n == 0) return cudaSuccess;
  sgd_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(n, args);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_adam_update(cudaStream_t stream, std::int64_t n, const AdamStepArgs<T>& args) {
  if (n == 0) return cudaSuccess;
  adam_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(n, args);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_dropout(cudaStream_t stream, std::int64_t n, const DropoutKey& key, const T* src,
                    T* dst) {
  if (n == 0) return cudaSuccess;
  dropout_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(n, key, src, dst);
  return cudaGetLastError();
}

#define FUSELSTM_INSTANTIATE(T)                                                                   \
  template cudaError_t launch_broadcast_rows<T>(cudaStream_t, std::int64_t, std::int64_t, const T*, T*); \
  template cudaError_t launch_scale<T>(cudaStream_t, std::int64_t, T, T*);                               \
  template cudaError_t launch_clamp<T>(cudaStream_t, std::int64_t, T, T, T*);                            \
  template cudaError_t launch_reduce<T>(cudaStream_t, ReduceKind, std::int64_t, const T*, double*);      \
  template cudaError_t launch_mse_loss<T>(cudaStream_t, const MseArgs<T>&);                              \
  template cudaError_t launch_cross_entropy_loss<T>(cudaStream_t, const CrossEntropyArgs<T>&);           \
  template cudaError_t launch_sgd_update<T>(cudaStream_t, std::int64_t, const SgdStepArgs<T>&);          \
  template cudaError_t launch_adam_update<T>(cudaStream_t, std::int64_t, const AdamStepArgs<T>&);        \
  template cudaError_t launch_dropout<T>(cudaStream_t, std::int64_t, const DropoutKey&, const T*, T*);
FUSELSTM_INSTANTIATE(float)
FUSELSTM_INSTANTIATE(double)
#undef FUSELSTM_INSTANTIATE

}  // namespace fuselstm::kernels
