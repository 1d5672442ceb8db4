// The CUDA runtime side of gpu_helper.hpp; compiled only when FUSELSTM_CUDA is on.

#include "gpu_helper.hpp"

#include <cuda_runtime_api.h>

#include <cstdio>

#include "fuselstm/error.hpp"

#define BENCH_CUDA_CHECK(call)                                                                 \
  do {                                                                                         \
    const cudaError_t bench_status_ = (call);                                                  \
    if (bench_status_ != cudaSuccess) {                                                        \
      throw ::fuselstm::DeviceError(std::string("fuselstm_bench: CUDA error ") +               \
                                    cudaGetErrorName(bench_status_) + " (" +                   \
                                    cudaGetErrorString(bench_status_) + ") at " __FILE__ ":" + \
                                    std::to_string(__LINE__) + ": " #call);                    \
    }                                                                                          \
  } while (0)

// For destructors: print, never throw.
#define BENCH_CUDA_WARN(call)                                                     \
  do {                                                                            \
    const cudaError_t bench_status_ = (call);                                     \
    if (bench_status_ != cudaSuccess)                                             \
      std::fprintf(stderr, "fuselstm_bench: warning: %s at %s:%d: %s\n",          \
                   cudaGetErrorString(bench_status_), __FILE__, __LINE__, #call); \
  } while (0)

namespace fuselstm::bench::gpu {

Properties properties(int device) {
  Properties p;
  cudaDeviceProp prop{};
  BENCH_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  p.name = prop.name;
  BENCH_CUDA_CHECK(cudaDriverGetVersion(&p.driver_version));
  BENCH_CUDA_CHECK(cudaRuntimeGetVersion(&p.runtime_version));
  int value = 0;
  BENCH_CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, device));
  p.multiprocessors = value;
  BENCH_CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrL2CacheSize, device));
  p.l2_bytes = value;
  p.total_bytes = static_cast<std::int64_t>(prop.totalGlobalMem);
  return p;
}

MemoryInfo memory_info(int device) {
  BENCH_CUDA_CHECK(cudaSetDevice(device));
  std::size_t free_bytes = 0, total_bytes = 0;
  BENCH_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return {static_cast<std::int64_t>(free_bytes), static_cast<std::int64_t>(total_bytes)};
}

void copy_to_device(int device, void* dst, const void* src, std::size_t bytes) {
  BENCH_CUDA_CHECK(cudaSetDevice(device));
  BENCH_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

Stream::Stream(int device) : device_(device) {
  BENCH_CUDA_CHECK(cudaSetDevice(device_));
  cudaStream_t s = nullptr;
  BENCH_CUDA_CHECK(cudaStreamCreate(&s));
  stream_ = s;
}

Stream::~Stream() {
  BENCH_CUDA_WARN(cudaSetDevice(device_));
  BENCH_CUDA_WARN(cudaStreamDestroy(static_cast<cudaStream_t>(stream_)));
}

void Stream::synchronize() {
  BENCH_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_)));
}

EventTimer::EventTimer(int device, void* stream) : device_(device), stream_(stream) {
  BENCH_CUDA_CHECK(cudaSetDevice(device_));
  cudaEvent_t b = nullptr, e = nullptr;
  BENCH_CUDA_CHECK(cudaEventCreate(&b));
  begin_ = b;
  BENCH_CUDA_CHECK(cudaEventCreate(&e));
  end_ = e;
}

EventTimer::~EventTimer() {
  BENCH_CUDA_WARN(cudaSetDevice(device_));
  if (begin_) BENCH_CUDA_WARN(cudaEventDestroy(static_cast<cudaEvent_t>(begin_)));
  if (end_) BENCH_CUDA_WARN(cudaEventDestroy(static_cast<cudaEvent_t>(end_)));
}

void EventTimer::start() {
  BENCH_CUDA_CHECK(
      cudaEventRecord(static_cast<cudaEvent_t>(begin_), static_cast<cudaStream_t>(stream_)));
}

double EventTimer::stop_ms() {
  BENCH_CUDA_CHECK(
      cudaEventRecord(static_cast<cudaEvent_t>(end_), static_cast<cudaStream_t>(stream_)));
  BENCH_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(end_)));
  // A launch that failed asynchronously must not turn into a fast-looking time.
  BENCH_CUDA_CHECK(cudaGetLastError());
  float ms = 0;
  BENCH_CUDA_CHECK(
      cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(begin_), static_cast<cudaEvent_t>(end_)));
  return ms;
}

}  // namespace fuselstm::bench::gpu
