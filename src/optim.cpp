#include "fuselstm/optim.hpp"

#include <cmath>

#include "fuselstm/error.hpp"
#include "model_impl.hpp"

namespace fuselstm {

Sgd::Sgd(Lstm& model, double lr, const std::vector<std::string>& frozen) : model_(&model) {
  set_lr(lr);
  detail::ModelImpl& m = model.impl();
  std::set<std::size_t> frozen_index;
  for (const std::string& name : frozen) frozen_index.insert(m.lookup(name));
  for (std::size_t k = 0; k < m.names.size(); ++k) {
    if (!frozen_index.count(k)) trained_.push_back(k);
  }
}

void Sgd::set_lr(double lr) {
  if (!(lr > 0) || !std::isfinite(lr)) {
    throw ValueError("fuselstm: Sgd: lr must be finite and > 0, got " + std::to_string(lr));
  }
  lr_ = lr;
}

void Sgd::step() {
  detail::ModelImpl& m = model_->impl();
  for (std::size_t k : trained_) {
    Tensor& p = m.params[k];
    const Tensor& g = m.grads[k];
    if (m.config.dtype == DType::f32) {
      m.ops<float>().axpy(p.numel(), static_cast<float>(-lr_), g.data_as<float>(),
                          p.data_as<float>());
    } else {
      m.ops<double>().axpy(p.numel(), -lr_, g.data_as<double>(), p.data_as<double>());
    }
  }
}

}  // namespace fuselstm
