#include "problem.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fuselstm::bench {

namespace {
std::vector<double> uniform(std::size_t n, std::mt19937_64& rng, double lo, double hi) {
  // Our own conversion (53 random bits): the same numbers with every standard library.
  std::vector<double> v(n);
  for (double& e : v) e = lo + (hi - lo) * (double(rng() >> 11) * 0x1.0p-53);
  return v;
}
}  // namespace

Problem make_problem(const Dims& d, std::uint64_t seed) {
  std::mt19937_64 rng(seed * 7919 + 17);
  Problem p;
  p.dims = d;
  const auto state = std::size_t(d.L * d.B * d.H);
  p.x = uniform(std::size_t(d.T * d.B * d.X), rng, -1, 1);
  p.h0 = uniform(state, rng, -0.5, 0.5);
  p.c0 = uniform(state, rng, -0.5, 0.5);
  p.dy = uniform(std::size_t(d.T * d.B * d.H), rng, -1, 1);
  p.dhT = uniform(state, rng, -1, 1);
  p.dcT = uniform(state, rng, -1, 1);
  return p;
}

void round_to_float(Problem& p) {
  for (auto* v : {&p.x, &p.h0, &p.c0, &p.dy, &p.dhT, &p.dcT}) {
    for (double& e : *v) e = double(float(e));
  }
}

Outputs run_forward_backward(Lstm& model, const Problem& p) {
  const LstmConfig& cfg = model.config();
  const Dims& d = p.dims;
  const Shape seq{d.T, d.B, d.X}, out{d.T, d.B, d.H}, state{d.L, d.B, d.H};
  Tensor x = Tensor::from_vector(seq, p.x, cfg.dtype, cfg.device);
  Tensor h0 = Tensor::from_vector(state, p.h0, cfg.dtype, cfg.device);
  Tensor c0 = Tensor::from_vector(state, p.c0, cfg.dtype, cfg.device);
  Tensor dy = Tensor::from_vector(out, p.dy, cfg.dtype, cfg.device);
  Tensor dhT = Tensor::from_vector(state, p.dhT, cfg.dtype, cfg.device);
  Tensor dcT = Tensor::from_vector(state, p.dcT, cfg.dtype, cfg.device);
  model.zero_grad();
  ForwardResult f = model.forward(x, h0, c0);
  BackwardResult b = model.backward(f.context, dy, dhT, dcT);
  model.synchronize();
  Outputs o;
  o.names = {"y", "hT", "cT", "dx", "dh0", "dc0"};
  for (const Tensor* t : {&f.y, &f.hT, &f.cT, &b.dx, &b.dh0, &b.dc0}) {
    o.values.push_back(t->to_vector<double>());
  }
  for (const std::string& name : model.parameter_names()) {
    o.names.push_back("d" + name);
    o.values.push_back(model.gradient(name).to_vector<double>());
  }
  return o;
}

reference::Params<double> reference_params(const Lstm& model) {
  return reference::params_of(model);
}

Outputs run_reference(const Lstm& model, const Problem& p) {
  const reference::Dims dims{p.dims.T, p.dims.B, p.dims.X, p.dims.H, p.dims.L};
  const CellActivation cell = model.config().cell;
  const reference::Params<double> params = reference_params(model);
  const auto f = reference::forward(dims, cell, params, p.x, p.h0, p.c0);
  const auto g = reference::backward(dims, cell, params, p.x, p.h0, p.c0, p.dy, p.dhT, p.dcT);
  Outputs o;
  o.names = {"y", "hT", "cT", "dx", "dh0", "dc0"};
  o.values = {f.y, f.hT, f.cT, g.dx, g.dh0, g.dc0};
  for (std::size_t k = 0; k < g.dparams.weight_ih.size(); ++k) {
    const std::string s = "_l" + std::to_string(k);
    o.names.push_back("dweight_ih" + s);
    o.values.push_back(g.dparams.weight_ih[k]);
    o.names.push_back("dweight_hh" + s);
    o.values.push_back(g.dparams.weight_hh[k]);
    if (!g.dparams.bias_ih.empty()) {
      o.names.push_back("dbias_ih" + s);
      o.values.push_back(g.dparams.bias_ih[k]);
      o.names.push_back("dbias_hh" + s);
      o.values.push_back(g.dparams.bias_hh[k]);
    }
  }
  return o;
}

double scaled_max_error(const std::vector<double>& got, const std::vector<double>& ref) {
  if (got.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double max_diff = 0, scale = 0;
  for (std::size_t k = 0; k < ref.size(); ++k) {
    const double diff = std::fabs(got[k] - ref[k]);
    if (std::isnan(diff)) return std::numeric_limits<double>::infinity();
    max_diff = std::max(max_diff, diff);
    scale = std::max(scale, std::fabs(ref[k]));
  }
  return scale > 0 ? max_diff / scale : max_diff;
}

}  // namespace fuselstm::bench
