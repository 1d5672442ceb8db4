// The product path on the host ops (what CI can run) against the double-precision reference.

#include "agreement.hpp"

namespace fuselstm::testing {
namespace {

class HostAgreement : public ::testing::TestWithParam<DType> {};

TEST_P(HostAgreement, MatchesReference) {
  AgreementOptions o;
  o.dtype = GetParam();
  o.tol = o.dtype == DType::f64 ? f64_tolerance() : f32_tolerance();
  std::uint64_t seed = 1;
  for (const Case& c : agreement_cases()) {
    o.seed = seed++;
    check_agreement(c, o);
  }
}

INSTANTIATE_TEST_SUITE_P(DTypes, HostAgreement, ::testing::Values(DType::f64, DType::f32),
                         [](const auto& info) { return dtype_name(info.param); });

}  // namespace
}  // namespace fuselstm::testing
