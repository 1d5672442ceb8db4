#pragma once
// Mlp: Linear layers with an activation between them (PyTorch's nn.Sequential(Linear, Tanh or
// ReLU, Linear, ...)), for a head deeper than one Linear.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuselstm/head.hpp"

namespace fuselstm {

/// The function between two layers of an Mlp.
enum class Activation {
  tanh,  ///< nn.Tanh
  relu,  ///< nn.ReLU (gradient 0 at 0, as PyTorch)
};

/// An Mlp's output and what its backward needs: the activation outputs between the layers (the
/// inputs of layers 1, 2, ...). Tensors of the Mlp's context.
struct MlpResult {
  Tensor output;               ///< [..., K]
  std::vector<Tensor> hidden;  ///< num_layers() − 1 tensors [..., sizes[i + 1]]
};

/// sizes = {F, H1, ..., K} gives sizes.size() − 1 Linear layers, layer i mapping sizes[i] →
/// sizes[i + 1], with `activation` after every layer but the last: the same function and the same
/// parameter names as torch.nn.Sequential(Linear(F, H1), Tanh(), ..., Linear(Hn, K)) registered
/// as `name`: "<name>.0.weight", "<name>.0.bias", "<name>.2.weight", ... (nn.Sequential numbers
/// the activations too), so a PyTorch head's state_dict loads with load_parameters. Layer i is
/// initialised as nn.Linear from seed + i. Like Linear: one context, any [..., F] input, one
/// thread at a time, tensors that keep their addresses when the Mlp is moved.
class Mlp {
public:
  Mlp(const std::vector<std::int64_t>& sizes, Activation activation, DType dtype,
      const ExecutionContext& context, std::uint64_t seed = 0, bool bias = true,
      const std::string& name = "head");
  ~Mlp();
  Mlp(Mlp&&) noexcept;
  Mlp& operator=(Mlp&&) noexcept;

  std::int64_t in_features() const;   ///< F
  std::int64_t out_features() const;  ///< K
  int num_layers() const;             ///< sizes.size() − 1
  Activation activation() const;
  const std::string& name() const;
  /// Layer i ∈ [0, num_layers()): its weights, gradients and name "<name>.<2i>".
  Linear& layer(int i);
  const Linear& layer(int i) const;

  /// input [..., F] → output [..., K] and what backward needs: per layer one bias broadcast and
  /// one GEMM, and one activation kernel between layers.
  MlpResult forward(const Tensor& input) const;
  /// For the input and result of a forward and doutput = dJ/d(output) [..., K]: adds every
  /// layer's dJ/dW and dJ/db to its gradients and returns dJ/d(input) [..., F]. (The input is not
  /// kept by forward, as Linear::backward takes it: no copy.)
  Tensor backward(const Tensor& input, const MlpResult& forward, const Tensor& doutput);
  void zero_grad();

private:
  std::string name_;
  Activation activation_;
  std::vector<Linear> layers_;
};

}  // namespace fuselstm
