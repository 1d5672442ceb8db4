// The persistent algorithm's host threads and their barrier.

#include "ops/host/worker_pool.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#if FUSELSTM_HAVE_OPENMP
#include <omp.h>
#endif

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FUSELSTM_CPU_RELAX() _mm_pause()
#else
#define FUSELSTM_CPU_RELAX() ((void)0)
#endif

namespace fuselstm::ops {
namespace {

// Spins this many times before yielding: about 10-50 µs, longer than a step's imbalance on an
// idle machine, short enough not to starve another thread on a busy one.
constexpr int kSpinsBeforeYield = 4096;

template <typename Done>
void spin_until(Done done) {
  for (int spins = 0; !done(); ++spins) {
    if (spins < kSpinsBeforeYield) FUSELSTM_CPU_RELAX();
    else std::this_thread::yield();
  }
}

int affinity_cpus() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return std::max(1u, std::thread::hardware_concurrency());
}

int read_default_size() {
  int size = affinity_cpus();
  if (const char* env = std::getenv("FUSELSTM_NUM_THREADS")) {
    char* end = nullptr;
    const long asked = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && asked > 0) size = std::min<long>(size, asked);
  }
  return size;
}

PoolThreads read_default_threads() {
  const char* env = std::getenv("FUSELSTM_HOST_POOL");
  if (env && std::strcmp(env, "own") == 0) return PoolThreads::own;
  return pool_threads_supported(PoolThreads::openmp) ? PoolThreads::openmp : PoolThreads::own;
}

}  // namespace

const char* pool_threads_name(PoolThreads kind) {
  return kind == PoolThreads::openmp ? "openmp" : "own";
}

bool pool_threads_supported(PoolThreads kind) {
  return kind == PoolThreads::own || FUSELSTM_HAVE_OPENMP;
}

void SpinBarrier::wait() {
  const unsigned phase = phase_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == threads_ - 1) {
    arrived_.store(0, std::memory_order_relaxed);
    phase_.store(phase + 1, std::memory_order_release);  // releases everyone's writes to all
    return;
  }
  spin_until([&] { return phase_.load(std::memory_order_acquire) != phase; });
}

int WorkerPool::default_size() {
  static const int size = read_default_size();
  return size;
}

PoolThreads WorkerPool::default_threads() {
  static const PoolThreads kind = read_default_threads();
  return kind;
}

WorkerPool::WorkerPool(int size, PoolThreads threads)
    : size_(std::max(1, size)),
      threads_kind_(pool_threads_supported(threads) ? threads : PoolThreads::own) {}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::start_threads() {
  threads_.reserve(size_ - 1);
  for (int w = 1; w < size_; ++w) threads_.emplace_back([this, w] { thread_main(w); });
}

void WorkerPool::thread_main(int worker) {
  std::uint64_t seen = 0;
  for (;;) {
    const Job* job = nullptr;
    SpinBarrier* barrier = nullptr;
    int team = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (worker >= active_) continue;  // not needed in this run
      job = job_;
      barrier = barrier_;
      team = active_;
    }
    (*job)(worker, team, *barrier);
    finished_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void WorkerPool::run(int workers, const Job& job) {
  workers = std::clamp(workers, 1, size_);
  std::lock_guard<std::mutex> serial(run_mutex_);
  if (workers == 1) {
    SpinBarrier barrier(1);
    job(0, 1, barrier);
    return;
  }
#if FUSELSTM_HAVE_OPENMP
  if (threads_kind_ == PoolThreads::openmp) {
    std::optional<SpinBarrier> barrier;
#pragma omp parallel num_threads(workers)
    {
      // The team may be smaller than asked; `single` ends with a barrier, so every thread sees
      // the SpinBarrier sized for the team that came.
#pragma omp single
      barrier.emplace(omp_get_num_threads());
      job(omp_get_thread_num(), omp_get_num_threads(), *barrier);
    }
    return;
  }
#endif
  run_own(workers, job);
}

void WorkerPool::run_own(int workers, const Job& job) {
  SpinBarrier barrier(workers);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (threads_.empty()) start_threads();
    job_ = &job;
    barrier_ = &barrier;
    active_ = workers;
    finished_.store(0, std::memory_order_relaxed);
    ++generation_;
  }
  wake_.notify_all();
  job(0, workers, barrier);
  spin_until([&] { return finished_.load(std::memory_order_acquire) == workers - 1; });
}

}  // namespace fuselstm::ops
