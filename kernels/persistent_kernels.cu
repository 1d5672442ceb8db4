// The persistent recurrent kernels: one cooperative launch per call runs every step of one layer
// and direction; each block keeps its slice of W_hh in shared memory and runs the per-block
// functions of persistent_math.hpp, with one grid-wide barrier (cooperative groups) per step.
// The host twin (persistent_twin.hpp) runs the same functions in CI; an H200 ran the kernels
// (bench/RESULTS.md, session 9): correct, memcheck and racecheck clean.

#include <cooperative_groups.h>

#include "persistent_launch.hpp"

namespace fuselstm::kernels {
namespace {

namespace cg = cooperative_groups;

// One block of kPersistentThreads threads: the team the per-block functions are written against.
// The members are host-and-device so the templates compile in both passes; only the device code
// ever calls them.
struct PersistentDeviceTeam {
  FUSELSTM_HD int thread() const {
#if defined(__CUDA_ARCH__)
    return static_cast<int>(threadIdx.x);
#else
    return 0;
#endif
  }
  FUSELSTM_HD int threads() const { return kPersistentThreads; }
  FUSELSTM_HD int warp() const { return thread() / kPersistentLanes; }
  FUSELSTM_HD int warps() const { return kPersistentThreads / kPersistentLanes; }
  FUSELSTM_HD bool leader() const { return thread() % kPersistentLanes == 0; }
  // Every lane of the warp calls this (the item loops are per warp) and gets the same sums:
  // lane l adds its value and lane l ⊕ offset's, offsets 16..1 (the twin adds in this order).
  template <typename T, int N>
  FUSELSTM_HD void dot(const T* w, std::int64_t w_stride, const T* x, std::int64_t n,
                       T (&sum)[N]) const {
    lane_partial<N>(thread() % kPersistentLanes, w, w_stride, x, n, sum);
#if defined(__CUDA_ARCH__)
    for (int offset = kPersistentLanes / 2; offset > 0; offset /= 2) {
      for (int g = 0; g < N; ++g) sum[g] += __shfl_xor_sync(0xffffffffu, sum[g], offset);
    }
#endif
  }
};

template <typename T, bool kTanhCell>
__global__ void __launch_bounds__(kPersistentThreads)
    persistent_forward_kernel(ForwardRecurrenceArgs<T> a, PersistentPlan p) {
  extern __shared__ __align__(16) unsigned char persistent_shared[];  // the W_hh slice
  T* slice = reinterpret_cast<T*>(persistent_shared);
  const PersistentDeviceTeam team;
  const int block = static_cast<int>(blockIdx.x);
  persistent_load_slice(team, a.weight_hh, p, block, slice);
  __syncthreads();
  cg::grid_group grid = cg::this_grid();
  for (std::int64_t t = a.first; t < a.end; ++t) {
    persistent_forward_block_step<T, kTanhCell>(team, a, p, block, t, slice);
    if (t + 1 < a.end) grid.sync();  // h(t) of every unit is written before step t+1 reads it
  }
}

template <typename T, bool kTanhCell>
__global__ void __launch_bounds__(kPersistentThreads)
    persistent_backward_kernel(BackwardRecurrenceArgs<T> a, PersistentPlan p, T* scratch) {
  extern __shared__ __align__(16) unsigned char persistent_shared[];  // the W_hh slice
  T* slice = reinterpret_cast<T*>(persistent_shared);
  const PersistentDeviceTeam team;
  const int block = static_cast<int>(blockIdx.x);
  persistent_load_slice(team, a.weight_hh, p, block, slice);
  __syncthreads();
  cg::grid_group grid = cg::this_grid();
  const std::int64_t part = a.batch * a.hidden;
  for (std::int64_t t = a.end - 1; t >= a.first; --t) {
    persistent_backward_cell<T, kTanhCell>(team, a, p, block, t);
    __syncthreads();  // da(t) of the block's columns, written by its threads, read by all of them
    T* partials = persistent_partials_at(p, scratch, t);
    persistent_backward_partial(team, a, p, block, t, slice, partials + block * part);
    grid.sync();  // every block's partial product of step t is written
    persistent_backward_reduce(team, a, p, block, partials);
    __syncthreads();  // dh_rec of the block's units is written before the next cell step reads it
  }
}

template <typename T, bool kTanhCell>
const void* kernel_of(bool backward) {
  return backward ? reinterpret_cast<const void*>(persistent_backward_kernel<T, kTanhCell>)
                  : reinterpret_cast<const void*>(persistent_forward_kernel<T, kTanhCell>);
}

template <typename T>
const void* kernel_of(bool backward, bool tanh_cell) {
  return tanh_cell ? kernel_of<T, true>(backward) : kernel_of<T, false>(backward);
}

// Above 48 KiB a kernel must opt in to its dynamic shared memory.
cudaError_t allow_shared(const void* kernel, std::int64_t bytes) {
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(bytes));
}

}  // namespace

