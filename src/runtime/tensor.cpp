#include "fuselstm/tensor.hpp"

#include <limits>

#include "fuselstm/error.hpp"
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
  const Tensor host = device_.is_cpu() ? Tensor() : to(Device::cpu());
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
    detail::copy_bytes(data(), device_, v.data(), Device::cpu(), bytes());
  } else {
    const std::vector<double> v = convert<double>(values.data(), numel_);
    detail::copy_bytes(data(), device_, v.data(), Device::cpu(), bytes());
  }
}

void Tensor::fill(double value) {
  if (!defined()) throw ShapeError("fuselstm: fill on an undefined tensor");
  assign(std::vector<double>(static_cast<std::size_t>(numel_), value));
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
