#pragma once
// The host threads of the persistent algorithm, synchronised within a call by a spinning barrier
// (one per time step). Two kinds:
//  - openmp (the default when the library is built with OpenMP): each run is an OpenMP parallel
//    region, so the recurrence runs on the same team of threads as oneDNN's sgemm (Debian's build
//    threads with OpenMP) between its blocks of steps. A pool of our own would share each core
//    with an OpenMP thread still spinning after the last GEMM (libgomp spins for milliseconds
//    before it sleeps): measured at B = 16, H = 256, worker 0 waited ~14 µs a step at the barrier
//    for worker 1; and each run wakes the team from its spin instead of a condition variable
//    (B = 1, H = 128: 8.9 → 6.1 µs a step). bench/RESULTS.md has the figures.
//  - own: threads of our own, created on first use, kept for the life of the ops object (one per
//    execution context and element type), woken once per run through a condition variable. For
//    builds without OpenMP, ThreadSanitizer builds (libgomp is not instrumented), and programs
//    whose other threads are not OpenMP's (FUSELSTM_HOST_POOL=own).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fuselstm::ops {

/// A reusable barrier for a fixed number of threads. Waiters spin (with the CPU's pause hint) for
/// a short while, then yield their core, so an oversubscribed machine still makes progress.
class SpinBarrier {
 public:
  explicit SpinBarrier(int threads) : threads_(threads) {}
  void wait();

 private:
  const int threads_;
  std::atomic<int> arrived_{0};
  std::atomic<unsigned> phase_{0};
};

/// Which threads a WorkerPool runs its jobs on (see the top of this file).
enum class PoolThreads { openmp, own };

const char* pool_threads_name(PoolThreads kind);  // "openmp", "own"

/// Whether this build can run `kind` (openmp: built with OpenMP; own: always).
bool pool_threads_supported(PoolThreads kind);

class WorkerPool {
 public:
  /// Threads the pool may use: the CPUs this process may run on (its affinity mask), or
  /// FUSELSTM_NUM_THREADS when that is a smaller positive number; read once per process.
  static int default_size();
  /// openmp when the build supports it, unless FUSELSTM_HOST_POOL=own; read once per process.
  static PoolThreads default_threads();

  /// `threads` falls back to own when the build cannot run it.
  explicit WorkerPool(int size = default_size(), PoolThreads threads = default_threads());
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return size_; }
  PoolThreads threads() const { return threads_kind_; }

  /// job(worker, team, barrier) for every worker < team at once, the calling thread being worker
  /// 0; returns when all have returned. team = min(workers, size()) with own threads; OpenMP may
  /// give fewer (a run inside another parallel region gets a team of 1, as may OMP_DYNAMIC or
  /// OMP_THREAD_LIMIT), so a job splits its work by `team`, never by what it asked for. The barrier
  /// is shared by exactly the team. The job must not throw. Calls from several threads are
  /// serialised.
  using Job = std::function<void(int worker, int team, SpinBarrier& barrier)>;
  void run(int workers, const Job& job);

 private:
  void run_own(int workers, const Job& job);
  void start_threads();
  void thread_main(int worker);

  const int size_;
  const PoolThreads threads_kind_;
  std::mutex run_mutex_;  // one run at a time
  // Own threads only.
  std::mutex mutex_;      // guards the fields below
  std::condition_variable wake_;
  std::vector<std::thread> threads_;  // workers 1..size−1, started by the first run that needs them
  std::uint64_t generation_ = 0;      // bumped per run
  bool stopping_ = false;
  int active_ = 0;  // workers of the current run
  const Job* job_ = nullptr;
  SpinBarrier* barrier_ = nullptr;
  std::atomic<int> finished_{0};
};

}  // namespace fuselstm::ops
