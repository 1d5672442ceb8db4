#pragma once
// The persistent algorithm on the host: a layer's whole run of recurrent steps in one call, on a
// pool of threads, with W_hh packed once per call into 16-lane panels.
//
// Split by units, per step forward: each worker adds h(t−1)·W_hhᵀ to the pre-activations of its
// 16-unit blocks' four gates (its rows of W_hh) for every row of the batch, applies the cell to
// those units, and meets the others at one barrier, after which h(t) is complete. Backward: the
// cell step of its units writes their da(t); one barrier; then each worker computes dh_rec for
// its units from all of da(t) and its columns of W_hh.
// Split by rows: each worker runs rows of the batch through every step with all of W_hh; a row's
// step needs only that row's h(t−1) or da(t), so the workers meet only once the panels are packed.
// Either way no atomics and no reduction across workers: every element's products are summed in
// increasing k by one thread, so the bits do not depend on the split, the number of threads, the
// memory mode or the vector width.

#include <memory>
#include <mutex>
#include <vector>

#include "fuselstm/config.hpp"
#include "kernels/recurrence_math.hpp"
#include "ops/host/host_cell_simd.hpp"
#include "ops/host/worker_pool.hpp"

namespace fuselstm::ops {

/// How the workers share a step. units: each owns 16-unit blocks of every row (its rows of W_hh)
/// and all meet at a barrier per step, after which h(t) is complete. rows: each owns rows of the
/// batch with every unit (all of W_hh, read by every worker) and runs its rows' steps alone, with
/// no barrier between steps. Each element's sums and cell math are the same either way: the
/// split changes where the work runs, never the bits.
enum class RecurrenceSplit { units, rows };

/// automatic: split_for's choice by shape (FUSELSTM_HOST_SPLIT=units|rows forces one, read once
/// per process); units / rows: always that one (tests).
enum class SplitPolicy { automatic, units, rows };

template <typename T>
class HostRecurrence {
 public:
  explicit HostRecurrence(HostSimd simd, int threads = WorkerPool::default_size(),
                          PoolThreads pool_threads = WorkerPool::default_threads());

  void forward(CellActivation cell, const kernels::ForwardRecurrenceArgs<T>& args);
  void backward(CellActivation cell, const kernels::BackwardRecurrenceArgs<T>& args);

  int threads() const { return pool_.size(); }
  /// The workers a call with this shape asks for: at most threads(), one per 16-unit block at
  /// most, and fewer when the step's work is small (another thread's barrier would cost more).
  int workers_for(std::int64_t hidden, std::int64_t batch) const;
  PoolThreads pool_threads() const { return pool_.threads(); }
  /// The split a call with this shape uses when OpenMP (or the pool) gives it `team` workers.
  RecurrenceSplit split_for(std::int64_t hidden, std::int64_t batch, int team) const;
  void set_split_policy(SplitPolicy policy) { split_policy_ = policy; }

 private:
  T* scratch_for(std::int64_t elements);  // grows scratch_ (kept across calls)

  HostSimd simd_;
  WorkerPool pool_;
  SplitPolicy split_policy_;
  std::mutex mutex_;        // one call at a time: the buffers below are shared
  std::vector<T> packed_;           // forward: W_hh's rows in panels, packed per call
  std::vector<T> packed_backward_;  // backward: W_hh's columns in panels, for the team below
  const T* backward_packed_from_ = nullptr;  // what packed_backward_ holds: W_hh at this address
  std::int64_t backward_packed_hidden_ = 0;  //   with this H,
  int backward_packed_layout_ = 0;           //   in the layout of this many workers by units
  std::vector<T> scratch_;  // per worker: one block's products for every row
};

}  // namespace fuselstm::ops
