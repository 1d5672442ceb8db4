#include "validate.hpp"

#include <algorithm>
#include <cmath>

namespace fuselstm::bench {

double small_case_threshold(Precision p) {
  return p == Precision::fp32 ? 1e-4 : 1e-2;
}
double timed_shape_threshold(Precision p) {
  return p == Precision::fp32 ? 1e-3 : 2e-2;
}

Dims small_dims(const BenchCase& c) {
  return {std::min<std::int64_t>(c.T, 7), std::min<std::int64_t>(c.B, 3),
          std::min<std::int64_t>(c.X, 11), std::min<std::int64_t>(c.H, 13), c.L};
}

LstmConfig lstm_config(const BenchCase& c, DType dtype, void* cuda_stream) {
  LstmConfig cfg;
  cfg.input_size = c.X;
  cfg.hidden_size = c.H;
  cfg.num_layers = c.L;
  cfg.bias = true;
  cfg.cell = c.cell;
  cfg.dtype = dtype;
  cfg.device = c.device;
  cfg.math = c.precision == Precision::tf32 ? MathMode::tf32 : MathMode::fp32;
  if (cuda_stream) cfg.context = ExecutionContext::borrow_stream(c.device, cuda_stream);
  cfg.memory_mode = c.memory;
  cfg.segment_steps = c.segment_steps;
  cfg.memory_limit_bytes = c.memory_limit;
  cfg.projection_steps = c.projection_steps;
  cfg.algorithm = c.algorithm;
  return cfg;
}

BenchCase checked_case(const BenchCase& c, std::int64_t steps, std::int64_t timed_k) {
  BenchCase checked = c;
  checked.T = steps;
  if (c.memory == MemoryMode::store_all) return checked;
  checked.memory = MemoryMode::recompute;
  checked.memory_limit = 0;
  checked.segment_steps = timed_k >= 1 && timed_k < steps
                              ? timed_k
                              : std::max<std::int64_t>(
                                    1, std::int64_t(std::ceil(std::sqrt(double(steps)))));
  if (steps > 1 && checked.segment_steps >= steps) checked.segment_steps = steps - 1;
  return checked;
}

namespace {

void compare(const Outputs& got, const Outputs& ref, Validation& v) {
  v.ran = true;
  v.passed = got.names == ref.names;
  if (!v.passed) v.note = "the outputs' names differ from the reference's (a bench bug)";
  for (std::size_t k = 0; k < got.names.size() && k < ref.values.size(); ++k) {
    const double e = scaled_max_error(got.values[k], ref.values[k]);
    v.errors.push_back({got.names[k], e});
    if (e > v.max_error || v.worst_tensor.empty()) {
      v.max_error = e;
      v.worst_tensor = got.names[k];
    }
    if (!(e <= v.threshold)) v.passed = false;  // NaN-safe
  }
}

}  // namespace

Validation validate_small_case(const BenchCase& c, std::uint64_t seed) {
  Validation v;
  v.what = "small case vs the double reference";
  if (c.memory != MemoryMode::store_all) {
    v.what += " (recompute, k=" + std::to_string(checked_case(c, small_dims(c).T, 0).segment_steps) + ")";
  }
  v.dims = small_dims(c);
  v.threshold = small_case_threshold(c.precision);
  BenchCase small = checked_case(c, v.dims.T, 0);
  small.B = v.dims.B;
  small.X = v.dims.X;
  small.H = v.dims.H;
  Lstm model(lstm_config(small, DType::f32));
  model.init_pytorch_default(seed);
  Problem p = make_problem(v.dims, seed);
  round_to_float(p);  // the reference sees exactly the numbers the f32 model saw
  compare(run_forward_backward(model, p), run_reference(model, p), v);
  return v;
}

Validation validate_against_f64(const BenchCase& c, std::int64_t steps, std::uint64_t seed,
                                Problem& problem, Outputs& outputs) {
  Validation v;
  v.what = std::string("timed shape vs fuselstm's ") + (c.device.is_cuda() ? "CUDA" : "host") +
           " path in f64";
  if (c.memory == MemoryMode::recompute) {
    v.what += " (f32 recomputing, k=" + std::to_string(c.segment_steps) + ")";
  }
  v.dims = {steps, c.B, c.X, c.H, c.L};
  v.threshold = timed_shape_threshold(c.precision);
  BenchCase shape = c;
  shape.T = steps;
  problem = make_problem(v.dims, seed);
  round_to_float(problem);
  std::vector<reference::Params<double>> weights;
  {
    Lstm f32(lstm_config(shape, DType::f32));
    f32.init_pytorch_default(seed);
    outputs = run_forward_backward(f32, problem);
    weights.push_back(reference_params(f32));
  }
  // The f64 model gets the f32 model's (rounded) weights, so only the arithmetic differs.
  BenchCase exact = shape;
  exact.precision = Precision::fp32;  // no TF32 shortcut for the oracle
  exact.memory = MemoryMode::store_all;
  Lstm f64(lstm_config(exact, DType::f64));
  for (std::int64_t k = 0; k < c.L; ++k) {
    const std::string s = "_l" + std::to_string(k);
    f64.parameter("weight_ih" + s).assign(weights[0].weight_ih[k]);
    f64.parameter("weight_hh" + s).assign(weights[0].weight_hh[k]);
    f64.parameter("bias_ih" + s).assign(weights[0].bias_ih[k]);
    f64.parameter("bias_hh" + s).assign(weights[0].bias_hh[k]);
  }
  compare(outputs, run_forward_backward(f64, problem), v);
  return v;
}

Validation validate_bitwise_vs_stored(const BenchCase& checked, std::uint64_t seed,
                                      const Problem& problem, const Outputs& outputs) {
  Validation v;
  v.what = "recompute (k=" + std::to_string(checked.segment_steps) +
           ") bitwise vs store_all, f32, same device";
  v.dims = problem.dims;
  v.threshold = 0;
  Lstm stored(lstm_config(checked.stored(), DType::f32));
  stored.init_pytorch_default(seed);  // the same weights as the recompute run
  const Outputs want = run_forward_backward(stored, problem);
  compare(outputs, want, v);
  std::int64_t differing = 0, total = 0;
  for (std::size_t k = 0; k < want.values.size() && k < outputs.values.size(); ++k) {
    const auto& a = outputs.values[k];
    const auto& b = want.values[k];
    total += std::int64_t(b.size());
    if (a.size() != b.size()) {
      differing += std::int64_t(b.size());
      continue;
    }
    for (std::size_t e = 0; e < a.size(); ++e) differing += !(a[e] == b[e]);  // NaN differs
  }
  v.passed = v.passed && differing == 0;
  v.note = std::to_string(differing) + " of " + std::to_string(total) + " values differ";
  return v;
}

}  // namespace fuselstm::bench
