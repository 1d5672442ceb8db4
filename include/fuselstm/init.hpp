#pragma once
// Initialisation options beyond Lstm::init_pytorch_default (PyTorch's default, applied by the
// constructor): a forget-gate bias value and orthogonal recurrent weights. Call them after
// init_pytorch_default / init_uniform; each overwrites only what it names.

#include <cstdint>

#include "fuselstm/lstm.hpp"

namespace fuselstm {

/// Sets the forget-gate block (entries H..2H−1, gate order i, f, g, o) of bias_ih_l{k} to `value`
/// and the same block of bias_hh_l{k} to 0, for every layer k and, when bidirectional, for the
/// _reverse tensors too, so the forget gate's total bias
/// b_ih + b_hh is exactly `value` (Keras' unit_forget_bias = True is value 1). The other blocks
/// are left as they are. ValueError when the model has no bias (config.bias false) or value is
/// not finite.
void init_forget_gate_bias(Lstm& model, double value);

/// Orthogonal recurrent weights: each of the four [H, H] gate blocks of weight_hh_l{k} (and of
/// weight_hh_l{k}_reverse when bidirectional) becomes
/// gain·Q, where Q·R is the QR factorisation of an H×H standard-normal matrix A and Q's columns
/// are multiplied by sign(R_jj) (as torch.nn.init.orthogonal_ does, so Q is Haar-distributed and
/// unique given A). A's entries are drawn from std::mt19937_64(seed), tensor by tensor in
/// parameter_ids order (layer k, then layer k's reverse direction, then layer k + 1), gate block
/// by block (i, f, g, o), column-major (A_ij is draw i + j·H of the block), each from two uniform
/// draws u1, u2 = (draw >> 11)·2⁻⁵³ as √(−2·ln(1 − u1))·cos(2π·u2). The QR uses LAPACK
/// (dgeqrf + dorgqr) when the library was built with it, else a Householder QR in plain C++; the
/// two agree to rounding (~1e-15), so the weights are bitwise reproducible for a given build.
/// gain must be finite.
void init_orthogonal_recurrent(Lstm& model, std::uint64_t seed, double gain = 1.0);

}  // namespace fuselstm
