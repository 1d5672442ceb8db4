#pragma once
// Launchers of the persistent recurrent kernels (kernels/persistent_kernels.cu; the algorithm,
// partition and eligibility are in persistent_math.hpp). Stream first; all pointers are device
// memory; the device is current. Opt-in only (RecurrentAlgorithm::persistent).

#include <cuda_runtime_api.h>

#include "persistent_math.hpp"

namespace fuselstm::kernels {

/// The attributes eligibility needs, of the current device `device`.
cudaError_t query_persistent_device(int device, PersistentDevice* out);

/// plan_persistent for (hidden, batch, T) on `device`, then the co-residency check with the
/// occupancy of the kernel that would run (forward or backward, tanh or identity cell).
template <typename T>
cudaError_t plan_persistent_call(const PersistentDevice& device, bool backward, bool tanh_cell,
                                 std::int64_t hidden, std::int64_t batch, PersistentPlan* out);

/// One cooperative launch that runs forward steps [a.first, a.end); `plan` eligible, of
/// (a.hidden, a.batch).
template <typename T>
cudaError_t launch_persistent_forward(cudaStream_t stream, bool tanh_cell,
                                      const PersistentPlan& plan,
                                      const ForwardRecurrenceArgs<T>& a);

/// One cooperative launch that runs backward steps a.end − 1 down to a.first; `scratch` holds
/// plan.scratch_elements() elements (its contents are not read before written).
template <typename T>
cudaError_t launch_persistent_backward(cudaStream_t stream, bool tanh_cell,
                                       const PersistentPlan& plan,
                                       const BackwardRecurrenceArgs<T>& a, T* scratch);

}  // namespace fuselstm::kernels
