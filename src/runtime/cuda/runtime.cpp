// The CUDA runtime behind memory.hpp, and the error helpers of cuda_check.hpp.

#include <cstdio>
#include <string>

#include "runtime/memory.hpp"
#include "runtime/cuda/cuda_check.hpp"
#include "fuselstm/error.hpp"

namespace fuselstm::detail {

namespace {
std::string where(const char* call, const char* file, int line) {
  return std::string(file) + ":" + std::to_string(line) + ": " + call;
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
  std::fprintf(stderr, "fuselstm: warning: CUDA error %s at %s:%d: %s\n",
               cudaGetErrorString(status), file, line, call);
}

namespace cuda_runtime {

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
  FUSELSTM_CUDA_CHECK(cudaSetDevice(device));
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
  FUSELSTM_CUDA_CHECK(cudaSetDevice(device));
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

// cudaFree waits for the device to finish the work already queued, so a tensor may die right
// after the kernels that use it have been launched.
void free(int device, void* pointer) noexcept {
  FUSELSTM_CUDA_WARN(cudaSetDevice(device));
  FUSELSTM_CUDA_WARN(cudaFree(pointer));
}

void memset(int device, void* pointer, int byte, std::size_t bytes) {
  FUSELSTM_CUDA_CHECK(cudaSetDevice(device));
  FUSELSTM_CUDA_CHECK(cudaMemset(pointer, byte, bytes));
}

void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, std::size_t bytes,
          int device) {
  FUSELSTM_CUDA_CHECK(cudaSetDevice(device));
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice
                                                             : cudaMemcpyHostToDevice)
                                            : cudaMemcpyDeviceToHost;
  FUSELSTM_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

}  // namespace cuda_runtime
}  // namespace fuselstm::detail
