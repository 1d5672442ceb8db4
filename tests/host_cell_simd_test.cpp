// The host's vector cell steps (src/ops/host/host_cell_simd.hpp): sigmoid and tanh within the
// stated bound of double precision over a dense sweep of [−20, 20] plus the special values; the
// forward and backward steps against the scalar element functions on odd H, B = 1 and 13, both
// cells, with and without biases, lengths (some sequences ended), dy null or strided, dh_carry;
// and the determinism promises: AVX2 and AVX-512 give the same bits, a row's result does not
// depend on the batch around it.

#include "ops/host/host_cell_simd.hpp"

#include <cfloat>
#include <cstring>
#include <string>

#include "test_util.hpp"

namespace fuselstm::testing {
namespace {

using ops::HostSimd;

// The stated bounds (host_cell_simd.hpp), measured over all 2,202,009,602 floats in [−20, 20]
// against double: sigmoid max abs error 8.93e−8, 2.48 ulp; tanh 8.99e−8, 1.51 ulp (ulp of the
// exact value). This test re-checks a dense sample (every 257th float) and every float near the
// points where the code switches.
constexpr double kSigmoidAbsBound = 9.0e-8;
constexpr double kSigmoidUlpBound = 2.5;
constexpr double kTanhAbsBound = 9.0e-8;
constexpr double kTanhUlpBound = 1.52;
// glibc's expf expression and tanhf (the scalar path), measured the same way: 8.93e−8 and 1.04e−7
// (2.48 and 2.19 ulp). The two paths' activations differ by at most the sum.
constexpr double kLibmAbsBound = 1.05e-7;
constexpr double kActivationDiff = kTanhAbsBound + kLibmAbsBound;

std::vector<HostSimd> vector_kinds() {
  std::vector<HostSimd> kinds;
  for (HostSimd k : {HostSimd::avx2, HostSimd::avx512}) {
    if (ops::host_simd_supported(k)) kinds.push_back(k);
  }
  return kinds;
}

#define REQUIRE_VECTOR_KINDS(kinds)                                                    \
  do {                                                                                 \
    if ((kinds).empty()) GTEST_SKIP() << "this CPU has neither AVX2+FMA nor AVX-512F"; \
  } while (0)

// One unit in the last place of a float near the exact value r (denormal spacing below FLT_MIN).
double float_ulp(double r) {
  int exponent = 0;
  std::frexp(std::fabs(r), &exponent);
  return r == 0 ? std::ldexp(1.0, -149)
                : std::max(std::ldexp(1.0, exponent - 24), std::ldexp(1.0, -149));
}

float float_of_bits(std::uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}
bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// The sweep: every `stride`-th float in [−20, 20], both signs, plus every float within 2048 of
// tanh's branch point 0.625 and of the exponent-clamp points, and a range of tiny values.
std::vector<float> sweep_inputs(std::uint32_t stride) {
  std::vector<float> xs;
  const float twenty = 20.0f;
  std::uint32_t top;
  std::memcpy(&top, &twenty, sizeof top);
  for (std::uint32_t sign : {0u, 0x80000000u}) {
    for (std::uint64_t b = 0; b <= top; b += stride)
      xs.push_back(float_of_bits(std::uint32_t(b) | sign));
    for (float centre : {0.625f, 0.3125f, 1.0f, 17.0f, FLT_MIN}) {
      std::uint32_t c;
      std::memcpy(&c, &centre, sizeof c);
      for (std::uint32_t d = c - 2048; d <= c + 2048; ++d) xs.push_back(float_of_bits(d | sign));
    }
  }
  return xs;
}

struct MaxError {
  double abs = 0, ulp = 0;
  float abs_at = 0, ulp_at = 0;
  void add(float x, float got, double exact) {
    const double err = std::fabs(double(got) - exact);
    if (!(err <= abs)) abs = err, abs_at = x;  // NaN counts as the worst
    if (!(err / float_ulp(exact) <= ulp)) ulp = err / float_ulp(exact), ulp_at = x;
  }
};

TEST(HostCellSimd, SigmoidAndTanhAreWithinTheStatedBound) {
  const std::vector<HostSimd> kinds = vector_kinds();
  REQUIRE_VECTOR_KINDS(kinds);
  const std::vector<float> xs = sweep_inputs(257);
  std::vector<float> ys(xs.size()), yt(xs.size());
  for (HostSimd kind : kinds) {
    SCOPED_TRACE(ops::host_simd_name(kind));
    ops::host_sigmoid(kind, xs.data(), ys.data(), std::int64_t(xs.size()));
    ops::host_tanh(kind, xs.data(), yt.data(), std::int64_t(xs.size()));
    MaxError es, et;
    for (std::size_t k = 0; k < xs.size(); ++k) {
      const double x = xs[k];
      es.add(xs[k], ys[k], 1 / (1 + std::exp(-x)));
      et.add(xs[k], yt[k], std::tanh(x));
    }
    std::printf(
        "  %s over %zu floats in [-20, 20]: sigmoid max abs %.3g (x = %.9g), max %.3f ulp "
        "(x = %.9g); tanh max abs %.3g (x = %.9g), max %.3f ulp (x = %.9g)\n",
        ops::host_simd_name(kind), xs.size(), es.abs, es.abs_at, es.ulp, es.ulp_at, et.abs,
        et.abs_at, et.ulp, et.ulp_at);
    EXPECT_LE(es.abs, kSigmoidAbsBound) << "at x = " << es.abs_at;
    EXPECT_LE(es.ulp, kSigmoidUlpBound) << "at x = " << es.ulp_at;
    EXPECT_LE(et.abs, kTanhAbsBound) << "at x = " << et.abs_at;
    EXPECT_LE(et.ulp, kTanhUlpBound) << "at x = " << et.ulp_at;
  }
}

TEST(HostCellSimd, SigmoidAndTanhBeyondTheSweepAndAtSpecialValues) {
  const std::vector<HostSimd> kinds = vector_kinds();
  REQUIRE_VECTOR_KINDS(kinds);
  // Up to the exponent clamps the relative error holds (sigmoid of −80 is 1.8e−35); below −88.72
  // sigmoid is 0 as libm's expression gives, and tanh is ±1 long before its clamp.
  std::vector<float> xs;
  for (float x = -88.0f; x <= 88.0f; x += 0.0137f) xs.push_back(x);
  const float inf = INFINITY, nan = NAN;
  const std::vector<float> special = {0.0f,    -0.0f,   inf,      -inf,    nan,     -nan,   1e-30f,
                                      -1e-30f, FLT_MIN, -FLT_MIN, 1e-45f,  88.8f,   -88.8f, 100.0f,
                                      -100.0f, 1e30f,   -1e30f,   FLT_MAX, -FLT_MAX};
  for (HostSimd kind : kinds) {
    SCOPED_TRACE(ops::host_simd_name(kind));
    std::vector<float> ys(xs.size()), yt(xs.size());
    ops::host_sigmoid(kind, xs.data(), ys.data(), std::int64_t(xs.size()));
    ops::host_tanh(kind, xs.data(), yt.data(), std::int64_t(xs.size()));
    MaxError es, et;
    for (std::size_t k = 0; k < xs.size(); ++k) {
      es.add(xs[k], ys[k], 1 / (1 + std::exp(-double(xs[k]))));
      et.add(xs[k], yt[k], std::tanh(double(xs[k])));
    }
    EXPECT_LE(es.ulp, kSigmoidUlpBound) << "at x = " << es.ulp_at;
    EXPECT_LE(et.ulp, kTanhUlpBound) << "at x = " << et.ulp_at;

    std::vector<float> ss(special.size()), ts(special.size());
    ops::host_sigmoid(kind, special.data(), ss.data(), std::int64_t(special.size()));
    ops::host_tanh(kind, special.data(), ts.data(), std::int64_t(special.size()));
    for (std::size_t k = 0; k < special.size(); ++k) {
      const float x = special[k];
      SCOPED_TRACE("x = " + std::to_string(x));
      const float s_libm = kernels::sigmoid(x), t_libm = kernels::tanh_of(x);
      if (std::isnan(x)) {
        EXPECT_TRUE(std::isnan(ss[k]) && std::isnan(ts[k]));
        continue;
      }
      // Exact where libm's value is 0, ±1 or the input itself (tanh of tiny x); else within bound.
      if (s_libm == 0 || s_libm == 1)
        EXPECT_TRUE(same_bits(ss[k], s_libm)) << ss[k];
      else
        EXPECT_NEAR(ss[k], s_libm, kActivationDiff);
      if (std::fabs(t_libm) == 1 || t_libm == x)
        EXPECT_TRUE(same_bits(ts[k], t_libm)) << ts[k];
      else
        EXPECT_NEAR(ts[k], t_libm, kActivationDiff);
    }
    // tanh is odd bit for bit, as libm's.
    std::vector<float> neg(xs.size()), tn(xs.size());
    for (std::size_t k = 0; k < xs.size(); ++k) neg[k] = -xs[k];
    ops::host_tanh(kind, neg.data(), tn.data(), std::int64_t(xs.size()));
    for (std::size_t k = 0; k < xs.size(); ++k) ASSERT_TRUE(same_bits(tn[k], -yt[k])) << xs[k];
  }
}

TEST(HostCellSimd, Avx512GivesAvx2sBits) {
  if (!ops::host_simd_supported(HostSimd::avx512)) GTEST_SKIP() << "this CPU has no AVX-512F";
  const std::vector<float> xs = sweep_inputs(1009);
  std::vector<float> a(xs.size()), b(xs.size());
  for (auto fn : {ops::host_sigmoid, ops::host_tanh}) {
    fn(HostSimd::avx2, xs.data(), a.data(), std::int64_t(xs.size()));
    fn(HostSimd::avx512, xs.data(), b.data(), std::int64_t(xs.size()));
    for (std::size_t k = 0; k < xs.size(); ++k) ASSERT_TRUE(same_bits(a[k], b[k])) << xs[k];
  }
}

// --- the steps ---------------------------------------------------------------------------------

std::vector<float> random_floats(std::size_t n, std::mt19937_64& rng, double lo, double hi) {
  std::vector<float> v(n);
  std::uniform_real_distribution<double> dist(lo, hi);
  for (float& e : v) e = float(dist(rng));
  return v;
}

struct StepCase {
  std::int64_t B, H;
  CellActivation cell;
  int biases;       // 0: none, 1: bias_ih only, 2: both
  bool lengths;     // some sequences have ended at this step
  bool save_gates;  // forward
  int dy;           // backward: 0 null, 1 [T, B, H] (stride H), 2 batch-first (stride 3H)
  bool dh_carry;    // backward (always with lengths)
  std::string str() const {
    std::ostringstream s;
    s << "(B=" << B << ", H=" << H << ", cell=" << cell_activation_name(cell)
      << ", biases=" << biases << (lengths ? ", lengths" : "") << (save_gates ? "" : ", no save")
      << ", dy=" << dy << (dh_carry ? ", dh_carry" : "") << ")";
    return s.str();
  }
};

std::vector<StepCase> step_cases() {
  std::vector<StepCase> cases;
  for (std::int64_t B : {1, 13}) {
    for (std::int64_t H : {1, 7, 13, 16, 37, 67}) {
      for (CellActivation cell : {CellActivation::tanh, CellActivation::identity}) {
        for (int variant = 0; variant < 4; ++variant) {
          StepCase c{B,           H,           cell, variant % 3, variant >= 2, variant != 1,
                     variant % 3, variant != 0};
          cases.push_back(c);
        }
      }
    }
  }
  return cases;
}

// The step at t = 5; with lengths, rows b % 3 == 1 have ended (length 5 or less), B = 1 included.
constexpr std::int64_t kStep = 5;
std::vector<std::int32_t> lengths_for(std::int64_t B) {
  std::vector<std::int32_t> lengths(B);
  for (std::int64_t b = 0; b < B; ++b) lengths[b] = b % 3 == 1 ? std::int32_t(1 + b % 5) : 9;
  if (B == 1) lengths[0] = 3;
  return lengths;
}

struct ForwardData {
  std::vector<float> gates, bias_ih, bias_hh, c_prev, c, h, h_prev;
  std::vector<std::int32_t> lengths;
  kernels::ForwardStepArgs<float> args(const StepCase& sc) {
    kernels::ForwardStepArgs<float> a;
    a.batch = sc.B, a.hidden = sc.H, a.gates = gates.data();
    a.bias_ih = sc.biases >= 1 ? bias_ih.data() : nullptr;
    a.bias_hh = sc.biases >= 2 ? bias_hh.data() : nullptr;
    a.c_prev = c_prev.data(), a.c = c.data(), a.h = h.data(), a.h_prev = h_prev.data();
    a.lengths = sc.lengths ? lengths.data() : nullptr;
    a.step = kStep, a.save_gates = sc.save_gates;
    return a;
  }
};

ForwardData forward_data(const StepCase& sc, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::size_t G = 4 * sc.H, state = sc.B * sc.H;
  ForwardData d;
  d.gates = random_floats(sc.B * G, rng, -6, 6);  // past sigmoid's and tanh's knees
  d.bias_ih = random_floats(G, rng, -1, 1);
  d.bias_hh = random_floats(G, rng, -1, 1);
  d.c_prev = random_floats(state, rng, -3, 3);
  d.h_prev = random_floats(state, rng, -1, 1);
  d.c = random_floats(state, rng, 100, 101);  // overwritten by every path
  d.h = random_floats(state, rng, 100, 101);
  d.lengths = lengths_for(sc.B);
  return d;
}

bool ended(const StepCase& sc, const std::vector<std::int32_t>& lengths, std::int64_t b) {
  return sc.lengths && kStep >= lengths[b];
}

// Per element: the activations differ from libm's by at most δ = kActivationDiff, so
// c = f·c_prev + i·g by at most δ(|c_prev| + |g| + |i|) ≤ δ(|c_prev| + 2), h = o·act(c) by at most
// |Δo|·|act| + |Δact| ≤ δ + (|Δc| + δ), plus a few float roundings of values of that size (2^−24
// relative each): 8δ(1 + |c_prev|) covers all of them.
TEST(HostCellSimd, ForwardStepMatchesTheElementFunctions) {
  const std::vector<HostSimd> kinds = vector_kinds();
  REQUIRE_VECTOR_KINDS(kinds);
  double max_err_c = 0, max_err_gate = 0;
  for (HostSimd kind : kinds) {
    for (const StepCase& sc : step_cases()) {
      SCOPED_TRACE(std::string(ops::host_simd_name(kind)) + " " + sc.str());
      ForwardData ref = forward_data(sc, 7 + sc.H), got = ref;
      ops::scalar_forward_step(sc.cell, ref.args(sc));
      ops::host_forward_step(kind, sc.cell, got.args(sc));
      const std::int64_t H = sc.H;
      for (std::int64_t b = 0; b < sc.B; ++b) {
        for (std::int64_t j = 0; j < H; ++j) {
          const std::int64_t e = b * H + j;
          if (ended(sc, ref.lengths, b)) {  // carried: bit for bit, gates untouched
            ASSERT_TRUE(same_bits(got.c[e], ref.c[e]) && same_bits(got.h[e], ref.h[e])) << e;
            for (int q = 0; q < 4; ++q) {
              ASSERT_TRUE(
                  same_bits(got.gates[b * 4 * H + q * H + j], ref.gates[b * 4 * H + q * H + j]));
            }
            continue;
          }
          const double tol = 8 * kActivationDiff * (1 + std::fabs(ref.c_prev[e]));
          ASSERT_NEAR(got.c[e], ref.c[e], tol) << "c at " << e;
          ASSERT_NEAR(got.h[e], ref.h[e], tol) << "h at " << e;
          max_err_c = std::max({max_err_c, std::fabs(double(got.c[e]) - ref.c[e]),
                                std::fabs(double(got.h[e]) - ref.h[e])});
          for (int q = 0; q < 4; ++q) {
            const std::int64_t k = b * 4 * H + q * H + j;
            if (sc.save_gates) {
              ASSERT_NEAR(got.gates[k], ref.gates[k], kActivationDiff) << "gate " << q;
              max_err_gate = std::max(max_err_gate, std::fabs(double(got.gates[k]) - ref.gates[k]));
            } else {
              ASSERT_TRUE(same_bits(got.gates[k], ref.gates[k])) << "gate " << q << " written";
            }
          }
        }
      }
    }
  }
  std::printf("  forward vs scalar: max |diff| of c and h %.3g, of the saved gates %.3g\n",
              max_err_c, max_err_gate);
}

struct BackwardData {
  std::vector<float> gates, c, c_prev, dy, dh_rec, dc, da, dh_carry;
  std::vector<std::int32_t> lengths;
  kernels::BackwardStepArgs<float> args(const StepCase& sc) {
    kernels::BackwardStepArgs<float> a;
    a.batch = sc.B, a.hidden = sc.H, a.gates = gates.data(), a.c = c.data();
    a.c_prev = c_prev.data();
    // dy: a [B, 3, H] batch-first sequence at time 1 (stride 3H), or [B, H] (stride H).
    a.dy = sc.dy == 0 ? nullptr : sc.dy == 1 ? dy.data() : dy.data() + sc.H;
    a.dy_batch_stride = sc.dy == 2 ? 3 * sc.H : sc.H;
    a.dh_rec = dh_rec.data(), a.dc = dc.data(), a.da = da.data();
    a.lengths = sc.lengths ? lengths.data() : nullptr;
    a.step = kStep;
    a.dh_carry = sc.dh_carry ? dh_carry.data() : nullptr;
    return a;
  }
};

BackwardData backward_data(const StepCase& sc, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::size_t G = 4 * sc.H, state = sc.B * sc.H;
  BackwardData d;
  // Saved activations as forward leaves them: sigmoids in (0, 1), g in (−1, 1).
  d.gates = random_floats(sc.B * G, rng, 0.01, 0.99);
  for (std::int64_t b = 0; b < sc.B; ++b) {
    for (std::int64_t j = 0; j < sc.H; ++j)
      d.gates[b * G + 2 * sc.H + j] = 2 * d.gates[b * G + 2 * sc.H + j] - 1;
  }
  d.c = random_floats(state, rng, -3, 3);
  d.c_prev = random_floats(state, rng, -3, 3);
  d.dy = random_floats(3 * state, rng, -1, 1);
  d.dh_rec = random_floats(state, rng, -1, 1);
  d.dc = random_floats(state, rng, -1, 1);
  d.da = random_floats(sc.B * G, rng, 100, 101);  // overwritten by every path
  d.dh_carry = random_floats(state, rng, -1, 1);
  d.lengths = lengths_for(sc.B);
  return d;
}

// Only tanh(c) differs (by ≤ δ): act' = 1 − act² by ≤ 2δ + rounding, dc_total by |dh·o|·that,
// and each da by |dc_total| or |dh| times it; |dh| ≤ 3 and |dc| ≤ 1 here, so
// 8δ(1 + |dh| + |dc|) covers them with their roundings. The identity cell has no transcendental:
// bit for bit.
TEST(HostCellSimd, BackwardStepMatchesTheElementFunctions) {
  const std::vector<HostSimd> kinds = vector_kinds();
  REQUIRE_VECTOR_KINDS(kinds);
  double max_err = 0;
  for (HostSimd kind : kinds) {
    for (const StepCase& sc : step_cases()) {
      SCOPED_TRACE(std::string(ops::host_simd_name(kind)) + " " + sc.str());
      BackwardData ref = backward_data(sc, 11 + sc.H), got = ref;
      const BackwardData in = ref;
      ops::scalar_backward_step(sc.cell, ref.args(sc));
      ops::host_backward_step(kind, sc.cell, got.args(sc));
      const bool exact = sc.cell == CellActivation::identity;
      const std::int64_t H = sc.H;
      for (std::int64_t b = 0; b < sc.B; ++b) {
        for (std::int64_t j = 0; j < H; ++j) {
          const std::int64_t e = b * H + j;
          const bool bitwise = exact || ended(sc, ref.lengths, b);
          const double dh =
              (sc.dy ? std::fabs(in.dy[(sc.dy == 2 ? b * 3 * H + H : b * H) + j]) : 0) +
              std::fabs(in.dh_rec[e]) + (sc.dh_carry ? std::fabs(in.dh_carry[e]) : 0);
          const double tol = 8 * kActivationDiff * (1 + dh + std::fabs(in.dc[e]));
          auto check = [&](float g, float r, const char* what) {
            if (bitwise) {
              ASSERT_TRUE(same_bits(g, r)) << what << " at " << e << ": " << g << " vs " << r;
            } else {
              ASSERT_NEAR(g, r, tol) << what << " at " << e;
              max_err = std::max(max_err, std::fabs(double(g) - r));
            }
          };
          check(got.dc[e], ref.dc[e], "dc");
          if (sc.dh_carry) check(got.dh_carry[e], ref.dh_carry[e], "dh_carry");
          for (int q = 0; q < 4; ++q)
            check(got.da[b * 4 * H + q * H + j], ref.da[b * 4 * H + q * H + j], "da");
        }
      }
      // Nothing else written: dy's other time steps and the inputs stay as they were.
      ASSERT_EQ(std::memcmp(got.dy.data(), in.dy.data(), in.dy.size() * sizeof(float)), 0);
      ASSERT_EQ(std::memcmp(got.gates.data(), in.gates.data(), in.gates.size() * sizeof(float)), 0);
    }
  }
  std::printf("  backward vs scalar (tanh cell): max |diff| %.3g\n", max_err);
}

// Each row is the same function of its own inputs whatever the batch around it (so the memory
// modes and batch sizes see the same bits), and AVX-512 gives AVX2's bits on whole steps too.
TEST(HostCellSimd, RowsDoNotDependOnTheBatchOrTheWidth) {
  const std::vector<HostSimd> kinds = vector_kinds();
  REQUIRE_VECTOR_KINDS(kinds);
  const StepCase sc{13, 37, CellActivation::tanh, 2, true, true, 1, true};
  std::vector<ForwardData> fwd;
  std::vector<BackwardData> bwd;
  for (HostSimd kind : kinds) {
    ForwardData f = forward_data(sc, 3);
    BackwardData g = backward_data(sc, 4);
    ops::host_forward_step(kind, sc.cell, f.args(sc));
    ops::host_backward_step(kind, sc.cell, g.args(sc));
    // Row by row, B = 1, from fresh copies of the same inputs.
    ForwardData f1 = forward_data(sc, 3);
    BackwardData g1 = backward_data(sc, 4);
    const std::int64_t H = sc.H;
    for (std::int64_t b = 0; b < sc.B; ++b) {
      kernels::ForwardStepArgs<float> a = f1.args(sc);
      a.batch = 1, a.gates += b * 4 * H, a.c_prev += b * H, a.c += b * H, a.h += b * H;
      a.h_prev += b * H, a.lengths += b;
      ops::host_forward_step(kind, sc.cell, a);
      kernels::BackwardStepArgs<float> d = g1.args(sc);
      d.batch = 1, d.gates += b * 4 * H, d.c += b * H, d.c_prev += b * H, d.dy += b * H;
      d.dh_rec += b * H, d.dc += b * H, d.da += b * 4 * H, d.lengths += b, d.dh_carry += b * H;
      ops::host_backward_step(kind, sc.cell, d);
    }
    EXPECT_EQ(std::memcmp(f.c.data(), f1.c.data(), f.c.size() * 4), 0) << ops::host_simd_name(kind);
    EXPECT_EQ(std::memcmp(f.h.data(), f1.h.data(), f.h.size() * 4), 0);
    EXPECT_EQ(std::memcmp(f.gates.data(), f1.gates.data(), f.gates.size() * 4), 0);
    EXPECT_EQ(std::memcmp(g.da.data(), g1.da.data(), g.da.size() * 4), 0);
    EXPECT_EQ(std::memcmp(g.dc.data(), g1.dc.data(), g.dc.size() * 4), 0);
    EXPECT_EQ(std::memcmp(g.dh_carry.data(), g1.dh_carry.data(), g.dh_carry.size() * 4), 0);
    fwd.push_back(f), bwd.push_back(g);
  }
  for (std::size_t k = 1; k < fwd.size(); ++k) {
    EXPECT_EQ(std::memcmp(fwd[0].h.data(), fwd[k].h.data(), fwd[0].h.size() * 4), 0);
    EXPECT_EQ(std::memcmp(fwd[0].c.data(), fwd[k].c.data(), fwd[0].c.size() * 4), 0);
    EXPECT_EQ(std::memcmp(fwd[0].gates.data(), fwd[k].gates.data(), fwd[0].gates.size() * 4), 0);
    EXPECT_EQ(std::memcmp(bwd[0].da.data(), bwd[k].da.data(), bwd[0].da.size() * 4), 0);
    EXPECT_EQ(std::memcmp(bwd[0].dc.data(), bwd[k].dc.data(), bwd[0].dc.size() * 4), 0);
  }
}

// The kind the host ops use: one the CPU runs; the one asked for where CTest runs the suite again
// with FUSELSTM_HOST_SIMD set (it then also sets FUSELSTM_EXPECT_HOST_SIMD).
TEST(HostCellSimd, SelectedKindIsSupportedAndTheOneAskedFor) {
  const HostSimd kind = ops::host_simd_selected();
  std::printf("  host cell steps: %s\n", ops::host_simd_name(kind));
  EXPECT_TRUE(ops::host_simd_supported(kind));
  EXPECT_EQ(ops::host_simd_selected(), kind);
  if (const char* expected = std::getenv("FUSELSTM_EXPECT_HOST_SIMD")) {
    const std::string want = expected;
    const bool runnable = (want == "avx2" && ops::host_simd_supported(HostSimd::avx2)) ||
                          (want == "avx512" && ops::host_simd_supported(HostSimd::avx512)) ||
                          want == "scalar";
    if (!runnable) GTEST_SKIP() << "this CPU cannot run " << want;
    EXPECT_EQ(ops::host_simd_name(kind), want);
  }
}

}  // namespace
}  // namespace fuselstm::testing
