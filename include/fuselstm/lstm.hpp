#pragma once
// The LSTM layer stack: parameters, gradients, forward over a whole sequence, backward (BPTT).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuselstm/config.hpp"
#include "fuselstm/tensor.hpp"

namespace fuselstm {

namespace detail {
struct ContextData;
struct ModelImpl;
}  // namespace detail

/// What forward saved for backward: opaque. It belongs to the model that made it, holds a copy of
/// the input and every step's gates and states (about T·B·(X + 6H) values per layer), and may be
/// used for any number of backward calls while it lives. Move-only.
class ForwardContext {
public:
  ForwardContext();
  ~ForwardContext();
  ForwardContext(ForwardContext&&) noexcept;
  ForwardContext& operator=(ForwardContext&&) noexcept;
  bool defined() const { return static_cast<bool>(data_); }
  std::int64_t steps() const;  ///< T of the forward that made it
  std::int64_t batch() const;  ///< B of the forward that made it

private:
  friend class Lstm;
  std::unique_ptr<detail::ContextData> data_;
};

struct ForwardResult {
  Tensor y;   ///< [T, B, H] outputs of the last layer
  Tensor hT;  ///< [L, B, H] h after the last step, per layer
  Tensor cT;  ///< [L, B, H] c after the last step, per layer
  ForwardContext context;
};

struct BackwardResult {
  Tensor dx;   ///< [T, B, X] dJ/dx
  Tensor dh0;  ///< [L, B, H] dJ/dh0
  Tensor dc0;  ///< [L, B, H] dJ/dc0
};

/// A stack of L LSTM layers (PyTorch nn.LSTM's function, parameters and names, gate order i, f, g,
/// o). Per layer k and step t, from h(0) = h0[k], c(0) = c0[k]:
///   a = W_ih·x(t) + b_ih + W_hh·h(t−1) + b_hh, split into [a_i, a_f, a_g, a_o] (H each)
///   i, f, o = σ(a_i, a_f, a_o); g = tanh(a_g); c(t) = f⊙c(t−1) + i⊙g; h(t) = o⊙act(c(t))
/// where act is config.cell; layer k > 0 takes layer k−1's h(1..T) as its x.
///
/// Parameters (names as PyTorch's state_dict; X_k = X for k = 0, H otherwise):
///   weight_ih_l{k} [4H, X_k], weight_hh_l{k} [4H, H], bias_ih_l{k} [4H], bias_hh_l{k} [4H]
/// Each has a gradient of the same shape, accumulated by backward and cleared by zero_grad().
/// Every tensor lives on config.device; inputs given on another device are rejected (use .to()).
///
/// One model is used by one thread at a time. Results are deterministic: the same device and
/// inputs give the same bits (no atomics; fixed reduction orders).
class Lstm {
public:
  /// Validates the configuration and allocates parameters (initialised by init_pytorch_default(0))
  /// and zeroed gradients on config.device.
  explicit Lstm(const LstmConfig& config);
  ~Lstm();
  Lstm(Lstm&&) noexcept;
  Lstm& operator=(Lstm&&) noexcept;

  const LstmConfig& config() const;

  /// Names in the order weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._l1, ...
  /// (biases only when config.bias).
  const std::vector<std::string>& parameter_names() const;
  /// The parameter or gradient called `name`; ValueError listing the valid names otherwise.
  /// Write it with Tensor::assign (same shape); never replace it by another tensor.
  Tensor& parameter(const std::string& name);
  const Tensor& parameter(const std::string& name) const;
  Tensor& gradient(const std::string& name);
  const Tensor& gradient(const std::string& name) const;

  /// Every parameter uniform in [low, high). Draws on the host from std::mt19937_64(seed), one draw
  /// per element in parameter_names() order, row-major; u = (draw >> 11)·2⁻⁵³ ∈ [0, 1), value =
  /// low + (high − low)·u. Same seed, same weights on every device and standard library.
  void init_uniform(std::uint64_t seed, double low, double high);
  /// PyTorch's default: uniform in [−1/√H, 1/√H), drawn as init_uniform does.
  void init_pytorch_default(std::uint64_t seed);

  /// Runs the sequence. x [T, B, X]; h0, c0 [L, B, H] or undefined for zeros. T, B ≥ 1.
  /// The returned context is what backward needs.
  ForwardResult forward(const Tensor& x, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());

  /// BPTT through the forward that made `context`, for the scalar J whose gradients with respect to
  /// y [T, B, H], hT and cT [L, B, H] are dy, dhT, dcT (undefined: zero). Adds dJ/dθ to every
  /// parameter's gradient and returns dx, dh0, dc0. The parameters must not have changed since
  /// that forward (the gradient would be of a function that no longer exists).
  BackwardResult backward(const ForwardContext& context, const Tensor& dy,
                          const Tensor& dhT = Tensor(), const Tensor& dcT = Tensor());

  /// Training mode (the default, as a new PyTorch module) applies config.dropout between layers;
  /// evaluation mode (false) never does. Nothing else depends on the mode.
  void set_training(bool training);
  bool training() const;
  /// The position in the dropout stream where the next training forward's masks start. Each
  /// training forward with dropout > 0 takes (L − 1)·⌈T·B·H/4⌉·4 positions: layer k's mask
  /// element e (row-major [T, B, H]) is position offset + (k − 1)·⌈T·B·H/4⌉·4 + e (see
  /// kernels/dropout_math.hpp). Save it with a checkpoint and set it back to resume with the same
  /// masks; a new model starts at 0. The context keeps its masks: backward needs no state.
  std::uint64_t dropout_offset() const;
  void set_dropout_offset(std::uint64_t offset);

  /// Sets every gradient to zero.
  void zero_grad();
  /// Waits until the device has finished the model's queued work (a no-op on the CPU).
  void synchronize();

  /// Internal: the implementation, for the library's own optimizers and tools.
  detail::ModelImpl& impl() { return *impl_; }

private:
  std::unique_ptr<detail::ModelImpl> impl_;
};

}  // namespace fuselstm
