#pragma once
// Small helpers shared by the training toolkit's sources (head, losses, optimizers, clipping,
// guard): dtype dispatch onto the ops of a tensor's own context, and argument checks. Internal.

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "fuselstm/error.hpp"
#include "fuselstm/tensor.hpp"
#include "runtime/context_state.hpp"
#include "runtime/raw_buffer.hpp"
#include "runtime/memory.hpp"

namespace fuselstm::detail {

/// The element type of an Ops<T>& in a generic lambda: `using T = elem_t<decltype(ops)>;`.
template <typename OpsRef>
using elem_t = typename std::remove_reference_t<OpsRef>::value_type;

/// The context a tensor was made on.
inline ContextState& context_of(const Tensor& t) { return *t.context().state(); }

/// Calls body(ops) with the Ops<float> or Ops<double> of `t`'s context (by its dtype), with the
/// context's device current: the work is queued on the stream that made `t`.
template <typename Body>
void with_ops(const Tensor& t, Body&& body) {
  ContextState& ctx = context_of(t);
  DeviceScope scope(ctx.device);
  if (t.dtype() == DType::f32)
    body(*ctx.ops<float>());
  else
    body(*ctx.ops<double>());
}

/// ShapeError unless `t` is defined, has `like`'s dtype and device, and (when `shape` is given)
/// exactly `shape`. A tensor of another context on the same device is accepted, and `like`'s
/// context waits for its queued work.
inline void check_operand(const std::string& where, const std::string& name, const Tensor& t,
                          const Tensor& like, const Shape* shape = nullptr) {
  const DType dt = like.dtype();
  const Device dev = like.device();
  if (!t.defined() || t.dtype() != dt || t.device() != dev || (shape && t.shape() != *shape)) {
    const std::string want =
        std::string(dtype_name(dt)) + (shape ? shape_str(*shape) : "[...]") + " on " + dev.str();
    throw ShapeError("fuselstm: " + where + ": " + name + " must be " + want + ", got " +
                     t.describe());
  }
  context_of(like).order_after(context_of(t));
}

/// ShapeError unless `lengths` is empty or has `batch` entries; ValueError naming the first entry
/// outside [1, steps].
inline void check_lengths(const std::string& where, const std::vector<std::int64_t>& lengths,
                          std::int64_t batch, std::int64_t steps) {
  if (lengths.empty()) return;
  if (static_cast<std::int64_t>(lengths.size()) != batch) {
    throw ShapeError("fuselstm: " + where + ": lengths must have B = " + std::to_string(batch) +
                     " entries, got " + std::to_string(lengths.size()));
  }
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] < 1 || lengths[b] > steps) {
      throw ValueError("fuselstm: " + where + ": lengths[" + std::to_string(b) + "] = " +
                       std::to_string(lengths[b]) + " is outside [1, T = " +
                       std::to_string(steps) + "]");
    }
  }
}

/// Checked lengths as int32 on `like`'s device (an empty buffer, data() null, for no lengths).
inline RawBuffer upload_lengths(const std::vector<std::int64_t>& lengths, const Tensor& like) {
  if (lengths.empty()) return RawBuffer();
  const std::vector<std::int32_t> narrow(lengths.begin(), lengths.end());  // checked <= T
  RawBuffer buffer(like.context().state(), narrow.size() * sizeof(std::int32_t));
  buffer.copy_from_host(narrow.data());
  return buffer;
}

}  // namespace fuselstm::detail
