#pragma once
// One reduction per tensor of a ParameterList (on each tensor's own ops), read back to the host
// in list order. Shared by clipping and the non-finite guard. Internal.

#include <vector>

#include "kernels/optim_math.hpp"
#include "fuselstm/parameters.hpp"

namespace fuselstm::detail {

/// result[k] = Σ reduce_term(kind, params[k].gradient) on the device, fixed order. Waits for every
/// owner's device work. Throws ValueError when the tensors live on different devices.
std::vector<double> reduce_gradients(const ParameterList& params, kernels::ReduceKind kind);

/// Throws ValueError naming the offending parameter unless every tensor is on params[0]'s device.
void check_same_device(const char* where, const ParameterList& params);

}  // namespace fuselstm::detail
