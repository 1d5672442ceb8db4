// Inference orchestration: the forward's GEMMs and fused steps, layer by layer, with two
// ping-pong output buffers and one segment's scratch instead of every step's saved state.

#include "lstm/segment.hpp"

namespace fuselstm::detail {

template <typename T>
void sequence_infer(ops::Ops<T>& ops, CellActivation cell, const SequenceDims& dims,
                    const SegmentPlan& plan, const T* x, const T* h0, const T* c0,
                    const std::vector<LayerWeights<T>>& weights, const InferenceBuffers<T>& buf,
                    T* y, T* hT, T* cT) {
  const std::int64_t state = dims.batch * dims.hidden;
  // Segments always run in the scratch here; the running c is both each segment's first and
  // last checkpoint (stride 0), which the fused step updates in place element by element.
  // One projection block at a time: the same GEMM calls as the training forward, the least memory.
  SegmentPlan streamed = plan;
  streamed.recompute = true;
  streamed.segment_steps = plan.projection_steps;
  const SegmentWorkspace<T> scratch{buf.gates, buf.c_mid, nullptr};
  for (std::int64_t layer = 0; layer < dims.layers; ++layer) {
    T* h = buf.h[layer % 2];
    const T* input = layer == 0 ? x : buf.h[(layer - 1) % 2] + state;
    if (h0) ops.copy(h, h0 + layer * state, state);
    else ops.fill(h, state, T(0));
    if (c0) ops.copy(buf.c, c0 + layer * state, state);
    else ops.fill(buf.c, state, T(0));
    const LayerSaved<T> running{h, buf.c, 0, nullptr};
    for (std::int64_t seg = 0; seg < streamed.segments(); ++seg) {
      forward_segment(ops, cell, dims, plan.projection_steps, input, dims.layer_input(layer),
                      weights[layer],
                      segment_view(dims, streamed, running, scratch, seg), h, h, state,
                      /*save_gates=*/false);
    }
    ops.copy(hT + layer * state, h + dims.steps * state, state);
    ops.copy(cT + layer * state, buf.c, state);
  }
  write_outputs(ops, dims, buf.h[(dims.layers - 1) % 2] + state, y);
}

template void sequence_infer<float>(ops::Ops<float>&, CellActivation, const SequenceDims&,
                                    const SegmentPlan&, const float*, const float*, const float*,
                                    const std::vector<LayerWeights<float>>&,
                                    const InferenceBuffers<float>&, float*, float*, float*);
template void sequence_infer<double>(ops::Ops<double>&, CellActivation, const SequenceDims&,
                                     const SegmentPlan&, const double*, const double*,
                                     const double*, const std::vector<LayerWeights<double>>&,
                                     const InferenceBuffers<double>&, double*, double*, double*);

}  // namespace fuselstm::detail
