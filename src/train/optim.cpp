// Optimizers: argument checks, state bookkeeping, and one fused update op per parameter tensor on
// the parameter's own ops (so it is ordered with the model's work on its stream).

#include "fuselstm/optim.hpp"

#include <cmath>
#include <map>

#include "fuselstm/guard.hpp"
#include "train/param_reduce.hpp"
#include "train/train_util.hpp"

namespace fuselstm {
namespace {

void check_range(const char* kind, const char* name, double value, double low, double high,
                 bool high_open) {
  const bool ok =
      std::isfinite(value) && value >= low && (high_open ? value < high : value <= high);
  if (!ok) {
    throw ValueError(std::string("fuselstm: ") + kind + ": " + name + " must be in [" +
                     std::to_string(low) + ", " +
                     (std::isinf(high) ? "inf" : std::to_string(high)) + (high_open ? ")" : "]") +
                     ", got " + std::to_string(value));
  }
}

constexpr double kInf = INFINITY;

}  // namespace

// --- Optimizer --------------------------------------------------------------------------------

Optimizer::Optimizer(const char* kind, ParameterList params, double lr,
                     const std::vector<std::string>& frozen)
    : kind_(kind) {
  set_lr(lr);
  std::map<std::string, bool> frozen_seen;
  for (const std::string& name : frozen) frozen_seen[name] = false;
  for (ParameterRef& p : params) {
    auto it = frozen_seen.find(p.name);
    if (it != frozen_seen.end())
      it->second = true;
    else
      trained_.push_back(std::move(p));
  }
  for (const auto& [name, seen] : frozen_seen) {
    if (seen) continue;
    std::string valid;
    for (const ParameterRef& p : trained_) valid += (valid.empty() ? "" : ", ") + p.name;
    throw ValueError(std::string("fuselstm: ") + kind_ + ": no parameter named '" + name +
                     "' to freeze (valid: " + valid + ")");
  }
  if (!trained_.empty()) detail::check_same_device(kind_, trained_);
}

Optimizer::~Optimizer() = default;

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0) || !std::isfinite(lr)) {
    throw ValueError(std::string("fuselstm: ") + kind_ + ": lr must be finite and >= 0, got " +
                     std::to_string(lr));
  }
  lr_ = lr;
}

std::size_t Optimizer::add_state(const std::string& name) {
  std::vector<Tensor> tensors;
  for (const ParameterRef& p : trained_) {
    tensors.push_back(Tensor::zeros(p.value->shape(), p.value->dtype(), p.value->context()));
  }
  state_names_.push_back(name);
  state_.push_back(std::move(tensors));
  return state_.size() - 1;
}

void Optimizer::step() {
  if (check_finite_) check_finite_gradients(trained_, steps_ + 1);
  for (std::size_t k = 0; k < trained_.size(); ++k) update(trained_[k], k);
  ++steps_;
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  for (std::size_t slot = 0; slot < state_.size(); ++slot) {
    for (std::size_t k = 0; k < trained_.size(); ++k) {
      out.emplace_back(state_names_[slot] + "." + trained_[k].name, std::cref(state_[slot][k]));
    }
  }
  return out;
}

void Optimizer::check_state_values(const std::string& name, const Tensor& tensor) const {
  const Tensor host = tensor.to(Device::cpu());
  const std::vector<double> values = host.to_vector<double>();
  // Adam's second moment is a running mean of squares: a negative one makes sqrt() a NaN.
  const bool non_negative = name.rfind("exp_avg_sq.", 0) == 0;
  for (std::size_t k = 0; k < values.size(); ++k) {
    if (!std::isfinite(values[k]) || (non_negative && values[k] < 0)) {
      throw ValueError(std::string("fuselstm: ") + kind_ + ": load_state: '" + name + "' holds " +
                       std::to_string(values[k]) + " at flat index " + std::to_string(k) +
                       (non_negative ? " (must be finite and >= 0)" : " (must be finite)"));
    }
  }
}

void Optimizer::check_state(std::int64_t step_count, const NamedTensors& tensors) const {
  // Beyond 2^53 the step no longer converts exactly to the double that bias corrections use
  // (and INT64_MAX + 1 would overflow).
  if (step_count < 0 || step_count > kMaxStateStep) {
    throw ValueError(std::string("fuselstm: ") + kind_ +
                     ": load_state: step_count must be in [0, 2^53], got " +
                     std::to_string(step_count));
  }
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, tensor] : tensors) given[name] = &tensor.get();
  for (std::size_t slot = 0; slot < state_.size(); ++slot) {
    for (std::size_t k = 0; k < trained_.size(); ++k) {
      const std::string name = state_names_[slot] + "." + trained_[k].name;
      const auto it = given.find(name);
      if (it == given.end()) {
        throw ValueError(std::string("fuselstm: ") + kind_ + ": load_state: missing '" + name +
                         "'");
      }
      const Tensor& dst = state_[slot][k];
      if (it->second->shape() != dst.shape()) {
        throw ShapeError(std::string("fuselstm: ") + kind_ + ": load_state: '" + name +
                         "' must be " + shape_str(dst.shape()) + ", got " + it->second->describe());
      }
      check_state_values(name, *it->second);
      given.erase(it);
    }
  }
  if (!given.empty()) {
    throw ValueError(std::string("fuselstm: ") + kind_ + ": load_state: unexpected tensor '" +
                     given.begin()->first + "'");
  }
}

