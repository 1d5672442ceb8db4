// gpu_helper.hpp when the bench is built without CUDA: every call says so.

#include "fuselstm/error.hpp"
#include "gpu_helper.hpp"

namespace fuselstm::bench::gpu {
namespace {
[[noreturn]] void no_cuda() {
  throw DeviceError("fuselstm_bench: built without CUDA (FUSELSTM_CUDA=OFF); use --device cpu");
}
}  // namespace

Properties properties(int) {
  no_cuda();
}
MemoryInfo memory_info(int) {
  no_cuda();
}
void copy_to_device(int, void*, const void*, std::size_t) {
  no_cuda();
}
Stream::Stream(int device) : device_(device) {
  no_cuda();
}
Stream::~Stream() = default;
void Stream::synchronize() {}
EventTimer::EventTimer(int device, void* stream) : device_(device), stream_(stream) {
  no_cuda();
}
EventTimer::~EventTimer() = default;
void EventTimer::start() {}
double EventTimer::stop_ms() {
  return 0;
}

}  // namespace fuselstm::bench::gpu
