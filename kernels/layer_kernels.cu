// The layer kernels: thin grid-stride loops over the element functions of layer_math.hpp.

#include "grid.cuh"
#include "layer_launch.hpp"

namespace fuselstm::kernels {
namespace {

template <typename T>
__global__ void gather_last_step_kernel(std::int64_t steps, std::int64_t batch, std::int64_t width,
                                        const std::int32_t* lengths, bool batch_first,
                                        const T* src, T* dst) {
  FUSELSTM_GRID_STRIDE_LOOP(e, batch * width) {
    gather_last_step_element(e, steps, batch, width, lengths, batch_first, src, dst);
  }
}

template <typename T>
__global__ void scatter_last_step_kernel(std::int64_t steps, std::int64_t batch,
                                         std::int64_t width, const std::int32_t* lengths,
                                         bool batch_first, const T* dlast, T* dsrc) {
  FUSELSTM_GRID_STRIDE_LOOP(e, steps * batch * width) {
    scatter_last_step_element(e, steps, batch, width, lengths, batch_first, dlast, dsrc);
  }
}

template <typename T>
__global__ void activation_forward_kernel(ActivationKind kind, std::int64_t n, const T* x, T* y) {
  FUSELSTM_GRID_STRIDE_LOOP(e, n) activation_forward_element(e, kind, x, y);
}

template <typename T>
__global__ void activation_backward_kernel(ActivationKind kind, std::int64_t n, const T* y,
                                           const T* dy, T* dx) {
  FUSELSTM_GRID_STRIDE_LOOP(e, n) activation_backward_element(e, kind, y, dy, dx);
}

template <typename T>
__global__ void embedding_forward_kernel(std::int64_t count, std::int64_t width,
                                         const std::int64_t* ids, const T* weight, T* out) {
  FUSELSTM_GRID_STRIDE_LOOP(e, count * width) embedding_forward_element(e, width, ids, weight, out);
}

template <typename T>
__global__ void embedding_backward_kernel(std::int64_t segments, std::int64_t width,
                                          const std::int64_t* start, const std::int64_t* segment_id,
                                          const std::int64_t* order, const T* dout, T* dweight) {
  FUSELSTM_GRID_STRIDE_LOOP(e, segments * width) {
    embedding_backward_element(e, width, start, segment_id, order, dout, dweight);
  }
}

}  // namespace

template <typename T>
cudaError_t launch_gather_last_step(cudaStream_t stream, std::int64_t steps, std::int64_t batch,
                                    std::int64_t width, const std::int32_t* lengths,
                                    bool batch_first, const T* src, T* dst) {
  if (batch * width == 0) return cudaSuccess;
  gather_last_step_kernel<T><<<blocks_for(batch * width), kThreads, 0, stream>>>(
      steps, batch, width, lengths, batch_first, src, dst);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_scatter_last_step(cudaStream_t stream, std::int64_t steps, std::int64_t batch,
                                     std::int64_t width, const std::int32_t* lengths,
                                     bool batch_first, const T* dlast, T* dsrc) {
  const std::int64_t n = steps * batch * width;
  if (n == 0) return cudaSuccess;
  scatter_last_step_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(steps, batch, width, lengths,
                                                                        batch_first, dlast, dsrc);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_activation_forward(cudaStream_t stream, ActivationKind kind, std::int64_t n,
                                      const T* x, T* y) {
  if (n == 0) return cudaSuccess;
  activation_forward_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(kind, n, x, y);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_activation_backward(cudaStream_t stream, ActivationKind kind, std::int64_t n,
                                       const T* y, const T* dy, T* dx) {
  if (n == 0) return cudaSuccess;
  activation_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(kind, n, y, dy, dx);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_embedding_forward(cudaStream_t stream, std::int64_t count, std::int64_t width,
                                     const std::int64_t* ids, const T* weight, T* out) {
  if (count * width == 0) return cudaSuccess;
  embedding_forward_kernel<T><<<blocks_for(count * width), kThreads, 0, stream>>>(count, width, ids,
                                                                                   weight, out);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_embedding_backward(cudaStream_t stream, std::int64_t segments,
                                      std::int64_t width, const std::int64_t* start,
                                      const std::int64_t* segment_id, const std::int64_t* order,
                                      const T* dout, T* dweight) {
  if (segments * width == 0) return cudaSuccess;
  embedding_backward_kernel<T><<<blocks_for(segments * width), kThreads, 0, stream>>>(
      segments, width, start, segment_id, order, dout, dweight);
  return cudaGetLastError();
}

#define FUSELSTM_INSTANTIATE(T)                                                                   \
  template cudaError_t launch_gather_last_step<T>(cudaStream_t, std::int64_t, std::int64_t,       \
                                                  std::int64_t, const std::int32_t*, bool,        \
                                                  const T*, T*);                                  \
  template cudaError_t launch_scatter_last_step<T>(cudaStream_t, std::int64_t, std::int64_t,      \
                                                   std::int64_t, const std::int32_t*, bool,       \
                                                   const T*, T*);                                 \
  template cudaError_t launch_activation_forward<T>(cudaStream_t, ActivationKind, std::int64_t,   \
                                                    const T*, T*);                                \
  template cudaError_t launch_activation_backward<T>(cudaStream_t, ActivationKind, std::int64_t,  \
                                                     const T*, const T*, T*);                     \
  template cudaError_t launch_embedding_forward<T>(cudaStream_t, std::int64_t, std::int64_t,      \
                                                   const std::int64_t*, const T*, T*);            \
  template cudaError_t launch_embedding_backward<T>(cudaStream_t, std::int64_t, std::int64_t,     \
                                                    const std::int64_t*, const std::int64_t*,     \
                                                    const std::int64_t*, const T*, T*);
FUSELSTM_INSTANTIATE(float)
FUSELSTM_INSTANTIATE(double)
#undef FUSELSTM_INSTANTIATE

}  // namespace fuselstm::kernels
