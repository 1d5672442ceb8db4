#pragma once
// cblas takes its sizes as 32-bit int; the ops pass int64. A host GEMM whose n exceeds INT_MAX is
// split into column blocks; one whose m, k or a leading dimension does not fit is refused (no
// split along n shrinks those). Separate from host_ops.cpp so the decision is tested directly,
// without allocating 2^31 columns.

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "fuselstm/error.hpp"
#include "ops/ops.hpp"

namespace fuselstm::ops {

/// The width of the column blocks that C [m, n] = α·op(A)·op(B) + β·C (column-major, cuBLAS's
/// arguments) is computed in: min(n, int_max). A pure function of the sizes, so a call always
/// splits the same way (and calls with n ≤ int_max are one block, unchanged). ShapeError naming the
/// argument and its value when m, k, lda, ldb or ldc exceeds int_max; with op(B) = Bᵀ, ldb ≥ n,
/// so an n above int_max is refused through ldb. Preconditions: m, n, k ≥ 0; n ≥ 1.
inline std::int64_t blas_column_block(std::int64_t m, std::int64_t n, std::int64_t k,
                                      std::int64_t lda, std::int64_t ldb, std::int64_t ldc,
                                      std::int64_t int_max = INT_MAX) {
  const std::pair<const char*, std::int64_t> fixed[] = {
      {"m", m}, {"k", k}, {"lda", lda}, {"ldb", ldb}, {"ldc", ldc}};
  for (const auto& [name, value] : fixed) {
    if (value > int_max) {
      throw ShapeError("fuselstm: host GEMM: " + std::string(name) + " = " + std::to_string(value) +
                       " exceeds the BLAS's 32-bit int limit " + std::to_string(int_max) +
                       " (m = " + std::to_string(m) + ", n = " + std::to_string(n) +
                       ", k = " + std::to_string(k) + ")");
    }
  }
  return std::min(n, int_max);
}

/// Calls call(width, b_offset, c_offset) for each column block of `block` columns of the GEMM
/// above, in order: the block's first column of op(B) starts at b + b_offset (column j of B when
/// trans_b is N, row j when T) and of C at c + c_offset.
template <typename Call>
void for_each_column_block(Trans trans_b, std::int64_t n, std::int64_t ldb, std::int64_t ldc,
                           std::int64_t block, Call call) {
  for (std::int64_t first = 0; first < n; first += block) {
    const std::int64_t width = std::min(block, n - first);
    call(width, trans_b == Trans::N ? first * ldb : first, first * ldc);
  }
}

}  // namespace fuselstm::ops
