#pragma once
// The bench's own small CUDA helper: device properties, free memory, a stream and event timing.
// gpu_helper.cpp implements it with the CUDA runtime; gpu_helper_stub.cpp (CUDA off) throws.
// Every CUDA status is checked and turned into fuselstm::DeviceError with file:line and the call.

#include <cstddef>
#include <cstdint>
#include <string>

namespace fuselstm::bench::gpu {

struct Properties {
  std::string name;
  int driver_version = 0;   // e.g. 13000 for CUDA 13.0 (cudaDriverGetVersion)
  int runtime_version = 0;  // cudaRuntimeGetVersion
  int multiprocessors = 0;
  std::int64_t l2_bytes = 0;
  std::int64_t total_bytes = 0;
};

/// Properties of CUDA device `device` (attributes, not the removed cudaDeviceProp::clockRate).
Properties properties(int device);

/// Free and total device memory now (cudaMemGetInfo).
struct MemoryInfo {
  std::int64_t free_bytes = 0;
  std::int64_t total_bytes = 0;
};
MemoryInfo memory_info(int device);

/// Synchronous host-to-device copy of `bytes`.
void copy_to_device(int device, void* dst, const void* src, std::size_t bytes);

/// An owned, blocking CUDA stream (so Tensor's synchronous copies order with it).
class Stream {
 public:
  explicit Stream(int device);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void* handle() const { return stream_; }
  void synchronize();

 private:
  int device_;
  void* stream_ = nullptr;
};

/// Times device work queued on `stream` between start() and stop() with a pair of CUDA events.
class EventTimer {
 public:
  EventTimer(int device, void* stream);
  ~EventTimer();
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  void start();
  /// Records the stop event, waits for it and returns the elapsed milliseconds.
  double stop_ms();

 private:
  int device_;
  void* stream_;
  void* begin_ = nullptr;
  void* end_ = nullptr;
};

}  // namespace fuselstm::bench::gpu
