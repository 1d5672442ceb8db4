#pragma once
// The ops interface the orchestration is written against. Two implementations with the same
// semantics: host (BLAS or loops; runs in CI and is the CPU path) and CUDA (cuBLAS + kernels/).
// All pointers are memory of the ops' device; every call is queued on the execution context's
// stream and returns without waiting, except synchronize(). The caller has made the device
// current (detail::DeviceScope at the public call).

#include <cstdint>
#include <memory>

#include "kernels/cell_math.hpp"
#include "kernels/sequence_math.hpp"
#include "kernels/dropout_math.hpp"
#include "kernels/loss_math.hpp"
#include "kernels/optim_math.hpp"
#include "kernels/layer_math.hpp"
#include "kernels/recurrence_math.hpp"
#include "kernels/persistent_math.hpp"
#include "fuselstm/config.hpp"
#include "fuselstm/device.hpp"

namespace fuselstm::detail {
class CachingArena;
}

namespace fuselstm::ops {

enum class Trans { N, T };

template <typename T>
class CallLog;  // ops/call_log.hpp

/// Generic element-wise, reduction and matrix-product operations (any model, head or optimizer).
template <typename T>
class ElementOps {
public:
  using value_type = T;
  virtual ~ElementOps() = default;
  virtual Device device() const = 0;

