// Inter-layer dropout: training mode, stream positions, and the per-forward masked-input buffers.

#include "lstm/dropout.hpp"

namespace fuselstm {
namespace detail {

void prepare_dropout(ModelImpl& m, ContextData& ctx, const std::vector<Shape>& shapes) {
  const LstmConfig& cfg = m.config;
  if (!m.training || cfg.dropout <= 0 || cfg.num_layers < 2) return;
  const std::int64_t width = cfg.directions() * cfg.hidden_size;  // layer k > 0's input
  const std::int64_t elements = ctx.steps * ctx.batch * width;
  // Each layer's mask starts on a fresh Philox block of 4 positions.
  const std::uint64_t span = (static_cast<std::uint64_t>(elements) + 3) / 4 * 4;
  std::vector<Tensor> buffers(static_cast<std::size_t>(cfg.num_layers));
  std::vector<kernels::DropoutKey> keys(static_cast<std::size_t>(cfg.num_layers));
  for (std::int64_t k = 1; k < cfg.num_layers; ++k) {
    buffers[k] = m.empty(shapes[static_cast<std::size_t>(k - 1)]);  // [T, B, D·H]
    keys[k].seed = cfg.dropout_seed;
    keys[k].offset = m.dropout_offset + static_cast<std::uint64_t>(k - 1) * span;
    keys[k].keep_bound = kernels::dropout_keep_bound(cfg.dropout);
    keys[k].scale = 1.0 / (1.0 - cfg.dropout);
  }
  ctx.dropped_input = std::move(buffers);
  ctx.dropout_keys = std::move(keys);
  m.dropout_offset += static_cast<std::uint64_t>(cfg.num_layers - 1) * span;
}

}  // namespace detail

void Lstm::set_training(bool training) {
  live("set_training").training = training;
}
bool Lstm::training() const {
  return live("training").training;
}
std::uint64_t Lstm::dropout_offset() const {
  return live("dropout_offset").dropout_offset;
}
void Lstm::set_dropout_offset(std::uint64_t offset) {
  live("set_dropout_offset").dropout_offset = offset;
}

}  // namespace fuselstm
