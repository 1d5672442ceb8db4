// The host float32 GEMMs of a training step, alone, through the library's host ops: the
// orchestration's three block products (input projection, dW, dx) at the cpu suite's shapes.
// Run it twice to compare the libraries behind them:
//   build/bench/fuselstm_gemm_bench                          # oneDNN's sgemm (when built with it)
//   FUSELSTM_HOST_SGEMM=blas build/bench/fuselstm_gemm_bench # the BLAS (OPENBLAS_CORETYPE=...)

#include <chrono>
#include <cstdio>
#include <vector>

#include "fuselstm/device.hpp"
#include "ops/ops.hpp"

namespace {

using fuselstm::ops::Trans;

struct Shape {
  const char* what;
  Trans ta, tb;
  std::int64_t m, n, k;
};

double gflops(fuselstm::ops::Ops<float>& ops, const Shape& s) {
  const std::int64_t lda = s.ta == Trans::N ? s.m : s.k, ldb = s.tb == Trans::N ? s.k : s.n;
  std::vector<float> a(static_cast<std::size_t>(s.m * s.k)), b(static_cast<std::size_t>(s.k * s.n));
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = float((i * 7919) % 1000) * 1e-3f - 0.5f;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = float((i * 104729) % 1000) * 1e-3f - 0.5f;
  auto run = [&] {
    ops.gemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.m);
  };
  run();
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {  // best of 5 rounds of >= 0.1 s each
    int reps = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      run();
      ++reps;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < 0.1);
    best = std::min(best, elapsed / reps);
  }
  return 2.0 * double(s.m) * double(s.n) * double(s.k) / best / 1e9;
}

}  // namespace

int main() {
  auto ops = fuselstm::ops::make_host_ops<float>();
  std::printf("%s\n", fuselstm::host_gemm_description().c_str());
  // Column-major (cuBLAS convention) as the orchestration issues them, for (B, H = X) with blocks
  // of 32 steps: projection gates = W_ih·x (m = 4H, n = 32·B, k = X); dW_hhᵀ += da·hᵀ (m = 4H,
  // n = H, k = 32·B); dx = W_ihᵀ·da (m = X, n = 32·B, k = 4H). "dW as daᵀ·h" is the untransposed
  // form the orchestration used before (m = H, n = 4H), kept for comparison.
  for (const auto& [B, H] : {std::pair<std::int64_t, std::int64_t>{16, 256}, {64, 512}}) {
    const std::int64_t rows = 32 * B;
    const Shape shapes[] = {{"projection", Trans::T, Trans::N, 4 * H, rows, H},
                            {"dW^T", Trans::N, Trans::T, 4 * H, H, rows},
                            {"dW as da^T.h", Trans::N, Trans::T, H, 4 * H, rows},
                            {"dx", Trans::N, Trans::N, H, rows, 4 * H}};
    for (const Shape& s : shapes) {
      std::printf("B=%-3lld H=%-4lld %-12s m=%-5lld n=%-5lld k=%-5lld %7.1f GFLOP/s\n",
                  static_cast<long long>(B), static_cast<long long>(H), s.what,
                  static_cast<long long>(s.m), static_cast<long long>(s.n),
                  static_cast<long long>(s.k), gflops(*ops, s));
    }
  }
}
