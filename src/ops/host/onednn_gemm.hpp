#pragma once
// The host's float32 GEMMs through oneDNN's sgemm (dnnl_sgemm: JIT kernels for the CPU's widest
// instruction set, found at run time), when the build found oneDNN. OpenBLAS's dynamic kernels
// miss recent CPUs (0.3.21 runs its SSE3 kernels on Sapphire/Emerald Rapids: 42-52 GFLOP/s on
// two cores at a training step's shapes, where oneDNN's run 184-311; bench/RESULTS.md), and
// oneDNN is what PyTorch's CPU LSTM runs. Double stays on the BLAS (oneDNN has no dgemm).
// Internal.

#include <cstdint>

#include "ops/ops.hpp"

namespace fuselstm::ops {

/// Whether float32 host GEMMs go to oneDNN: built with it, and FUSELSTM_HOST_SGEMM is unset or
/// "onednn" ("blas": the build's cblas, e.g. to compare, or to test other BLAS kernels). Read once
/// per process.
bool onednn_sgemm_selected();

/// "oneDNN 2.6.3 (avx512_core)": the library, its version and the instruction set its kernels
/// use now (ONEDNN_MAX_CPU_ISA caps it); empty when not selected.
const char* onednn_sgemm_description();

/// Ops::weight_gradients_transposed on the host, decided once per process: FUSELSTM_HOST_DW =
/// transposed | direct forces a form (any element type); otherwise direct (dW += daᵀ·h) for
/// float32 on oneDNN's sgemm on an AMD CPU, where it ran training steps 3-10% faster (2-core
/// Zen 4: bench/RESULTS.md), and transposed everywhere else (1.3-1.5x faster GEMMs on an Intel
/// Xeon).
bool host_weight_gradients_transposed(bool float32_on_onednn);

/// C = alpha·op(A)·op(B) + beta·C in cuBLAS's column-major convention (ops.hpp's gemm).
/// Throws fuselstm::Error when oneDNN refuses the call (or the build has no oneDNN).
void onednn_sgemm(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                  float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
                  float beta, float* c, std::int64_t ldc);

}  // namespace fuselstm::ops
