#pragma once
// The sequence algorithm (cuDNN's "standard" algorithm, Appleyard et al. 2016), written once against
// the ops interface: it decides which GEMMs run with which layouts and per-step offsets, which fused
// steps run, and what is saved for backward. All pointers are memory of ops.device().
//
// Layouts (row-major unless said): x [T, B, X]; per layer gates [T, B, 4H] (pre-activations, then
// the saved activations i, f, g, o), c and h [T+1, B, H] with row 0 = c0, h0. A row-major [r, k]
// matrix is, to cuBLAS, a column-major k×r matrix with leading dimension k.

#include <cstdint>
#include <vector>

#include "fuselstm/config.hpp"
#include "ops/ops.hpp"

namespace fuselstm::detail {

struct SequenceDims {
  std::int64_t steps = 0;   // T
  std::int64_t batch = 0;   // B
  std::int64_t input = 0;   // X of layer 0
  std::int64_t hidden = 0;  // H
  std::int64_t layers = 0;  // L
  std::int64_t layer_input(std::int64_t layer) const { return layer == 0 ? input : hidden; }
};

template <typename T>
struct LayerWeights {
  const T* weight_ih = nullptr;  // [4H, X_k]
  const T* weight_hh = nullptr;  // [4H, H]
  const T* bias_ih = nullptr;    // [4H] or null
  const T* bias_hh = nullptr;    // [4H] or null
};

template <typename T>
struct LayerGradients {
  T* weight_ih = nullptr;  // [4H, X_k], accumulated
  T* weight_hh = nullptr;  // [4H, H], accumulated
  T* bias_ih = nullptr;    // [4H] or null, accumulated
  T* bias_hh = nullptr;    // [4H] or null, accumulated
};

/// What forward saves per layer (owned by the forward context).
template <typename T>
struct LayerActivations {
  T* gates = nullptr;  // [T, B, 4H]
  T* c = nullptr;      // [T+1, B, H]
  T* h = nullptr;      // [T+1, B, H]
  // Inter-layer dropout on this layer's input (layer k > 0 in training only; null: none): forward
  // writes mask ⊙ (layer k−1's output) here and reads it as the input; backward reads it for
  // dW_ih and masks the gradient it passes down with the same key.
  T* dropped_input = nullptr;  // [T, B, H]
  kernels::DropoutKey input_dropout{};
};

/// Backward's scratch, sized for (T, B) and reused across calls.
template <typename T>
struct BackwardWorkspace {
  T* da = nullptr;        // [T, B, 4H] gate-gradients of every step of one layer
  T* dh_rec = nullptr;    // [B, H] the gradient reaching h(t) through step t+1
  T* dc = nullptr;        // [B, H] the gradient reaching c(t) through step t+1
  T* dx_inner = nullptr;  // [T, B, H] dx of layer k > 0 = dy of layer k−1; null when L = 1
  T* dbias = nullptr;     // [4H] Σ over steps and batch of da (both bias gradients get it)
};

/// Forward through all layers. x [T, B, X]; h0, c0 [L, B, H] or null for zeros; writes every
/// layer's activations and y [T, B, H], hT, cT [L, B, H].
template <typename T>
void sequence_forward(ops::Ops<T>& ops, CellActivation cell, const SequenceDims& dims,
                      const T* x, const T* h0, const T* c0,
                      const std::vector<LayerWeights<T>>& weights,
                      const std::vector<LayerActivations<T>>& saved, T* y, T* hT, T* cT);

/// BPTT through all layers, t = T..1 and layer L−1..0. dy [T, B, H], dhT, dcT [L, B, H] may be
/// null (zero). Accumulates into `grads`; writes dx [T, B, X], dh0, dc0 [L, B, H].
template <typename T>
void sequence_backward(ops::Ops<T>& ops, CellActivation cell, const SequenceDims& dims,
                       const T* x, const std::vector<LayerWeights<T>>& weights,
                       const std::vector<LayerActivations<T>>& saved, const T* dy, const T* dhT,
                       const T* dcT, const std::vector<LayerGradients<T>>& grads,
                       const BackwardWorkspace<T>& work, T* dx, T* dh0, T* dc0);

}  // namespace fuselstm::detail
