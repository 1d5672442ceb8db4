// The layers around an LSTM: the last-step gather, the Mlp and the Embedding. Each against a
// direct computation from its definition in double, by finite differences where it is not linear,
// with NaN in padding, and on CUDA against the host (skipped without a GPU).

#include <cmath>
#include <limits>

#include "fuselstm/embedding.hpp"
#include "fuselstm/last_step.hpp"
#include "fuselstm/mlp.hpp"
#include "test_util.hpp"

namespace fuselstm::testing {
namespace {

std::vector<double> values_of(const Tensor& t) { return t.to_vector<double>(); }

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}

// The devices a test runs on: the host always, cuda:0 when one is usable.
class OnDevice : public ::testing::TestWithParam<const char*> {
protected:
  Device device() const { return Device::parse(GetParam()); }
  void SetUp() override {
    if (std::string(GetParam()) != "cpu") FUSELSTM_REQUIRE_GPU();
  }
};

// --- last-step gather ---------------------------------------------------------------------------

struct SequenceLayout {
  std::int64_t T, B, F;
  bool batch_first;
  std::int64_t row(std::int64_t t, std::int64_t b) const { return batch_first ? b * T + t : t * B + b; }
  Shape shape() const { return batch_first ? Shape{B, T, F} : Shape{T, B, F}; }
};

using LastStep = OnDevice;

// B = 5, T = 7, odd F: row b of the result is the sequence's own last real step in either layout,
// padding holds NaN and is never read; the scatter puts dlast there and exact zeros elsewhere.
TEST_P(LastStep, GathersEachSequencesOwnLastStepAndScattersBack) {
  const std::vector<std::int64_t> lengths = {7, 1, 4, 7, 2};
  for (bool batch_first : {false, true}) {
    const SequenceLayout l{7, 5, 3, batch_first};
    std::mt19937_64 rng(3);
    std::vector<double> y = random_values(l.T * l.B * l.F, rng);
    for (std::int64_t b = 0; b < l.B; ++b) {
      for (std::int64_t t = lengths[b]; t < l.T; ++t) {
        for (std::int64_t f = 0; f < l.F; ++f) y[l.row(t, b) * l.F + f] = std::nan("");
      }
    }
    for (DType dtype : {DType::f64, DType::f32}) {
      const std::string what = std::string(batch_first ? "batch_first " : "time-major ") + dtype_name(dtype);
      const Tensor ty = Tensor::from_vector(l.shape(), y, dtype, device());
      const std::vector<double> last = values_of(gather_last_steps(ty, lengths, batch_first));
      ASSERT_EQ(last.size(), std::size_t(l.B * l.F));
      for (std::int64_t b = 0; b < l.B; ++b) {
        for (std::int64_t f = 0; f < l.F; ++f) {
          const double want = y[l.row(lengths[b] - 1, b) * l.F + f];
          EXPECT_EQ(last[b * l.F + f], dtype == DType::f64 ? want : double(float(want))) << what;
        }
      }
      const std::vector<double> d = random_values(l.B * l.F, rng);
      const Tensor dseq = scatter_last_steps(Tensor::from_vector({l.B, l.F}, d, dtype, device()), l.T,
                                             lengths, batch_first);
      EXPECT_EQ(dseq.shape(), l.shape());
      const std::vector<double> ds = values_of(dseq);
      for (std::int64_t b = 0; b < l.B; ++b) {
        for (std::int64_t t = 0; t < l.T; ++t) {
          for (std::int64_t f = 0; f < l.F; ++f) {
            const double want = t == lengths[b] - 1 ? d[b * l.F + f] : 0.0;
            EXPECT_EQ(ds[l.row(t, b) * l.F + f], dtype == DType::f64 ? want : double(float(want)))
                << what << " t=" << t << " b=" << b;
          }
        }
      }
    }
  }
}

// The gather is linear; the scatter must be its adjoint: <gather(y), d> = <y, scatter(d)> (the
// finite-difference check of a linear map, exact up to the summation order).
TEST_P(LastStep, ScatterIsTheGathersAdjointWithoutLengths) {
  const SequenceLayout l{6, 3, 4, false};
  std::mt19937_64 rng(5);
  const std::vector<double> y = random_values(l.T * l.B * l.F, rng);
  const std::vector<double> d = random_values(l.B * l.F, rng);
  const Tensor ty = Tensor::from_vector(l.shape(), y, DType::f64, device());
  const std::vector<double> last = values_of(gather_last_steps(ty));
  const std::vector<double> back =
      values_of(scatter_last_steps(Tensor::from_vector({l.B, l.F}, d, DType::f64, device()), l.T));
  EXPECT_NEAR(dot(last, d), dot(y, back), 1e-14);
  // Without lengths the last step is T − 1 for everyone.
  for (std::int64_t b = 0; b < l.B; ++b) EXPECT_EQ(last[b * l.F], y[l.row(l.T - 1, b) * l.F]);
}

TEST(LastStepErrors, NameWhatIsWrong) {
  const Tensor y = Tensor::zeros({4, 2, 3}, DType::f64);
  EXPECT_THROW(gather_last_steps(y, {1, 2, 3}), ShapeError);  // B = 2 entries
  try {
    gather_last_steps(y, {1, 5});
    FAIL() << "lengths[1] = 5 > T = 4 accepted";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("lengths[1] = 5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gather_last_steps(Tensor::zeros({4, 3}, DType::f64)), ShapeError);
  EXPECT_THROW(scatter_last_steps(Tensor::zeros({2, 3}, DType::f64), 0), ValueError);
  EXPECT_THROW(scatter_last_steps(Tensor::zeros({2, 3}, DType::f64), 4, {0, 1}), ValueError);
}

// --- Mlp ----------------------------------------------------------------------------------------

// J = Σ w ⊙ mlp(x) for fixed random w: dJ/d(output) = w.
double mlp_objective(const Mlp& mlp, const Tensor& x, const std::vector<double>& w) {
  return dot(values_of(mlp.forward(x).output), w);
}

using MlpGradient = OnDevice;

// Every weight, bias and input gradient of a 3-layer Mlp (odd sizes, a [T, B, F] input) against
// central differences in double, for both activations. ReLU's kink is avoided: the step is far
// smaller than any pre-activation's distance from 0 (checked).
TEST_P(MlpGradient, MatchesFiniteDifferences) {
  for (Activation act : {Activation::tanh, Activation::relu}) {
    Mlp mlp({5, 7, 3, 2}, act, DType::f64, ExecutionContext::default_for(device()), 17);
    std::mt19937_64 rng(9);
    const Shape in_shape{3, 2, 5};
    const std::vector<double> x = random_values(shape_numel(in_shape), rng);
    const Tensor tx = Tensor::from_vector(in_shape, x, DType::f64, device());
    const MlpResult out = mlp.forward(tx);
    ASSERT_EQ(out.output.shape(), (Shape{3, 2, 2}));
    ASSERT_EQ(out.hidden.size(), 2u);
    const std::vector<double> w = random_values(out.output.numel(), rng);
    mlp.zero_grad();
    const std::vector<double> dx =
        values_of(mlp.backward(tx, out, Tensor::from_vector(out.output.shape(), w, DType::f64, device())));

    const double h = 1e-6;
    const char* what = act == Activation::tanh ? "tanh" : "relu";
    for (const ParameterRef& p : parameters_of(mlp)) {
      const std::vector<double> value = values_of(*p.value);
      const std::vector<double> grad = values_of(*p.gradient);
      for (std::size_t k = 0; k < value.size(); ++k) {
        std::vector<double> v = value;
        v[k] = value[k] + h;
        p.value->assign(v);
        const double up = mlp_objective(mlp, tx, w);
        v[k] = value[k] - h;
        p.value->assign(v);
        const double down = mlp_objective(mlp, tx, w);
        p.value->assign(value);
        EXPECT_NEAR(grad[k], (up - down) / (2 * h), 1e-8) << what << " " << p.name << "[" << k << "]";
      }
    }
    for (std::size_t k = 0; k < x.size(); ++k) {
      std::vector<double> v = x;
      v[k] = x[k] + h;
      const double up = mlp_objective(mlp, Tensor::from_vector(in_shape, v, DType::f64, device()), w);
      v[k] = x[k] - h;
      const double down = mlp_objective(mlp, Tensor::from_vector(in_shape, v, DType::f64, device()), w);
      EXPECT_NEAR(dx[k], (up - down) / (2 * h), 1e-8) << what << " dx[" << k << "]";
    }
    if (act == Activation::relu) {  // some units off and some on, none near the kink
      int off = 0, on = 0;
      for (const Tensor& hidden : out.hidden) {
        for (double v : values_of(hidden)) (v == 0 ? off : on) += 1;
      }
      EXPECT_GT(off, 0);
      EXPECT_GT(on, 0);
    }
  }
}

TEST(MlpNames, AreNnSequentials) {
  Mlp mlp({4, 8, 8, 3}, Activation::relu, DType::f32, ExecutionContext::default_for(Device::cpu()),
          0, true, "classifier");
  std::vector<std::string> names;
  for (const ParameterRef& p : parameters_of(mlp)) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"classifier.0.weight", "classifier.0.bias",
                                             "classifier.2.weight", "classifier.2.bias",
                                             "classifier.4.weight", "classifier.4.bias"}));
  EXPECT_EQ(mlp.layer(1).weight().shape(), (Shape{8, 8}));
  EXPECT_THROW(mlp.layer(3), ValueError);
  EXPECT_THROW(Mlp({4}, Activation::tanh, DType::f32, ExecutionContext::default_for(Device::cpu())),
               ValueError);
  EXPECT_THROW(mlp.forward(Tensor::zeros({2, 5}, DType::f32)), ShapeError);
}

