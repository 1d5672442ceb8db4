// The Linear head: argument checks, then one bias broadcast + one GEMM forward, and two GEMMs + one
// column sum backward, on the model's ops.

#include "fuselstm/head.hpp"

#include <cmath>
#include <random>

#include "train/train_util.hpp"

namespace fuselstm {
namespace {

// Rows of an input [..., F]: the product of the leading dimensions.
std::int64_t rows_of(const Tensor& t) {
  return t.numel() / t.shape().back();
}

Shape with_last(Shape shape, std::int64_t last) {
  shape.back() = last;
  return shape;
}

}  // namespace

Linear::Linear(std::int64_t in_features, std::int64_t out_features, DType dtype,
               const ExecutionContext& context, std::uint64_t seed, bool bias,
               const std::string& name)
    : name_(name), t_(std::make_unique<Tensors>()) {
  if (in_features < 1 || out_features < 1) {
    throw ValueError("fuselstm: Linear: in_features and out_features must be >= 1, got " +
                     std::to_string(in_features) + " and " + std::to_string(out_features));
  }
  t_->weight = Tensor::empty({out_features, in_features}, dtype, context);
  t_->weight_grad = Tensor::zeros({out_features, in_features}, dtype, context);
  if (bias) {
    t_->bias = Tensor::empty({out_features}, dtype, context);
    t_->bias_grad = Tensor::zeros({out_features}, dtype, context);
  }
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  init_uniform(seed, -bound, bound);
}

Linear::Linear(const Lstm& model, std::int64_t out_features, std::uint64_t seed, bool bias,
               const std::string& name)
    : Linear(model.config().directions() * model.config().hidden_size, out_features,
             model.config().dtype, model.context(), seed, bias, name) {}

Linear::~Linear() = default;
Linear::Linear(Linear&&) noexcept = default;
Linear& Linear::operator=(Linear&&) noexcept = default;

std::int64_t Linear::in_features() const {
  return t_->weight.dim(1);
}
std::int64_t Linear::out_features() const {
  return t_->weight.dim(0);
}
bool Linear::has_bias() const {
  return t_->bias.defined();
}
const std::string& Linear::name() const {
  return name_;
}
Tensor& Linear::weight() {
  return t_->weight;
}
Tensor& Linear::bias() {
  return t_->bias;
}
Tensor& Linear::weight_grad() {
  return t_->weight_grad;
}
Tensor& Linear::bias_grad() {
  return t_->bias_grad;
}
const Tensor& Linear::weight() const {
  return t_->weight;
}
const Tensor& Linear::bias() const {
  return t_->bias;
}
const Tensor& Linear::weight_grad() const {
  return t_->weight_grad;
}
const Tensor& Linear::bias_grad() const {
  return t_->bias_grad;
}

void Linear::init_uniform(std::uint64_t seed, double low, double high) {
  if (!(low <= high) || !std::isfinite(low) || !std::isfinite(high)) {
    throw ValueError("fuselstm: Linear::init_uniform: need finite low <= high, got [" +
                     std::to_string(low) + ", " + std::to_string(high) + ")");
  }
  std::mt19937_64 engine(seed);
  for (Tensor* p : {&t_->weight, &t_->bias}) {
    if (!p->defined()) continue;
    std::vector<double> values(static_cast<std::size_t>(p->numel()));
    for (double& v : values)
      v = low + (high - low) * (static_cast<double>(engine() >> 11) * 0x1.0p-53);
    p->assign(values);
  }
}

Tensor Linear::forward(const Tensor& input) const {
  const std::int64_t H = in_features(), K = out_features();
  if (!input.defined() || input.shape().empty() || input.shape().back() != H) {
    throw ShapeError("fuselstm: Linear::forward: input must be [..., " + std::to_string(H) +
                     "], got " + input.describe());
  }
  detail::check_operand("Linear::forward", "input", input, t_->weight);
  const std::int64_t rows = rows_of(input);
  Tensor out = Tensor::empty(with_last(input.shape(), K), input.dtype(), t_->weight.context());
  detail::with_ops(t_->weight, [&](auto& ops) {
    using T = detail::elem_t<decltype(ops)>;
    const T beta = has_bias() ? T(1) : T(0);
    if (has_bias()) ops.broadcast_rows(rows, K, t_->bias.data_as<T>(), out.data_as<T>());
    // out[rows, K] (+)= input[rows, H]·Wᵀ  (column-major: W is H×K, op T; input is H×rows)
    ops.gemm(ops::Trans::T, ops::Trans::N, K, rows, H, T(1), t_->weight.data_as<T>(), H,
             input.data_as<T>(), H, beta, out.data_as<T>(), K);
  });
  return out;
}

Tensor Linear::backward(const Tensor& input, const Tensor& doutput) {
  const std::int64_t H = in_features(), K = out_features();
  if (!input.defined() || input.shape().empty() || input.shape().back() != H) {
    throw ShapeError("fuselstm: Linear::backward: input must be [..., " + std::to_string(H) +
                     "], got " + input.describe());
  }
  detail::check_operand("Linear::backward", "input", input, t_->weight);
  const Shape out_shape = with_last(input.shape(), K);
  detail::check_operand("Linear::backward", "doutput", doutput, t_->weight, &out_shape);
  const std::int64_t rows = rows_of(input);
  Tensor dinput = Tensor::empty(input.shape(), input.dtype(), t_->weight.context());
  detail::with_ops(t_->weight, [&](auto& ops) {
    using T = detail::elem_t<decltype(ops)>;
    const T* dout = doutput.data_as<T>();
    // dW[K, H] += doutᵀ[K, rows]·input[rows, H]  (column-major: H×K += input(H×rows)·dout(K×rows)ᵀ)
    ops.gemm(ops::Trans::N, ops::Trans::T, H, K, rows, T(1), input.data_as<T>(), H, dout, K, T(1),
             t_->weight_grad.data_as<T>(), H);
    if (has_bias()) ops.add_column_sums(rows, K, dout, t_->bias_grad.data_as<T>());
    // dinput[rows, H] = dout[rows, K]·W[K, H]  (column-major: H×rows = W(H×K)·dout(K×rows))
    ops.gemm(ops::Trans::N, ops::Trans::N, H, rows, K, T(1), t_->weight.data_as<T>(), H, dout, K,
             T(0), dinput.data_as<T>(), H);
  });
  return dinput;
}

void Linear::zero_grad() {
  detail::with_ops(t_->weight, [&](auto& ops) {
    using T = detail::elem_t<decltype(ops)>;
    ops.fill(t_->weight_grad.data_as<T>(), t_->weight_grad.numel(), T(0));
    if (has_bias()) ops.fill(t_->bias_grad.data_as<T>(), t_->bias_grad.numel(), T(0));
  });
}

}  // namespace fuselstm
