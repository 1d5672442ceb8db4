// Learning-rate schedules against their formulas at chosen steps, and their use on an optimizer.

#include "fuselstm/schedule.hpp"

#include <cmath>

#include "train_test_util.hpp"

namespace fuselstm::testing {
namespace {

TEST(Schedules, ConstantAndStep) {
  ConstantLr c(0.3);
  EXPECT_EQ(c.lr_at(0), 0.3);
  EXPECT_EQ(c.lr_at(1000), 0.3);
  StepLr s(1.0, 3, 0.5);
  const double expected[] = {1, 1, 1, 0.5, 0.5, 0.5, 0.25};
  for (int k = 0; k < 7; ++k) EXPECT_EQ(s.lr_at(k), expected[k]) << "step " << k;
  EXPECT_THROW(StepLr(1.0, 0), ValueError);
  EXPECT_THROW(c.lr_at(-1), ValueError);
}

TEST(Schedules, CosineWithWarmup) {
  CosineWarmupLr s(1.0, 4, 14, 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.25);  // warm-up: (s + 1)/4
  EXPECT_DOUBLE_EQ(s.lr_at(3), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(4), 1.0);              // cosine starts at the top
  EXPECT_DOUBLE_EQ(s.lr_at(9), 0.1 + 0.9 * 0.5);  // half-way: cos(π/2) = 0
  EXPECT_NEAR(s.lr_at(13), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.9)), 1e-15);
  EXPECT_DOUBLE_EQ(s.lr_at(14), 0.1);
  EXPECT_DOUBLE_EQ(s.lr_at(100), 0.1);
  for (int k = 4; k < 14; ++k) EXPECT_GE(s.lr_at(k), s.lr_at(k + 1)) << "decreasing at " << k;
  CosineWarmupLr no_warmup(2.0, 0, 10);
  EXPECT_DOUBLE_EQ(no_warmup.lr_at(0), 2.0);
  EXPECT_DOUBLE_EQ(no_warmup.lr_at(10), 0.0);
  EXPECT_THROW(CosineWarmupLr(1.0, 5, 5), ValueError);
}

TEST(Schedules, StepSetsTheOptimizerOncePerCall) {
  Lstm model(train_config(2, 3, 1));
  Adam adam(parameters_of(model));
  StepLr s(0.1, 2, 0.1);
  EXPECT_DOUBLE_EQ(s.step(adam), 0.1);
  EXPECT_DOUBLE_EQ(adam.lr(), 0.1);
  s.step(adam);
  EXPECT_DOUBLE_EQ(s.step(adam), 0.01);
  EXPECT_DOUBLE_EQ(adam.lr(), 0.01);
  EXPECT_EQ(s.steps_done(), 3);
  s.set_steps_done(4);
  EXPECT_NEAR(s.step(adam), 0.001, 1e-18);
}

}  // namespace
}  // namespace fuselstm::testing
