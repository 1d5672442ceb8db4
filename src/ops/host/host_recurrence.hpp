#pragma once
// The persistent algorithm on the host: a layer's whole run of recurrent steps in one call, on a
// pool of threads that each own 16-unit blocks of hidden units for the entire run.
//
// Forward, per step: each worker adds h(t−1)·W_hhᵀ to the pre-activations of its units' four gates
// (its rows of W_hh, packed once per call into 16-lane panels), applies the cell to those units,
// and meets the others at one barrier, after which h(t) is complete. Backward, per step: the cell
// step of its units writes their da(t); one barrier; then each worker computes dh_rec for its
// units from all of da(t) and its columns of W_hh (packed the same way). No atomics, no
// reduction across workers: every element's products are summed in increasing k by one thread,
// so the bits do not depend on the number of threads, on the memory mode or on the vector width.

#include <memory>
#include <mutex>
#include <vector>

#include "fuselstm/config.hpp"
#include "kernels/recurrence_math.hpp"
#include "ops/host/host_cell_simd.hpp"
#include "ops/host/worker_pool.hpp"

namespace fuselstm::ops {

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

 private:
  T* scratch_for(std::int64_t elements);  // grows scratch_ (kept across calls)

  HostSimd simd_;
  WorkerPool pool_;
  std::mutex mutex_;        // one call at a time: the buffers below are shared
  std::vector<T> packed_;           // forward: W_hh's rows in panels, packed per call
  std::vector<T> packed_backward_;  // backward: W_hh's columns in panels, for the team below
  const T* backward_packed_from_ = nullptr;  // what packed_backward_ holds: W_hh at this address
  std::int64_t backward_packed_hidden_ = 0;  //   with this H,
  int backward_packed_team_ = 0;             //   split among this many workers
  std::vector<T> scratch_;  // per worker: one block's products for every row
};

}  // namespace fuselstm::ops
