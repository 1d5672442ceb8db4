// The CUDA path against the reference (small shapes) and against itself in f64 (large shapes,
// where the reference would be too slow). Skipped, with the reason, when no GPU is usable.

#include "agreement.hpp"

namespace fuselstm::testing {
namespace {

class CudaAgreement : public ::testing::TestWithParam<DType> {};

TEST_P(CudaAgreement, MatchesReference) {
  FUSELSTM_REQUIRE_GPU();
  AgreementOptions o;
  o.device = Device::cuda(0);
  o.dtype = GetParam();
  o.tol = o.dtype == DType::f64 ? f64_tolerance() : f32_tolerance();
  std::uint64_t seed = 100;
  for (const Case& c : agreement_cases()) {
    o.seed = seed++;
    check_agreement(c, o);
  }
}

// TF32 rounds every product input to a 10-bit mantissa (relative 5e-4), so the bound is wider.
TEST(CudaAgreementTf32, MatchesReferenceLoosely) {
  FUSELSTM_REQUIRE_GPU();
  AgreementOptions o;
  o.device = Device::cuda(0);
  o.dtype = DType::f32;
  o.math = MathMode::tf32;
  o.tol = {5e-3, 2e-2};
  check_agreement({8, 4, 16, 40, 2, CellActivation::tanh}, o);
}

INSTANTIATE_TEST_SUITE_P(DTypes, CudaAgreement, ::testing::Values(DType::f64, DType::f32),
                         [](const auto& info) { return dtype_name(info.param); });

// Large shapes: f32 on the GPU against f64 on the GPU (the reference would take hours).
void check_large(std::int64_t T, std::int64_t B, std::int64_t X, std::int64_t H, std::int64_t L) {
  SCOPED_TRACE("T=" + std::to_string(T) + " B=" + std::to_string(B) + " H=" + std::to_string(H));
  auto make = [&](DType dt) {
    LstmConfig cfg;
    cfg.input_size = X;
    cfg.hidden_size = H;
    cfg.num_layers = L;
    cfg.dtype = dt;
    cfg.device = Device::cuda(0);
    Lstm m(cfg);
    m.init_pytorch_default(5);
    return m;
  };
  Lstm m64 = make(DType::f64), m32 = make(DType::f32);
  std::mt19937_64 rng(9);
  const auto xv = random_values(T * B * X, rng);
  const auto dyv = random_values(T * B * H, rng);
  std::vector<double> got[2][3];
  Lstm* models[2] = {&m64, &m32};
  for (int k = 0; k < 2; ++k) {
    const DType dt = k == 0 ? DType::f64 : DType::f32;
    Tensor x = Tensor::from_vector({T, B, X}, xv, dt, Device::cuda(0));
    Tensor dy = Tensor::from_vector({T, B, H}, dyv, dt, Device::cuda(0));
    ForwardResult f = models[k]->forward(x);
    BackwardResult b = models[k]->backward(f.context, dy);
    got[k][0] = f.y.to_vector<double>();
    got[k][1] = b.dx.to_vector<double>();
    got[k][2] = models[k]->gradient("weight_hh_l0").to_vector<double>();
  }
  // Long sequences accumulate more rounding (T steps of recurrence, sums of T·B rows).
  const Tolerance tol{1e-4, 1e-3};
  expect_scaled_close(got[1][0], got[0][0], tol, "y");
  expect_scaled_close(got[1][1], got[0][1], tol, "dx");
  expect_scaled_close(got[1][2], got[0][2], tol, "dweight_hh_l0");
}

TEST(CudaLarge, LongSequenceF32MatchesF64) {
  FUSELSTM_REQUIRE_GPU();
  check_large(1000, 32, 256, 256, 1);
}
TEST(CudaLarge, WideHiddenF32MatchesF64) {
  FUSELSTM_REQUIRE_GPU();
  check_large(20, 8, 128, 1024, 2);
}

}  // namespace
}  // namespace fuselstm::testing
