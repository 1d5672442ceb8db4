// The CUDA runtime behind memory.hpp, and the error helpers of cuda_check.hpp.

#include <cstdio>
#include <cstring>
#include <string>

#include "runtime/cuda/cuda_check.hpp"
#include "runtime/memory.hpp"
#include "fuselstm/error.hpp"

namespace fuselstm::detail {

namespace {
// "runtime.cpp:67: cudaMalloc(...)": the file's name without the build machine's source path.
std::string where(const char* call, const char* file, int line) {
  const char* name = std::strrchr(file, '/');
  return std::string(name ? name + 1 : file) + ":" + std::to_string(line) + ": " + call;
}
}  // namespace

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  cudaGetLastError();  // clear a sticky-free error so the model stays usable
  const std::string text = "fuselstm: CUDA error " + std::string(cudaGetErrorName(status)) + " (" +
                           cudaGetErrorString(status) + ") at " + where(call, file, line);
  if (status == cudaErrorMemoryAllocation) throw OutOfMemoryError(text);
  throw DeviceError(text);
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  const std::string text = "fuselstm: cuBLAS error " + std::string(cublasGetStatusName(status)) +
                           " (" + cublasGetStatusString(status) + ") at " +
                           where(call, file, line);
  if (status == CUBLAS_STATUS_ALLOC_FAILED) throw OutOfMemoryError(text);
  throw DeviceError(text);
}

void warn_cuda_error(cudaError_t status, const char* call, const char* file, int line) noexcept {
  if (status == cudaSuccess) return;
  const char* name = std::strrchr(file, '/');
  std::fprintf(stderr, "fuselstm: warning: CUDA error %s at %s:%d: %s\n",
               cudaGetErrorString(status), name ? name + 1 : file, line, call);
}

namespace cuda_runtime {
namespace {

// Makes `device` current for a runtime call that needs it (allocation, stream creation, ...) and
// restores the caller's device after: the library never leaves another device current. Never
// throws (used in noexcept paths too); a failure surfaces in the call it guards.
class DeviceOf {
public:
  explicit DeviceOf(int device) noexcept {
    if (cudaGetDevice(&previous_) != cudaSuccess) {
      cudaGetLastError();
      previous_ = -1;
    }
    if (previous_ != device) FUSELSTM_CUDA_WARN(cudaSetDevice(device));
    else previous_ = -1;
  }
  ~DeviceOf() {
    if (previous_ >= 0) FUSELSTM_CUDA_WARN(cudaSetDevice(previous_));
  }
  DeviceOf(const DeviceOf&) = delete;
  DeviceOf& operator=(const DeviceOf&) = delete;

private:
  int previous_ = -1;
};

}  // namespace

int device_count() noexcept {
  int count = 0;
  // Any error (no driver, no device, a broken install) means "no usable GPU".
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

std::int64_t free_bytes(int device) {
  const DeviceOf scope(device);
  std::size_t free_memory = 0, total_memory = 0;
  FUSELSTM_CUDA_CHECK(cudaMemGetInfo(&free_memory, &total_memory));
  return static_cast<std::int64_t>(free_memory);
}

std::string device_name(int device) {
  cudaDeviceProp prop{};
  FUSELSTM_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

void* allocate(int device, std::size_t bytes) {
  const DeviceOf scope(device);
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();
    std::size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    const std::string text = "fuselstm: cudaMalloc of " + std::to_string(bytes) +
                             " bytes on cuda:" + std::to_string(device) + " failed (" +
                             cudaGetErrorString(status) + "; " + std::to_string(free_bytes) +
                             " of " + std::to_string(total_bytes) + " bytes free)";
    if (status == cudaErrorMemoryAllocation) throw OutOfMemoryError(text);
    throw DeviceError(text);
  }
  return p;
}

// cudaFree waits for the device to finish the work already queued; the arena calls it only when
// it gives its cache back.
void free(int device, void* pointer) noexcept {
  const DeviceOf scope(device);
  FUSELSTM_CUDA_WARN(cudaFree(pointer));
}

int current_device() {
  int device = 0;
  FUSELSTM_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

void set_device(int device) { FUSELSTM_CUDA_CHECK(cudaSetDevice(device)); }

void* create_stream(int device) {
  const DeviceOf scope(device);
  cudaStream_t stream = nullptr;
  FUSELSTM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return stream;
}

void destroy_stream(int device, void* stream) noexcept {
  const DeviceOf scope(device);
  FUSELSTM_CUDA_WARN(cudaStreamDestroy(static_cast<cudaStream_t>(stream)));
}

void synchronize(int device, void* stream) {
  (void)device;  // a stream belongs to its device: no need to make it current
  FUSELSTM_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
}

void memset_async(int device, void* pointer, int byte, std::size_t bytes, void* stream) {
  (void)device;
  FUSELSTM_CUDA_CHECK(cudaMemsetAsync(pointer, byte, bytes, static_cast<cudaStream_t>(stream)));
}

void copy_async(void* dst, bool dst_on_device, const void* src, bool src_on_device,
                std::size_t bytes, int device, void* stream) {
  (void)device;
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice
                                                             : cudaMemcpyHostToDevice)
                                            : cudaMemcpyDeviceToHost;
  const auto s = static_cast<cudaStream_t>(stream);
  FUSELSTM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, s));
  if (!dst_on_device) FUSELSTM_CUDA_CHECK(cudaStreamSynchronize(s));  // the host reads it next
}

void order_after(int device, void* producer, void* consumer) {
  (void)device;
  cudaEvent_t event = nullptr;
  FUSELSTM_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  const cudaError_t recorded = cudaEventRecord(event, static_cast<cudaStream_t>(producer));
  const cudaError_t waited =
      recorded == cudaSuccess
          ? cudaStreamWaitEvent(static_cast<cudaStream_t>(consumer), event, 0)
          : recorded;
  FUSELSTM_CUDA_WARN(cudaEventDestroy(event));  // destroying a recorded event is safe
  FUSELSTM_CUDA_CHECK(waited);
}

}  // namespace cuda_runtime
}  // namespace fuselstm::detail
