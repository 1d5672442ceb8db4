#pragma once
// The configuration of an LSTM model.

#include <cstdint>
#include <string>

#include "fuselstm/device.hpp"
#include "fuselstm/tensor.hpp"

namespace fuselstm {

/// The cell-output activation: h = o ⊙ act(c).
enum class CellActivation {
  tanh,      ///< h = o ⊙ tanh(c): the standard cell of PyTorch nn.LSTM and cuDNN
  identity,  ///< h = o ⊙ c: the "Simple LSTM" seed's variant
};
const char* cell_activation_name(CellActivation cell);  // "tanh" / "identity"

/// Matrix-product precision on CUDA (the host always computes in the tensor dtype).
enum class MathMode {
  fp32,  ///< full fp32 (or fp64) products; no tensor-core shortcuts
  tf32,  ///< fp32 products on TF32 tensor cores (10-bit mantissa inputs); looser agreement
};

struct LstmConfig {
  std::int64_t input_size = 0;   ///< X, features per step of the first layer's input
  std::int64_t hidden_size = 0;  ///< H, memory cells per layer
  std::int64_t num_layers = 1;   ///< L, stacked layers; layer k > 0 takes layer k-1's output
  bool bias = true;              ///< with bias_ih_l{k} and bias_hh_l{k}
  CellActivation cell = CellActivation::tanh;
  DType dtype = DType::f32;
  Device device = Device::cpu();
  MathMode math = MathMode::fp32;
  /// Inter-layer dropout probability p ∈ [0, 1), as nn.LSTM's `dropout`: in training mode
  /// (Lstm::set_training) the input of every layer k > 0, i.e. layer k−1's output, is multiplied
  /// by a mask that keeps each element with probability 1 − p and scales it by 1/(1 − p); never
  /// after the last layer, never in evaluation mode. 0: off.
  double dropout = 0;
  /// The masks' seed: a counter-based Philox4x32-10 stream (see Lstm::dropout_offset), so the same
  /// seed gives the same masks on every device.
  std::uint64_t dropout_seed = 0;
  /// A cudaStream_t to run on (borrowed, not destroyed); null: the model creates its own stream.
  void* cuda_stream = nullptr;

  /// Throws ValueError naming the field when a size is < 1 or the device is not usable.
  void validate() const;
};

}  // namespace fuselstm
