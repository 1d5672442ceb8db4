// The Mlp: Linear layers and one activation kernel between each pair, backward in reverse.

#include "fuselstm/mlp.hpp"

#include "train/train_util.hpp"

namespace fuselstm {
namespace {

kernels::ActivationKind kind_of(Activation a) {
  return a == Activation::tanh ? kernels::ActivationKind::tanh : kernels::ActivationKind::relu;
}

}  // namespace

Mlp::Mlp(const std::vector<std::int64_t>& sizes, Activation activation, DType dtype,
         const ExecutionContext& context, std::uint64_t seed, bool bias, const std::string& name)
    : name_(name), activation_(activation) {
  if (sizes.size() < 2) {
    throw ValueError("fuselstm: Mlp: sizes must hold at least {in_features, out_features}, got " +
                     std::to_string(sizes.size()) + " entries");
  }
  layers_.reserve(sizes.size() - 1);
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    layers_.emplace_back(sizes[i], sizes[i + 1], dtype, context, seed + i, bias,
                         name + "." + std::to_string(2 * i));
  }
}

Mlp::~Mlp() = default;
Mlp::Mlp(Mlp&&) noexcept = default;
Mlp& Mlp::operator=(Mlp&&) noexcept = default;

std::int64_t Mlp::in_features() const {
  return layers_.front().in_features();
}
std::int64_t Mlp::out_features() const {
  return layers_.back().out_features();
}
int Mlp::num_layers() const {
  return static_cast<int>(layers_.size());
}
Activation Mlp::activation() const {
  return activation_;
}
const std::string& Mlp::name() const {
  return name_;
}

Linear& Mlp::layer(int i) {
  return const_cast<Linear&>(static_cast<const Mlp&>(*this).layer(i));
}
const Linear& Mlp::layer(int i) const {
  if (i < 0 || i >= num_layers()) {
    throw ValueError("fuselstm: Mlp::layer: index " + std::to_string(i) + " is outside [0, " +
                     std::to_string(num_layers()) + ")");
  }
  return layers_[static_cast<std::size_t>(i)];
}

MlpResult Mlp::forward(const Tensor& input) const {
  MlpResult result;
  result.hidden.reserve(layers_.size() - 1);
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Tensor out = layers_[i].forward(i == 0 ? input : result.hidden.back());  // checks the input
    if (i + 1 == layers_.size()) {
      result.output = std::move(out);
      break;
    }
    detail::with_ops(out, [&](auto& ops) {
      using T = detail::elem_t<decltype(ops)>;
      ops.activation_forward(kind_of(activation_), out.numel(), out.data_as<T>(), out.data_as<T>());
    });
    result.hidden.push_back(std::move(out));
  }
  return result;
}

Tensor Mlp::backward(const Tensor& input, const MlpResult& forward, const Tensor& doutput) {
  if (forward.hidden.size() + 1 != layers_.size()) {
    throw ValueError("fuselstm: Mlp::backward: the forward result holds " +
                     std::to_string(forward.hidden.size()) + " hidden tensors, this Mlp needs " +
                     std::to_string(layers_.size() - 1));
  }
  Tensor grad;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const Tensor& layer_input = i == 0 ? input : forward.hidden[i - 1];
    Tensor dinput = layers_[i].backward(layer_input, i + 1 == layers_.size() ? doutput : grad);
    if (i > 0) {  // through the activation that produced layer i's input
      detail::with_ops(dinput, [&](auto& ops) {
        using T = detail::elem_t<decltype(ops)>;
        ops.activation_backward(kind_of(activation_), layer_input.numel(),
                                layer_input.data_as<T>(), dinput.data_as<T>(), dinput.data_as<T>());
      });
    }
    grad = std::move(dinput);
  }
  return grad;
}

void Mlp::zero_grad() {
  for (Linear& l : layers_) l.zero_grad();
}

}  // namespace fuselstm
