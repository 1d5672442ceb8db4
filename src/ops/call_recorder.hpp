#pragma once
// Ops that run nothing: every call is appended to a CallLog (RecurrentAlgorithm::graphs records
// the orchestration through this, then hands the log to the real ops' run_recorded). What a graph
// cannot replay is refused here: synchronize() (a wait inside the sequence) throws. Internal.

#include "fuselstm/error.hpp"
#include "ops/call_log.hpp"

namespace fuselstm::ops {

template <typename T>
class CallRecorder final : public Ops<T> {
public:
  explicit CallRecorder(const Device& device)
      : device_(device), weight_gradients_transposed_(true) {}
  /// Records for `runner`, the ops that will replay the log: it answers what the orchestration
  /// asks of the ops it runs on (the device, the weight-gradient form) so the recorded calls are
  /// the ones the runner would have issued itself.
  explicit CallRecorder(const Ops<T>& runner)
      : device_(runner.device()),
        weight_gradients_transposed_(runner.weight_gradients_transposed()) {}

  const CallLog<T>& log() const { return log_; }
  Device device() const override { return device_; }
  bool weight_gradients_transposed() const override { return weight_gradients_transposed_; }

  void gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
            const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
            std::int64_t ldc) override {
    log_.template add<&Ops<T>::gemm>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void weight_gemm(Trans ta, Trans tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a,
                   std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc,
                   bool a_unchanged) override {
    log_.template add<&Ops<T>::weight_gemm>(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc,
                                            a_unchanged);
  }
  void add_column_sums(std::int64_t rows, std::int64_t cols, const T* src, T* dst) override {
    log_.template add<&Ops<T>::add_column_sums>(rows, cols, src, dst);
  }
  void axpy(std::int64_t n, T alpha, const T* x, T* y) override {
    log_.template add<&Ops<T>::axpy>(n, alpha, x, y);
  }
  void fill(T* dst, std::int64_t n, T value) override {
    log_.template add<&Ops<T>::fill>(dst, n, value);
  }
  void copy(T* dst, const T* src, std::int64_t n) override {
    log_.template add<&Ops<T>::copy>(dst, src, n);
  }
  void synchronize() override {
    throw Error("fuselstm: internal error: synchronize() inside a recorded call sequence "
                "(RecurrentAlgorithm::graphs); please report it");
  }
  void broadcast_rows(std::int64_t rows, std::int64_t cols, const T* src, T* dst) override {
    log_.template add<&Ops<T>::broadcast_rows>(rows, cols, src, dst);
  }
  void scale(std::int64_t n, T alpha, T* x) override {
    log_.template add<&Ops<T>::scale>(n, alpha, x);
  }
  void clamp(std::int64_t n, T low, T high, T* x) override {
    log_.template add<&Ops<T>::clamp>(n, low, high, x);
  }
  void reduce(kernels::ReduceKind kind, std::int64_t n, const T* src, double* out) override {
    log_.template add<&Ops<T>::reduce>(kind, n, src, out);
  }

  void forward_step(CellActivation cell, const kernels::ForwardStepArgs<T>& args) override {
    log_.template add<&Ops<T>::forward_step>(cell, args);
  }
  void backward_step(CellActivation cell, const kernels::BackwardStepArgs<T>& args) override {
    log_.template add<&Ops<T>::backward_step>(cell, args);
  }
  void zero_padded_steps(std::int64_t steps, std::int64_t batch, std::int64_t width,
                         const std::int32_t* lengths, bool batch_first, T* data) override {
    log_.template add<&Ops<T>::zero_padded_steps>(steps, batch, width, lengths, batch_first, data);
  }
  void swap_axes(std::int64_t outer, std::int64_t inner, std::int64_t width, const T* src,
                 T* dst) override {
    log_.template add<&Ops<T>::swap_axes>(outer, inner, width, src, dst);
  }
  void reverse_time(std::int64_t steps, std::int64_t batch, std::int64_t width,
                    const std::int32_t* lengths, const T* src, std::int64_t src_step,
                    std::int64_t src_batch, T* dst, bool accumulate) override {
    log_.template add<&Ops<T>::reverse_time>(steps, batch, width, lengths, src, src_step,
                                             src_batch, dst, accumulate);
  }
  void join_directions(std::int64_t steps, std::int64_t batch, std::int64_t hidden,
                       const std::int32_t* lengths, const T* fwd, const T* rev, T* out,
                       bool batch_first) override {
    log_.template add<&Ops<T>::join_directions>(steps, batch, hidden, lengths, fwd, rev, out,
                                                batch_first);
  }
  void dropout(std::int64_t n, const kernels::DropoutKey& key, const T* src, T* dst) override {
    log_.template add<&Ops<T>::dropout>(n, key, src, dst);
  }
  void forward_recurrence(CellActivation cell,
                          const kernels::ForwardRecurrenceArgs<T>& args) override {
    log_.template add<&Ops<T>::forward_recurrence>(cell, args);
  }
  void backward_recurrence(CellActivation cell,
                           const kernels::BackwardRecurrenceArgs<T>& args) override {
    log_.template add<&Ops<T>::backward_recurrence>(cell, args);
  }

  void mse_loss(const kernels::MseArgs<T>& args) override {
    log_.template add<&Ops<T>::mse_loss>(args);
  }
  void cross_entropy_loss(const kernels::CrossEntropyArgs<T>& args) override {
    log_.template add<&Ops<T>::cross_entropy_loss>(args);
  }
  void sgd_update(std::int64_t n, const kernels::SgdStepArgs<T>& args) override {
    log_.template add<&Ops<T>::sgd_update>(n, args);
  }
  void adam_update(std::int64_t n, const kernels::AdamStepArgs<T>& args) override {
    log_.template add<&Ops<T>::adam_update>(n, args);
  }

  void gather_last_step(std::int64_t steps, std::int64_t batch, std::int64_t width,
                        const std::int32_t* lengths, bool batch_first, const T* src,
                        T* dst) override {
    log_.template add<&Ops<T>::gather_last_step>(steps, batch, width, lengths, batch_first, src,
                                                 dst);
  }
  void scatter_last_step(std::int64_t steps, std::int64_t batch, std::int64_t width,
                         const std::int32_t* lengths, bool batch_first, const T* dlast,
                         T* dsrc) override {
    log_.template add<&Ops<T>::scatter_last_step>(steps, batch, width, lengths, batch_first,
                                                  dlast, dsrc);
  }
  void activation_forward(kernels::ActivationKind kind, std::int64_t n, const T* x,
                          T* y) override {
    log_.template add<&Ops<T>::activation_forward>(kind, n, x, y);
  }
  void activation_backward(kernels::ActivationKind kind, std::int64_t n, const T* y, const T* dy,
                           T* dx) override {
    log_.template add<&Ops<T>::activation_backward>(kind, n, y, dy, dx);
  }
  void embedding_forward(std::int64_t count, std::int64_t width, const std::int64_t* ids,
                         const T* weight, T* out) override {
    log_.template add<&Ops<T>::embedding_forward>(count, width, ids, weight, out);
  }
  void embedding_backward(std::int64_t segments, std::int64_t width, const std::int64_t* start,
                          const std::int64_t* segment_id, const std::int64_t* order, const T* dout,
                          T* dweight) override {
    log_.template add<&Ops<T>::embedding_backward>(segments, width, start, segment_id, order, dout,
                                                   dweight);
  }

  void run_recorded(const CallLog<T>& calls) override {  // nested: the calls join this log
    calls.replay(*this);
  }
  GraphStats graph_stats() const override { return {}; }

private:
  Device device_;
  bool weight_gradients_transposed_;
  CallLog<T> log_;
};

}  // namespace fuselstm::ops
