// See onednn_gemm.hpp.

#include "ops/host/onednn_gemm.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuselstm/error.hpp"
#include "ops/host/openmp_threads_for_call.hpp"

#if FUSELSTM_HAVE_DNNL
#include <dnnl.h>
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
