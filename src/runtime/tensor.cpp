#include "fuselstm/tensor.hpp"

#include <algorithm>
#include <limits>
#include <new>
#include <type_traits>
#include <vector>

#include "fuselstm/error.hpp"
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
  Device device;
  void* pointer = nullptr;
  std::size_t bytes = 0;
  Storage(const Device& d, std::size_t b)
      : device(d), pointer(b ? detail::allocate_bytes(d, b) : nullptr), bytes(b) {}
  ~Storage() { detail::free_bytes(device, pointer, bytes); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

Tensor::Tensor() = default;
Tensor::~Tensor() = default;
Tensor::Tensor(Tensor&&) noexcept = default;
Tensor& Tensor::operator=(Tensor&&) noexcept = default;

Tensor Tensor::empty(const Shape& shape, DType dtype, const Device& device) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::make_unique<Storage>(device, static_cast<std::size_t>(t.numel_) * dtype_size(dtype));
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, const Device& device) {
  Tensor t = empty(shape, dtype, device);
  t.fill(0.0);
  return t;
}

template <typename U>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<U>& values, DType dtype,
                           const Device& device) {
  const std::int64_t n = shape_numel(shape);
  if (static_cast<std::int64_t>(values.size()) != n) {
    throw ShapeError("fuselstm: from_vector: shape " + shape_str(shape) + " needs " +
                     std::to_string(n) + " values, got " + std::to_string(values.size()));
  }
  Tensor t = empty(shape, dtype, device);
  t.assign(values);
  return t;
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

Tensor Tensor::clone() const { return to(device_); }

Tensor Tensor::to(const Device& device) const {
  if (!defined()) return Tensor();
  Tensor t = empty(shape_, dtype_, device);
  detail::copy_bytes(t.data(), device, data(), device_, bytes());
  return t;
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

// Elements [first, first + count) of `dst` = src[0..count) converted to dst's dtype.
template <typename Stored, typename U>
void write_converted(Tensor& dst, std::int64_t first, const U* src, std::int64_t count) {
  Stored* base = static_cast<Stored*>(dst.data()) + first;
  if (dst.device().is_cpu()) {
    for (std::int64_t k = 0; k < count; ++k) base[k] = static_cast<Stored>(src[k]);
    return;
  }
  if constexpr (std::is_same_v<Stored, U>) {
    detail::copy_bytes(base, dst.device(), src, Device::cpu(), count * sizeof(Stored));
    return;
  }
  constexpr std::int64_t chunk = kChunkBytes / sizeof(Stored);
  std::vector<Stored> buffer(static_cast<std::size_t>(std::min(chunk, count)));
  for (std::int64_t done = 0; done < count; done += chunk) {
    const std::int64_t n = std::min(chunk, count - done);
    for (std::int64_t k = 0; k < n; ++k) buffer[k] = static_cast<Stored>(src[done + k]);
    detail::copy_bytes(base + done, dst.device(), buffer.data(), Device::cpu(), n * sizeof(Stored));
  }
}

// out[0..numel) = src's elements converted to U.
template <typename Stored, typename U>
void read_converted(const Tensor& src, U* out) {
  const Stored* base = static_cast<const Stored*>(src.data());
  const std::int64_t count = src.numel();
  if (src.device().is_cpu()) {
    for (std::int64_t k = 0; k < count; ++k) out[k] = static_cast<U>(base[k]);
    return;
  }
  if constexpr (std::is_same_v<Stored, U>) {
    detail::copy_bytes(out, Device::cpu(), base, src.device(), count * sizeof(Stored));
    return;
  }
  constexpr std::int64_t chunk = kChunkBytes / sizeof(Stored);
  std::vector<Stored> buffer(static_cast<std::size_t>(std::min(chunk, count)));
  for (std::int64_t done = 0; done < count; done += chunk) {
    const std::int64_t n = std::min(chunk, count - done);
    detail::copy_bytes(buffer.data(), Device::cpu(), base + done, src.device(), n * sizeof(Stored));
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
  // One chunk of the value, written over and over (nothing numel-sized on the host).
  const std::int64_t chunk = std::min<std::int64_t>(kChunkBytes / sizeof(double), numel_);
  translate_bad_alloc("fill", *this, [&] {
    const std::vector<double> values(static_cast<std::size_t>(chunk), value);
    for (std::int64_t done = 0; done < numel_; done += chunk) {
      detail::assign_range(*this, done, values.data(), std::min(chunk, numel_ - done));
    }
  });
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

}  // namespace fuselstm
