#pragma once
// An owning, move-only byte buffer on any device, for data that is not a float tensor (e.g. the
// integer targets of a loss). Internal.

#include <cstddef>
#include <utility>

#include "runtime/memory.hpp"

namespace fuselstm::detail {

class RawBuffer {
public:
  RawBuffer() = default;
  RawBuffer(const Device& device, std::size_t bytes)
      : device_(device), pointer_(bytes ? allocate_bytes(device, bytes) : nullptr), bytes_(bytes) {}
  ~RawBuffer() { free_bytes(device_, pointer_, bytes_); }
  RawBuffer(RawBuffer&& other) noexcept { *this = std::move(other); }
  RawBuffer& operator=(RawBuffer&& other) noexcept {
    std::swap(device_, other.device_);
    std::swap(pointer_, other.pointer_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  RawBuffer(const RawBuffer&) = delete;
  RawBuffer& operator=(const RawBuffer&) = delete;

  void* data() const { return pointer_; }
  std::size_t bytes() const { return bytes_; }

private:
  Device device_;
  void* pointer_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace fuselstm::detail
