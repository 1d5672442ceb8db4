// Forward orchestration: per layer and segment one input-projection GEMM, then per step one
// recurrent GEMM and one fused step. No allocation and no synchronisation inside the loops.

#include "segment.hpp"

namespace fuselstm::detail {

template <typename T>
void write_outputs(ops::Ops<T>& ops, const SequenceDims& dims, const T* top_h, T* y) {
  const std::int64_t T_ = dims.steps, B = dims.batch, H = dims.hidden;
  if (dims.batch_first) ops.swap_axes(B, T_, H, top_h, y);
  else ops.copy(y, top_h, T_ * B * H);
  if (dims.lengths) ops.zero_padded_steps(T_, B, H, dims.lengths, dims.batch_first, y);
}

template <typename T>
void sequence_forward(ops::Ops<T>& ops, CellActivation cell, const SequenceDims& dims,
                      const SegmentPlan& plan, const T* x, const T* h0, const T* c0,
                      const std::vector<LayerWeights<T>>& weights,
                      const std::vector<LayerSaved<T>>& saved, const SegmentWorkspace<T>& segment,
                      T* y, T* hT, T* cT) {
  const std::int64_t state = dims.batch * dims.hidden;
  const std::int64_t segments = plan.segments();
  for (std::int64_t layer = 0; layer < dims.layers; ++layer) {
    const LayerSaved<T>& s = saved[layer];
    const T* input = layer == 0 ? x : saved[layer - 1].h + state;  // [T, B, X_k]
    if (h0) ops.copy(s.h, h0 + layer * state, state);
    else ops.fill(s.h, state, T(0));
    if (c0) ops.copy(s.checkpoints, c0 + layer * state, state);
    else ops.fill(s.checkpoints, state, T(0));
    for (std::int64_t seg = 0; seg < segments; ++seg) {
      forward_segment(ops, cell, dims, input, dims.layer_input(layer), weights[layer],
                      segment_view(dims, plan, s, segment, seg), s.h, s.h, state);
    }
    ops.copy(hT + layer * state, s.h + dims.steps * state, state);
    ops.copy(cT + layer * state, s.checkpoints + segments * s.checkpoint_stride * state, state);
  }
  write_outputs(ops, dims, saved[dims.layers - 1].h + state, y);
}

#define FUSELSTM_INSTANTIATE(T)                                                                  \
  template void write_outputs<T>(ops::Ops<T>&, const SequenceDims&, const T*, T*);                \
  template void sequence_forward<T>(ops::Ops<T>&, CellActivation, const SequenceDims&,            \
                                    const SegmentPlan&, const T*, const T*, const T*,             \
                                    const std::vector<LayerWeights<T>>&,                          \
                                    const std::vector<LayerSaved<T>>&, const SegmentWorkspace<T>&, \
                                    T*, T*, T*);
FUSELSTM_INSTANTIATE(float)
FUSELSTM_INSTANTIATE(double)
#undef FUSELSTM_INSTANTIATE

}  // namespace fuselstm::detail
