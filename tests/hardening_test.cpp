// Hardening at the public boundary: size products that would overflow int64 are refused by name
// before anything is allocated; the host GEMM's split for cblas's 32-bit sizes; calls on a
// moved-from model; NaN/Inf in padded positions of x contribute nothing; no numel-sized host
// temporaries and no std::bad_alloc from public calls.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "fuselstm/error.hpp"
#include "fuselstm/lstm.hpp"

namespace fuselstm::testing {
namespace {

LstmConfig sized(std::int64_t X, std::int64_t H, std::int64_t L, bool bidirectional = false) {
  LstmConfig cfg;
  cfg.input_size = X;
  cfg.hidden_size = H;
  cfg.num_layers = L;
  cfg.bidirectional = bidirectional;
  return cfg;
}

// Runs `call`, expecting E whose message holds every one of `words`.
template <typename E, typename Call>
void expect_error_naming(const std::string& what, Call call, std::initializer_list<std::string> words) {
  try {
    call();
    ADD_FAILURE() << what << ": no exception";
  } catch (const E& e) {
    for (const std::string& w : words) {
      EXPECT_NE(std::string(e.what()).find(w), std::string::npos)
          << what << ": '" << e.what() << "' does not name '" << w << "'";
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": wrong exception type: " << e.what();
  }
}

constexpr std::int64_t k2To61 = std::int64_t{1} << 61;
constexpr std::int64_t k2To62 = std::int64_t{1} << 62;

TEST(SizeLimits, HugeConfigurationsAreRefusedByNameBeforeAllocating) {
  // Each would make 4H or a parameter count wrap (at H = 2^62, 4H was a zero-size model). Lstm's
  // constructor validates before it allocates: reaching an allocation of this size would throw
  // OutOfMemoryError instead of ValueError.
  for (const bool bidirectional : {false, true}) {
    const std::string d = bidirectional ? " bidirectional" : "";
    expect_error_naming<ValueError>("H = 2^61" + d, [&] { Lstm m(sized(3, k2To61, 1, bidirectional)); },
                                    {"hidden_size", std::to_string(k2To61)});
    expect_error_naming<ValueError>("H = 2^62" + d, [&] { Lstm m(sized(3, k2To62, 1, bidirectional)); },
                                    {"hidden_size", std::to_string(k2To62)});
    expect_error_naming<ValueError>("H = 2^61 - 1" + d,
                                    [&] { Lstm m(sized(3, k2To61 - 1, 1, bidirectional)); },
                                    {"hidden_size", std::to_string(k2To61 - 1)});
    expect_error_naming<ValueError>("H = 2^31, L = 2" + d,
                                    [&] { Lstm m(sized(3, std::int64_t{1} << 31, 2, bidirectional)); },
                                    {"hidden_size"});
    expect_error_naming<ValueError>("X = 2^62" + d, [&] { Lstm m(sized(k2To62, 4, 1, bidirectional)); },
                                    {"input_size", std::to_string(k2To62)});
    expect_error_naming<ValueError>("X = 2^59, H = 2" + d,
                                    [&] { Lstm m(sized(std::int64_t{1} << 59, 2, 1, bidirectional)); },
                                    {"input_size"});
    expect_error_naming<ValueError>("L = 10^9, H = 2^20" + d,
                                    [&] { Lstm m(sized(1, 1 << 20, 1000000000, bidirectional)); },
                                    {"num_layers", "1000000000"});
    expect_error_naming<ValueError>("L = 10^9 + 1" + d,
                                    [&] { Lstm m(sized(1, 1, 1000000001, bidirectional)); },
                                    {"num_layers", "1000000001"});
  }
  // The bounds are not tighter than int64 needs: a 2^40-parameter configuration validates.
  EXPECT_NO_THROW(sized(1 << 20, 1 << 20, 4, true).validate());
}

TEST(SizeLimits, SequencesWhoseBuffersOverflowAreRefusedByName) {
  // plan_memory and forward/infer/step share the check (forward's x would have to exist at that
  // size, so the public entry that takes T and B as numbers is the one tested).
  for (const bool bidirectional : {false, true}) {
    Lstm model(sized(3, 8, 2, bidirectional));
    const std::string d = bidirectional ? " bidirectional" : "";
    expect_error_naming<ValueError>("T = 2^62" + d, [&] { model.plan_memory(k2To62, 4); },
                                    {"plan_memory", "T = " + std::to_string(k2To62), "B = 4"});
    expect_error_naming<ValueError>("B = 2^62" + d, [&] { model.plan_memory(4, k2To62); },
                                    {"B = " + std::to_string(k2To62)});
    // T·B·4H overflows although T·B does not.
    expect_error_naming<ValueError>("T = B = 2^29" + d,
                                    [&] { model.plan_memory(std::int64_t{1} << 29, std::int64_t{1} << 29); },
                                    {"T = 536870912", "B = 536870912"});
    // A long sequence that fits is planned, not refused: T = 2^40 steps of B = 3.
    const MemoryPlan plan = model.plan_memory(std::int64_t{1} << 40, 3);
    EXPECT_GT(plan.total_bytes(), (std::int64_t{1} << 40) * 3 * 3 * 4) << "at least the x copy" << d;
  }
}

}  // namespace
}  // namespace fuselstm::testing
