#pragma once
// Embedding: a lookup table of learned vectors, one per token id (PyTorch's nn.Embedding), to feed
// an LSTM token ids instead of one-hot vectors.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fuselstm/tensor.hpp"

namespace fuselstm {

/// weight [V, E]: row v is the vector of token id v. Parameter name "<name>.weight" (PyTorch's
/// nn.Embedding registered as `name`, so its state_dict loads with load_parameters), gradient of
/// the same shape that backward accumulates and zero_grad() clears.
///
/// Ids live on the host (they are data the program builds); forward uploads them and looks the rows
/// up in one kernel on the weight's context. Every id is checked before anything runs.
///
/// The gradient is deterministic without atomics: the positions are sorted by id on the host and
/// each (id, column) sums its positions' rows in that order (one writer per element), so the same
/// ids and gradients give the same bits on every run, device and thread count.
class Embedding {
public:
  /// V = num_embeddings ≥ 1 rows of E = embedding_dim ≥ 1, initialised as nn.Embedding: N(0, 1),
  /// drawn from std::mt19937_64(seed) in row-major order, each as √(−2·ln(1 − u1))·cos(2π·u2)
  /// from two uniform draws u = (draw >> 11)·2⁻⁵³ (the same on every platform). padding_idx (in
  /// [−V, V); negative counts from the end, as PyTorch): that row starts at zero and never
  /// receives a gradient.
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, DType dtype,
            const ExecutionContext& context, std::uint64_t seed = 0,
            std::optional<std::int64_t> padding_idx = std::nullopt,
            const std::string& name = "embedding");
  ~Embedding();
  Embedding(Embedding&&) noexcept;
  Embedding& operator=(Embedding&&) noexcept;

  std::int64_t num_embeddings() const;              ///< V
  std::int64_t embedding_dim() const;               ///< E
  std::optional<std::int64_t> padding_idx() const;  ///< in [0, V) when set
  const std::string& name() const;

  Tensor& weight();       ///< [V, E]; write it with Tensor::assign
  Tensor& weight_grad();  ///< [V, E]
  const Tensor& weight() const;
  const Tensor& weight_grad() const;

  /// ids (host, shape_numel(shape) entries in row-major order, each in [0, V)) → [shape..., E]:
  /// row n is weight's row ids[n]. E.g. shape {T, B} gives an Lstm's x [T, B, E], {B, T} its
  /// batch-first x. ShapeError when the counts differ, ValueError naming the first id out of
  /// range (nothing is queued then).
  Tensor forward(const std::vector<std::int64_t>& ids, const Shape& shape) const;
  /// Adds dJ/d(weight) for the ids of a forward and doutput = dJ/d(output) [shape..., E]: row v
  /// gets the sum of doutput's rows n with ids[n] = v (none for padding_idx). Checks as forward.
  void backward(const std::vector<std::int64_t>& ids, const Tensor& doutput);
  void zero_grad();

private:
  struct Tensors {
    Tensor weight, weight_grad;
  };
  std::string name_;
  std::optional<std::int64_t> padding_idx_;
  std::unique_ptr<Tensors> t_;  // on the heap: ParameterRefs point at these
};

}  // namespace fuselstm
