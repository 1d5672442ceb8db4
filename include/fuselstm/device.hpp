#pragma once
// Where tensors live and where computation runs.

#include <string>

namespace fuselstm {

/// A compute device: the host CPU or CUDA device `index`.
struct Device {
  enum class Kind { cpu, cuda };
  Kind kind = Kind::cpu;
  int index = 0;

  static Device cpu() { return {Kind::cpu, 0}; }
  static Device cuda(int index = 0) { return {Kind::cuda, index}; }
  /// Parses "cpu", "cuda" or "cuda:N"; throws ValueError naming the text otherwise.
  static Device parse(const std::string& text);

  bool is_cpu() const { return kind == Kind::cpu; }
  bool is_cuda() const { return kind == Kind::cuda; }
  /// "cpu" or "cuda:N".
  std::string str() const;

  friend bool operator==(const Device& a, const Device& b) {
    return a.kind == b.kind && (a.kind == Kind::cpu || a.index == b.index);
  }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }
};

/// True when the library was built with CUDA support.
bool cuda_compiled();

/// Number of usable CUDA devices; 0 when built without CUDA, when there is no driver, or when the
/// runtime reports any error (some drivers return an error rather than 0 on a machine without GPU).
int cuda_device_count();

/// The best device available: cuda:0 when a CUDA device is usable, else cpu.
Device default_device();

/// Human-readable name of the device ("NVIDIA H100 80GB HBM3", "cpu").
std::string device_name(const Device& device);

/// What the CPU's matrix products and recurrent steps run on in this process, for logs and bug
/// reports, e.g. "float32: oneDNN 2.6.3 (avx512_core); float64: OpenBLAS (Prescott kernels);
/// recurrent steps: OpenMP's threads". Float32 uses oneDNN's sgemm when the build has it
/// (FUSELSTM_HOST_SGEMM=blas: the BLAS), and for the products with W_ih (the input projection,
/// dx) oneDNN's matmul primitive with W_ih packed once per call (FUSELSTM_HOST_WEIGHT_GEMM=sgemm:
/// the sgemm), float64 the BLAS (OPENBLAS_CORETYPE chooses OpenBLAS's
/// kernels), either plain loops in a build without them; the persistent recurrence runs on
/// OpenMP's threads when the build has OpenMP (FUSELSTM_HOST_POOL=own: threads of its own).
std::string host_gemm_description();

}  // namespace fuselstm
