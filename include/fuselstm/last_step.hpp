#pragma once
// Each sequence's last real step, as a layer: a gather forward and its scatter backward, for a
// head that classifies whole sequences from an LSTM's outputs.

#include <cstdint>
#include <vector>

#include "fuselstm/tensor.hpp"

namespace fuselstm {

/// sequence [T, B, F] ([B, T, F] with batch_first, e.g. an Lstm's y) → [B, F]: row b is sequence
/// b at step lengths[b] − 1 (its last real step; T − 1 without lengths), on the input's device
/// and context, one kernel (the lengths are read there: no host round trip of the data).
///
/// For a bidirectional model's y that row is [the forward direction's final output, the reverse
/// direction's output at that step] — the reverse direction has then read only that one step;
/// its summary of the whole sequence is at step 0 (or in hT), as with PyTorch's
/// output[lengths − 1] on a padded batch.
///
/// lengths: empty, or B entries in [1, T] (ShapeError / ValueError naming the entry otherwise).
Tensor gather_last_steps(const Tensor& sequence, const std::vector<std::int64_t>& lengths = {},
                         bool batch_first = false);

/// The gradient of gather_last_steps: dlast [B, F] → [T, B, F] ([B, T, F] with batch_first), with
/// `steps` = T: dlast's row b at sequence b's last real step, exactly 0 at every other step
/// (padding included). One kernel that writes every element.
Tensor scatter_last_steps(const Tensor& dlast, std::int64_t steps,
                          const std::vector<std::int64_t>& lengths = {}, bool batch_first = false);

}  // namespace fuselstm
