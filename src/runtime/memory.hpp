#pragma once
// Raw allocation and copies on any device, with byte accounting (MemoryStats). Internal.

#include <cstddef>
#include <string>
#include <utility>

#include "fuselstm/device.hpp"

namespace fuselstm::detail {

/// Allocates `bytes` (≥ 1) on `device`; throws OutOfMemoryError naming the size and device.
void* allocate_bytes(const Device& device, std::size_t bytes);
/// Tests: when enabled, every new allocation is filled with NaN bytes, so an output element the
/// library forgets to write fails the comparison instead of passing on stale zeros.
void set_poison_new_memory(bool enabled);
/// Frees what allocate_bytes returned; never throws (a CUDA error is printed).
void free_bytes(const Device& device, void* pointer, std::size_t bytes) noexcept;
/// Bytes that can still be allocated on `device`: the host's available physical memory, or the
/// CUDA device's free memory.
std::int64_t available_bytes(const Device& device);
/// Synchronous copy between any two devices.
void copy_bytes(void* dst, const Device& dst_device, const void* src, const Device& src_device,
                std::size_t bytes);

/// Raw bytes on a device for what is not a Tensor (e.g. int32 sequence lengths). Move-only.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(const Device& device, std::size_t bytes)
      : device_(device), pointer_(allocate_bytes(device, bytes)), bytes_(bytes) {}
  ~DeviceBuffer() { free_bytes(device_, pointer_, bytes_); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : device_(o.device_), pointer_(o.pointer_), bytes_(o.bytes_) {
    o.pointer_ = nullptr;
  }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(device_, o.device_);
    std::swap(pointer_, o.pointer_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  void* get() const { return pointer_; }

private:
  Device device_;
  void* pointer_ = nullptr;
  std::size_t bytes_ = 0;
};

/// The CUDA runtime, or stubs that report "built without CUDA" (src/runtime/cuda/runtime.cpp or
/// src/runtime/cuda/runtime_stub.cpp).
namespace cuda_runtime {
int device_count() noexcept;
std::int64_t free_bytes(int device);
std::string device_name(int device);
void* allocate(int device, std::size_t bytes);
void free(int device, void* pointer) noexcept;
void memset(int device, void* pointer, int byte, std::size_t bytes);
/// kind: copies between host and device in either direction, or device to device.
void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, std::size_t bytes,
          int device);
}  // namespace cuda_runtime

}  // namespace fuselstm::detail
