// fuselstm_cell_bench: the host's float32 fused cell steps alone (ops::host_forward_step and
// host_backward_step, tanh cell, both biases, dy given), µs per step for each code path this CPU
// runs (scalar libm, AVX2+FMA, AVX-512F), at the shapes given as B,H pairs (default: the issue's
// 16,256 64,512 1,128). Each figure is the best of 7 trials of many steps: the steps are
// microseconds long, so the minimum is the figure least disturbed by other work on the machine.
//
// Usage: fuselstm_cell_bench [B,H ...]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ops/host/host_cell_simd.hpp"

namespace {

using fuselstm::CellActivation;
using fuselstm::ops::HostSimd;

struct Shape {
  std::int64_t B, H;
};

void time_shape(const Shape& s) {
  const std::int64_t G = 4 * s.H, n = s.B * s.H;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-3, 3);
  auto random = [&](std::int64_t count) {
    std::vector<float> v(static_cast<std::size_t>(count));
    for (float& e : v) e = dist(rng);
    return v;
  };
  const std::vector<float> pre = random(s.B * G), bias = random(G), c_prev = random(n),
                           h_prev = random(n), dy = random(n), dh_rec = random(n);
  std::vector<float> gates(pre), c(n), h(n), dc = random(n), da(s.B * G);

  fuselstm::kernels::ForwardStepArgs<float> f;
  f.batch = s.B, f.hidden = s.H, f.gates = gates.data(), f.bias_ih = bias.data();
  f.bias_hh = bias.data(), f.c_prev = c_prev.data(), f.c = c.data(), f.h = h.data();
  f.h_prev = h_prev.data();
  fuselstm::kernels::BackwardStepArgs<float> b;
  b.batch = s.B, b.hidden = s.H, b.gates = gates.data(), b.c = c.data(), b.c_prev = c_prev.data();
  b.dy = dy.data(), b.dy_batch_stride = s.H, b.dh_rec = dh_rec.data(), b.dc = dc.data();
  b.da = da.data();

  // About 400,000 elements per trial (tens of ms on the scalar path).
  const int steps =
      static_cast<int>(std::max<std::int64_t>(20, 400000 / std::max<std::int64_t>(n, 1)));
  for (HostSimd kind : {HostSimd::scalar, HostSimd::avx2, HostSimd::avx512}) {
    if (!fuselstm::ops::host_simd_supported(kind)) continue;
    double best_fwd = 1e30, best_bwd = 1e30;
    for (int trial = 0; trial < 7; ++trial) {
      using clock = std::chrono::steady_clock;
      // Forward overwrites the gates with its activations and then runs on those (in (0, 1)):
      // the vector code's time does not depend on the values; libm's barely.
      const auto t0 = clock::now();
      for (int k = 0; k < steps; ++k)
        fuselstm::ops::host_forward_step(kind, CellActivation::tanh, f);
      const double fwd = std::chrono::duration<double, std::micro>(clock::now() - t0).count();
      const auto t1 = clock::now();
      for (int k = 0; k < steps; ++k)
        fuselstm::ops::host_backward_step(kind, CellActivation::tanh, b);
      const double bwd = std::chrono::duration<double, std::micro>(clock::now() - t1).count();
      best_fwd = std::min(best_fwd, fwd / steps);
      best_bwd = std::min(best_bwd, bwd / steps);
    }
    std::printf("B=%-4lld H=%-5lld %-7s forward %9.2f us  backward %9.2f us  both %9.2f us\n",
                static_cast<long long>(s.B), static_cast<long long>(s.H),
                fuselstm::ops::host_simd_name(kind), best_fwd, best_bwd, best_fwd + best_bwd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Shape> shapes;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    const auto comma = arg.find(',');
    if (comma == std::string::npos) {
      std::fprintf(stderr, "usage: %s [B,H ...]\n", argv[0]);
      return 64;
    }
    shapes.push_back(
        {std::atoll(arg.substr(0, comma).c_str()), std::atoll(arg.substr(comma + 1).c_str())});
  }
  if (shapes.empty()) shapes = {{16, 256}, {64, 512}, {1, 128}};
  std::printf("host cell steps, float32, tanh cell; the library picks %s on this CPU\n",
              fuselstm::ops::host_simd_name(fuselstm::ops::host_simd_selected()));
  for (const Shape& s : shapes) time_shape(s);
  return 0;
}
