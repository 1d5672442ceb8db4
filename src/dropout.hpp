#pragma once
// Inter-layer dropout's bookkeeping around the orchestration: which forward gets masks, where their
// buffers live, and which stream positions they take. The masks themselves are one Ops::dropout
// call per layer inside sequence_forward / sequence_backward. Internal.

#include <vector>

#include "model_impl.hpp"
#include "sequence.hpp"

namespace fuselstm::detail {

/// For a training forward with config.dropout > 0 and L > 1: allocates layer k's masked input
/// [T, B, H] and key for every k > 0 in `ctx` and advances the model's dropout offset. Otherwise
/// leaves `ctx` without dropout. Call after the context's other allocations, before any work.
void prepare_dropout(ModelImpl& model, ContextData& ctx);

/// Points each saved[k] (k > 0) at the context's masked input and key, when it has them.
template <typename T>
void attach_dropout(const ContextData& ctx, std::vector<LayerActivations<T>>& saved) {
  if (ctx.dropped_input.empty()) return;
  for (std::size_t k = 1; k < saved.size(); ++k) {
    // The orchestration's struct is shared by forward and backward, hence non-const.
    saved[k].dropped_input = const_cast<T*>(ctx.dropped_input[k].data_as<T>());
    saved[k].input_dropout = ctx.dropout_keys[k];
  }
}

}  // namespace fuselstm::detail
