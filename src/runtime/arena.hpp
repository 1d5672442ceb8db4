#pragma once
// A caching, stream-ordered memory arena: the only place the library takes memory from the system.
// Freed blocks are kept and handed out again for a later request of a similar size, so the second
// call of the same shape takes nothing from the system (and on CUDA never reaches cudaFree, which
// waits for the whole device). Stream order makes reuse safe: every use of a block is queued on the
// context's one stream, so work queued after a block is reused runs after the work that used it
// before. Internal.

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "fuselstm/context.hpp"
#include "fuselstm/device.hpp"

namespace fuselstm::detail {

class CachingArena {
 public:
  /// `stream`: the context's cudaStream_t (CUDA), where poisoning memsets are queued.
  CachingArena(const Device& device, void* stream);
  /// Returns every cached block to the system. Blocks still in use are not freed (a tensor keeps
  /// its context, and so its arena, alive; none can be in use here).
  ~CachingArena();
  CachingArena(const CachingArena&) = delete;
  CachingArena& operator=(const CachingArena&) = delete;

  /// A block of at least `bytes` (64-byte aligned on the host, 256 on CUDA), or null for 0 bytes.
  /// Throws OutOfMemoryError naming the size, the device and what is held, after returning the
  /// cache to the system and trying once more.
  void* allocate(std::size_t bytes);
  /// Returns a block from allocate() to the cache. Never throws.
  void deallocate(void* pointer) noexcept;
  /// Gives every cached block back to the system.
  void release_cached() noexcept;
  /// Bytes cached now (free for reuse).
  std::int64_t cached_bytes() const;

  MemoryStats stats() const;
  void reset_peak();

 private:
  struct Live {
    std::size_t block = 0;      // the block's size
    std::size_t requested = 0;  // what the caller asked for (the in-use count)
  };
  void* system_allocate(std::size_t block);
  void system_free(void* pointer, std::size_t block) noexcept;
  void release_cached_locked() noexcept;

  Device device_;
  void* stream_ = nullptr;
  mutable std::mutex mutex_;
  // (block size, address) → block: among blocks of one size the lowest address is handed out
  // first, whatever order they were freed in, so a loop that allocates the same sizes in the same
  // order gets the same addresses every iteration (what lets a recorded graph replay unchanged).
  std::map<std::pair<std::size_t, std::uintptr_t>, void*> cached_;
  std::unordered_map<void*, Live> live_;
  std::int64_t cached_bytes_ = 0;
  MemoryStats stats_;
};

}  // namespace fuselstm::detail
