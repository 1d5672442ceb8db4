// The fused CUDA kernels: thin grid-stride loops over the element functions of cell_math.hpp.

#include "grid.cuh"
#include "launch.hpp"

namespace fuselstm::kernels {
namespace {

template <typename T, bool kTanhCell>
__global__ void forward_step_kernel(ForwardStepArgs<T> args, std::int64_t n) {
  FUSELSTM_GRID_STRIDE_LOOP(e, n) { lstm_forward_element<T, kTanhCell>(e, args); }
}

template <typename T, bool kTanhCell>
__global__ void backward_step_kernel(BackwardStepArgs<T> args, std::int64_t n) {
  FUSELSTM_GRID_STRIDE_LOOP(e, n) { lstm_backward_element<T, kTanhCell>(e, args); }
}

// Block (32, 8): each block owns 32 columns; its 8 thread rows stride over the rows, then the 8
// partial sums are added in a fixed order. Deterministic, coalesced along the columns.
template <typename T>
__global__ void add_column_sums_kernel(std::int64_t rows, std::int64_t cols, const T* src, T* dst) {
  __shared__ T partial[8][32];
  const std::int64_t col = blockIdx.x * std::int64_t(32) + threadIdx.x;
  T sum = 0;
  if (col < cols) {
    for (std::int64_t r = threadIdx.y; r < rows; r += 8) sum += src[r * cols + col];
  }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    T total = 0;
    for (int k = 0; k < 8; ++k) total += partial[k][threadIdx.x];
    dst[col] += total;
  }
}

template <typename T>
__global__ void axpy_kernel(std::int64_t n, T alpha, const T* x, T* y) {
  FUSELSTM_GRID_STRIDE_LOOP(e, n) { y[e] += alpha * x[e]; }
}

template <typename T>
__global__ void fill_kernel(T* dst, std::int64_t n, T value) {
  FUSELSTM_GRID_STRIDE_LOOP(e, n) { dst[e] = value; }
}

}  // namespace

template <typename T>
cudaError_t launch_forward_step(cudaStream_t stream, bool tanh_cell, const ForwardStepArgs<T>& args) {
  const std::int64_t n = args.batch * args.hidden;
  if (tanh_cell) forward_step_kernel<T, true><<<blocks_for(n), kThreads, 0, stream>>>(args, n);
  else forward_step_kernel<T, false><<<blocks_for(n), kThreads, 0, stream>>>(args, n);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_backward_step(cudaStream_t stream, bool tanh_cell, const BackwardStepArgs<T>& args) {
  const std::int64_t n = args.batch * args.hidden;
  if (tanh_cell) backward_step_kernel<T, true><<<blocks_for(n), kThreads, 0, stream>>>(args, n);
  else backward_step_kernel<T, false><<<blocks_for(n), kThreads, 0, stream>>>(args, n);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_add_column_sums(cudaStream_t stream, std::int64_t rows, std::int64_t cols,
                            const T* src, T* dst) {
  const dim3 block(32, 8);
  const dim3 grid(static_cast<unsigned>((cols + 31) / 32));
  add_column_sums_kernel<T><<<grid, block, 0, stream>>>(rows, cols, src, dst);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_axpy(cudaStream_t stream, std::int64_t n, T alpha, const T* x, T* y) {
  axpy_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(n, alpha, x, y);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_fill(cudaStream_t stream, T* dst, std::int64_t n, T value) {
  fill_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(dst, n, value);
  return cudaGetLastError();
}

#define FUSELSTM_INSTANTIATE(T)                                                                  \
  template cudaError_t launch_forward_step<T>(cudaStream_t, bool, const ForwardStepArgs<T>&);           \
  template cudaError_t launch_backward_step<T>(cudaStream_t, bool, const BackwardStepArgs<T>&);         \
  template cudaError_t launch_add_column_sums<T>(cudaStream_t, std::int64_t, std::int64_t, const T*, T*); \
  template cudaError_t launch_axpy<T>(cudaStream_t, std::int64_t, T, const T*, T*);                     \
  template cudaError_t launch_fill<T>(cudaStream_t, T*, std::int64_t, T);
FUSELSTM_INSTANTIATE(float)
FUSELSTM_INSTANTIATE(double)
#undef FUSELSTM_INSTANTIATE

}  // namespace fuselstm::kernels
