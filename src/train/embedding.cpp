// The embedding: ids checked on the host, one lookup kernel forward; backward sorts the positions by
// id on the host and runs one segmented-sum kernel (no atomics).

#include "fuselstm/embedding.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "train/train_util.hpp"

namespace fuselstm {
namespace {

detail::RawBuffer upload(const std::vector<std::int64_t>& values, const Tensor& like) {
  detail::RawBuffer buffer(like.context().state(), values.size() * sizeof(std::int64_t));
  buffer.copy_from_host(values.data());
  return buffer;
}

const std::int64_t* ints(const detail::RawBuffer& b) {
  return static_cast<const std::int64_t*>(b.data());
}

}  // namespace

Embedding::Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, DType dtype,
                     const ExecutionContext& context, std::uint64_t seed,
                     std::optional<std::int64_t> padding_idx, const std::string& name)
    : name_(name), t_(std::make_unique<Tensors>()) {
  if (num_embeddings < 1 || embedding_dim < 1) {
    throw ValueError("fuselstm: Embedding: num_embeddings and embedding_dim must be >= 1, got " +
                     std::to_string(num_embeddings) + " and " + std::to_string(embedding_dim));
  }
  if (padding_idx) {
    if (*padding_idx < -num_embeddings || *padding_idx >= num_embeddings) {
      throw ValueError("fuselstm: Embedding: padding_idx " + std::to_string(*padding_idx) +
                       " is outside [-" + std::to_string(num_embeddings) + ", " +
                       std::to_string(num_embeddings) + ")");
    }
    padding_idx_ = *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
  }
  const Shape shape{num_embeddings, embedding_dim};
  std::vector<double> values(static_cast<std::size_t>(shape_numel(shape)));
  std::mt19937_64 engine(seed);
  const auto uniform = [&engine]() { return static_cast<double>(engine() >> 11) * 0x1.0p-53; };
  for (double& v : values) {
    const double u1 = uniform(), u2 = uniform();
    v = std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * M_PI * u2);
  }
  if (padding_idx_) {
    std::fill_n(values.begin() + *padding_idx_ * embedding_dim, embedding_dim, 0.0);
  }
  t_->weight = Tensor::from_vector(shape, values, dtype, context);
  t_->weight_grad = Tensor::zeros(shape, dtype, context);
}

Embedding::~Embedding() = default;
Embedding::Embedding(Embedding&&) noexcept = default;
Embedding& Embedding::operator=(Embedding&&) noexcept = default;

std::int64_t Embedding::num_embeddings() const {
  return t_->weight.dim(0);
}
std::int64_t Embedding::embedding_dim() const {
  return t_->weight.dim(1);
}
std::optional<std::int64_t> Embedding::padding_idx() const {
  return padding_idx_;
}
const std::string& Embedding::name() const {
  return name_;
}
Tensor& Embedding::weight() {
  return t_->weight;
}
Tensor& Embedding::weight_grad() {
  return t_->weight_grad;
}
const Tensor& Embedding::weight() const {
  return t_->weight;
}
const Tensor& Embedding::weight_grad() const {
  return t_->weight_grad;
}

namespace {

void check_ids(const char* where, const std::vector<std::int64_t>& ids, const Shape& shape,
               std::int64_t V) {
  for (std::int64_t d : shape) {
    if (d < 0) {
      throw ShapeError(std::string("fuselstm: Embedding::") + where + ": shape " + shape_str(shape) +
                       " has a negative size");
    }
  }
  if (shape_numel(shape) != static_cast<std::int64_t>(ids.size())) {
    throw ShapeError(std::string("fuselstm: Embedding::") + where + ": shape " + shape_str(shape) +
                     " holds " + std::to_string(shape_numel(shape)) + " ids, got " +
                     std::to_string(ids.size()));
  }
  for (std::size_t n = 0; n < ids.size(); ++n) {
    if (ids[n] < 0 || ids[n] >= V) {
      throw ValueError(std::string("fuselstm: Embedding::") + where + ": ids[" + std::to_string(n) +
                       "] = " + std::to_string(ids[n]) + " is outside [0, num_embeddings = " +
                       std::to_string(V) + ")");
    }
  }
}

}  // namespace

Tensor Embedding::forward(const std::vector<std::int64_t>& ids, const Shape& shape) const {
  const std::int64_t V = num_embeddings(), E = embedding_dim();
  check_ids("forward", ids, shape, V);
  Shape out_shape = shape;
  out_shape.push_back(E);
  Tensor out = Tensor::empty(out_shape, t_->weight.dtype(), t_->weight.context());
  if (ids.empty()) return out;
  detail::DeviceScope scope(t_->weight.device());
  const detail::RawBuffer device_ids = upload(ids, t_->weight);
  detail::with_ops(t_->weight, [&](auto& ops) {
    using T = detail::elem_t<decltype(ops)>;
    ops.embedding_forward(static_cast<std::int64_t>(ids.size()), E, ints(device_ids),
                          t_->weight.data_as<T>(), out.data_as<T>());
  });
  return out;
}

void Embedding::backward(const std::vector<std::int64_t>& ids, const Tensor& doutput) {
  const std::int64_t V = num_embeddings(), E = embedding_dim();
  if (!doutput.defined() || doutput.shape().empty() || doutput.shape().back() != E) {
    throw ShapeError("fuselstm: Embedding::backward: doutput must be [..., " + std::to_string(E) +
                     "], got " + doutput.describe());
  }
  const Shape shape(doutput.shape().begin(), doutput.shape().end() - 1);
  check_ids("backward", ids, shape, V);
  detail::check_operand("Embedding::backward", "doutput", doutput, t_->weight, &doutput.shape());

  // Positions sorted by id (stable: ascending position within an id), padding_idx left out, cut
  // into one segment per distinct id.
  std::vector<std::int64_t> order;
  order.reserve(ids.size());
  for (std::size_t n = 0; n < ids.size(); ++n) {
    if (!padding_idx_ || ids[n] != *padding_idx_) order.push_back(static_cast<std::int64_t>(n));
  }
  std::stable_sort(order.begin(), order.end(),
                   [&ids](std::int64_t a, std::int64_t b) { return ids[a] < ids[b]; });
  std::vector<std::int64_t> start, segment_id;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::int64_t id = ids[static_cast<std::size_t>(order[k])];
    if (segment_id.empty() || segment_id.back() != id) {
      start.push_back(static_cast<std::int64_t>(k));
      segment_id.push_back(id);
    }
  }
  if (segment_id.empty()) return;
  start.push_back(static_cast<std::int64_t>(order.size()));

  detail::DeviceScope scope(t_->weight.device());
  const detail::RawBuffer d_order = upload(order, t_->weight);
  const detail::RawBuffer d_start = upload(start, t_->weight);
  const detail::RawBuffer d_segment = upload(segment_id, t_->weight);
  detail::with_ops(t_->weight, [&](auto& ops) {
    using T = detail::elem_t<decltype(ops)>;
    ops.embedding_backward(static_cast<std::int64_t>(segment_id.size()), E, ints(d_start),
                           ints(d_segment), ints(d_order), doutput.data_as<T>(),
                           t_->weight_grad.data_as<T>());
  });
}

void Embedding::zero_grad() {
  detail::with_ops(t_->weight, [&](auto& ops) {
    using T = detail::elem_t<decltype(ops)>;
    ops.fill(t_->weight_grad.data_as<T>(), t_->weight_grad.numel(), T(0));
  });
}

}  // namespace fuselstm
