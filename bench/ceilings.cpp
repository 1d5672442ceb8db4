#include "ceilings.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "fuselstm/device.hpp"

#if BENCH_HAVE_CBLAS
#include <cblas.h>
#endif
#if BENCH_HAVE_DNNL
#include <dnnl.h>
#endif

namespace fuselstm::bench {

namespace {
bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}
constexpr double tera = 1e12;
}  // namespace

Ceilings gpu_ceilings_from_table(const std::string& name) {
  // Order matters: "GH200" before "H200", "H100 PCIe"/"NVL" before plain "H100".
  if (contains(name, "GH200")) return {67 * tera, 495 * tera, 4.0 * tera, "table: GH200"};
  if (contains(name, "H200")) return {67 * tera, 495 * tera, 4.8 * tera, "table: H200"};
  if (contains(name, "H100") && contains(name, "PCIe")) {
    return {51 * tera, 378 * tera, 2.0 * tera, "table: H100 PCIe"};
  }
  if (contains(name, "H100") && contains(name, "NVL")) {
    return {60 * tera, 418 * tera, 3.9 * tera, "table: H100 NVL"};
  }
  if (contains(name, "H100")) return {67 * tera, 495 * tera, 3.35 * tera, "table: H100 SXM"};
  if (contains(name, "A100")) {
    const double bandwidth = contains(name, "80GB") ? 2.0 * tera : 1.555 * tera;
    return {19.5 * tera, 156 * tera, bandwidth, "table: A100"};
  }
  return {0, 0, 0, "unknown device: no peak in the table (bench/ceilings.cpp)"};
}

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The best of 3 runs (after one warm-up) of C = A·B at n = 2048 in seconds.
template <typename Gemm>
double best_square_gemm(int n, const std::vector<float>& a, const std::vector<float>& b,
                        std::vector<float>& out, Gemm gemm) {
  double best = 1e30;
  for (int rep = 0; rep < 4; ++rep) {  // the first one warms up threads and caches
    const auto start = std::chrono::steady_clock::now();
    gemm(n, a.data(), b.data(), out.data());
    if (rep > 0) best = std::min(best, seconds_since(start));
  }
  return best;
}

Ceilings measure_cpu() {
  Ceilings c;
  const int n = 2048;
  // Non-zero data: some BLAS kernels and CPUs run faster on zeros.
  std::vector<float> a(std::size_t(n) * n), b(a.size()), out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = float((i * 7919) % 1000) * 1e-3f - 0.5f;
    b[i] = float((i * 104729) % 1000) * 1e-3f - 0.5f;
  }
  const double flops = 2.0 * n * double(n) * n;
  c.source = "no cblas or oneDNN at build time: CPU peak unknown";
#if BENCH_HAVE_CBLAS
  const double blas = best_square_gemm(n, a, b, out, [](int n, const float* a, const float* b,
                                                        float* out) {
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, out,
                n);
  });
  c.fp32_flops = flops / blas;
  c.source = "measured: OpenBLAS sgemm n=2048, best of 3";
#endif
#if BENCH_HAVE_DNNL
  const double onednn = best_square_gemm(n, a, b, out, [](int n, const float* a, const float* b,
                                                          float* out) {
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, out, n);
  });
  if (flops / onednn > c.fp32_flops) {
    c.fp32_flops = flops / onednn;
    c.source = "measured: oneDNN sgemm n=2048, best of 3 (faster than the BLAS's here)";
  }
#endif
  (void)flops;
  const std::size_t bytes = std::size_t(256) << 20;
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  double best_copy = 1e30;
  for (int rep = 0; rep < 4; ++rep) {
    src[rep] = char(rep);
    const auto start = std::chrono::steady_clock::now();
    std::memcpy(dst.data(), src.data(), bytes);
    if (rep > 0) best_copy = std::min(best_copy, seconds_since(start));
  }
  c.bytes_per_s = 2.0 * double(bytes) / best_copy;  // read + write
  c.source += "; bandwidth: memcpy 256 MiB, best of 3";
  return c;
}
}  // namespace

const Ceilings& cpu_ceilings() {
  static const Ceilings measured = measure_cpu();
  return measured;
}

std::string host_blas_description() {
#if BENCH_HAVE_CBLAS && defined(OPENBLAS_VERSION)
  return host_gemm_description() + "; " + openblas_get_config() + " (" +
         std::to_string(openblas_get_num_threads()) + " threads)";
#else
  return host_gemm_description();
#endif
}

int host_blas_threads() {
#if BENCH_HAVE_CBLAS && defined(OPENBLAS_VERSION)
  return openblas_get_num_threads();
#else
  return 1;
#endif
}

}  // namespace fuselstm::bench
