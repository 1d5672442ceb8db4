#pragma once
// Validation before timing. A configuration is timed only when both checks pass:
// 1. a small case of the same configuration (device, cell, layers, precision) against the
//    double-precision reference (src/reference/reference.hpp);
// 2. the timed shape itself (B, X, H, L; T capped at --validate-steps) in f32 against fuselstm's
//    own path in f64 on the same device (on a GPU: the CUDA path in f64), same weights and inputs;
// 3. for the recompute and automatic memory modes, that capped shape recomputed in segments is
//    bitwise equal to the store_all path in f32 (the library's promise on one device).
// Checks 1 and 2 run the recompute path (several segments) whenever the case's mode is not
// store_all, so the path that is timed is the path that was checked.

#include <cstdint>
#include <string>
#include <vector>

#include "bench_case.hpp"
#include "problem.hpp"

namespace fuselstm::bench {

struct Validation {
  std::string what;      // "small case vs reference (f64, host)" / "timed shape vs CUDA f64"
  Dims dims;             // the sizes it ran on
  double threshold = 0;  // on scaled_max_error
  bool ran = false;      // false: skipped, see note
  bool passed = false;
  double max_error = 0;                                // the worst tensor's error
  std::string worst_tensor;                            // its name
  std::vector<std::pair<std::string, double>> errors;  // every tensor's scaled max error
  std::string note;
};

/// Thresholds on scaled_max_error (max|diff| / max|ref| per tensor). fp32 rounds each product at
/// 6e-8 relative; sums over up to T·B rows (weight gradients) and T steps of the cell-state
/// recursion grow that to ~1e-6..1e-5, so 1e-4 on a small case and 1e-3 on a long timed shape
/// leave margin while any indexing or math bug (errors of order 1) fails. TF32 products round
/// their inputs to 10 mantissa bits (5e-4 relative): 1e-2 and 2e-2.
double small_case_threshold(Precision p);
double timed_shape_threshold(Precision p);

/// The small sizes used for check 1: min(T, 7), min(B, 3), min(X, 11), min(H, 13), the same L.
Dims small_dims(const BenchCase& c);

/// `c` at T = steps with the memory mode the checks run: store_all stays; recompute and automatic
/// become recompute with k = `timed_k` when that gives several segments of `steps`, else ⌈√steps⌉
/// (k = 3 of 7 steps on the small case): the segment walk is exercised even when the timed k is
/// longer than the capped T.
BenchCase checked_case(const BenchCase& c, std::int64_t steps, std::int64_t timed_k);

/// Check 1. `seed` picks the weights and inputs.
Validation validate_small_case(const BenchCase& c, std::uint64_t seed);

/// Check 2 at T = steps (the caller fits it in memory), in checked's memory mode. On success fills `problem` and
/// `outputs` with the f32 run's inputs and results, which the cuDNN peer is compared with.
Validation validate_against_f64(const BenchCase& c, std::int64_t steps, std::uint64_t seed,
                                Problem& problem, Outputs& outputs);

/// Check 3: `outputs` (the recompute run of check 2 on `problem`) against store_all in f32 on the
/// same weights and inputs; passes only when every value of every tensor is bitwise equal.
Validation validate_bitwise_vs_stored(const BenchCase& checked, std::uint64_t seed,
                                      const Problem& problem, const Outputs& outputs);

/// The LstmConfig of a case (bias on, like PyTorch and cuDNN's double bias).
LstmConfig lstm_config(const BenchCase& c, DType dtype, void* cuda_stream = nullptr);

}  // namespace fuselstm::bench
