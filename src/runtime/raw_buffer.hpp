#pragma once
// An owning, move-only byte buffer from a context's arena, for data that is not a float tensor
// (int32 sequence lengths, a loss's integer targets). Internal.

#include <cstddef>
#include <cstring>
#include <memory>
#include <utility>

#include "runtime/context_state.hpp"
#include "runtime/memory.hpp"

namespace fuselstm::detail {

class RawBuffer {
 public:
  RawBuffer() = default;
  RawBuffer(std::shared_ptr<ContextState> context, std::size_t bytes)
      : context_(std::move(context)), pointer_(context_->arena.allocate(bytes)), bytes_(bytes) {}
  ~RawBuffer() {
    if (context_) context_->arena.deallocate(pointer_);
  }
  RawBuffer(RawBuffer&& other) noexcept { *this = std::move(other); }
  RawBuffer& operator=(RawBuffer&& other) noexcept {
    std::swap(context_, other.context_);
    std::swap(pointer_, other.pointer_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  RawBuffer(const RawBuffer&) = delete;
  RawBuffer& operator=(const RawBuffer&) = delete;

  void* data() const { return pointer_; }
  std::size_t bytes() const { return bytes_; }

  /// Copies bytes() bytes from host memory into the buffer, queued on the context's stream (the
  /// host bytes may be reused when this returns).
  void copy_from_host(const void* src) {
    if (bytes_ == 0) return;
    if (context_->device.is_cpu()) {
      std::memcpy(pointer_, src, bytes_);
      return;
    }
    cuda_runtime::copy_async(pointer_, true, src, false, bytes_, context_->device.index,
                             context_->stream.get());
  }

 private:
  std::shared_ptr<ContextState> context_;
  void* pointer_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace fuselstm::detail
