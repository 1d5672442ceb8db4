#pragma once
// Linear: the output head on an LSTM's hidden outputs (PyTorch nn.Linear).

#include <cstdint>
#include <memory>
#include <string>

#include "fuselstm/lstm.hpp"
#include "fuselstm/parameters.hpp"

namespace fuselstm {

/// out = in·Wᵀ + b on every row of the input [..., F]: for an LSTM's y [T, B, D·H] that is all T·B
/// rows as one GEMM ([T·B, F]×[F, K]). Parameters: weight [K, F], bias [K] (optional), each with a
/// gradient of the same shape that backward accumulates and zero_grad() clears.
///
/// A head lives on an execution context (its dtype, device and stream); its work is queued there,
/// and inputs from another context of the same device are waited for. It needs no other module.
/// Its tensors keep their addresses when the head is moved, so a ParameterList taken from it stays
/// valid. One thread at a time.
class Linear {
public:
  /// A head with `in_features` = F ≥ 1 inputs and `out_features` = K ≥ 1 outputs, initialised as
  /// PyTorch's nn.Linear: uniform in [−1/√F, 1/√F), drawn like Lstm::init_uniform(seed, ...)
  /// (weight row-major, then bias). Parameter names are "<name>.weight" and "<name>.bias".
  Linear(std::int64_t in_features, std::int64_t out_features, DType dtype,
         const ExecutionContext& context, std::uint64_t seed = 0, bool bias = true,
         const std::string& name = "head");
  /// The head on `model`'s outputs: F = D·H, the model's dtype and context.
  Linear(const Lstm& model, std::int64_t out_features, std::uint64_t seed = 0, bool bias = true,
         const std::string& name = "head");
  ~Linear();
  Linear(Linear&&) noexcept;
  Linear& operator=(Linear&&) noexcept;

  std::int64_t in_features() const;   ///< F
  std::int64_t out_features() const;  ///< K
  bool has_bias() const;
  const std::string& name() const;

  Tensor& weight();       ///< [K, F]; write it with Tensor::assign
  Tensor& bias();         ///< [K]; undefined when built without bias
  Tensor& weight_grad();  ///< [K, F]
  Tensor& bias_grad();    ///< [K]; undefined when built without bias
  const Tensor& weight() const;
  const Tensor& bias() const;
  const Tensor& weight_grad() const;
  const Tensor& bias_grad() const;

  /// Every element uniform in [low, high) from std::mt19937_64(seed), as Lstm::init_uniform.
  void init_uniform(std::uint64_t seed, double low, double high);

  /// input [..., F] (e.g. y [T, B, D·H]) → output [..., K], same leading dimensions. One GEMM over
  /// all rows after the bias is broadcast into the output.
  Tensor forward(const Tensor& input) const;
  /// For the input of a forward and doutput = dJ/d(output) [..., K]: adds dJ/dW = doutputᵀ·input
  /// and dJ/db = Σ_rows doutput to the gradients, and returns dJ/d(input) = doutput·W [..., F]
  /// (for the LSTM that is backward's dy). Two GEMMs and one column sum over all rows.
  Tensor backward(const Tensor& input, const Tensor& doutput);
  /// Sets both gradients to zero.
  void zero_grad();


private:
  struct Tensors {
    Tensor weight, bias, weight_grad, bias_grad;
  };
  std::string name_;
  std::unique_ptr<Tensors> t_;  // on the heap: ParameterRefs point at these
};

}  // namespace fuselstm
