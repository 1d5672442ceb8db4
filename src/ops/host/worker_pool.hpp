#pragma once
// A fixed pool of host threads for the persistent algorithm: created on first use, kept for the
// life of the ops object (one per execution context and element type), woken once per call, and
// synchronised within a call by a spinning barrier (one per time step).

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

class WorkerPool {
 public:
  /// Threads the pool may use: the CPUs this process may run on (its affinity mask), or
  /// FUSELSTM_NUM_THREADS when that is a smaller positive number; read once per process.
  static int default_size();

  explicit WorkerPool(int size = default_size());
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return size_; }

  /// Runs job(worker, barrier) for worker = 0..workers−1 (1 ≤ workers ≤ size()) at once, the
  /// calling thread being worker 0, and returns when every worker has returned. The barrier is
  /// shared by exactly those workers. The job must not throw. Calls from several threads are
  /// serialised.
  void run(int workers, const std::function<void(int, SpinBarrier&)>& job);

 private:
  void start_threads();
  void thread_main(int worker);

  const int size_;
  std::mutex run_mutex_;  // one run at a time
  std::mutex mutex_;      // guards the fields below
  std::condition_variable wake_;
  std::vector<std::thread> threads_;  // workers 1..size−1, started by the first run that needs them
  std::uint64_t generation_ = 0;      // bumped per run
  bool stopping_ = false;
  int active_ = 0;  // workers of the current run
  const std::function<void(int, SpinBarrier&)>* job_ = nullptr;
  SpinBarrier* barrier_ = nullptr;
  std::atomic<int> finished_{0};
};

}  // namespace fuselstm::ops
