#pragma once
// ExecutionContext: where work runs. One device, one ordered queue of work (a CUDA stream; on the
// host, the calling thread), the BLAS handles configured once, and a caching memory arena.

#include <cstdint>
#include <memory>

#include "fuselstm/device.hpp"

namespace fuselstm {

namespace detail {
struct ContextState;
}

/// Counters of the memory the library holds. "In use" is what live tensors and buffers asked for;
/// the arena keeps freed blocks cached for the next request of a similar size (best fit, never
/// wasting more than half a block), so a training loop of one shape takes memory from the system
/// only in its first iteration (after a change of shape, in its first few).
struct MemoryStats {
  std::int64_t current_bytes = 0;       ///< in use now (bytes asked for by live allocations)
  std::int64_t peak_bytes = 0;          ///< high-water mark of current_bytes since reset
  std::int64_t allocations = 0;         ///< allocations served (from the cache or the system)
  std::int64_t system_allocations = 0;  ///< of those, how many asked the system (malloc/cudaMalloc)
  std::int64_t reserved_bytes = 0;      ///< held from the system now: in use + cached
};

/// An execution context. Every tensor, model, head and optimizer belongs to one; everything they
/// allocate, copy, fill or launch goes through it, queued in order on its stream, so work needs no
/// device-wide barrier. A handle: copies refer to the same context, which lives while any copy or
/// any tensor made on it lives.
///
/// Stream contract (CUDA):
/// - Calls return once their work is queued. Results are safe to read on the device by later work
///   on the same context; Tensor::to_vector (and the losses' value) wait for the stream first.
///   Before touching a tensor's memory from other code (your kernels, another library), call
///   synchronize() or order that code after the context's stream yourself.
/// - PyTorch: `ExecutionContext::borrow_stream(Device::cuda(i), (void*)torch.cuda.current_stream()
///   .cuda_stream)` runs the library on torch's current stream, ordered with torch's own work.
/// - A model given a tensor made on another context of the same device first makes its stream wait
///   for that context's queued work (an event, no host wait). The tensor must stay alive until the
///   consumer's work is done: its memory returns to its own context's cache when it is freed.
/// - The host context runs everything synchronously on the calling thread.
/// Threads: a context's arena and ops are thread-safe, so models used from different threads may
/// share one (the default contexts are shared by everything that names only a Device); their work
/// is then serialised on its one stream. Give each thread its own context to overlap them.
///
/// Host calls per time step on CUDA, per layer and direction: forward 1 cuBLAS GEMM + 1 kernel
/// launch + 1 launch check; backward the same; no allocation, no synchronisation, no per-call
/// handle set-up (the stream, math mode and workspace of each cuBLAS handle are set once here).
class ExecutionContext {
 public:
  /// A context on `device` with a stream of its own (CUDA: created non-blocking, destroyed with
  /// the context). Throws DeviceError when the device is not usable.
  explicit ExecutionContext(const Device& device);
  /// A context on CUDA `device` that runs on `cuda_stream` (a cudaStream_t of that device), which
  /// it borrows: never destroyed by the library. Null means the legacy default stream.
  static ExecutionContext borrow_stream(const Device& device, void* cuda_stream);
  /// The context used by calls that name only a Device (Tensor::empty(shape, dtype, device),
  /// LstmConfig without a context): one per device, with its own stream, created on first use and
  /// kept until the process exits.
  static ExecutionContext default_for(const Device& device);

  Device device() const;
  /// The cudaStream_t work is queued on; null on the host.
  void* cuda_stream() const;
  /// Waits until every call queued on this context has finished (a no-op on the host).
  void synchronize() const;
  /// The arena's counters for this context.
  MemoryStats memory_stats() const;
  /// Returns cached (unused) blocks to the system; memory in use is untouched.
  void release_cached_memory();

  friend bool operator==(const ExecutionContext& a, const ExecutionContext& b) {
    return a.state_ == b.state_;
  }
  friend bool operator!=(const ExecutionContext& a, const ExecutionContext& b) { return !(a == b); }

  /// Internal: the shared state.
  const std::shared_ptr<detail::ContextState>& state() const { return state_; }
  explicit ExecutionContext(std::shared_ptr<detail::ContextState> state);

 private:
  std::shared_ptr<detail::ContextState> state_;
};

/// The counters summed over every context on `device`.
MemoryStats memory_stats(const Device& device);
/// Sets peak_bytes to current_bytes for every context on `device`.
void reset_peak_memory(const Device& device);

}  // namespace fuselstm
