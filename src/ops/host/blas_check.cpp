// See blas_check.hpp.

#include "ops/host/blas_check.hpp"

#include "ops/host/onednn_gemm.hpp"
#include "ops/host/onednn_matmul.hpp"
#include "ops/host/worker_pool.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "fuselstm/device.hpp"

#if defined(__linux__)
#include <dlfcn.h>
#endif

namespace fuselstm::ops {
namespace {

// OpenBLAS's x86-64 kernels without AVX2+FMA.
bool is_pre_avx2_core(const char* name) {
  for (const char* old : {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
                          "Sandybridge", "SandyBridge", "Barcelona", "Opteron", "Bobcat",
                          "Bulldozer", "Katmai", "Coppermine", "Northwood", "Banias"}) {
    if (std::strcmp(name, old) == 0) return true;
  }
  return false;
}

void check_once() {
#if defined(__linux__) && (defined(__x86_64__) || defined(__i386__)) && \
    (defined(__GNUC__) || defined(__clang__))
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("FUSELSTM_QUIET_BLAS")) return;
  using CoreName = char* (*)();
  const auto corename = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!corename) return;
  const char* core = corename();
  if (!core || !is_pre_avx2_core(core)) return;
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  std::fprintf(stderr,
               "fuselstm: OpenBLAS runs its '%s' kernels on this CPU, which has %s (OpenBLAS "
               "does not know its model). Start the program with OPENBLAS_CORETYPE=%s for "
               "several times faster matrix products%s (README: \"Check OpenBLAS's kernels\"; "
               "FUSELSTM_QUIET_BLAS=1 silences this).\n",
               core, avx512 ? "AVX-512" : "AVX2 and FMA", avx512 ? "SkylakeX" : "Haswell",
               onednn_sgemm_selected() ? " in float64 (float32's run on oneDNN)" : "");
#endif
}

}  // namespace

void note_slow_openblas_kernels() {
  static std::once_flag once;
  std::call_once(once, check_once);
}

}  // namespace fuselstm::ops

namespace fuselstm {

std::string host_gemm_description() {
  std::string blas = "plain loops";
#if FUSELSTM_HAVE_CBLAS
  blas = "a cblas";
#if defined(__linux__)
  using CoreName = char* (*)();
  if (const auto corename =
          reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    const char* core = corename();
    blas = std::string("OpenBLAS (") + (core ? core : "?") + " kernels)";
  }
#endif
#endif
  std::string f32 = ops::onednn_sgemm_selected() ? ops::onednn_sgemm_description() : blas;
  if (ops::onednn_weight_matmul_selected()) f32 += ", W_ih products on its matmul (W_ih packed)";
  const bool openmp = ops::WorkerPool::default_threads() == ops::PoolThreads::openmp;
  const bool transposed = ops::host_weight_gradients_transposed(ops::onednn_sgemm_selected());
  return "float32: " + f32 + (transposed ? "" : ", weight gradients as dW += da^T.h") +
         "; float64: " + blas + "; recurrent steps: " +
         (openmp ? "OpenMP's threads" : "own threads");
}

}  // namespace fuselstm
