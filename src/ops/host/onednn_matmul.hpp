#pragma once
// The host's float32 weight products (Ops::weight_gemm: the input projection and dx, whose A is
// W_ih) through oneDNN's matmul primitive, with A packed once into the layout the primitive's
// kernels read and reused while the orchestration says it has not changed. On the 2-core Zen 4
// dev VM (brgemm kernels) those products ran at 216-220 GFLOP/s inside a training step against
// 199-211 for dnnl_sgemm, which repacks A on every call (bench/RESULTS.md, session 10).
// Internal.

#include <cstdint>
#include <memory>
#include <string>

#include "ops/ops.hpp"

namespace fuselstm::ops {

/// Whether weight products go to oneDNN's matmul: onednn_sgemm_selected(), and
/// FUSELSTM_HOST_WEIGHT_GEMM unset or "matmul" ("sgemm": dnnl_sgemm, as every other product).
/// Read once per process.
bool onednn_weight_matmul_selected();

/// One host ops object's matmul primitives and packed weights (two: one per layout of A, so the
/// projection's W_ihᵀ and dx's W_ih, which alternate when backward recomputes, each stay packed).
/// Thread-safe: calls from different threads are serialised.
class OneDnnWeightMatmul {
public:
  OneDnnWeightMatmul();
  ~OneDnnWeightMatmul();
  OneDnnWeightMatmul(const OneDnnWeightMatmul&) = delete;
  OneDnnWeightMatmul& operator=(const OneDnnWeightMatmul&) = delete;

  /// C = op(A)·op(B) + beta·C in cuBLAS's column-major convention (ops.hpp's gemm, alpha = 1).
  /// `a_unchanged`: A holds what it held when last packed from this address with this layout,
  /// so the packed copy may be used (false: packed again). Returns false, computing nothing, when
  /// oneDNN offers no matmul for the shape; throws fuselstm::Error when one fails to run.
  bool run(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
           const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta,
           float* c, std::int64_t ldc, bool a_unchanged);

  /// Times A was packed (tests: a promised-unchanged A is not packed again).
  std::int64_t packs() const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace fuselstm::ops
