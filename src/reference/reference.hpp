#pragma once
// The reference: an independent plain-loop LSTM, structured like the "Simple LSTM" seed's
// derivation (xc(t) = [x(t), h(t−1)], one matrix per gate). It is the oracle the product path is
// tested against and is itself checked by central finite differences. Slow by design; host only.

#include <cstdint>
#include <vector>

#include "fuselstm/config.hpp"

namespace fuselstm {
class Lstm;
}

namespace fuselstm::reference {

struct Dims {
  std::int64_t steps = 0;   // T
  std::int64_t batch = 0;   // B
  std::int64_t input = 0;   // X
  std::int64_t hidden = 0;  // H
  std::int64_t layers = 0;  // L
  bool bidirectional = false;  // D = 2 directions per layer; layer k > 0 then takes 2H features
};

/// Parameters in PyTorch nn.LSTM's layout, one entry per unit (unit = layer·D + direction, the
/// reverse direction being PyTorch's *_reverse tensors): weight_ih [4H, X_k], weight_hh [4H, H],
/// bias_ih [4H], bias_hh [4H] (biases may be empty: no bias), row-major; X_k = X for layer 0,
/// D·H above.
/// The seed's W_g, W_i, W_f, W_o [H, X_k + H] are row blocks 2, 0, 1, 3 of [weight_ih | weight_hh].
template <typename T>
struct Params {
  std::vector<std::vector<T>> weight_ih, weight_hh, bias_ih, bias_hh;
};

template <typename T>
struct Forward {
  std::vector<T> y;   // [T, B, D·H]: per step [forward h, reverse h]
  std::vector<T> hT;  // [L·D, B, H]
  std::vector<T> cT;  // [L·D, B, H]
};

template <typename T>
struct Gradients {
  std::vector<T> dx;   // [T, B, X]
  std::vector<T> dh0;  // [L·D, B, H]
  std::vector<T> dc0;  // [L·D, B, H]
  Params<T> dparams;   // same shapes as the parameters
};

/// A model's dimensions and parameters (read back to the host in double), to check it against.
/// T and B are the caller's (0 here).
Dims dims_of(const Lstm& model);
Params<double> params_of(const Lstm& model);

/// x [T, B, X]; h0, c0 [L·D, B, H] (empty: zeros). The reverse direction runs on the
/// time-reversed input and its outputs are reversed back.
template <typename T>
Forward<T> forward(const Dims& dims, CellActivation cell, const Params<T>& params,
                   const std::vector<T>& x, const std::vector<T>& h0, const std::vector<T>& c0);

/// The gradient of J with dJ/dy = dy [T, B, D·H], dJ/dhT = dhT, dJ/dcT = dcT [L·D, B, H] (empty:
/// zero): recomputes the forward, then runs BPTT from t = T back to 1, layer L−1 down to 0.
template <typename T>
Gradients<T> backward(const Dims& dims, CellActivation cell, const Params<T>& params,
                      const std::vector<T>& x, const std::vector<T>& h0,
                      const std::vector<T>& c0, const std::vector<T>& dy,
                      const std::vector<T>& dhT, const std::vector<T>& dcT);

}  // namespace fuselstm::reference
