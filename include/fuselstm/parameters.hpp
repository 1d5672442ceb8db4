#pragma once
// ParameterList: the trainable tensors that optimizers, clipping and the non-finite guard work on,
// gathered from an Lstm and its heads.

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fuselstm/tensor.hpp"

namespace fuselstm {

class Lstm;
class Linear;
class Mlp;
class Embedding;

/// One trainable tensor: its name, value, gradient, and where it belongs. Borrowed: valid while the
/// model (or head) that holds the tensors lives.
struct ParameterRef {
  std::string name;            ///< "weight_ih_l0", ..., "head.weight", "head.bias"
  int layer = -1;              ///< the LSTM layer k of *_l{k}; −1 for tensors outside the stack
  Tensor* value = nullptr;     ///< the parameter, on the owner's device
  Tensor* gradient = nullptr;  ///< its gradient, same shape, dtype and device (work on it is
                               ///< queued on the parameter's own execution context)
};
using ParameterList = std::vector<ParameterRef>;

/// Named tensors for checkpoints (optimizer state): (name, tensor) in a fixed order. Borrowed.
using NamedTensors = std::vector<std::pair<std::string, std::reference_wrapper<const Tensor>>>;

/// Every parameter of `model`, in model.parameter_names() order.
ParameterList parameters_of(Lstm& model);
/// The head's weight and bias ("<name>.weight", "<name>.bias").
ParameterList parameters_of(Linear& head);
/// The model's parameters followed by the head's.
ParameterList parameters_of(Lstm& model, Linear& head);
/// Every layer's weight and bias in order ("<name>.0.weight", "<name>.0.bias", "<name>.2.weight", ...).
ParameterList parameters_of(Mlp& head);
/// "<name>.weight".
ParameterList parameters_of(Embedding& embedding);

/// The parameters of several modules in one list, in the order given:
/// concat({parameters_of(embedding), parameters_of(model), parameters_of(head)}).
ParameterList concat(std::vector<ParameterList> lists);

}  // namespace fuselstm
