#pragma once
// Gradient clipping by global norm and by value (torch.nn.utils.clip_grad_norm_ / _value_).

#include "fuselstm/parameters.hpp"

namespace fuselstm {

/// The global 2-norm of the gradients, √(Σ_tensors Σ_elements g²). Deterministic: each tensor's
/// sum of squares is a fixed-order sum in double on its device, and the tensors' sums are added
/// on the host in list order. Waits for the device.
double grad_norm(const ParameterList& params);

/// Scales every gradient by max_norm / (norm + 1e-6) when that is < 1 (PyTorch's coefficient),
/// where norm = grad_norm(params); returns the norm before clipping. A non-finite norm leaves the
/// gradients unchanged (check them with the guard). max_norm must be finite and > 0.
double clip_grad_norm(const ParameterList& params, double max_norm);

/// Clamps every gradient element into [−clip_value, clip_value] (NaN stays NaN). clip_value must
/// be finite and > 0.
void clip_grad_value(const ParameterList& params, double clip_value);

}  // namespace fuselstm
