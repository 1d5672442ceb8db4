#pragma once
// Optimizers that update parameters from their accumulated gradients, on their device, with
// PyTorch's definitions: SGD (momentum, dampening, Nesterov, weight decay), Adam and AdamW (bias
// correction). One fused update kernel per parameter tensor; gradients are left as they are (call
// zero_grad() before the next backward).

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "fuselstm/lstm.hpp"
#include "fuselstm/parameters.hpp"

namespace fuselstm {

/// What every optimizer shares: the trained parameters (those given minus the frozen ones), the
/// learning rate, the step count, the named state tensors and the opt-in non-finite check.
/// Not copyable; one thread at a time, like the model.
class Optimizer {
public:
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every trained parameter (queued on its device; no wait). With
  /// set_check_finite(true) it first checks every trained gradient (one wait for the device) and
  /// throws ValueError naming the first with a NaN or Inf, its layer and the step, before any
  /// parameter or state changes.
  void step();
  double lr() const { return lr_; }
  /// lr must be finite and ≥ 0 (ValueError otherwise; a schedule may end at 0).
  void set_lr(double lr);
  /// Updates applied so far (PyTorch's per-parameter state "step"; the next step is number
  /// step_count() + 1).
  std::int64_t step_count() const { return steps_; }
  void set_check_finite(bool enabled) { check_finite_ = enabled; }
  bool check_finite() const { return check_finite_; }
  /// The optimizer's name, as in its messages: "Sgd", "Adam", "AdamW".
  const char* kind() const { return kind_; }
  /// The trained parameters, in the order given.
  const ParameterList& parameters() const { return trained_; }

  /// Every state tensor, named "<state>.<parameter>" with PyTorch's state names (momentum_buffer;
  /// exp_avg, exp_avg_sq), grouped by state then in parameter order. With step_count() this is the
  /// optimizer's whole state (hyper-parameters aside). Empty for SGD without momentum.
  NamedTensors state() const;
  /// Restores a state saved from state() and step_count(): `tensors` must name exactly the
  /// tensors state() names, each with the same shape (any dtype or device: values are converted).
  /// The values are checked too: every element finite, exp_avg_sq's >= 0, step_count in
  /// [0, 2^53] (kMaxStateStep): a poisoned state would turn every parameter into NaN at the next
  /// step. ValueError / ShapeError naming the first mismatch (tensor and flat index); nothing
  /// changes then.
  void load_state(std::int64_t step_count, const NamedTensors& tensors);
  /// Every check of load_state, changing nothing (for a resume that loads several parts
  /// all-or-nothing).
  void check_state(std::int64_t step_count, const NamedTensors& tensors) const;
  /// The largest step count a state may carry: 2^53, the last integer a double holds exactly.
  static constexpr std::int64_t kMaxStateStep = std::int64_t(1) << 53;

protected:
  /// `kind` names the optimizer in messages. Unknown frozen names throw ValueError listing the
  /// valid ones; so do parameters on different devices.
  Optimizer(const char* kind, ParameterList params, double lr,
            const std::vector<std::string>& frozen);
  /// Adds a zero-initialised state tensor "<name>.<parameter>" per trained parameter; returns its
  /// slot for state_tensor().
  std::size_t add_state(const std::string& name);
  Tensor& state_tensor(std::size_t slot, std::size_t parameter) { return state_[slot][parameter]; }
  /// Updates trained parameter `index`; step_count() still counts the updates before this one.
  virtual void update(const ParameterRef& parameter, std::size_t index) = 0;

private:
  void check_state_values(const std::string& name, const Tensor& tensor) const;
  const char* kind_;
  ParameterList trained_;
  double lr_ = 0;
  std::int64_t steps_ = 0;
  bool check_finite_ = false;
  std::vector<std::string> state_names_;
  std::vector<std::vector<Tensor>> state_;  // [slot][trained parameter]
};

/// torch.optim.SGD's hyper-parameters and defaults.
struct SgdOptions {
  double lr = 1e-3;
  double momentum = 0;      ///< ≥ 0; 0: no momentum buffer
  double dampening = 0;     ///< in [0, 1]
  double weight_decay = 0;  ///< ≥ 0, L2: g = grad + weight_decay·p
  bool nesterov = false;    ///< needs momentum > 0 and dampening = 0
};

/// Stochastic gradient descent as torch.optim.SGD, per element:
///   g = grad + weight_decay·p
///   momentum > 0: b = g at the first step, else b = momentum·b + (1 − dampening)·g;
///                 g = g + momentum·b (Nesterov) or g = b
///   p = p − lr·g
/// State: "momentum_buffer.<parameter>" when momentum > 0.
class Sgd : public Optimizer {
public:
  /// Plain SGD on every parameter of `model` but `frozen` (e.g. {"bias_hh_l0"} for the seed's one
  /// bias per gate): p ← p − lr·dp.
  Sgd(Lstm& model, double lr, const std::vector<std::string>& frozen = {});
  Sgd(ParameterList params, const SgdOptions& options, const std::vector<std::string>& frozen = {});
  const SgdOptions& options() const { return options_; }

private:
  void update(const ParameterRef& parameter, std::size_t index) override;
  SgdOptions options_;
  std::size_t momentum_slot_ = 0;
};

/// torch.optim.Adam / AdamW's hyper-parameters (amsgrad is not offered).
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;       ///< in [0, 1)
  double beta2 = 0.999;     ///< in [0, 1)
  double eps = 1e-8;        ///< ≥ 0
  double weight_decay = 0;  ///< ≥ 0; Adam: L2 added to the gradient; AdamW: decoupled
};

/// Adam as torch.optim.Adam, per element at step t = step_count() + 1:
///   g = grad + weight_decay·p
///   m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²
///   p = p − (lr / (1 − β1ᵗ))·m / (√v / √(1 − β2ᵗ) + eps)
/// (the bias corrections in double on the host, as PyTorch). State: "exp_avg.<parameter>" (m) and
/// "exp_avg_sq.<parameter>" (v).
class Adam : public Optimizer {
public:
  explicit Adam(ParameterList params, const AdamOptions& options = {},
                const std::vector<std::string>& frozen = {});
  const AdamOptions& options() const { return options_; }

protected:
  Adam(const char* kind, ParameterList params, const AdamOptions& options,
       const std::vector<std::string>& frozen, bool decoupled_weight_decay);

private:
  void update(const ParameterRef& parameter, std::size_t index) override;
  AdamOptions options_;
  bool decoupled_;
  std::size_t exp_avg_slot_ = 0, exp_avg_sq_slot_ = 0;
};

/// AdamW as torch.optim.AdamW: p = p·(1 − lr·weight_decay) first, then Adam's update without
/// weight decay in g. PyTorch's default weight_decay for AdamW is 0.01 (default_options()).
class AdamW : public Adam {
public:
  static AdamOptions default_options() {
    AdamOptions o;
    o.weight_decay = 1e-2;
    return o;
  }
  explicit AdamW(ParameterList params, const AdamOptions& options = default_options(),
                 const std::vector<std::string>& frozen = {});
};

}  // namespace fuselstm