cudaError_t query_persistent_device(int device, PersistentDevice* out) {
  int sms = 0, shared = 0, cooperative = 0;
  cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (e == cudaSuccess)
    e = cudaDeviceGetAttribute(&shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device);
  if (e != cudaSuccess) return e;
  out->multiprocessors = sms;
  out->shared_per_block = shared;
  out->cooperative_launch = cooperative != 0;
  return cudaSuccess;
}

template <typename T>
cudaError_t plan_persistent_call(const PersistentDevice& device, bool backward, bool tanh_cell,
                                 std::int64_t hidden, std::int64_t batch, PersistentPlan* out) {
  *out = plan_persistent(hidden, batch, sizeof(T), device);
  if (!out->eligible) return cudaSuccess;
  const void* kernel = kernel_of<T>(backward, tanh_cell);
  cudaError_t e = allow_shared(kernel, out->shared_bytes);
  int active = 0;
  if (e == cudaSuccess) {
    e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&active, kernel, kPersistentThreads,
                                                      static_cast<std::size_t>(out->shared_bytes));
  }
  if (e != cudaSuccess) return e;
  persistent_check_occupancy(*out, device, active);
  return cudaSuccess;
}

template <typename T>
cudaError_t launch_persistent_forward(cudaStream_t stream, bool tanh_cell,
                                      const PersistentPlan& plan,
                                      const ForwardRecurrenceArgs<T>& a) {
  if (a.end <= a.first) return cudaSuccess;
  const void* kernel = kernel_of<T>(false, tanh_cell);
  cudaError_t e = allow_shared(kernel, plan.shared_bytes);
  if (e != cudaSuccess) return e;
  ForwardRecurrenceArgs<T> args = a;
  PersistentPlan p = plan;
  void* params[] = {&args, &p};
  return cudaLaunchCooperativeKernel(kernel, dim3(static_cast<unsigned>(plan.blocks)),
                                     dim3(kPersistentThreads), params,
                                     static_cast<std::size_t>(plan.shared_bytes), stream);
}

template <typename T>
cudaError_t launch_persistent_backward(cudaStream_t stream, bool tanh_cell,
                                       const PersistentPlan& plan,
                                       const BackwardRecurrenceArgs<T>& a, T* scratch) {
  if (a.end <= a.first) return cudaSuccess;
  const void* kernel = kernel_of<T>(true, tanh_cell);
  cudaError_t e = allow_shared(kernel, plan.shared_bytes);
  if (e != cudaSuccess) return e;
  BackwardRecurrenceArgs<T> args = a;
  PersistentPlan p = plan;
  T* s = scratch;
  void* params[] = {&args, &p, &s};
  return cudaLaunchCooperativeKernel(kernel, dim3(static_cast<unsigned>(plan.blocks)),
                                     dim3(kPersistentThreads), params,
                                     static_cast<std::size_t>(plan.shared_bytes), stream);
}

#define FUSELSTM_PERSISTENT_INSTANTIATE(T)                                                      \
  template cudaError_t plan_persistent_call<T>(const PersistentDevice&, bool, bool, std::int64_t, \
                                               std::int64_t, PersistentPlan*);                    \
  template cudaError_t launch_persistent_forward<T>(cudaStream_t, bool, const PersistentPlan&,    \
                                                    const ForwardRecurrenceArgs<T>&);             \
  template cudaError_t launch_persistent_backward<T>(cudaStream_t, bool, const PersistentPlan&,   \
                                                     const BackwardRecurrenceArgs<T>&, T*);
FUSELSTM_PERSISTENT_INSTANTIATE(float)
FUSELSTM_PERSISTENT_INSTANTIATE(double)
#undef FUSELSTM_PERSISTENT_INSTANTIATE

}  // namespace fuselstm::kernels
