#pragma once
// Launchers of the layer kernels (kernels/layer_kernels.cu): last-step gather, MLP activations,
// embedding. Stream first; all pointers are device memory; every launch is asynchronous and
// returns the launch's error.

#include <cuda_runtime_api.h>

#include <cstdint>

#include "layer_math.hpp"

namespace fuselstm::kernels {

template <typename T>
cudaError_t launch_gather_last_step(cudaStream_t stream, std::int64_t steps, std::int64_t batch,
                                    std::int64_t width, const std::int32_t* lengths,
                                    bool batch_first, const T* src, T* dst);
template <typename T>
cudaError_t launch_scatter_last_step(cudaStream_t stream, std::int64_t steps, std::int64_t batch,
                                     std::int64_t width, const std::int32_t* lengths,
                                     bool batch_first, const T* dlast, T* dsrc);
template <typename T>
cudaError_t launch_activation_forward(cudaStream_t stream, ActivationKind kind, std::int64_t n,
                                      const T* x, T* y);
template <typename T>
cudaError_t launch_activation_backward(cudaStream_t stream, ActivationKind kind, std::int64_t n,
                                       const T* y, const T* dy, T* dx);
template <typename T>
cudaError_t launch_embedding_forward(cudaStream_t stream, std::int64_t count, std::int64_t width,
                                     const std::int64_t* ids, const T* weight, T* out);
/// One thread per (segment, column): no atomics, a fixed summation order.
template <typename T>
cudaError_t launch_embedding_backward(cudaStream_t stream, std::int64_t segments,
                                      std::int64_t width, const std::int64_t* start,
                                      const std::int64_t* segment_id, const std::int64_t* order,
                                      const T* dout, T* dweight);

}  // namespace fuselstm::kernels
