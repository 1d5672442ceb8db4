#pragma once
// Shared helpers of the test suite: seeded data, model <-> reference conversion, tolerant
// comparison that names the failing case, tensor and index.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fuselstm/fuselstm.hpp"
#include "reference/reference.hpp"

namespace fuselstm::testing {

/// Why a GPU test cannot run here, or "" when a CUDA device is usable.
inline std::string gpu_skip_reason() {
  if (!cuda_compiled()) return "built without CUDA (FUSELSTM_CUDA=OFF)";
  if (cuda_device_count() == 0) return "no usable CUDA device (cudaGetDeviceCount failed or found none)";
  return "";
}

/// One test case's sizes, printable so a failure says which case broke.
struct Case {
  std::int64_t T, B, X, H, L;
  CellActivation cell = CellActivation::tanh;
  bool bias = true;
  bool bidirectional = false;
  std::int64_t D() const { return bidirectional ? 2 : 1; }
  std::string str() const {
    std::ostringstream s;
    s << "(T=" << T << ", B=" << B << ", X=" << X << ", H=" << H << ", L=" << L
      << ", cell=" << cell_activation_name(cell) << (bias ? "" : ", no bias")
      << (bidirectional ? ", bidirectional" : "") << ")";
    return s.str();
  }
  reference::Dims dims() const { return {T, B, X, H, L, bidirectional}; }
};

/// Uniform values in [lo, hi) from a seeded engine; never all zeros.
inline std::vector<double> random_values(std::size_t n, std::mt19937_64& rng, double lo = -1.0,
                                         double hi = 1.0) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (double& e : v) e = dist(rng);
  return v;
}

/// The model's parameters, read back into the reference's layout (in double).
inline reference::Params<double> params_of(const Lstm& model) { return reference::params_of(model); }

/// The reference parameter tensor called `name` ("weight_ih_l1", "bias_hh_l0_reverse", ...) of a
/// model with D directions (units are layer·D + direction).
inline std::vector<double>& param_by_name(reference::Params<double>& p, const std::string& name,
                                          std::int64_t D = 1) {
  const bool reverse = name.size() > 8 && name.compare(name.size() - 8, 8, "_reverse") == 0;
  const std::string plain = reverse ? name.substr(0, name.size() - 8) : name;
  const auto pos = plain.rfind("_l");
  const std::size_t unit = std::stoul(plain.substr(pos + 2)) * D + (reverse ? 1 : 0);
  const std::string base = plain.substr(0, pos);
  if (base == "weight_ih") return p.weight_ih[unit];
  if (base == "weight_hh") return p.weight_hh[unit];
  if (base == "bias_ih") return p.bias_ih[unit];
  return p.bias_hh[unit];
}

struct Comparison {
  double max_abs_error = 0;
  double max_rel_error = 0;  // |got − ref| / max(|ref|, tiny)
  std::size_t failures = 0;
};

/// Expects |got − ref| ≤ atol + rtol·|ref| for every element; reports the first few failures with
/// the case, the tensor and the index, and always the max errors.
inline Comparison expect_close(const std::vector<double>& got, const std::vector<double>& ref,
                               double atol, double rtol, const std::string& what) {
  Comparison c;
  EXPECT_EQ(got.size(), ref.size()) << what << ": size";
  const std::size_t n = std::min(got.size(), ref.size());
  for (std::size_t k = 0; k < n; ++k) {
    const double err = std::fabs(got[k] - ref[k]);
    c.max_abs_error = std::max(c.max_abs_error, std::isnan(err) ? INFINITY : err);
    c.max_rel_error = std::max(c.max_rel_error, err / std::max(std::fabs(ref[k]), 1e-300));
    if (!(err <= atol + rtol * std::fabs(ref[k]))) {
      if (++c.failures <= 5) {
        ADD_FAILURE() << what << "[" << k << "]: got " << got[k] << ", reference " << ref[k]
                      << " (|diff| " << err << " > " << atol << " + " << rtol << "*|ref|)";
      }
    }
  }
  if (c.failures) {
    ADD_FAILURE() << what << ": " << c.failures << " of " << n << " elements out of tolerance";
  }
  ::testing::Test::RecordProperty(what + " max_abs_error", std::to_string(c.max_abs_error));
  return c;
}

}  // namespace fuselstm::testing

// Skips the calling test, with the reason, when no CUDA device is usable.
#define FUSELSTM_REQUIRE_GPU()                                          \
  do {                                                                  \
    const std::string fuselstm_reason_ = ::fuselstm::testing::gpu_skip_reason(); \
    if (!fuselstm_reason_.empty()) GTEST_SKIP() << fuselstm_reason_;     \
  } while (0)
