// Which BLAS the host GEMMs run on. CTest runs the bitwise tests again under several BLAS kernels
// (tests/CMakeLists.txt: OPENBLAS_CORETYPE=Haswell, Zen, SandyBridge, and Debian's reference BLAS
// by LD_PRELOAD, each with float32 on the BLAS too; oneDNN's sgemm capped at AVX2 and SSE4.1) and
// sets FUSELSTM_EXPECT_BLAS / FUSELSTM_EXPECT_SGEMM, so a variant that silently ran the default
// kernel fails here instead of passing for the wrong reason.

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "ops/host/onednn_gemm.hpp"

namespace fuselstm::testing {
namespace {

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

TEST(BlasKernel, IsTheOneThisRunAskedFor) {
  void* sgemm = dlsym(RTLD_DEFAULT, "cblas_sgemm");
  if (!sgemm) GTEST_SKIP() << "the library was built without BLAS (plain loops)";
  Dl_info info{};
  ASSERT_NE(dladdr(sgemm, &info), 0);
  const std::string library = info.dli_fname ? info.dli_fname : "?";
  std::string core = "-";
  using CoreName = char* (*)();
  if (auto corename = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    core = corename();
  }
  std::printf("  cblas_sgemm from %s; OpenBLAS core %s\n", library.c_str(), core.c_str());
  const char* expected = std::getenv("FUSELSTM_EXPECT_BLAS");  // "reference" or "openblas:Core"
  if (!expected || !*expected) return;
  const std::string want = lower(expected);
  if (want == "reference") {
    EXPECT_EQ(lower(library).find("openblas"), std::string::npos) << library;
  } else {
    EXPECT_NE(lower(library).find("openblas"), std::string::npos) << library;
    EXPECT_EQ("openblas:" + lower(core), want) << "OPENBLAS_CORETYPE did not take effect";
  }
}

// float32: oneDNN's sgemm (at the ISA ONEDNN_MAX_CPU_ISA allows) or the BLAS above.
TEST(BlasKernel, Float32GemmsRunWhereThisRunAskedFor) {
  const std::string description = ops::onednn_sgemm_description();
  std::printf("  float32 GEMMs: %s\n", ops::onednn_sgemm_selected() ? description.c_str()
                                                                    : "the BLAS (cblas_sgemm)");
  const char* expected = std::getenv("FUSELSTM_EXPECT_SGEMM");  // "blas" or "onednn:isa"
  if (!expected || !*expected) return;
  const std::string want = lower(expected);
  if (want == "blas") {
    EXPECT_FALSE(ops::onednn_sgemm_selected());
  } else {
    ASSERT_TRUE(ops::onednn_sgemm_selected()) << "built without oneDNN, or FUSELSTM_HOST_SGEMM";
    const std::string isa = want.substr(want.find(':') + 1);
    EXPECT_NE(description.find("(" + isa + ")"), std::string::npos)
        << description << ": ONEDNN_MAX_CPU_ISA did not take effect";
  }
}

}  // namespace
}  // namespace fuselstm::testing
