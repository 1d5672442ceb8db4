#include "fuselstm/tensor.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <new>
#include <type_traits>
#include <vector>

#include <cstring>

#include "fuselstm/error.hpp"
#include "runtime/capture_region.hpp"
#include "runtime/context_state.hpp"
#include "runtime/memory.hpp"
#include "runtime/tensor_access.hpp"

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
  bool borrowed = false;  // memory of the caller's (Tensor::borrow): never returned to the arena
  Storage(std::shared_ptr<detail::ContextState> c, std::size_t b)
      : context(std::move(c)), pointer(context->arena.allocate(b)), bytes(b) {}
  Storage(std::shared_ptr<detail::ContextState> c, void* memory, std::size_t b)
      : context(std::move(c)), pointer(memory), bytes(b), borrowed(true) {}
  ~Storage() {
    if (!borrowed) context->arena.deallocate(pointer);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

namespace {

// Copies `bytes` from src (on src_ctx) to dst (on dst_ctx), queued on the destination's stream
// (the source's when the destination is the host, which then waits for it).
void copy_between(void* dst, detail::ContextState& dst_ctx, const void* src,
                  detail::ContextState& src_ctx, std::size_t bytes) {
  if (bytes == 0) return;
  detail::check_not_capturing("a tensor copy (a host read or write)");
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

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype,
                      const ExecutionContext& context) {
  Tensor t;
  for (std::int64_t d : shape) {
    if (d < 0) throw ShapeError("fuselstm: Tensor::borrow: shape " + shape_str(shape) + " has a negative size");
  }
  t.numel_ = shape_numel(shape);
  if (t.numel_ > std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(dtype_size(dtype))) {
    throw ShapeError("fuselstm: Tensor::borrow: shape " + shape_str(shape) + " has too many bytes");
  }
  if (!data && t.numel_ > 0) {
    throw ValueError("fuselstm: Tensor::borrow: null data for shape " + shape_str(shape));
  }
  if (reinterpret_cast<std::uintptr_t>(data) % dtype_size(dtype) != 0) {
    throw ValueError("fuselstm: Tensor::borrow: data is not aligned to its " +
                     std::string(dtype_name(dtype)) + " elements");
  }
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = context.device();
  t.storage_ = std::make_unique<Storage>(context.state(), data,
                                         static_cast<std::size_t>(t.numel_) * dtype_size(dtype));
  return t;
}

bool Tensor::borrowed() const { return storage_ && storage_->borrowed; }

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

// Host<->tensor transfers convert in chunks of this many bytes, so no call builds a temporary as
// large as the tensor (a 4 GiB tensor must not need another 4 GiB, or 8 in double, on the host).
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

// Runs `body` and reports a failed host allocation (a std::vector, a string) as the library's
// OutOfMemoryError, so no public call lets std::bad_alloc escape.
template <typename Body>
auto translate_bad_alloc(const char* where, const Tensor& t, Body body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError(std::string("fuselstm: ") + where + ": out of host memory for " +
                           t.describe());
  }
}

// Host bytes into a tensor's memory at `at`, queued on the tensor's context (the host bytes may be
// reused on return), and the reverse, which waits for the context.
void copy_into_tensor(const Tensor& dst, void* at, const void* host, std::size_t bytes) {
  copy_between(at, *dst.context().state(), host,
               *detail::default_context_state(Device::cpu()), bytes);
}
void copy_out_of_tensor(const Tensor& src, void* host, const void* at, std::size_t bytes) {
  copy_between(host, *detail::default_context_state(Device::cpu()), at, *src.context().state(),
               bytes);
}

// Elements [first, first + count) of `dst` = src[0..count) converted to dst's dtype.
template <typename Stored, typename U>
void write_converted(Tensor& dst, std::int64_t first, const U* src, std::int64_t count) {
  detail::check_not_capturing("a write of host values into a tensor");
  Stored* base = static_cast<Stored*>(dst.data()) + first;
  if (dst.device().is_cpu()) {
    for (std::int64_t k = 0; k < count; ++k) base[k] = static_cast<Stored>(src[k]);
    return;
  }
  if constexpr (std::is_same_v<Stored, U>) {
    copy_into_tensor(dst, base, src, count * sizeof(Stored));
    return;
  }
  constexpr std::int64_t chunk = kChunkBytes / sizeof(Stored);
  std::vector<Stored> buffer(static_cast<std::size_t>(std::min(chunk, count)));
  for (std::int64_t done = 0; done < count; done += chunk) {
    const std::int64_t n = std::min(chunk, count - done);
    for (std::int64_t k = 0; k < n; ++k) buffer[k] = static_cast<Stored>(src[done + k]);
    copy_into_tensor(dst, base + done, buffer.data(), n * sizeof(Stored));
  }
}

// out[0..numel) = src's elements converted to U.
template <typename Stored, typename U>
void read_converted(const Tensor& src, U* out) {
  detail::check_not_capturing("a host read of a tensor");
  const Stored* base = static_cast<const Stored*>(src.data());
  const std::int64_t count = src.numel();
  if (src.device().is_cpu()) {
    for (std::int64_t k = 0; k < count; ++k) out[k] = static_cast<U>(base[k]);
    return;
  }
  if constexpr (std::is_same_v<Stored, U>) {
    copy_out_of_tensor(src, out, base, count * sizeof(Stored));
    return;
  }
  constexpr std::int64_t chunk = kChunkBytes / sizeof(Stored);
  std::vector<Stored> buffer(static_cast<std::size_t>(std::min(chunk, count)));
  for (std::int64_t done = 0; done < count; done += chunk) {
    const std::int64_t n = std::min(chunk, count - done);
    copy_out_of_tensor(src, buffer.data(), base + done, n * sizeof(Stored));
    for (std::int64_t k = 0; k < n; ++k) out[done + k] = static_cast<U>(buffer[k]);
  }
}

}  // namespace

