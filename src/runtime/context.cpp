#include "fuselstm/context.hpp"

#include <map>
#include <string>

#include "fuselstm/error.hpp"
#include "runtime/capture_region.hpp"
#include "runtime/context_state.hpp"
#include "runtime/memory.hpp"

namespace fuselstm {
namespace detail {

void check_device_usable(const Device& device, const char* what) {
  if (!device.is_cuda()) return;
  if (!cuda_compiled()) {
    throw DeviceError(std::string("fuselstm: ") + what + " is " + device.str() +
                      " but this build has no CUDA support (configure with the CUDA toolkit and "
                      "-DFUSELSTM_CUDA=ON)");
  }
  const int count = cuda_device_count();
  if (device.index < 0 || device.index >= count) {
    throw DeviceError(std::string("fuselstm: ") + what + " is " + device.str() + " but " +
                      std::to_string(count) + " CUDA device(s) are usable");
  }
}

StreamHolder::StreamHolder(const Device& device, void* borrowed, bool borrow) : device_(device) {
  if (!device.is_cuda()) return;
  if (borrow) {
    stream_ = borrowed;
  } else {
    stream_ = cuda_runtime::create_stream(device.index);
    owned_ = true;
  }
}

StreamHolder::~StreamHolder() {
  if (owned_) cuda_runtime::destroy_stream(device_.index, stream_);
}

ContextState::ContextState(const Device& d, void* borrowed_stream, bool borrow)
    : device(d), stream(d, borrowed_stream, borrow), arena(d, stream.get()) {}

ContextState::~ContextState() {
  // The ops go first (their cuBLAS workspaces return to the arena), then the arena gives its
  // cache back, then the stream holder destroys an owned stream.
  for (auto& o : f32_) o.reset();
  f64_.reset();
}

template <>
std::shared_ptr<ops::Ops<float>> ContextState::ops<float>(MathMode math) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = f32_[math == MathMode::tf32 ? 1 : 0];
  if (!slot) {
    slot = device.is_cuda() ? ops::make_cuda_ops<float>(device, stream.get(), math, arena)
                            : ops::make_host_ops<float>();
  }
  return slot;
}

template <>
std::shared_ptr<ops::Ops<double>> ContextState::ops<double>(MathMode) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!f64_) {
    f64_ = device.is_cuda()
               ? ops::make_cuda_ops<double>(device, stream.get(), MathMode::fp32, arena)
               : ops::make_host_ops<double>();
  }
  return f64_;
}

void ContextState::order_after(const ContextState& producer) {
  if (&producer == this || !device.is_cuda() || !producer.device.is_cuda()) return;
  if (producer.stream.get() == stream.get()) return;
  cuda_runtime::order_after(device.index, producer.stream.get(), stream.get());
}

std::shared_ptr<ContextState> default_context_state(const Device& device) {
  static std::mutex mutex;
  // Never destroyed: tensors in static storage may outlive any exit-time destructor order, and
  // CUDA may be unloading by then.
  static auto* contexts = new std::map<std::pair<int, int>, std::shared_ptr<ContextState>>();
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = (*contexts)[{static_cast<int>(device.kind), device.is_cpu() ? 0 : device.index}];
  if (!slot) {
    check_device_usable(device, "the device");
    slot = std::make_shared<ContextState>(device.is_cpu() ? Device::cpu() : device, nullptr, false);
  }
  return slot;
}

}  // namespace detail

ExecutionContext::ExecutionContext(std::shared_ptr<detail::ContextState> state)
    : state_(std::move(state)) {}

ExecutionContext::ExecutionContext(const Device& device) {
  detail::check_device_usable(device, "ExecutionContext's device");
  state_ = std::make_shared<detail::ContextState>(device, nullptr, false);
}

ExecutionContext ExecutionContext::borrow_stream(const Device& device, void* cuda_stream) {
  if (!device.is_cuda()) {
    throw ValueError("fuselstm: ExecutionContext::borrow_stream needs a CUDA device, got " +
                     device.str());
  }
  detail::check_device_usable(device, "ExecutionContext::borrow_stream's device");
  return ExecutionContext(std::make_shared<detail::ContextState>(device, cuda_stream, true));
}

ExecutionContext ExecutionContext::default_for(const Device& device) {
  return ExecutionContext(detail::default_context_state(device));
}

Device ExecutionContext::device() const {
  return state_->device;
}
void* ExecutionContext::cuda_stream() const {
  return state_->stream.get();
}

void ExecutionContext::synchronize() const {
  detail::check_not_capturing("a stream synchronisation");
  if (state_->device.is_cuda()) {
    detail::DeviceScope scope(state_->device);
    detail::cuda_runtime::synchronize(state_->device.index, state_->stream.get());
  }
}

MemoryStats ExecutionContext::memory_stats() const {
  return state_->arena.stats();
}
void ExecutionContext::release_cached_memory() {
  state_->arena.release_cached();
}

}  // namespace fuselstm
