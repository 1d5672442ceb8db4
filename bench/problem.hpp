#pragma once
// Seeded inputs of one (T, B, X, H, L) problem, one forward+backward through an Lstm on them, and
// the comparison metric the bench uses everywhere.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fuselstm/fuselstm.hpp"
#include "reference/reference.hpp"

namespace fuselstm::bench {

struct Dims {
  std::int64_t T = 0, B = 0, X = 0, H = 0, L = 0;
};

/// Inputs in double, uniform and never zero: x, dy in [-1, 1); h0, c0 in [-0.5, 0.5); dhT, dcT in
/// [-1, 1). Shapes: x [T, B, X], dy [T, B, H], h0, c0, dhT, dcT [L, B, H].
struct Problem {
  Dims dims;
  std::vector<double> x, h0, c0, dy, dhT, dcT;
};
Problem make_problem(const Dims& dims, std::uint64_t seed);
/// Rounds every input to float, so a float model and a double model see the same numbers.
void round_to_float(Problem& p);

/// What one forward+backward returns, in double: y, hT, cT, dx, dh0, dc0, then one gradient per
/// parameter in Lstm::parameter_names() order.
struct Outputs {
  std::vector<std::string> names;
  std::vector<std::vector<double>> values;
};

/// zero_grad, forward, backward on the model's device with the problem's inputs; results to host.
Outputs run_forward_backward(Lstm& model, const Problem& p);

/// The model's parameters in the reference's layout (double).
reference::Params<double> reference_params(const Lstm& model);
/// The reference's forward+backward on the same problem, ordered like run_forward_backward.
Outputs run_reference(const Lstm& model, const Problem& p);

/// max|got − ref| / max|ref| over the tensor: the error relative to the tensor's scale, so
/// entries that cancel to near zero do not dominate; NaN or a size mismatch gives +inf.
double scaled_max_error(const std::vector<double>& got, const std::vector<double>& ref);

}  // namespace fuselstm::bench
