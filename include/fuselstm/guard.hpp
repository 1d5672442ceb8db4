#pragma once
// The non-finite guard (opt-in): stops a training run with a clear error when a loss or a gradient
// holds a NaN or an Inf, naming the tensor, its layer and the step, before any weight is updated.
// Optimizer::set_check_finite(true) runs check_finite_gradients inside every step().

#include <cstdint>
#include <string>

#include "fuselstm/parameters.hpp"

namespace fuselstm {

/// ValueError "fuselstm: non-finite loss (nan) at step 12" unless `loss` is finite.
void check_finite_loss(double loss, std::int64_t step);

/// Counts the NaN/Inf elements of every gradient in `params` (one reduction per tensor on its
/// device, then one wait) and throws ValueError for the first tensor with any, e.g.
/// "fuselstm: non-finite gradient of weight_ih_l0 (layer 0) at step 3: 12 of 48 values are NaN or
/// Inf". Nothing is modified.
void check_finite_gradients(const ParameterList& params, std::int64_t step);

/// The same for one tensor (any device; copied to the host to check): `name` and `layer` (−1: not
/// in the LSTM stack) are only used in the message.
void check_finite(const Tensor& tensor, const std::string& name, int layer, std::int64_t step);

}  // namespace fuselstm
