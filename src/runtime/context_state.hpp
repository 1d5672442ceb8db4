#pragma once
// What an ExecutionContext is made of: its device, its stream, its arena, and the ops (host BLAS
// or cuBLAS + kernels) that run on that stream, created once per element type and math mode with
// their cuBLAS handle configured once. Internal.

#include <memory>
#include <mutex>

#include "fuselstm/config.hpp"
#include "fuselstm/context.hpp"
#include "ops/ops.hpp"
#include "runtime/arena.hpp"

namespace fuselstm::detail {

/// Owns (or borrows) a CUDA stream; destroyed last, after everything that queues on it.
class StreamHolder {
 public:
  StreamHolder(const Device& device, void* borrowed, bool borrow);
  ~StreamHolder();
  StreamHolder(const StreamHolder&) = delete;
  StreamHolder& operator=(const StreamHolder&) = delete;
  void* get() const { return stream_; }

 private:
  Device device_;
  void* stream_ = nullptr;
  bool owned_ = false;
};

struct ContextState {
  ContextState(const Device& device, void* borrowed_stream, bool borrow);
  ~ContextState();

  const Device device;
  StreamHolder stream;  // declared first: destroyed after the arena and the ops
  CachingArena arena;

  /// The ops of element type T on this context; `math` chooses the cuBLAS handle for fp32 data
  /// (fp64 has no TF32). Created on first use; the same object afterwards.
  template <typename T>
  std::shared_ptr<ops::Ops<T>> ops(MathMode math = MathMode::fp32);

  /// Makes this context's stream wait for `producer`'s queued work when they differ (CUDA).
  void order_after(const ContextState& producer);

 private:
  std::mutex mutex_;
  std::shared_ptr<ops::Ops<float>> f32_[2];  // by MathMode
  std::shared_ptr<ops::Ops<double>> f64_;
};

/// The context a tensor or a Device-only call uses: the default one of `device`.
std::shared_ptr<ContextState> default_context_state(const Device& device);

/// Throws DeviceError unless `device` is usable in this build and on this machine; `what` names
/// the argument ("LstmConfig.device").
void check_device_usable(const Device& device, const char* what);

}  // namespace fuselstm::detail
