#include "runtime/memory.hpp"

#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <utility>

namespace fuselstm {
namespace {

std::mutex stats_mutex;
std::map<std::pair<int, int>, MemoryStats>& all_stats() {
  static auto* stats = new std::map<std::pair<int, int>, MemoryStats>();  // outlives every arena
  return *stats;
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

void set_poison_new_memory(bool enabled) {
  poison_enabled = enabled;
}
bool poison_new_memory() {
  return poison_enabled;
}

void account_allocation(const Device& device, std::int64_t bytes, bool from_system,
                        std::int64_t reserved_delta) {
  std::lock_guard<std::mutex> lock(stats_mutex);
  MemoryStats& s = all_stats()[key_of(device)];
  s.current_bytes += bytes;
  s.allocations += 1;
  s.system_allocations += from_system ? 1 : 0;
  s.reserved_bytes += reserved_delta;
  if (s.current_bytes > s.peak_bytes) s.peak_bytes = s.current_bytes;
}

void account_free(const Device& device, std::int64_t bytes, std::int64_t reserved_delta) {
  std::lock_guard<std::mutex> lock(stats_mutex);
  MemoryStats& s = all_stats()[key_of(device)];
  s.current_bytes -= bytes;
  s.reserved_bytes += reserved_delta;
}

std::int64_t available_bytes(const Device& device) {
  if (device.is_cuda()) return cuda_runtime::free_bytes(device.index);
  return static_cast<std::int64_t>(sysconf(_SC_AVPHYS_PAGES)) * sysconf(_SC_PAGESIZE);
}

DeviceScope::DeviceScope(const Device& device) {
  if (!device.is_cuda()) return;
  const int current = cuda_runtime::current_device();
  if (current != device.index) {
    cuda_runtime::set_device(device.index);
    previous_ = current;
  }
}

DeviceScope::~DeviceScope() {
  if (previous_ >= 0) {
    try {
      cuda_runtime::set_device(previous_);
    } catch (...) {
    }
  }
}

}  // namespace detail
}  // namespace fuselstm
