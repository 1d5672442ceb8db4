// See onednn_gemm.hpp.

#include "ops/host/onednn_gemm.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuselstm/error.hpp"

#if FUSELSTM_HAVE_DNNL
#include <dnnl.h>
#endif
#if defined(__linux__)
#include <dlfcn.h>
#endif

namespace fuselstm::ops {
namespace {

bool cpu_is_amd() {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_is("amd");
#else
  return false;
#endif
}

// FUSELSTM_HOST_DW: 1 transposed, 0 direct, -1 unset (or anything else).
int forced_weight_gradient_form() {
  static const int forced = [] {
    const char* env = std::getenv("FUSELSTM_HOST_DW");
    const std::string asked = env ? env : "";
    return asked == "transposed" ? 1 : asked == "direct" ? 0 : -1;
  }();
  return forced;
}

// oneDNN's sgemm (Debian's 2.6, OpenMP threading) divides a product among omp_get_max_threads()
// threads and leaves the share of every thread its parallel region did not get unwritten: with
// OMP_DYNAMIC=true or OMP_THREAD_LIMIT below the thread count (1 on the 2-core dev VM), float32
// results came out silently wrong. Where the runtime may give fewer threads than it reports, each
// call asks for as many as it can count on: the thread limit, or one under dynamic adjustment.
// The OpenMP functions are looked up in the process (the runtime oneDNN's calls bind to), so
// this works whether or not the library itself was built with OpenMP.
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

#if FUSELSTM_HAVE_DNNL
const char* isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}
#endif

}  // namespace

bool onednn_sgemm_selected() {
#if FUSELSTM_HAVE_DNNL
  static const bool selected = [] {
    const char* choice = std::getenv("FUSELSTM_HOST_SGEMM");
    return !choice || !*choice || std::strcmp(choice, "onednn") == 0;
  }();
  return selected;
#else
  return false;
#endif
}

const char* onednn_sgemm_description() {
#if FUSELSTM_HAVE_DNNL
  static const std::string text = [] {
    if (!onednn_sgemm_selected()) return std::string();
    const dnnl_version_t* v = dnnl_version();
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + " (" + isa_name(dnnl_get_effective_cpu_isa()) + ")";
  }();
  return text.c_str();
#else
  return "";
#endif
}

void onednn_sgemm(Trans trans_a, Trans trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                  float alpha, const float* a, std::int64_t lda, const float* b, std::int64_t ldb,
                  float beta, float* c, std::int64_t ldc) {
#if FUSELSTM_HAVE_DNNL
  // dnnl_sgemm is row-major. Column-major C (m×n) is row-major Cᵀ (n×m) = op(B)ᵀ·op(A)ᵀ, and a
  // column-major operand read row-major is its transpose: so B goes first with B's flag, A second.
  const OpenMpThreadsForCall threads;
  const dnnl_status_t status =
      dnnl_sgemm(trans_b == Trans::N ? 'N' : 'T', trans_a == Trans::N ? 'N' : 'T', n, m, k, alpha,
                 b, ldb, a, lda, beta, c, ldc);
  if (status != dnnl_success) {
    throw Error("fuselstm: oneDNN's sgemm refused m=" + std::to_string(m) + " n=" +
                std::to_string(n) + " k=" + std::to_string(k) + " (dnnl status " +
                std::to_string(static_cast<int>(status)) + ")");
  }
#else
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda;
  (void)b, (void)ldb, (void)beta, (void)c, (void)ldc;
  throw Error("fuselstm: internal error: oneDNN's sgemm called in a build without oneDNN");
#endif
}

bool host_weight_gradients_transposed(bool float32_on_onednn) {
  const int forced = forced_weight_gradient_form();
  if (forced >= 0) return forced == 1;
  static const bool amd = cpu_is_amd();
  return !(float32_on_onednn && amd);
}

}  // namespace fuselstm::ops
