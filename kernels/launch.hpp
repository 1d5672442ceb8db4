#pragma once
// Launchers of the fused kernels (kernels/lstm_kernels.cu). Stream first; all pointers are device
// memory; every launch is asynchronous and checked.

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cell_math.hpp"

namespace fuselstm::kernels {

template <typename T>
cudaError_t launch_forward_step(cudaStream_t stream, bool tanh_cell, const ForwardStepArgs<T>& args);
template <typename T>
cudaError_t launch_backward_step(cudaStream_t stream, bool tanh_cell, const BackwardStepArgs<T>& args);
/// dst[j] += Σ_r src[r·cols + j], in a fixed order (no atomics).
template <typename T>
cudaError_t launch_add_column_sums(cudaStream_t stream, std::int64_t rows, std::int64_t cols,
                            const T* src, T* dst);
template <typename T>
cudaError_t launch_axpy(cudaStream_t stream, std::int64_t n, T alpha, const T* x, T* y);
template <typename T>
cudaError_t launch_fill(cudaStream_t stream, T* dst, std::int64_t n, T value);

/// kernels/sequence_kernels.cu: see sequence_math.hpp.
template <typename T>
cudaError_t launch_zero_padded_steps(cudaStream_t stream, std::int64_t steps, std::int64_t batch,
                              std::int64_t width, const std::int32_t* lengths, bool batch_first,
                              T* data);
template <typename T>
cudaError_t launch_swap_axes(cudaStream_t stream, std::int64_t outer, std::int64_t inner,
                      std::int64_t width, const T* src, T* dst);

template <typename T>
cudaError_t launch_reverse_time(cudaStream_t stream, std::int64_t steps, std::int64_t batch,
                         std::int64_t width, const std::int32_t* lengths, const T* src,
                         std::int64_t src_step, std::int64_t src_batch, T* dst, bool accumulate);
template <typename T>
cudaError_t launch_join_directions(cudaStream_t stream, std::int64_t steps, std::int64_t batch,
                            std::int64_t hidden, const std::int32_t* lengths, const T* fwd,
                            const T* rev, T* out, bool batch_first);

}  // namespace fuselstm::kernels
