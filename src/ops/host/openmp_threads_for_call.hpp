#pragma once
// OpenMpThreadsForCall: calls into oneDNN (OpenMP threading) with the threads they can count on.
// Internal.

#include <algorithm>

#if defined(__linux__)
#include <dlfcn.h>
#endif

namespace fuselstm::ops {

// oneDNN's sgemm (Debian's 2.6, OpenMP threading) divides a product among omp_get_max_threads()
// threads and leaves the share of every thread its parallel region did not get unwritten: with
// OMP_DYNAMIC=true or OMP_THREAD_LIMIT below the thread count (1 on the 2-core dev VM), float32
// results came out silently wrong. Where the runtime may give fewer threads than it reports, each
// call asks for as many as it can count on: the thread limit, or one under dynamic adjustment.
// The OpenMP functions are looked up in the process (the runtime oneDNN's calls bind to), so
// this works whether or not the library itself was built with OpenMP. A oneDNN primitive sizes
// its partition when it is created: create it under this guard too, and key a cache of them by
// threads().
class OpenMpThreadsForCall {
 public:
  OpenMpThreadsForCall() {
    const Runtime& rt = runtime();
    if (!rt.usable) return;
    const int max = rt.get_max_threads();
    const int safe = rt.get_dynamic() ? 1 : std::min(max, rt.get_thread_limit());
    if (safe >= max) return;
    restore_ = max;
    rt.set_num_threads(std::max(1, safe));
  }
  ~OpenMpThreadsForCall() {
    if (restore_ > 0) runtime().set_num_threads(restore_);
  }
  /// The thread count calls get now (0 when no OpenMP runtime is in the process).
  static int threads() {
    const Runtime& rt = runtime();
    return rt.usable ? rt.get_max_threads() : 0;
  }
  OpenMpThreadsForCall(const OpenMpThreadsForCall&) = delete;
  OpenMpThreadsForCall& operator=(const OpenMpThreadsForCall&) = delete;

 private:
  struct Runtime {
    int (*get_max_threads)() = nullptr;
    int (*get_dynamic)() = nullptr;
    int (*get_thread_limit)() = nullptr;
    void (*set_num_threads)(int) = nullptr;
    bool usable = false;
  };
  static const Runtime& runtime() {
    static const Runtime rt = [] {
      Runtime r;
#if defined(__linux__)
      r.get_max_threads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
      r.get_dynamic = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_dynamic"));
      r.get_thread_limit = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_thread_limit"));
      r.set_num_threads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
#endif
      r.usable = r.get_max_threads && r.get_dynamic && r.get_thread_limit && r.set_num_threads;
      return r;
    }();
    return rt;
  }
  int restore_ = 0;
};

}  // namespace fuselstm::ops