// --- Embedding ----------------------------------------------------------------------------------

using EmbeddingLayer = OnDevice;

// Forward is the rows; backward sums, per id, the rows of doutput where it occurs (ids repeated
// many times, in any order), nothing for padding_idx, and the same bits on a second run.
TEST_P(EmbeddingLayer, LooksUpRowsAndSumsGradientsPerId) {
  const std::int64_t V = 11, E = 5;
  for (DType dtype : {DType::f64, DType::f32}) {
    Embedding emb(V, E, dtype, ExecutionContext::default_for(device()), 7, /*padding_idx=*/-1);
    EXPECT_EQ(emb.padding_idx(), std::optional<std::int64_t>(10));
    const std::vector<double> w = values_of(emb.weight());
    for (std::int64_t e = 0; e < E; ++e) EXPECT_EQ(w[10 * E + e], 0.0);  // padding row starts at 0
    std::mt19937_64 rng(13);
    std::vector<std::int64_t> ids(6 * 7);
    for (std::int64_t& id : ids) id = static_cast<std::int64_t>(rng() % V);
    ids[3] = 10;  // padding_idx occurs
    const Tensor out = emb.forward(ids, {6, 7});
    ASSERT_EQ(out.shape(), (Shape{6, 7, E}));
    const std::vector<double> o = values_of(out);
    for (std::size_t n = 0; n < ids.size(); ++n) {
      for (std::int64_t e = 0; e < E; ++e) EXPECT_EQ(o[n * E + e], w[ids[n] * E + e]);
    }
    const std::vector<double> d = random_values(out.numel(), rng);
    const Tensor td = Tensor::from_vector(out.shape(), d, dtype, device());
    emb.backward(ids, td);
    const std::vector<double> g1 = values_of(emb.weight_grad());
    std::vector<double> want(V * E, 0.0);
    for (std::size_t n = 0; n < ids.size(); ++n) {
      if (ids[n] == 10) continue;
      for (std::int64_t e = 0; e < E; ++e) want[ids[n] * E + e] += d[n * E + e];
    }
    const double tol = dtype == DType::f64 ? 1e-14 : 1e-5;  // f32: a few roundings of O(1) sums
    for (std::size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(g1[k], want[k], tol) << k;
    emb.zero_grad();
    emb.backward(ids, td);
    EXPECT_EQ(values_of(emb.weight_grad()), g1) << "the gradient is not bitwise reproducible";
  }
}

TEST(EmbeddingErrors, OutOfRangeIdsAreNamedBeforeAnythingRuns) {
  Embedding emb(4, 3, DType::f64, ExecutionContext::default_for(Device::cpu()));
  const std::vector<double> before = values_of(emb.weight_grad());
  try {
    emb.forward({0, 1, 4, 2}, {4});
    FAIL() << "id 4 of 4 accepted";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("ids[2] = 4"), std::string::npos) << e.what();
  }
  EXPECT_THROW(emb.forward({0, -1}, {2}), ValueError);
  EXPECT_THROW(emb.forward({0, 1, 2}, {2, 2}), ShapeError);
  EXPECT_THROW(emb.backward({0, 9}, Tensor::from_vector({2, 3}, std::vector<double>(6, 1.0), DType::f64)), ValueError);
  EXPECT_EQ(values_of(emb.weight_grad()), before) << "a refused backward changed the gradient";
  EXPECT_THROW(emb.backward({0, 1}, Tensor::from_vector({2, 4}, std::vector<double>(8, 1.0), DType::f64)), ShapeError);
  EXPECT_THROW(Embedding(4, 3, DType::f64, ExecutionContext::default_for(Device::cpu()), 0, 4),
               ValueError);
  EXPECT_THROW(Embedding(0, 3, DType::f64, ExecutionContext::default_for(Device::cpu())), ValueError);
}

