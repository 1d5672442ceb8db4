#pragma once
// Learning-rate schedules: small objects a training loop calls once per step.
//
//   CosineWarmupLr schedule(1e-3, 100, 10000);
//   for (...) { ...; schedule.step(optimizer); optimizer.step(); }

#include <cstdint>

#include "fuselstm/optim.hpp"

namespace fuselstm {

/// A learning rate as a function of the step s = 0, 1, 2, ... (the number of optimizer steps taken
/// before the one it is used for).
class LrSchedule {
public:
  virtual ~LrSchedule() = default;
  /// The learning rate for step s ≥ 0.
  virtual double lr_at(std::int64_t step) const = 0;
  /// Sets optimizer's lr to lr_at(steps_done()) and counts the step; call once per step, before
  /// optimizer.step(). Returns the lr set.
  double step(Optimizer& optimizer);
  /// Steps counted so far; set it when resuming from a checkpoint.
  std::int64_t steps_done() const { return next_; }
  void set_steps_done(std::int64_t steps);

private:
  std::int64_t next_ = 0;
};

/// lr(s) = lr.
class ConstantLr : public LrSchedule {
public:
  explicit ConstantLr(double lr);
  double lr_at(std::int64_t step) const override;

private:
  double lr_;
};

/// torch.optim.lr_scheduler.StepLR: lr(s) = base_lr·gamma^⌊s / step_size⌋.
class StepLr : public LrSchedule {
public:
  /// step_size ≥ 1; base_lr ≥ 0 and gamma ≥ 0, finite.
  StepLr(double base_lr, std::int64_t step_size, double gamma = 0.1);
  double lr_at(std::int64_t step) const override;

private:
  double base_lr_, gamma_;
  std::int64_t step_size_;
};

/// Linear warm-up, then cosine decay to min_lr:
///   s < W:      lr(s) = base_lr·(s + 1)/W
///   W ≤ s < S:  lr(s) = min_lr + (base_lr − min_lr)·(1 + cos(π·(s − W)/(S − W)))/2
///   s ≥ S:      lr(s) = min_lr
/// with W = warmup_steps ≥ 0 and S = total_steps > W. (Warm-up starts at base_lr/W rather than 0,
/// so the first step already moves the weights.)
class CosineWarmupLr : public LrSchedule {
public:
  CosineWarmupLr(double base_lr, std::int64_t warmup_steps, std::int64_t total_steps,
                 double min_lr = 0);
  double lr_at(std::int64_t step) const override;

private:
  double base_lr_, min_lr_;
  std::int64_t warmup_, total_;
};

}  // namespace fuselstm
