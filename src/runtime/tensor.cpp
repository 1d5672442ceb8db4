#include "fuselstm/tensor.hpp"

#include <limits>

#include <cstring>

#include "fuselstm/error.hpp"
#include "runtime/context_state.hpp"
#include "runtime/memory.hpp"

namespace fuselstm {

std::size_t dtype_size(DType dtype) { return dtype == DType::f32 ? 4 : 8; }
const char* dtype_name(DType dtype) { return dtype == DType::f32 ? "f32" : "f64"; }

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k) s += ", ";
    s += std::to_string(shape[k]);
  }
  return s + "]";
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    if (d < 0) throw ShapeError("fuselstm: negative dimension in shape " + shape_str(shape));
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d) {
      throw ShapeError("fuselstm: shape " + shape_str(shape) + " has too many elements");
    }
    n *= d;
  }
  return n;
}

struct Tensor::Storage {
  std::shared_ptr<detail::ContextState> context;  // keeps the arena alive while the block lives
  void* pointer = nullptr;
  std::size_t bytes = 0;
  Storage(std::shared_ptr<detail::ContextState> c, std::size_t b)
      : context(std::move(c)), pointer(context->arena.allocate(b)), bytes(b) {}
  ~Storage() { context->arena.deallocate(pointer); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

namespace {

// Copies `bytes` from src (on src_ctx) to dst (on dst_ctx), queued on the destination's stream
// (the source's when the destination is the host, which then waits for it).
void copy_between(void* dst, detail::ContextState& dst_ctx, const void* src,
                  detail::ContextState& src_ctx, std::size_t bytes) {
  if (bytes == 0) return;
  const Device dd = dst_ctx.device, sd = src_ctx.device;
  if (dd.is_cpu() && sd.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
  if (dd.is_cuda() && sd.is_cuda() && dd.index != sd.index) {
    throw DeviceError("fuselstm: copies between two CUDA devices (" + sd.str() + " -> " +
                      dd.str() + ") are not supported; go through the host");
  }
  detail::ContextState& queue = dd.is_cuda() ? dst_ctx : src_ctx;
  detail::DeviceScope scope(queue.device);
  if (dd.is_cuda() && sd.is_cuda()) dst_ctx.order_after(src_ctx);
  detail::cuda_runtime::copy_async(dst, dd.is_cuda(), src, sd.is_cuda(), bytes,
                                   queue.device.index, queue.stream.get());
}

}  // namespace

Tensor::Tensor() = default;
Tensor::~Tensor() = default;
Tensor::Tensor(Tensor&&) noexcept = default;
Tensor& Tensor::operator=(Tensor&&) noexcept = default;

Tensor Tensor::empty(const Shape& shape, DType dtype, const ExecutionContext& context) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  if (t.numel_ > std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(dtype_size(dtype))) {
    throw ShapeError("fuselstm: shape " + shape_str(shape) + " has too many bytes");
  }
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = context.device();
  t.storage_ = std::make_unique<Storage>(context.state(),
                                         static_cast<std::size_t>(t.numel_) * dtype_size(dtype));
  return t;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, const Device& device) {
  return empty(shape, dtype, ExecutionContext::default_for(device));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, const ExecutionContext& context) {
  Tensor t = empty(shape, dtype, context);
  t.fill(0.0);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, const Device& device) {
  return zeros(shape, dtype, ExecutionContext::default_for(device));
}

template <typename U>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<U>& values, DType dtype,
                           const ExecutionContext& context) {
  const std::int64_t n = shape_numel(shape);
  if (static_cast<std::int64_t>(values.size()) != n) {
    throw ShapeError("fuselstm: from_vector: shape " + shape_str(shape) + " needs " +
                     std::to_string(n) + " values, got " + std::to_string(values.size()));
  }
  Tensor t = empty(shape, dtype, context);
  t.assign(values);
  return t;
}

template <typename U>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<U>& values, DType dtype,
                           const Device& device) {
  return from_vector(shape, values, dtype, ExecutionContext::default_for(device));
}

Tensor Tensor::reshape(const Shape& shape) && {
  if (shape_numel(shape) != numel_) {
    throw ShapeError("fuselstm: reshape of " + describe() + " to " + shape_str(shape) +
                     ": element counts differ");
  }
  Tensor t = std::move(*this);
  t.shape_ = shape;
  return t;
}

