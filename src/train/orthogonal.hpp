#pragma once
// The orthogonal factor of a square matrix (QR with sign-corrected columns). Internal; exposed for
// the tests, which compare the LAPACK and plain C++ versions.

#include <cstdint>
#include <vector>

namespace fuselstm::detail {

/// Q·diag(sign(R_jj)) of A = Q·R for a column-major n×n `a` (sign(0) = +1).
std::vector<double> orthogonal_factor(std::vector<double> a, std::int64_t n);
/// The same by Householder reflections in plain C++ (always available).
std::vector<double> orthogonal_factor_householder(std::vector<double> a, std::int64_t n);
/// True when orthogonal_factor uses LAPACK.
bool orthogonal_uses_lapack();

}  // namespace fuselstm::detail
