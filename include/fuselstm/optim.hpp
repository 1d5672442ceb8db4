#pragma once
// Optimizers that update an Lstm's parameters from its accumulated gradients, on its device.

#include <set>
#include <string>
#include <vector>

#include "fuselstm/lstm.hpp"

namespace fuselstm {

/// Plain stochastic gradient descent: p ← p − lr·dp for every parameter not frozen.
/// The gradients are left as they are (call model.zero_grad() before the next backward).
class Sgd {
public:
  /// `frozen` names parameters to leave untouched (e.g. {"bias_hh_l0"} for the seed's one bias
  /// per gate); an unknown name throws ValueError. lr must be finite and > 0.
  Sgd(Lstm& model, double lr, const std::vector<std::string>& frozen = {});
  void step();
  double lr() const { return lr_; }
  void set_lr(double lr);

private:
  Lstm* model_;
  double lr_ = 0;
  std::vector<std::size_t> trained_;  // indices into model.parameter_names()
};

}  // namespace fuselstm
