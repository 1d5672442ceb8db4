// Ops::weight_gemm: the same product as gemm for every transpose, beta and padded leading
// dimension, on the host's float32 path (oneDNN's matmul with A packed) and double path; a packed
// A is reused only when the caller promises it unchanged, at the same address and layout.

#include <string>

#include "ops/host/onednn_matmul.hpp"
#include "ops/ops.hpp"
#include "test_util.hpp"

namespace fuselstm::testing {
namespace {

using ops::Trans;

struct Shape {
  int m, n, k;
};

struct Operands {
  Trans ta, tb;
  int m, n, k, lda, ldb;
  std::vector<double> a, b, c0;  // c0: C before the call (beta·C is added)
};

Operands make_operands(Trans ta, Trans tb, const Shape& s, std::mt19937_64& rng) {
  Operands o{ta, tb, s.m, s.n, s.k, (ta == Trans::N ? s.m : s.k) + 3, (tb == Trans::N ? s.k : s.n) + 1,
             {}, {}, {}};
  o.a = random_values(std::size_t(o.lda) * (ta == Trans::N ? s.k : s.m), rng);
  o.b = random_values(std::size_t(o.ldb) * (tb == Trans::N ? s.n : s.k), rng);
  o.c0 = random_values(std::size_t(s.m) * s.n, rng);
  return o;
}

// op(A)·op(B) + beta·C0 in double from the (rounded to T) operands, column-major, ldc = m.
template <typename T>
std::vector<double> definition(const Operands& o, const std::vector<T>& a, const std::vector<T>& b,
                               double beta) {
  std::vector<double> c(std::size_t(o.m) * o.n);
  for (int i = 0; i < o.m; ++i) {
    for (int j = 0; j < o.n; ++j) {
      double sum = 0;
      for (int p = 0; p < o.k; ++p) {
        const double av = o.ta == Trans::N ? a[i + p * o.lda] : a[p + i * o.lda];
        const double bv = o.tb == Trans::N ? b[p + j * o.ldb] : b[j + p * o.ldb];
        sum += av * bv;
      }
      c[i + j * o.m] = sum + beta * double(T(o.c0[i + j * o.m]));
    }
  }
  return c;
}

template <typename T>
std::vector<double> run(ops::Ops<T>& ops, const Operands& o, const std::vector<T>& a,
                        const std::vector<T>& b, double beta, bool a_unchanged) {
  std::vector<T> c(o.c0.begin(), o.c0.end());
  ops.weight_gemm(o.ta, o.tb, o.m, o.n, o.k, a.data(), o.lda, b.data(), o.ldb, T(beta), c.data(),
                  o.m, a_unchanged);
  return std::vector<double>(c.begin(), c.end());
}

// Entries are sums of k <= 520 products of magnitude <= 1 (plus C/2): an fp32 rounding error of
// at most about k·eps·Σ|a·b| ~ 520·6e-8·130 = 4e-3 in the worst case and ~1e-5 typically; a
// wrong layout or a stale packed A is an O(1) error. Double: 1e-12.
template <typename T>
void check_weight_gemm(const std::string& name) {
  const double tol = sizeof(T) == 8 ? 1e-12 : 5e-4;
  auto ops = ops::make_host_ops<T>();
  std::mt19937_64 rng(11);
  // Small; odd sizes around the kernels' 16/64-wide blocks; a projection-like m = 4H with K = 520.
  for (const Shape& s : {Shape{5, 7, 3}, Shape{40, 39, 64}, Shape{129, 67, 33}, Shape{516, 100, 520}}) {
    for (Trans ta : {Trans::N, Trans::T}) {
      for (Trans tb : {Trans::N, Trans::T}) {
        for (double beta : {0.0, 0.5}) {
          const std::string what = name + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                                   " k=" + std::to_string(s.k) + " ta=" + std::to_string(int(ta)) +
                                   " tb=" + std::to_string(int(tb)) + " beta=" + std::to_string(beta);
          const Operands o = make_operands(ta, tb, s, rng);
          std::vector<T> a(o.a.begin(), o.a.end()), b(o.b.begin(), o.b.end());
          expect_close(run(*ops, o, a, b, beta, false), definition(o, a, b, beta), tol, tol, what);
          // Promised unchanged: the packed A is used again.
          expect_close(run(*ops, o, a, b, beta, true), definition(o, a, b, beta), tol, tol,
                       what + " (A unchanged)");
          // A rewritten in place: not promised unchanged, so packed again.
          for (T& e : a) e = T(-0.5) * e + T(0.25);
          expect_close(run(*ops, o, a, b, beta, false), definition(o, a, b, beta), tol, tol,
                       what + " (A rewritten)");
          // Another matrix of the same shape at another address, "unchanged" since it was never
          // packed: the address tells them apart.
          std::vector<T> other(a.size());
          for (std::size_t e = 0; e < a.size(); ++e) other[e] = T(1) - a[e];
          expect_close(run(*ops, o, other, b, beta, true), definition(o, other, b, beta), tol, tol,
                       what + " (another A)");
        }
      }
    }
  }
}

TEST(WeightGemm, IsTheGemmOfEveryLayout) {
  check_weight_gemm<float>("host f32");
  check_weight_gemm<double>("host f64");
}

// The packed copies oneDNN's matmul reads: one per layout of A (the projection's W_ihᵀ and dx's
// W_ih alternate when backward recomputes), packed again only when not promised unchanged.
TEST(WeightGemm, PacksOncePerLayoutWhilePromisedUnchanged) {
  if (!ops::onednn_weight_matmul_selected()) {
    GTEST_SKIP() << "float32 weight products do not run on oneDNN's matmul here (no oneDNN, or "
                    "FUSELSTM_HOST_SGEMM / FUSELSTM_HOST_WEIGHT_GEMM)";
  }
  ops::OneDnnWeightMatmul matmul;
  std::mt19937_64 rng(5);
  const std::int64_t H = 64, X = 48, rows = 96, G = 4 * H;
  const auto wd = random_values(G * X, rng), xd = random_values(rows * X, rng);
  const auto dad = random_values(rows * G, rng);
  const std::vector<float> w(wd.begin(), wd.end()), x(xd.begin(), xd.end()), da(dad.begin(), dad.end());
  std::vector<float> gates(rows * G), dx(rows * X);
  auto projection = [&](bool unchanged) {  // gates = x·W_ihᵀ (forward_segment's call)
    ASSERT_TRUE(matmul.run(Trans::T, Trans::N, G, rows, X, w.data(), X, x.data(), X, 0.0f,
                           gates.data(), G, unchanged));
  };
  auto input_gradient = [&](bool unchanged) {  // dx = da·W_ih (flush_block's call)
    ASSERT_TRUE(matmul.run(Trans::N, Trans::N, X, rows, G, w.data(), X, da.data(), G, 0.0f,
                           dx.data(), X, unchanged));
  };
  // Which layouts oneDNN packs depends on the kernels it picks (AVX-512's brgemm packs both; with
  // ONEDNN_MAX_CPU_ISA=AVX2 it reads dx's W_ih as given): each first call packs 0 or 1 time.
  projection(false);
  const std::int64_t projection_packs = matmul.packs();
  input_gradient(false);
  const std::int64_t gradient_packs = matmul.packs() - projection_packs;
  if (projection_packs + gradient_packs == 0) {
    GTEST_SKIP() << "oneDNN's matmul reads W_ih as given on this CPU (nothing packed)";
  }
  EXPECT_LE(projection_packs, 1);
  EXPECT_LE(gradient_packs, 1);
  projection(true);
  input_gradient(true);
  projection(true);
  EXPECT_EQ(matmul.packs(), projection_packs + gradient_packs)
      << "a W promised unchanged was packed again, or the two layouts did not keep a copy each";
  projection(false);
  EXPECT_EQ(matmul.packs(), 2 * projection_packs + gradient_packs)
      << "a W not promised unchanged must be packed again";
  input_gradient(false);
  EXPECT_EQ(matmul.packs(), 2 * (projection_packs + gradient_packs));
}

}  // namespace
}  // namespace fuselstm::testing
