// The last-step gather and its scatter: checks, the lengths uploaded, one op each.

#include "fuselstm/last_step.hpp"

#include "train/train_util.hpp"

namespace fuselstm {

Tensor gather_last_steps(const Tensor& sequence, const std::vector<std::int64_t>& lengths,
                         bool batch_first) {
  if (!sequence.defined() || sequence.shape().size() != 3 || sequence.numel() == 0) {
    throw ShapeError(std::string("fuselstm: gather_last_steps: sequence must be ") +
                     (batch_first ? "[B, T, F]" : "[T, B, F]") + " with every size >= 1, got " +
                     sequence.describe());
  }
  const std::int64_t T = sequence.dim(batch_first ? 1 : 0), B = sequence.dim(batch_first ? 0 : 1);
  const std::int64_t F = sequence.dim(2);
  detail::check_lengths("gather_last_steps", lengths, B, T);
  Tensor last = Tensor::empty({B, F}, sequence.dtype(), sequence.context());
  detail::DeviceScope scope(sequence.device());
  const detail::RawBuffer len = detail::upload_lengths(lengths, sequence);
  detail::with_ops(sequence, [&](auto& ops) {
    using T_ = detail::elem_t<decltype(ops)>;
    ops.gather_last_step(T, B, F, static_cast<const std::int32_t*>(len.data()), batch_first,
                         sequence.data_as<T_>(), last.data_as<T_>());
  });
  return last;
}

Tensor scatter_last_steps(const Tensor& dlast, std::int64_t steps,
                          const std::vector<std::int64_t>& lengths, bool batch_first) {
  if (!dlast.defined() || dlast.shape().size() != 2 || dlast.numel() == 0) {
    throw ShapeError("fuselstm: scatter_last_steps: dlast must be [B, F] with B, F >= 1, got " +
                     dlast.describe());
  }
  if (steps < 1) {
    throw ValueError("fuselstm: scatter_last_steps: steps must be >= 1, got " +
                     std::to_string(steps));
  }
  const std::int64_t B = dlast.dim(0), F = dlast.dim(1);
  detail::check_lengths("scatter_last_steps", lengths, B, steps);
  const Shape shape = batch_first ? Shape{B, steps, F} : Shape{steps, B, F};
  Tensor dsequence = Tensor::empty(shape, dlast.dtype(), dlast.context());
  detail::DeviceScope scope(dlast.device());
  const detail::RawBuffer len = detail::upload_lengths(lengths, dlast);
  detail::with_ops(dlast, [&](auto& ops) {
    using T_ = detail::elem_t<decltype(ops)>;
    ops.scatter_last_step(steps, B, F, static_cast<const std::int32_t*>(len.data()), batch_first,
                          dlast.data_as<T_>(), dsequence.data_as<T_>());
  });
  return dsequence;
}

}  // namespace fuselstm
