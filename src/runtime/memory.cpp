#include "runtime/memory.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <string>

#include <unistd.h>

#include "fuselstm/error.hpp"
#include "fuselstm/tensor.hpp"

namespace fuselstm {
namespace {

std::mutex stats_mutex;
std::map<std::pair<int, int>, MemoryStats>& all_stats() {
  static std::map<std::pair<int, int>, MemoryStats> stats;
  return stats;
}
std::pair<int, int> key_of(const Device& d) {
  return {static_cast<int>(d.kind), d.is_cpu() ? 0 : d.index};
}

}  // namespace

MemoryStats memory_stats(const Device& device) {
  std::lock_guard<std::mutex> lock(stats_mutex);
  return all_stats()[key_of(device)];
}

void reset_peak_memory(const Device& device) {
  std::lock_guard<std::mutex> lock(stats_mutex);
  MemoryStats& s = all_stats()[key_of(device)];
  s.peak_bytes = s.current_bytes;
}

namespace detail {

namespace {
std::atomic<bool> poison_enabled{false};
}  // namespace

void set_poison_new_memory(bool enabled) { poison_enabled = enabled; }

void* allocate_bytes(const Device& device, std::size_t bytes) {
  void* p = nullptr;
  if (device.is_cpu()) {
    // 64-byte alignment suits vector loads; aligned_alloc wants a multiple of the alignment.
    const std::size_t rounded = (bytes + 63) / 64 * 64;
    p = std::aligned_alloc(64, rounded);
    if (!p) {
      throw OutOfMemoryError("fuselstm: out of host memory allocating " + std::to_string(bytes) +
                             " bytes");
    }
  } else {
    p = cuda_runtime::allocate(device.index, bytes);
  }
  if (poison_enabled) {
    // All-ones bytes are a NaN in both f32 and f64: an element nobody wrote shows up in a test.
    if (device.is_cpu()) std::memset(p, 0xFF, bytes);
    else cuda_runtime::memset(device.index, p, 0xFF, bytes);
  }
  std::lock_guard<std::mutex> lock(stats_mutex);
  MemoryStats& s = all_stats()[key_of(device)];
  s.current_bytes += static_cast<std::int64_t>(bytes);
  s.allocations += 1;
  if (s.current_bytes > s.peak_bytes) s.peak_bytes = s.current_bytes;
  return p;
}

void free_bytes(const Device& device, void* pointer, std::size_t bytes) noexcept {
  if (!pointer) return;
  if (device.is_cpu()) std::free(pointer);
  else cuda_runtime::free(device.index, pointer);
  std::lock_guard<std::mutex> lock(stats_mutex);
  all_stats()[key_of(device)].current_bytes -= static_cast<std::int64_t>(bytes);
}

std::int64_t available_bytes(const Device& device) {
  if (device.is_cuda()) return cuda_runtime::free_bytes(device.index);
  return static_cast<std::int64_t>(sysconf(_SC_AVPHYS_PAGES)) * sysconf(_SC_PAGESIZE);
}

void copy_bytes(void* dst, const Device& dst_device, const void* src, const Device& src_device,
                std::size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
  if (dst_device.is_cuda() && src_device.is_cuda() && dst_device.index != src_device.index) {
    throw DeviceError("fuselstm: copies between two CUDA devices (" + src_device.str() + " -> " +
                      dst_device.str() + ") are not supported; go through the host");
  }
  const int index = dst_device.is_cuda() ? dst_device.index : src_device.index;
  cuda_runtime::copy(dst, dst_device.is_cuda(), src, src_device.is_cuda(), bytes, index);
}

}  // namespace detail
}  // namespace fuselstm
