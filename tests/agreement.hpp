#pragma once
// The agreement check every product path runs: an Lstm on some device and dtype against the
// double-precision reference, on seeded data with non-zero initial states and final-state
// gradients, comparing outputs, final states, dx, dh0, dc0 and every parameter gradient.

#include <functional>

#include "test_util.hpp"

namespace fuselstm::testing {

struct Tolerance {
  double atol;  // scaled by max(1, max|ref|) of each tensor
  double rtol;
};

/// f64: only summation order differs from the reference, so agreement is near machine precision.
inline Tolerance f64_tolerance() { return {1e-11, 1e-9}; }
/// f32: each product rounds at 6e-8 relative; over T steps the errors of h and c add up (the cell
/// state is a running sum) and the weight gradients sum T·B rows, so 1e-4 relative with an
/// absolute floor of 2e-5·scale for entries that cancel to near zero.
inline Tolerance f32_tolerance() { return {2e-5, 1e-4}; }

struct AgreementOptions {
  Device device = Device::cpu();
  DType dtype = DType::f64;
  MathMode math = MathMode::fp32;
  Tolerance tol = f64_tolerance();
  std::uint64_t seed = 1;
  MemoryMode memory_mode = MemoryMode::store_all;
  std::int64_t segment_steps = 0;
  RecurrentAlgorithm algorithm = RecurrentAlgorithm::automatic;
  /// Called on the model right after it is made (e.g. to give it a test ops backend), or empty.
  std::function<void(Lstm&)> prepare;
};

inline void expect_scaled_close(const std::vector<double>& got, const std::vector<double>& ref,
                                const Tolerance& tol, const std::string& what) {
  double scale = 1;
  for (double v : ref) scale = std::max(scale, std::fabs(v));
  const Comparison c = expect_close(got, ref, tol.atol * scale, tol.rtol, what);
  if (c.failures || ::testing::Test::HasFailure()) return;
  // Printed so a reader sees how much margin each tensor has.
  std::printf("  %-36s max abs error %.2e (scale %.2g)\n", what.c_str(), c.max_abs_error, scale);
}

inline Tensor make_tensor(const Shape& shape, const std::vector<double>& values,
                          const AgreementOptions& o) {
  return Tensor::from_vector(shape, values, o.dtype, o.device);
}

inline void check_agreement(const Case& c, const AgreementOptions& o) {
  SCOPED_TRACE(c.str() + " on " + o.device.str() + " " + dtype_name(o.dtype));
  std::printf("case %s %s %s\n", c.str().c_str(), o.device.str().c_str(), dtype_name(o.dtype));
  LstmConfig cfg;
  cfg.input_size = c.X;
  cfg.hidden_size = c.H;
  cfg.num_layers = c.L;
  cfg.bias = c.bias;
  cfg.bidirectional = c.bidirectional;
  cfg.cell = c.cell;
  cfg.dtype = o.dtype;
  cfg.device = o.device;
  cfg.math = o.math;
  cfg.memory_mode = o.memory_mode;
  cfg.segment_steps = o.segment_steps;
  cfg.algorithm = o.algorithm;
  Lstm model(cfg);
  if (o.prepare) o.prepare(model);
  model.init_pytorch_default(o.seed);
  std::mt19937_64 rng(o.seed * 7919 + 3);
  const std::int64_t D = c.D(), units = c.L * D;
  const Shape seq{c.T, c.B, c.X}, out{c.T, c.B, D * c.H}, state{units, c.B, c.H};
  Tensor x = make_tensor(seq, random_values(c.T * c.B * c.X, rng), o);
  Tensor h0 = make_tensor(state, random_values(units * c.B * c.H, rng, -0.5, 0.5), o);
  Tensor c0 = make_tensor(state, random_values(units * c.B * c.H, rng, -0.5, 0.5), o);
  Tensor dy = make_tensor(out, random_values(c.T * c.B * D * c.H, rng), o);
  Tensor dhT = make_tensor(state, random_values(units * c.B * c.H, rng), o);
  Tensor dcT = make_tensor(state, random_values(units * c.B * c.H, rng), o);

  ForwardResult f = model.forward(x, h0, c0);
  model.zero_grad();
  BackwardResult b = model.backward(f.context, dy, dhT, dcT);

  // The reference sees exactly the (possibly float-rounded) values the model saw.
  const reference::Params<double> params = params_of(model);
  const auto xv = x.to_vector<double>(), h0v = h0.to_vector<double>(), c0v = c0.to_vector<double>();
  const auto rf = reference::forward(c.dims(), c.cell, params, xv, h0v, c0v);
  const auto rb = reference::backward(c.dims(), c.cell, params, xv, h0v, c0v,
                                      dy.to_vector<double>(), dhT.to_vector<double>(),
                                      dcT.to_vector<double>());
  expect_scaled_close(f.y.to_vector<double>(), rf.y, o.tol, "y");
  expect_scaled_close(f.hT.to_vector<double>(), rf.hT, o.tol, "hT");
  expect_scaled_close(f.cT.to_vector<double>(), rf.cT, o.tol, "cT");
  expect_scaled_close(b.dx.to_vector<double>(), rb.dx, o.tol, "dx");
  expect_scaled_close(b.dh0.to_vector<double>(), rb.dh0, o.tol, "dh0");
  expect_scaled_close(b.dc0.to_vector<double>(), rb.dc0, o.tol, "dc0");
  reference::Params<double> expected = rb.dparams;
  for (const std::string& name : model.parameter_names()) {
    expect_scaled_close(model.gradient(name).to_vector<double>(),
                        param_by_name(expected, name, D), o.tol, "d" + name);
  }
}

/// The shapes every backend is checked on: edge sizes (1), odd and non-multiple-of-32 H,
/// 1-3 layers, both cells, with and without bias.
inline std::vector<Case> agreement_cases() {
  std::vector<Case> cases;
  for (CellActivation cell : {CellActivation::tanh, CellActivation::identity}) {
    cases.push_back({1, 1, 1, 1, 1, cell});
    cases.push_back({1, 3, 5, 7, 2, cell});
    cases.push_back({6, 1, 4, 33, 1, cell});
    cases.push_back({9, 4, 7, 17, 3, cell});
    cases.push_back({16, 5, 3, 31, 2, cell});
    cases.push_back({5, 2, 6, 9, 2, cell, false});
    cases.push_back({1, 1, 1, 1, 2, cell, true, true});
    cases.push_back({6, 3, 5, 7, 2, cell, true, true});
    cases.push_back({4, 2, 3, 33, 3, cell, false, true});
  }
  // Seeded random shapes on top of the fixed ones.
  std::mt19937_64 rng(2024);
  std::uniform_int_distribution<std::int64_t> steps(1, 12), batch(1, 6), width(1, 40), layers(1, 3);
  for (int k = 0; k < 4; ++k) {
    cases.push_back({steps(rng), batch(rng), width(rng), width(rng), layers(rng),
                     k % 2 ? CellActivation::tanh : CellActivation::identity});
  }
  return cases;
}

}  // namespace fuselstm::testing
