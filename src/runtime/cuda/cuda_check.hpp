#pragma once
// One macro family for every CUDA runtime and cuBLAS status: throw a library exception with
// file:line, the call and the API's error text. The _WARN variants only print (for destructors).

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

namespace fuselstm::detail {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file,
                                   int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file,
                                     int line);
void warn_cuda_error(cudaError_t status, const char* call, const char* file, int line) noexcept;

}  // namespace fuselstm::detail

#define FUSELSTM_CUDA_CHECK(call)                                                    \
  do {                                                                               \
    const cudaError_t fuselstm_status_ = (call);                                     \
    if (fuselstm_status_ != cudaSuccess)                                             \
      ::fuselstm::detail::throw_cuda_error(fuselstm_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define FUSELSTM_CUBLAS_CHECK(call)                                                      \
  do {                                                                                   \
    const cublasStatus_t fuselstm_status_ = (call);                                      \
    if (fuselstm_status_ != CUBLAS_STATUS_SUCCESS)                                       \
      ::fuselstm::detail::throw_cublas_error(fuselstm_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define FUSELSTM_CUDA_WARN(call) \
  ::fuselstm::detail::warn_cuda_error((call), #call, __FILE__, __LINE__)
