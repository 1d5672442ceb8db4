#pragma once
// The two ceilings a measured time is compared with: the arithmetic peak for the precision used
// and the memory bandwidth. On GPUs they come from a documented table keyed by the device name
// (datasheet figures, dense, no sparsity); on the CPU they are measured once with OpenBLAS.

#include <string>

namespace fuselstm::bench {

struct Ceilings {
  double fp32_flops = 0;   // FLOP/s of plain fp32 FMA (0: unknown)
  double tf32_flops = 0;   // FLOP/s of TF32 tensor cores (0: unknown or none)
  double bytes_per_s = 0;  // memory bandwidth (0: unknown)
  std::string source;      // where the figures come from, for the JSON and the table
};

/// Datasheet figures for the GPU called `name` (as cudaDeviceProp::name reports it):
///   H100 SXM (and "H100 80GB HBM3"): fp32 67 TFLOP/s, TF32 495, HBM 3.35 TB/s
///   H100 PCIe: 51 / 378 / 2.0      H100 NVL: 60 / 418 / 3.9
///   H200: 67 / 495 / 4.8 (same compute as H100 SXM)      GH200: 67 / 495 / 4.0
///   A100 (SXM or PCIe): 19.5 / 156 / 2.0 (80 GB) or 1.555 (40 GB)
/// Unknown names give zeros (the fraction of peak is then reported as unknown).
Ceilings gpu_ceilings_from_table(const std::string& name);

/// The host's fp32 "peak": the best of a few large OpenBLAS sgemm calls (n = 2048, all BLAS
/// threads), and its bandwidth: the best of a few 256 MiB memcpy (bytes read + written).
/// Measured once per process and cached. Zeros when the bench was built without cblas.
const Ceilings& cpu_ceilings();

/// What BLAS the bench and the library use on the host ("OpenBLAS 0.3.21 ... (2 threads)").
std::string host_blas_description();
/// OpenBLAS's thread count (what the library's host GEMMs use); 1 when unknown.
int host_blas_threads();

}  // namespace fuselstm::bench
