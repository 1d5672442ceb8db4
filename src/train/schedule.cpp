#include "fuselstm/schedule.hpp"

#include <cmath>

#include "fuselstm/error.hpp"

namespace fuselstm {
namespace {

void check_rate(const char* where, const char* name, double value) {
  if (!(value >= 0) || !std::isfinite(value)) {
    throw ValueError(std::string("fuselstm: ") + where + ": " + name +
                     " must be finite and >= 0, got " + std::to_string(value));
  }
}

void check_step(std::int64_t step) {
  if (step < 0)
    throw ValueError("fuselstm: LrSchedule: step must be >= 0, got " + std::to_string(step));
}

}  // namespace

double LrSchedule::step(Optimizer& optimizer) {
  const double lr = lr_at(next_);
  optimizer.set_lr(lr);
  ++next_;
  return lr;
}

void LrSchedule::set_steps_done(std::int64_t steps) {
  check_step(steps);
  next_ = steps;
}

ConstantLr::ConstantLr(double lr) : lr_(lr) {
  check_rate("ConstantLr", "lr", lr);
}

double ConstantLr::lr_at(std::int64_t step) const {
  check_step(step);
  return lr_;
}

StepLr::StepLr(double base_lr, std::int64_t step_size, double gamma)
    : base_lr_(base_lr), gamma_(gamma), step_size_(step_size) {
  check_rate("StepLr", "base_lr", base_lr);
  check_rate("StepLr", "gamma", gamma);
  if (step_size < 1) {
    throw ValueError("fuselstm: StepLr: step_size must be >= 1, got " + std::to_string(step_size));
  }
}

double StepLr::lr_at(std::int64_t step) const {
  check_step(step);
  return base_lr_ * std::pow(gamma_, static_cast<double>(step / step_size_));
}

CosineWarmupLr::CosineWarmupLr(double base_lr, std::int64_t warmup_steps, std::int64_t total_steps,
                               double min_lr)
    : base_lr_(base_lr), min_lr_(min_lr), warmup_(warmup_steps), total_(total_steps) {
  check_rate("CosineWarmupLr", "base_lr", base_lr);
  check_rate("CosineWarmupLr", "min_lr", min_lr);
  if (warmup_steps < 0 || total_steps <= warmup_steps) {
    throw ValueError("fuselstm: CosineWarmupLr: need 0 <= warmup_steps < total_steps, got " +
                     std::to_string(warmup_steps) + " and " + std::to_string(total_steps));
  }
}

double CosineWarmupLr::lr_at(std::int64_t step) const {
  check_step(step);
  if (step < warmup_)
    return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup_);
  if (step >= total_) return min_lr_;
  const double progress =
      static_cast<double>(step - warmup_) / static_cast<double>(total_ - warmup_);
  return min_lr_ + (base_lr_ - min_lr_) * 0.5 * (1 + std::cos(M_PI * progress));
}

}  // namespace fuselstm
