// Whole-sequence layout kernels: padding masks and time/batch transposes (sequence_math.hpp).

#include "grid.cuh"
#include "launch.hpp"
#include "sequence_math.hpp"

namespace fuselstm::kernels {
namespace {

template <typename T>
__global__ void zero_padded_kernel(std::int64_t steps, std::int64_t batch, std::int64_t width,
                                   const std::int32_t* lengths, bool batch_first, T* data) {
  const std::int64_t n = steps * batch * width;
  FUSELSTM_GRID_STRIDE_LOOP(e, n) {
    zero_padded_element(e, steps, batch, width, lengths, batch_first, data);
  }
}

template <typename T>
__global__ void swap_axes_kernel(std::int64_t outer, std::int64_t inner, std::int64_t width,
                                 const T* src, T* dst) {
  const std::int64_t n = outer * inner * width;
  FUSELSTM_GRID_STRIDE_LOOP(e, n) { swap_axes_element(e, outer, inner, width, src, dst); }
}

template <typename T>
__global__ void reverse_time_kernel(std::int64_t steps, std::int64_t batch, std::int64_t width,
                                    const std::int32_t* lengths, const T* src,
                                    std::int64_t src_step, std::int64_t src_batch, T* dst,
                                    bool accumulate) {
  const std::int64_t n = steps * batch * width;
  FUSELSTM_GRID_STRIDE_LOOP(e, n) {
    reverse_time_element(e, steps, batch, width, lengths, src, src_step, src_batch, dst,
                         accumulate);
  }
}

template <typename T>
__global__ void join_directions_kernel(std::int64_t steps, std::int64_t batch,
                                       std::int64_t hidden, const std::int32_t* lengths,
                                       const T* fwd, const T* rev, T* out, bool batch_first) {
  const std::int64_t n = steps * batch * 2 * hidden;
  FUSELSTM_GRID_STRIDE_LOOP(e, n) {
    join_directions_element(e, steps, batch, hidden, lengths, fwd, rev, out, batch_first);
  }
}

}  // namespace

template <typename T>
cudaError_t launch_reverse_time(cudaStream_t stream, std::int64_t steps, std::int64_t batch,
                         std::int64_t width, const std::int32_t* lengths, const T* src,
                         std::int64_t src_step, std::int64_t src_batch, T* dst, bool accumulate) {
  reverse_time_kernel<T><<<blocks_for(steps * batch * width), kThreads, 0, stream>>>(
      steps, batch, width, lengths, src, src_step, src_batch, dst, accumulate);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_join_directions(cudaStream_t stream, std::int64_t steps, std::int64_t batch,
                            std::int64_t hidden, const std::int32_t* lengths, const T* fwd,
                            const T* rev, T* out, bool batch_first) {
  join_directions_kernel<T><<<blocks_for(steps * batch * 2 * hidden), kThreads, 0, stream>>>(
      steps, batch, hidden, lengths, fwd, rev, out, batch_first);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_zero_padded_steps(cudaStream_t stream, std::int64_t steps, std::int64_t batch,
                              std::int64_t width, const std::int32_t* lengths, bool batch_first,
                              T* data) {
  zero_padded_kernel<T><<<blocks_for(steps * batch * width), kThreads, 0, stream>>>(
      steps, batch, width, lengths, batch_first, data);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_swap_axes(cudaStream_t stream, std::int64_t outer, std::int64_t inner,
                      std::int64_t width, const T* src, T* dst) {
  swap_axes_kernel<T><<<blocks_for(outer * inner * width), kThreads, 0, stream>>>(outer, inner,
                                                                                 width, src, dst);
  return cudaGetLastError();
}

#define FUSELSTM_INSTANTIATE(T)                                                              \
  template cudaError_t launch_zero_padded_steps<T>(cudaStream_t, std::int64_t, std::int64_t,        \
                                            std::int64_t, const std::int32_t*, bool, T*);    \
  template cudaError_t launch_swap_axes<T>(cudaStream_t, std::int64_t, std::int64_t, std::int64_t, \
                                    const T*, T*);                                           \
  template cudaError_t launch_reverse_time<T>(cudaStream_t, std::int64_t, std::int64_t, std::int64_t, \
                                       const std::int32_t*, const T*, std::int64_t,          \
                                       std::int64_t, T*, bool);                              \
  template cudaError_t launch_join_directions<T>(cudaStream_t, std::int64_t, std::int64_t,           \
                                          std::int64_t, const std::int32_t*, const T*,        \
                                          const T*, T*, bool);
FUSELSTM_INSTANTIATE(float)
FUSELSTM_INSTANTIATE(double)
#undef FUSELSTM_INSTANTIATE

}  // namespace fuselstm::kernels