void Optimizer::load_state(std::int64_t step_count, const NamedTensors& tensors) {
  check_state(step_count, tensors);  // a failed load changes nothing
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, tensor] : tensors) given[name] = &tensor.get();
  for (std::size_t slot = 0; slot < state_.size(); ++slot) {
    for (std::size_t k = 0; k < trained_.size(); ++k) {
      const Tensor& src = *given.at(state_names_[slot] + "." + trained_[k].name);
      state_[slot][k].assign(src.to_vector<double>());
    }
  }
  steps_ = step_count;
}

// --- SGD --------------------------------------------------------------------------------------

namespace {
SgdOptions plain_sgd(double lr) {
  SgdOptions o;
  o.lr = lr;
  return o;
}
}  // namespace

Sgd::Sgd(Lstm& model, double lr, const std::vector<std::string>& frozen)
    : Sgd(parameters_of(model), plain_sgd(lr), frozen) {}

Sgd::Sgd(ParameterList params, const SgdOptions& options, const std::vector<std::string>& frozen)
    : Optimizer("Sgd", std::move(params), options.lr, frozen), options_(options) {
  check_range("Sgd", "momentum", options.momentum, 0, kInf, true);
  check_range("Sgd", "dampening", options.dampening, 0, 1, false);
  check_range("Sgd", "weight_decay", options.weight_decay, 0, kInf, true);
  if (options.nesterov && (options.momentum <= 0 || options.dampening != 0)) {
    throw ValueError("fuselstm: Sgd: nesterov needs momentum > 0 and dampening = 0");
  }
  if (options.momentum > 0) momentum_slot_ = add_state("momentum_buffer");
}

void Sgd::update(const ParameterRef& p, std::size_t index) {
  detail::with_ops(*p.value, [&](auto& ops) {
    using T = detail::elem_t<decltype(ops)>;
    kernels::SgdStepArgs<T> a;
    a.param = p.value->template data_as<T>();
    a.grad = p.gradient->template data_as<T>();
    if (options_.momentum > 0) {
      a.momentum_buffer = state_tensor(momentum_slot_, index).template data_as<T>();
    }
    a.lr = T(lr());
    a.momentum = T(options_.momentum);
    a.dampening = T(options_.dampening);
    a.weight_decay = T(options_.weight_decay);
    a.nesterov = options_.nesterov;
    a.first_step = step_count() == 0;
    ops.sgd_update(p.value->numel(), a);
  });
}

// --- Adam, AdamW ------------------------------------------------------------------------------

Adam::Adam(ParameterList params, const AdamOptions& options, const std::vector<std::string>& frozen)
    : Adam("Adam", std::move(params), options, frozen, false) {}

Adam::Adam(const char* kind, ParameterList params, const AdamOptions& options,
           const std::vector<std::string>& frozen, bool decoupled_weight_decay)
    : Optimizer(kind, std::move(params), options.lr, frozen),
      options_(options),
      decoupled_(decoupled_weight_decay) {
  check_range(kind, "beta1", options.beta1, 0, 1, true);
  check_range(kind, "beta2", options.beta2, 0, 1, true);
  check_range(kind, "eps", options.eps, 0, kInf, true);
  check_range(kind, "weight_decay", options.weight_decay, 0, kInf, true);
  exp_avg_slot_ = add_state("exp_avg");
  exp_avg_sq_slot_ = add_state("exp_avg_sq");
}

void Adam::update(const ParameterRef& p, std::size_t index) {
  const double t = static_cast<double>(step_count() + 1);
  const double bias_correction1 = 1 - std::pow(options_.beta1, t);
  const double bias_correction2 = 1 - std::pow(options_.beta2, t);
  detail::with_ops(*p.value, [&](auto& ops) {
    using T = detail::elem_t<decltype(ops)>;
    kernels::AdamStepArgs<T> a;
    a.param = p.value->template data_as<T>();
    a.grad = p.gradient->template data_as<T>();
    a.exp_avg = state_tensor(exp_avg_slot_, index).template data_as<T>();
    a.exp_avg_sq = state_tensor(exp_avg_sq_slot_, index).template data_as<T>();
    a.lr = T(lr());
    a.beta1 = T(options_.beta1);
    a.beta2 = T(options_.beta2);
    a.eps = T(options_.eps);
    a.weight_decay = T(options_.weight_decay);
    a.step_size = T(lr() / bias_correction1);
    a.bias_correction2_sqrt = T(std::sqrt(bias_correction2));
    a.decoupled_weight_decay = decoupled_;
    ops.adam_update(p.value->numel(), a);
  });
}

AdamW::AdamW(ParameterList params, const AdamOptions& options,
             const std::vector<std::string>& frozen)
    : Adam("AdamW", std::move(params), options, frozen, true) {}

}  // namespace fuselstm
