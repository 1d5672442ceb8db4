#pragma once
// The platform under the arena: raw memory and copies on the host and on CUDA devices, the
// process-wide counters per device, and the CUDA runtime calls (src/runtime/cuda/runtime.cpp, or
// runtime_stub.cpp in a build without CUDA). Internal.

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuselstm/context.hpp"
#include "fuselstm/device.hpp"

namespace fuselstm::detail {

/// Tests: when enabled, every allocation (new or from the cache) is filled with NaN bytes, so an
/// output element the library forgets to write fails the comparison instead of passing on stale
/// values.
void set_poison_new_memory(bool enabled);
bool poison_new_memory();

/// Bytes that can still be taken from the system on `device`: the host's available physical
/// memory, or the CUDA device's free memory.
std::int64_t available_bytes(const Device& device);

/// Process-wide counters per device (memory_stats(Device)); the arenas report every change.
void account_allocation(const Device& device, std::int64_t bytes, bool from_system,
                        std::int64_t reserved_delta);
void account_free(const Device& device, std::int64_t bytes, std::int64_t reserved_delta);

/// Makes `device` current for the scope of a public call and restores the previous one (CUDA); a
/// no-op on the host or when it is current already.
class DeviceScope {
 public:
  explicit DeviceScope(const Device& device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = -1;
};

/// The CUDA runtime, or stubs that report "built without CUDA".
namespace cuda_runtime {
int device_count() noexcept;
std::int64_t free_bytes(int device);
std::string device_name(int device);
int current_device();
void set_device(int device);
/// Throws OutOfMemoryError naming the bytes and the device's free memory.
void* allocate(int device, std::size_t bytes);
void free(int device, void* pointer) noexcept;
/// A new non-blocking stream on `device`.
void* create_stream(int device);
void destroy_stream(int device, void* stream) noexcept;
void synchronize(int device, void* stream);
void memset_async(int device, void* pointer, int byte, std::size_t bytes, void* stream);
/// Copies between host and device in either direction, or within the device, queued on `stream`.
/// Host memory may be pageable: the call returns once the host bytes have been read (to the
/// host) or staged (from the host); a copy to the host waits for the stream.
void copy_async(void* dst, bool dst_on_device, const void* src, bool src_on_device,
                std::size_t bytes, int device, void* stream);
/// Makes `consumer` wait for the work queued on `producer` so far (an event; no host wait).
void order_after(int device, void* producer, void* consumer);
}  // namespace cuda_runtime

}  // namespace fuselstm::detail
