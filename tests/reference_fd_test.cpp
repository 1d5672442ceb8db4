// The reference, proven by central finite differences in double.
//
// J = <Ry, y> + <Rh, hT> + <Rc, cT> with seeded random R's; backward with dy = Ry, dhT = Rh,
// dcT = Rc must equal (J(p + ε) − J(p − ε)) / 2ε for every parameter and for x, h0, c0.
// Step ε = 1e-5: the truncation error is O(ε²·J''') ≈ 1e-10 and the rounding error about
// 1e-16·Σ|terms| / ε ≈ 1e-10, so |fd − an| ≤ 1e-8 + 1e-6·|an| leaves two orders of margin while a
// wrong term (an error of the size of the entry) cannot pass. Small shapes check every entry; the
// seed's shape checks a seeded sample that includes the first and last row of each gate block.

#include <set>

#include "test_util.hpp"

namespace fuselstm::testing {
namespace {

using Params = reference::Params<double>;

struct Problem {
  Case c;
  Params params;
  std::vector<double> x, h0, c0, ry, rh, rc;
};

Problem make_problem(const Case& c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Problem p;
  p.c = c;
  const double bound = 1.0 / std::sqrt(static_cast<double>(c.H));
  const std::int64_t D = c.D(), units = c.L * D;
  for (std::int64_t unit = 0; unit < units; ++unit) {
    const std::int64_t X = unit < D ? c.X : D * c.H;
    p.params.weight_ih.push_back(random_values(4 * c.H * X, rng, -bound, bound));
    p.params.weight_hh.push_back(random_values(4 * c.H * c.H, rng, -bound, bound));
    if (c.bias) {
      p.params.bias_ih.push_back(random_values(4 * c.H, rng, -bound, bound));
      p.params.bias_hh.push_back(random_values(4 * c.H, rng, -bound, bound));
    }
  }
  p.x = random_values(c.T * c.B * c.X, rng);
  p.h0 = random_values(units * c.B * c.H, rng, -0.5, 0.5);
  p.c0 = random_values(units * c.B * c.H, rng, -0.5, 0.5);
  p.ry = random_values(c.T * c.B * D * c.H, rng);
  p.rh = random_values(units * c.B * c.H, rng);
  p.rc = random_values(units * c.B * c.H, rng);
  return p;
}

double objective(const Problem& p, const Params& params, const std::vector<double>& x,
                 const std::vector<double>& h0, const std::vector<double>& c0) {
  const auto f = reference::forward(p.c.dims(), p.c.cell, params, x, h0, c0);
  double j = 0;
  for (std::size_t k = 0; k < f.y.size(); ++k) j += p.ry[k] * f.y[k];
  for (std::size_t k = 0; k < f.hT.size(); ++k) j += p.rh[k] * f.hT[k] + p.rc[k] * f.cT[k];
  return j;
}

// Indices to check: all when small, else a seeded sample plus the first and last row of every
// gate block (rows 0, H−1, H, 2H−1, ... of a [4H, cols] tensor).
std::vector<std::size_t> entries_to_check(std::size_t n, std::int64_t H, std::size_t cols,
                                          std::mt19937_64& rng) {
  if (n <= 4000) {
    std::vector<std::size_t> all(n);
    for (std::size_t k = 0; k < n; ++k) all[k] = k;
    return all;
  }
  std::set<std::size_t> pick;
  for (std::int64_t gate = 0; gate < 4; ++gate) {
    for (std::int64_t row : {gate * H, gate * H + H - 1}) {
      pick.insert(row * cols);
      pick.insert(row * cols + cols - 1);
    }
  }
  std::uniform_int_distribution<std::size_t> any(0, n - 1);
  while (pick.size() < 200) pick.insert(any(rng));
  return {pick.begin(), pick.end()};
}

constexpr double kStep = 1e-5;
constexpr double kAtol = 1e-8;
constexpr double kRtol = 1e-6;

// Checks one tensor: `value` is the tensor inside (a copy of) the problem that `eval` reads.
template <typename Eval>
void check_tensor(const std::string& what, std::vector<double>& value,
                  const std::vector<double>& analytic, std::int64_t H, std::size_t cols,
                  Eval eval, std::mt19937_64& rng) {
  ASSERT_EQ(value.size(), analytic.size()) << what;
  double max_rel = 0;
  int failures = 0;
  for (std::size_t k : entries_to_check(value.size(), H, cols, rng)) {
    const double saved = value[k];
    value[k] = saved + kStep;
    const double plus = eval();
    value[k] = saved - kStep;
    const double minus = eval();
    value[k] = saved;
    const double fd = (plus - minus) / (2 * kStep);
    const double err = std::fabs(fd - analytic[k]);
    max_rel = std::max(max_rel, err / std::max(std::fabs(analytic[k]), 1e-12));
    if (!(err <= kAtol + kRtol * std::fabs(analytic[k])) && ++failures <= 5) {
      ADD_FAILURE() << what << "[" << k << "]: finite difference " << fd << ", backward "
                    << analytic[k];
    }
  }
  std::printf("  %-28s max relative error %.2e\n", what.c_str(), max_rel);
}

void check_case(const Case& c, std::uint64_t seed) {
  SCOPED_TRACE(c.str());
  std::printf("case %s\n", c.str().c_str());
  Problem p = make_problem(c, seed);
  const auto g = reference::backward(c.dims(), c.cell, p.params, p.x, p.h0, p.c0, p.ry, p.rh, p.rc);
  std::mt19937_64 rng(seed + 1);
  auto eval = [&] { return objective(p, p.params, p.x, p.h0, p.c0); };
  Params dparams = g.dparams;
  const std::int64_t D = c.D();
  for (std::int64_t l = 0; l < c.L * D; ++l) {
    const std::string s = "_l" + std::to_string(l / D) + (l % D ? "_reverse" : "");
    const std::size_t X = l < D ? c.X : D * c.H;
    check_tensor(c.str() + " weight_ih" + s, p.params.weight_ih[l], dparams.weight_ih[l], c.H, X,
                 eval, rng);
    check_tensor(c.str() + " weight_hh" + s, p.params.weight_hh[l], dparams.weight_hh[l], c.H,
                 c.H, eval, rng);
    if (c.bias) {
      check_tensor(c.str() + " bias_ih" + s, p.params.bias_ih[l], dparams.bias_ih[l], c.H, 1, eval,
                   rng);
      check_tensor(c.str() + " bias_hh" + s, p.params.bias_hh[l], dparams.bias_hh[l], c.H, 1, eval,
                   rng);
    }
  }
  check_tensor(c.str() + " x", p.x, g.dx, c.H, c.X, eval, rng);
  check_tensor(c.str() + " h0", p.h0, g.dh0, c.H, c.H, eval, rng);
  check_tensor(c.str() + " c0", p.c0, g.dc0, c.H, c.H, eval, rng);
}

class ReferenceFiniteDifferences : public ::testing::TestWithParam<CellActivation> {};

TEST_P(ReferenceFiniteDifferences, SingleUnit) { check_case({1, 1, 1, 1, 1, GetParam()}, 11); }
TEST_P(ReferenceFiniteDifferences, SeedShape) { check_case({4, 1, 50, 100, 1, GetParam()}, 12); }
TEST_P(ReferenceFiniteDifferences, TwoLayers) { check_case({7, 3, 5, 6, 2, GetParam()}, 13); }
TEST_P(ReferenceFiniteDifferences, ThreeLayers) { check_case({13, 2, 3, 17, 3, GetParam()}, 14); }
TEST_P(ReferenceFiniteDifferences, Bidirectional) {
  check_case({6, 2, 3, 5, 2, GetParam(), true, true}, 16);
}
TEST_P(ReferenceFiniteDifferences, NoBias) {
  check_case({5, 2, 4, 3, 2, GetParam(), false}, 15);
}

INSTANTIATE_TEST_SUITE_P(Cells, ReferenceFiniteDifferences,
                         ::testing::Values(CellActivation::tanh, CellActivation::identity),
                         [](const auto& info) { return cell_activation_name(info.param); });

}  // namespace
}  // namespace fuselstm::testing