Tensor Tensor::clone() const {
  if (!defined()) return Tensor();
  return to(context());
}

Tensor Tensor::to(const Device& device) const {
  return to(ExecutionContext::default_for(device));
}

Tensor Tensor::to(const ExecutionContext& context) const {
  if (!defined()) return Tensor();
  Tensor t = empty(shape_, dtype_, context);
  copy_between(t.data(), *context.state(), data(), *storage_->context, bytes());
  return t;
}

ExecutionContext Tensor::context() const {
  if (!storage_) return ExecutionContext::default_for(Device::cpu());
  return ExecutionContext(storage_->context);
}

std::int64_t Tensor::dim(std::size_t axis) const {
  if (axis >= shape_.size()) {
    throw ShapeError("fuselstm: axis " + std::to_string(axis) + " out of range for " + describe());
  }
  return shape_[axis];
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype_)) + shape_str(shape_) + " on " + device_.str();
}

void* Tensor::data() { return storage_ ? storage_->pointer : nullptr; }
const void* Tensor::data() const { return storage_ ? storage_->pointer : nullptr; }

template <typename T>
T* Tensor::data_as() {
  if (dtype_of<T>() != dtype_) {
    throw ShapeError(std::string("fuselstm: data_as<") + dtype_name(dtype_of<T>()) + "> on " +
                     describe());
  }
  return static_cast<T*>(data());
}
template <typename T>
const T* Tensor::data_as() const {
  return const_cast<Tensor*>(this)->data_as<T>();
}

namespace {
template <typename To, typename From>
std::vector<To> convert(const From* src, std::int64_t n) {
  std::vector<To> out(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) out[k] = static_cast<To>(src[k]);
  return out;
}
}  // namespace

template <typename U>
std::vector<U> Tensor::to_vector() const {
  if (!defined()) return {};
  const Tensor host = device_.is_cpu() ? Tensor() : to(Device::cpu());  // waits for the stream
  const void* src = device_.is_cpu() ? data() : host.data();
  if (dtype_ == DType::f32) return convert<U>(static_cast<const float*>(src), numel_);
  return convert<U>(static_cast<const double*>(src), numel_);
}

template <typename U>
void Tensor::assign(const std::vector<U>& values) {
  if (!defined()) throw ShapeError("fuselstm: assign to an undefined tensor");
  if (static_cast<std::int64_t>(values.size()) != numel_) {
    throw ShapeError("fuselstm: assign: " + describe() + " holds " + std::to_string(numel_) +
                     " values, got " + std::to_string(values.size()));
  }
  if (dtype_ == DType::f32) {
    const std::vector<float> v = convert<float>(values.data(), numel_);
    copy_from_host(v.data());
  } else {
    const std::vector<double> v = convert<double>(values.data(), numel_);
    copy_from_host(v.data());
  }
}

void Tensor::fill(double value) {
  if (!defined()) throw ShapeError("fuselstm: fill on an undefined tensor");
  detail::ContextState& ctx = *storage_->context;
  detail::DeviceScope scope(ctx.device);
  if (dtype_ == DType::f32) ctx.ops<float>()->fill(data_as<float>(), numel_, static_cast<float>(value));
  else ctx.ops<double>()->fill(data_as<double>(), numel_, value);
}

void Tensor::copy_from_host(const void* src) {
  copy_between(data(), *storage_->context, src, *detail::default_context_state(Device::cpu()),
               bytes());
}

template float* Tensor::data_as<float>();
template double* Tensor::data_as<double>();
template const float* Tensor::data_as<float>() const;
template const double* Tensor::data_as<double>() const;
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template void Tensor::assign<float>(const std::vector<float>&);
template void Tensor::assign<double>(const std::vector<double>&);
template Tensor Tensor::from_vector<float>(const Shape&, const std::vector<float>&, DType,
                                           const Device&);
template Tensor Tensor::from_vector<double>(const Shape&, const std::vector<double>&, DType,
                                            const Device&);
template Tensor Tensor::from_vector<float>(const Shape&, const std::vector<float>&, DType,
                                           const ExecutionContext&);
template Tensor Tensor::from_vector<double>(const Shape&, const std::vector<double>&, DType,
                                            const ExecutionContext&);

}  // namespace fuselstm