  /// C = alpha·op(A)·op(B) + beta·C in cuBLAS's convention: column-major, op(A) is m×k, op(B) is
  /// k×n, C is m×n; lda/ldb/ldc are leading dimensions. beta = 0 ignores C's old contents.
  virtual void gemm(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                    T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta,
                    T* c, std::int64_t ldc) = 0;
  /// gemm with alpha = 1 whose A is a weight matrix the ops may keep packed in the layout their
  /// kernels read. `a_unchanged` promises that A holds what it held at the last weight_gemm that
  /// read this address with this trans_a, m, k and lda (within one orchestrated call: weights do
  /// not change inside it), so a packed copy may be used; false makes it pack A again. The same
  /// product as gemm, perhaps summed in another order; equal calls give equal bits. Host float32
  /// on oneDNN: its matmul primitive (ops/host/onednn_matmul.hpp); elsewhere gemm.
  virtual void weight_gemm(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n,
                           std::int64_t k, const T* a, std::int64_t lda, const T* b,
                           std::int64_t ldb, T beta, T* c, std::int64_t ldc, bool a_unchanged) {
    (void)a_unchanged;
    gemm(trans_a, trans_b, m, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
  }
  /// dst[j] += Σ_r src[r·cols + j] for a row-major [rows, cols] src; a fixed summation order.
  virtual void add_column_sums(std::int64_t rows, std::int64_t cols, const T* src, T* dst) = 0;
  /// y += alpha·x over n elements.
  virtual void axpy(std::int64_t n, T alpha, const T* x, T* y) = 0;
  virtual void fill(T* dst, std::int64_t n, T value) = 0;
  /// Copies n elements within the device; the ranges must not overlap.
  virtual void copy(T* dst, const T* src, std::int64_t n) = 0;
  /// Waits for every queued call.
  virtual void synchronize() = 0;

  /// dst[r·cols + j] = src[j] for a row-major [rows, cols] dst (a bias on every row).
  virtual void broadcast_rows(std::int64_t rows, std::int64_t cols, const T* src, T* dst) = 0;
  /// x *= alpha over n elements.
  virtual void scale(std::int64_t n, T alpha, T* x) = 0;
  /// x = clamp(x, low, high) over n elements (kernels::clamp_value; NaN stays NaN).
  virtual void clamp(std::int64_t n, T low, T high, T* x) = 0;
  /// out[0] = Σ_e reduce_term(kind, src[e]) in double, in a fixed order on each device (so the same
  /// inputs give the same bits). `out` is one double of the ops' device memory; n = 0 gives 0.
  virtual void reduce(kernels::ReduceKind kind, std::int64_t n, const T* src, double* out) = 0;
};

/// The LSTM sequence operations: the fused cell steps and the layout moves of the orchestration.
template <typename T>
class SequenceOps {
public:
  using value_type = T;
  virtual ~SequenceOps() = default;
  /// The fused forward step over all B·H elements (kernels::lstm_forward_element).
  virtual void forward_step(CellActivation cell, const kernels::ForwardStepArgs<T>& args) = 0;
  /// The fused backward step over all B·H elements (kernels::lstm_backward_element).
  virtual void backward_step(CellActivation cell, const kernels::BackwardStepArgs<T>& args) = 0;
  /// Zeroes the elements of data [T, B, W] ([B, T, W] when batch_first) at steps past their
  /// sequence's length (lengths [B], device memory).
  virtual void zero_padded_steps(std::int64_t steps, std::int64_t batch, std::int64_t width,
                                 const std::int32_t* lengths, bool batch_first, T* data) = 0;
  /// dst [outer, inner, W] = src [inner, outer, W] with the first two axes swapped.
  virtual void swap_axes(std::int64_t outer, std::int64_t inner, std::int64_t width, const T* src,
                         T* dst) = 0;
  /// dst [T, B, W] (+)= src with each sequence's first lengths[b] steps reversed (lengths null:
  /// T); src's row (t, b) is at src + t·src_step + b·src_batch.
  virtual void reverse_time(std::int64_t steps, std::int64_t batch, std::int64_t width,
                            const std::int32_t* lengths, const T* src, std::int64_t src_step,
                            std::int64_t src_batch, T* dst, bool accumulate) = 0;
  /// out [T, B, 2H] ([B, T, 2H] when batch_first) = [fwd, rev reversed back] per step; fwd and
  /// rev [T, B, H].
  virtual void join_directions(std::int64_t steps, std::int64_t batch, std::int64_t hidden,
                               const std::int32_t* lengths, const T* fwd, const T* rev, T* out,
                               bool batch_first) = 0;
  /// dst = src ⊙ mask over n elements (kernels::dropout_element); src may equal dst.
  virtual void dropout(std::int64_t n, const kernels::DropoutKey& key, const T* src, T* dst) = 0;
  /// The persistent algorithm: a unit's recurrent steps [first, end) in one call
  /// (kernels/recurrence_math.hpp states what it computes). Host: the worker pool of
  /// host_recurrence.hpp. CUDA: one cooperative launch of the persistent kernel
  /// (kernels/persistent_math.hpp; opt-in, see RecurrentAlgorithm) when its plan is eligible,
  /// else the standard steps (recurrence_standard.hpp).
  virtual void forward_recurrence(CellActivation cell,
                                  const kernels::ForwardRecurrenceArgs<T>& args) = 0;
  virtual void backward_recurrence(CellActivation cell,
                                   const kernels::BackwardRecurrenceArgs<T>& args) = 0;
  /// How backward issues each gradient block's weight-gradient GEMMs: true, dW_hhᵀ += h·daᵀ
  /// (m = 4H) into a workspace transposed back at a unit's end; false, dW_hh += daᵀ·h (m = H).
  /// The same products, summed in each library's own order: a fixed choice per ops object
  /// (and per process on the host), so equal calls still give equal bits.
  virtual bool weight_gradients_transposed() const { return true; }
};

/// The training toolkit's fused operations: losses and optimizer updates.
template <typename T>
class TrainingOps {
public:
  using value_type = T;
  virtual ~TrainingOps() = default;
  /// kernels::mse_element over args.n elements.
  virtual void mse_loss(const kernels::MseArgs<T>& args) = 0;
  /// kernels::cross_entropy_row over args.rows rows.
  virtual void cross_entropy_loss(const kernels::CrossEntropyArgs<T>& args) = 0;
  /// One fused SGD update of one parameter tensor of n elements (kernels::sgd_element).
  virtual void sgd_update(std::int64_t n, const kernels::SgdStepArgs<T>& args) = 0;
  /// One fused Adam/AdamW update of one parameter tensor of n elements (kernels::adam_element).
  virtual void adam_update(std::int64_t n, const kernels::AdamStepArgs<T>& args) = 0;
};

/// The layers around an LSTM: last-step gather, MLP activations, embedding lookup.
template <typename T>
class LayerOps {
public:
  using value_type = T;
  virtual ~LayerOps() = default;
  /// dst [B, W] = src [T, B, W] ([B, T, W] when batch_first) at each sequence's last real step
  /// (lengths [B] device memory, or null: step T − 1). kernels::gather_last_step_element.
  virtual void gather_last_step(std::int64_t steps, std::int64_t batch, std::int64_t width,
                                const std::int32_t* lengths, bool batch_first, const T* src,
                                T* dst) = 0;
  /// dsrc [T, B, W] = dlast at each last real step, 0 elsewhere (every element written).
  virtual void scatter_last_step(std::int64_t steps, std::int64_t batch, std::int64_t width,
                                 const std::int32_t* lengths, bool batch_first, const T* dlast,
                                 T* dsrc) = 0;
  /// y = act(x) over n elements (x may equal y).
  virtual void activation_forward(kernels::ActivationKind kind, std::int64_t n, const T* x,
                                  T* y) = 0;
  /// dx = dy·act'(x), from y = act(x), over n elements (dy may equal dx).
  virtual void activation_backward(kernels::ActivationKind kind, std::int64_t n, const T* y,
                                   const T* dy, T* dx) = 0;
  /// out [N, W] = weight rows ids[0..N) (device memory, each in range).
  virtual void embedding_forward(std::int64_t count, std::int64_t width, const std::int64_t* ids,
                                 const T* weight, T* out) = 0;
  /// dweight += the segmented sums of dout (kernels::embedding_backward_element), S segments.
  virtual void embedding_backward(std::int64_t segments, std::int64_t width,
                                  const std::int64_t* start, const std::int64_t* segment_id,
                                  const std::int64_t* order, const T* dout, T* dweight) = 0;
};

/// What a graph cache has done since the ops were made (RecurrentAlgorithm::graphs).
struct GraphStats {
  std::int64_t captures = 0;   // sequences captured and instantiated as a new graph
  std::int64_t updates = 0;    // cached graphs updated in place (same calls, other arguments)
  std::int64_t replays = 0;    // cached graphs launched as they were (the same calls and bytes)
  std::int64_t evictions = 0;  // cached graphs dropped to make room
};

/// Recorded call sequences run as graphs (ops/graph_runner.hpp): captured once, then replayed or
/// updated from a small cache. CUDA: CUDA graphs. Host: its twin, the recorded calls replayed
/// through the same cache (same calls, same bits as running them directly).
template <typename T>
class GraphOps {
public:
  virtual ~GraphOps() = default;
  /// Runs `calls` (recorded against an ops::CallRecorder of this ops' device) as if each were
  /// called on this object in order.
  virtual void run_recorded(const CallLog<T>& calls) = 0;
  virtual GraphStats graph_stats() const = 0;
};

/// Everything a backend implements: one object per execution context, element type and math mode.
template <typename T>
class Ops : public ElementOps<T>, public SequenceOps<T>, public TrainingOps<T>,
            public LayerOps<T>, public GraphOps<T> {
public:
  using value_type = T;
};

/// Host ops: cblas (column-major) when BLAS was found at configure time, plain loops otherwise.
template <typename T>
std::unique_ptr<Ops<T>> make_host_ops();

/// Host ops that never call BLAS (the loops every BLAS result can be compared with).
template <typename T>
std::unique_ptr<Ops<T>> make_host_loop_ops();

/// CUDA ops queued on `stream` (a cudaStream_t of `device`), with a cuBLAS handle configured once
/// (stream, math mode, a fixed workspace taken from `arena`). Made by the execution context.
/// Throws DeviceError when the library was built without CUDA or the device is unusable.
/// The persistent CUDA kernel's plan for a call of (hidden, batch) on `device` (its attributes and
/// the kernel's occupancy): what CudaOps decides before forward_recurrence / backward_recurrence.
/// Without CUDA in the build: never eligible. Throws DeviceError when the device is unusable.
kernels::PersistentPlan cuda_persistent_plan(const Device& device, DType dtype, bool backward,
                                             CellActivation cell, std::int64_t hidden,
                                             std::int64_t batch);

template <typename T>
std::unique_ptr<Ops<T>> make_cuda_ops(const Device& device, void* stream, MathMode math,
                                      detail::CachingArena& arena);

}  // namespace fuselstm::ops
