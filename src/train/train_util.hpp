#pragma once
// Small helpers shared by the training toolkit's sources (head, losses, optimizers, clipping,
// guard): dtype dispatch onto a model's ops and argument checks. Internal.

#include <string>
#include <type_traits>

#include "fuselstm/error.hpp"
#include "fuselstm/tensor.hpp"
#include "lstm/model_impl.hpp"

namespace fuselstm::detail {

/// The element type of an Ops<T>& in a generic lambda: `using T = elem_t<decltype(ops)>;`.
template <typename OpsRef>
using elem_t = typename std::remove_reference_t<OpsRef>::value_type;

/// Calls body(ops) with the owner's Ops<float> or Ops<double>, by its dtype.
template <typename Body>
void with_ops(ModelImpl& owner, Body&& body) {
  if (owner.config.dtype == DType::f32)
    body(owner.ops<float>());
  else
    body(owner.ops<double>());
}

/// ShapeError unless `t` is defined, has the owner's dtype and device, and (when `shape` is given)
/// exactly `shape`.
inline void check_operand(const std::string& where, const std::string& name, const Tensor& t,
                          const ModelImpl& owner, const Shape* shape = nullptr) {
  const DType dt = owner.config.dtype;
  const Device dev = owner.config.device;
  if (!t.defined() || t.dtype() != dt || t.device() != dev || (shape && t.shape() != *shape)) {
    const std::string want =
        std::string(dtype_name(dt)) + (shape ? shape_str(*shape) : "[...]") + " on " + dev.str();
    throw ShapeError("fuselstm: " + where + ": " + name + " must be " + want + ", got " +
                     t.describe());
  }
}

}  // namespace fuselstm::detail