// nn.Embedding's init: N(0, 1) (mean and variance of 40 000 draws), the same draws for the same seed.
TEST(EmbeddingInit, IsStandardNormal) {
  Embedding a(200, 200, DType::f64, ExecutionContext::default_for(Device::cpu()), 21);
  Embedding b(200, 200, DType::f64, ExecutionContext::default_for(Device::cpu()), 21);
  const std::vector<double> w = values_of(a.weight());
  EXPECT_EQ(w, values_of(b.weight()));
  double mean = 0, sq = 0;
  for (double v : w) mean += v;
  mean /= double(w.size());
  for (double v : w) sq += (v - mean) * (v - mean);
  EXPECT_NEAR(mean, 0.0, 0.02);                      // 4σ of the mean: 4/200
  EXPECT_NEAR(sq / double(w.size()), 1.0, 0.03);     // ~4σ of the variance: 4·√(2/40000)
}

INSTANTIATE_TEST_SUITE_P(Devices, LastStep, ::testing::Values("cpu", "cuda:0"));
INSTANTIATE_TEST_SUITE_P(Devices, MlpGradient, ::testing::Values("cpu", "cuda:0"));
INSTANTIATE_TEST_SUITE_P(Devices, EmbeddingLayer, ::testing::Values("cpu", "cuda:0"));

}  // namespace
}  // namespace fuselstm::testing