namespace detail {

template <typename U>
void assign_range(Tensor& dst, std::int64_t first, const U* values, std::int64_t count) {
  if (!dst.defined() || first < 0 || count < 0 || first > dst.numel() - count) {
    throw ShapeError("fuselstm: assign_range [" + std::to_string(first) + ", +" +
                     std::to_string(count) + ") outside " + dst.describe());
  }
  translate_bad_alloc("assign", dst, [&] {
    if (dst.dtype() == DType::f32) write_converted<float>(dst, first, values, count);
    else write_converted<double>(dst, first, values, count);
  });
}

template void assign_range<float>(Tensor&, std::int64_t, const float*, std::int64_t);
template void assign_range<double>(Tensor&, std::int64_t, const double*, std::int64_t);

}  // namespace detail

template <typename U>
std::vector<U> Tensor::to_vector() const {
  if (!defined()) return {};
  return translate_bad_alloc("to_vector", *this, [&] {
    std::vector<U> out(static_cast<std::size_t>(numel_));
    if (dtype_ == DType::f32) read_converted<float>(*this, out.data());
    else read_converted<double>(*this, out.data());
    return out;
  });
}

template <typename U>
void Tensor::assign(const std::vector<U>& values) {
  if (!defined()) throw ShapeError("fuselstm: assign to an undefined tensor");
  if (static_cast<std::int64_t>(values.size()) != numel_) {
    throw ShapeError("fuselstm: assign: " + describe() + " holds " + std::to_string(numel_) +
                     " values, got " + std::to_string(values.size()));
  }
  detail::assign_range(*this, 0, values.data(), numel_);
}

void Tensor::fill(double value) {
  if (!defined()) throw ShapeError("fuselstm: fill on an undefined tensor");
  detail::ContextState& ctx = *storage_->context;
  detail::DeviceScope scope(ctx.device);
  if (dtype_ == DType::f32) {
    ctx.ops<float>()->fill(data_as<float>(), numel_, static_cast<float>(value));
  } else {
    ctx.ops<double>()->fill(data_as<double>(), numel_, value);
  }
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
