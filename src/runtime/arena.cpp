#include "runtime/arena.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "fuselstm/error.hpp"
#include "runtime/capture_region.hpp"
#include "runtime/memory.hpp"

namespace fuselstm::detail {
namespace {

// Block sizes are rounded up to a granule (CUDA: 512 bytes, above its 256-byte alignment; the
// host: 64, a cache line and the vector alignment), so requests that differ by a few elements
// share blocks; the host's small granule keeps a file of a million tiny tensors small.
std::size_t granule(const Device& device) {
  return device.is_cuda() ? 512 : 64;
}
// A cached block serves a request of at least half its size: reuse without wasting more than half.
constexpr std::size_t kMaxWasteFactor = 2;

std::size_t block_size(std::size_t bytes, std::size_t granule) {
  return (bytes + granule - 1) / granule * granule;
}

}  // namespace

CachingArena::CachingArena(const Device& device, void* stream) : device_(device), stream_(stream) {}

CachingArena::~CachingArena() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
}

void* CachingArena::system_allocate(std::size_t block) {
  if (device_.is_cpu()) {
    void* p = std::aligned_alloc(64, block);
    if (!p) {
      throw OutOfMemoryError("fuselstm: out of host memory allocating " + std::to_string(block) +
                             " bytes (" + std::to_string(stats_.reserved_bytes) +
                             " bytes held by this context)");
    }
    return p;
  }
  return cuda_runtime::allocate(device_.index, block);
}

void CachingArena::system_free(void* pointer, std::size_t block) noexcept {
  if (device_.is_cpu())
    std::free(pointer);
  else
    cuda_runtime::free(device_.index, pointer);
  stats_.reserved_bytes -= static_cast<std::int64_t>(block);
  account_free(device_, 0, -static_cast<std::int64_t>(block));
}

void* CachingArena::allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  // A graph would keep using the block after it returned to the cache and was handed out again.
  check_not_capturing("an arena allocation");
  const std::size_t block = block_size(bytes, granule(device_));
  if (block < bytes)
    throw OutOfMemoryError("fuselstm: cannot allocate " + std::to_string(bytes) + " bytes");
  std::lock_guard<std::mutex> lock(mutex_);
  void* pointer = nullptr;
  std::size_t got = block;
  bool from_system = false;
  const auto it = cached_.lower_bound({block, 0});
  if (it != cached_.end() && it->first.first / kMaxWasteFactor <= block) {
    pointer = it->second;
    got = it->first.first;
    cached_.erase(it);
    cached_bytes_ -= static_cast<std::int64_t>(got);
  } else {
    try {
      pointer = system_allocate(block);
    } catch (const OutOfMemoryError&) {
      if (cached_.empty()) throw;
      release_cached_locked();  // the cache may be what fills the memory: give it back, try again
      pointer = system_allocate(block);
    }
    from_system = true;
    stats_.reserved_bytes += static_cast<std::int64_t>(block);
  }
  live_[pointer] = Live{got, bytes};
  stats_.current_bytes += static_cast<std::int64_t>(bytes);
  stats_.allocations += 1;
  stats_.system_allocations += from_system ? 1 : 0;
  if (stats_.current_bytes > stats_.peak_bytes) stats_.peak_bytes = stats_.current_bytes;
  account_allocation(device_, static_cast<std::int64_t>(bytes), from_system,
                     from_system ? static_cast<std::int64_t>(block) : 0);
  if (poison_new_memory()) {
    // All-ones bytes are a NaN in both f32 and f64: an element nobody wrote shows up in a test.
    if (device_.is_cpu())
      std::memset(pointer, 0xFF, bytes);
    else
      cuda_runtime::memset_async(device_.index, pointer, 0xFF, bytes, stream_);
  }
  return pointer;
}

void CachingArena::deallocate(void* pointer) noexcept {
  if (!pointer) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = live_.find(pointer);
  if (it == live_.end()) return;  // not ours: nothing to do (never happens in the library)
  const Live live = it->second;
  live_.erase(it);
  stats_.current_bytes -= static_cast<std::int64_t>(live.requested);
  account_free(device_, static_cast<std::int64_t>(live.requested), 0);
  try {
    cached_.emplace(std::make_pair(live.block, reinterpret_cast<std::uintptr_t>(pointer)), pointer);
    cached_bytes_ += static_cast<std::int64_t>(live.block);
  } catch (const std::bad_alloc&) {
    system_free(pointer, live.block);  // no room to remember it: give it back
  }
}

void CachingArena::release_cached() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_locked();
}

void CachingArena::release_cached_locked() noexcept {
  if (cached_.empty()) return;
  // CUDA: cached blocks may still be read by queued work (their last user freed them right after
  // queueing); wait for the stream before the memory leaves the context.
  if (device_.is_cuda()) {
    try {
      cuda_runtime::synchronize(device_.index, stream_);
    } catch (...) {
    }
  }
  for (const auto& [key, pointer] : cached_) system_free(pointer, key.first);
  cached_.clear();
  cached_bytes_ = 0;
}

std::int64_t CachingArena::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_bytes_;
}

MemoryStats CachingArena::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingArena::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes = stats_.current_bytes;
}

}  // namespace fuselstm::detail
