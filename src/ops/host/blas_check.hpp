#pragma once
// A one-time note when OpenBLAS runs kernels far below what the CPU can do.

namespace fuselstm::ops {

/// Once per process, when OPENBLAS_CORETYPE is unset, OpenBLAS reports a pre-AVX2 core (its
/// fallback for CPU models it does not know, e.g. "Prescott" on recent Xeons with OpenBLAS
/// 0.3.21) and this CPU has AVX2+FMA: prints to stderr which OPENBLAS_CORETYPE to start the
/// program with (OpenBLAS reads it when it loads, so the library cannot set it). Silent with any
/// other BLAS, or when FUSELSTM_QUIET_BLAS is set.
void note_slow_openblas_kernels();

}  // namespace fuselstm::ops
