#pragma once
// Launchers of the training toolkit's kernels (kernels/train_kernels.cu): heads, losses, optimizer
// updates, clipping, reductions, dropout. Stream first; all pointers are device memory; every
// launch is asynchronous and checked.

#include <cuda_runtime_api.h>

#include <cstdint>

#include "dropout_math.hpp"
#include "loss_math.hpp"
#include "optim_math.hpp"

namespace fuselstm::kernels {

template <typename T>
cudaError_t launch_broadcast_rows(cudaStream_t stream, std::int64_t rows, std::int64_t cols, const T* src,
                           T* dst);
template <typename T>
cudaError_t launch_scale(cudaStream_t stream, std::int64_t n, T alpha, T* x);
template <typename T>
cudaError_t launch_clamp(cudaStream_t stream, std::int64_t n, T low, T high, T* x);
/// One block: each thread sums a fixed stride of elements, then a fixed shared-memory tree; the
/// order never depends on timing, so the result is bitwise reproducible.
template <typename T>
cudaError_t launch_reduce(cudaStream_t stream, ReduceKind kind, std::int64_t n, const T* src, double* out);
template <typename T>
cudaError_t launch_mse_loss(cudaStream_t stream, const MseArgs<T>& args);
/// One thread per row (K classes in a loop).
template <typename T>
cudaError_t launch_cross_entropy_loss(cudaStream_t stream, const CrossEntropyArgs<T>& args);
template <typename T>
cudaError_t launch_sgd_update(cudaStream_t stream, std::int64_t n, const SgdStepArgs<T>& args);
template <typename T>
cudaError_t launch_adam_update(cudaStream_t stream, std::int64_t n, const AdamStepArgs<T>& args);
template <typename T>
cudaError_t launch_dropout(cudaStream_t stream, std::int64_t n, const DropoutKey& key, const T* src,
                    T* dst);

}  // namespace fuselstm::kernels
