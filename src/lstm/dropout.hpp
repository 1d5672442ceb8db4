#pragma once
// Inter-layer dropout's bookkeeping around the orchestration: which forward gets masks, where their
// buffers live, and which stream positions they take. The masks themselves are one Ops::dropout
// call per layer inside sequence_forward / sequence_backward. Internal.

#include <vector>

#include "lstm/model_impl.hpp"
#include "lstm/sequence.hpp"

namespace fuselstm::detail {

/// For a training forward with config.dropout > 0 and L > 1: allocates layer k's masked input
/// (shapes[k−1], call_buffers.hpp's dropped_input) and key for every k > 0 in `ctx` and advances the
/// model's dropout offset. Otherwise leaves `ctx` without dropout. Call after the context's
/// other allocations, before any work.
void prepare_dropout(ModelImpl& m, ContextData& ctx, const std::vector<Shape>& shapes);

}  // namespace fuselstm::detail
