#pragma once
// Tensor: an owning, contiguous, row-major buffer with a shape, a dtype and a device.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuselstm/context.hpp"
#include "fuselstm/device.hpp"

namespace fuselstm {

/// Element type. Every operation of the library exists in both.
enum class DType { f32, f64 };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "f32" / "f64"
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }

/// A shape, outermost dimension first, e.g. {T, B, X}.
using Shape = std::vector<std::int64_t>;
std::string shape_str(const Shape& shape);  // "[4, 1, 50]"
std::int64_t shape_numel(const Shape& shape);

/// An owning, move-only buffer holding shape_numel(shape) elements of `dtype`, contiguous and
/// row-major, made on an execution context (its device, stream and arena). For a CUDA tensor,
/// data() is device memory. A default-constructed Tensor is "undefined": no storage, defined() ==
/// false; the API uses it for "not given" (e.g. h0 = zeros).
/// Host<->device copies happen only in to(), to_vector(), assign() and from_vector(), queued on the
/// tensor's context; to_vector() waits for it, the others return once queued (host memory passed
/// in may be reused at once). Not thread-safe.
class Tensor {
public:
  Tensor();
  ~Tensor();
  Tensor(Tensor&&) noexcept;
  Tensor& operator=(Tensor&&) noexcept;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;

  /// Uninitialised storage from the context's arena. Throws OutOfMemoryError when the allocation
  /// fails. The Device overloads use ExecutionContext::default_for(device).
  static Tensor empty(const Shape& shape, DType dtype, const ExecutionContext& context);
  static Tensor empty(const Shape& shape, DType dtype, const Device& device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype, const ExecutionContext& context);
  static Tensor zeros(const Shape& shape, DType dtype, const Device& device = Device::cpu());
  /// A tensor holding `values` (row-major) converted to `dtype`. values.size() must equal the
  /// shape's element count (ShapeError otherwise).
  template <typename U>
  static Tensor from_vector(const Shape& shape, const std::vector<U>& values, DType dtype,
                            const ExecutionContext& context);
  template <typename U>
  static Tensor from_vector(const Shape& shape, const std::vector<U>& values, DType dtype,
                            const Device& device = Device::cpu());

  /// A non-owning view of `data`: shape_numel(shape) contiguous row-major elements of `dtype` in
  /// memory of context.device() (host memory for cpu, device memory for cuda), e.g. a numpy array
  /// or a torch tensor. Nothing is copied and nothing is freed: the caller keeps the memory alive
  /// and unchanged by others while the view (and any call it was given to) uses it. Work on the
  /// view is queued on `context`: for memory another stream writes, order the streams first (or
  /// borrow that stream: ExecutionContext::borrow_stream). ValueError for null data with elements
  /// or data not aligned to the element size.
  static Tensor borrow(void* data, const Shape& shape, DType dtype, const ExecutionContext& context);
  /// True for a view made by borrow().
  bool borrowed() const;

  /// The same storage under another shape with the same element count (ShapeError otherwise).
  Tensor reshape(const Shape& shape) &&;

  /// A deep copy on the same context.
  Tensor clone() const;
  /// A deep copy on `device`'s default context (a copy even when it is the same device).
  Tensor to(const Device& device) const;
  /// A deep copy on `context`; a copy from another context of the same device waits for that
  /// context's queued work first.
  Tensor to(const ExecutionContext& context) const;

  bool defined() const { return static_cast<bool>(storage_); }
  const Shape& shape() const { return shape_; }
  std::int64_t dim(std::size_t axis) const;
  std::int64_t numel() const { return numel_; }
  std::size_t bytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  /// The context the tensor was made on (ExecutionContext::default_for(cpu) when undefined).
  ExecutionContext context() const;
  /// "f32[4, 1, 50] on cpu"
  std::string describe() const;

  void* data();
  const void* data() const;
  /// data() as T*; throws ShapeError when T does not match dtype().
  template <typename T> T* data_as();
  template <typename T> const T* data_as() const;

  /// Copies the elements to the host, converted to U.
  template <typename U> std::vector<U> to_vector() const;
  /// Overwrites every element from host values converted to dtype(); values.size() must equal
  /// numel() (ShapeError otherwise, nothing written).
  template <typename U> void assign(const std::vector<U>& values);
  /// Sets every element to `value` (on the device, queued on the context: no host copy).
  void fill(double value);

private:
  struct Storage;
  Shape shape_;
  std::int64_t numel_ = 0;
  DType dtype_ = DType::f32;
  Device device_;
  std::unique_ptr<Storage> storage_;
};

}  // namespace fuselstm
