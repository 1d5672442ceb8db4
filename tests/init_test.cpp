// Initialisation options: orthogonal recurrent blocks (QᵀQ = I, the QR factor of the drawn
// matrix with a positive R diagonal, LAPACK and plain C++ agreeing), seeding, and the forget-gate
// bias.

#include "fuselstm/init.hpp"

#include <cmath>

#include "train/orthogonal.hpp"
#include "train_test_util.hpp"

namespace fuselstm::testing {
namespace {

// max |QᵀQ − I| of a row-major n×n block starting at `q`, scaled by 1/gain².
double orthogonality_error(const double* q, std::int64_t n, double gain) {
  double worst = 0;
  for (std::int64_t a = 0; a < n; ++a)
    for (std::int64_t b = 0; b < n; ++b) {
      double dot = 0;
      for (std::int64_t i = 0; i < n; ++i) dot += q[i * n + a] * q[i * n + b];
      worst = std::max(worst, std::fabs(dot / (gain * gain) - (a == b ? 1.0 : 0.0)));
    }
  return worst;
}

TEST(InitOrthogonal, EveryGateBlockIsOrthogonal) {
  for (const std::int64_t H : {1, 7, 33}) {
    for (const DType dtype : {DType::f64, DType::f32}) {
      SCOPED_TRACE("H=" + std::to_string(H) + " " + dtype_name(dtype));
      Lstm model(train_config(3, H, 2, dtype));
      const auto w_ih = model.parameter("weight_ih_l1").to_vector<double>();
      const double gain = 1.5;
      init_orthogonal_recurrent(model, 42, gain);
      for (int k = 0; k < 2; ++k) {
        const auto w = model.parameter("weight_hh_l" + std::to_string(k)).to_vector<double>();
        for (int block = 0; block < 4; ++block) {
          // f64: QR in double, error ~n·1e-16; f32: each entry rounded at 6e-8, sums of n terms.
          const double tol = dtype == DType::f64 ? 1e-13 : 1e-6;
          EXPECT_LT(orthogonality_error(w.data() + block * H * H, H, gain), tol)
              << "block " << block;
        }
      }
      EXPECT_EQ(model.parameter("weight_ih_l1").to_vector<double>(), w_ih) << "only weight_hh";
    }
  }
}

TEST(InitOrthogonal, SameSeedSameWeightsOtherSeedOthers) {
  Lstm a(train_config(2, 5, 1)), b(train_config(2, 5, 1)), c(train_config(2, 5, 1));
  init_orthogonal_recurrent(a, 7);
  init_orthogonal_recurrent(b, 7);
  init_orthogonal_recurrent(c, 8);
  EXPECT_EQ(a.parameter("weight_hh_l0").to_vector<double>(),
            b.parameter("weight_hh_l0").to_vector<double>());
  EXPECT_NE(a.parameter("weight_hh_l0").to_vector<double>(),
            c.parameter("weight_hh_l0").to_vector<double>());
}

// Q is the QR factor of A itself: R = QᵀA is upper triangular with a positive diagonal. Checked
// for the plain C++ version always and for the LAPACK one when built with it; the two agree.
TEST(InitOrthogonal, FactorIsTheQrFactorWithPositiveDiagonal) {
  std::mt19937_64 rng(3);
  for (const std::int64_t n : {1, 2, 9, 40}) {
    const std::vector<double> a = random_values(n * n, rng);
    const std::vector<double> house = detail::orthogonal_factor_householder(a, n);
    const std::vector<double> chosen = detail::orthogonal_factor(a, n);
    for (const std::vector<double>* q : {&house, &chosen}) {
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          double r = 0;  // (QᵀA)_ij, column-major Q and A
          for (std::int64_t p = 0; p < n; ++p) r += (*q)[p + i * n] * a[p + j * n];
          if (i > j) {
            EXPECT_NEAR(r, 0.0, 1e-13) << "below the diagonal at " << i << "," << j;
          } else if (i == j) {
            EXPECT_GT(r, 0.0) << "diagonal " << i;
          }
        }
      // QᵀQ = I: with R = QᵀA upper triangular with a positive diagonal, this pins Q down
      // uniquely (A is almost surely invertible), whichever implementation made it.
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          double g = 0;
          for (std::int64_t p = 0; p < n; ++p) g += (*q)[p + i * n] * (*q)[p + j * n];
          EXPECT_NEAR(g, i == j ? 1.0 : 0.0, 1e-13) << "QᵀQ at " << i << "," << j;
        }
    }
    // Without LAPACK `chosen` is the Householder factor itself: comparing would prove nothing.
    if (detail::orthogonal_uses_lapack()) {
      expect_close(chosen, house, 1e-13, 1e-12, "LAPACK vs Householder n=" + std::to_string(n));
    }
  }
}

TEST(InitForgetBias, SetsTheForgetBlockOfBiasIhAndZeroesBiasHh) {
  const std::int64_t H = 3;
  Lstm model(train_config(2, H, 2));
  const auto ih_before = model.parameter("bias_ih_l1").to_vector<double>();
  const auto hh_before = model.parameter("bias_hh_l1").to_vector<double>();
  init_forget_gate_bias(model, 1.0);
  const auto ih = model.parameter("bias_ih_l1").to_vector<double>();
  const auto hh = model.parameter("bias_hh_l1").to_vector<double>();
  for (std::int64_t j = 0; j < 4 * H; ++j) {
    const bool forget = j >= H && j < 2 * H;
    EXPECT_EQ(ih[j], forget ? 1.0 : ih_before[j]) << j;
    EXPECT_EQ(hh[j], forget ? 0.0 : hh_before[j]) << j;
  }
  LstmConfig no_bias = train_config(2, H, 1);
  no_bias.bias = false;
  Lstm plain(no_bias);
  EXPECT_THROW(init_forget_gate_bias(plain, 1.0), ValueError);
}

}  // namespace
}  // namespace fuselstm::testing
