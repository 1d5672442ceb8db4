// Inference orchestration: the forward's GEMMs and fused steps, layer by layer, with two
// ping-pong output buffers and one segment's scratch instead of every step's saved state.

#include "lstm/segment.hpp"

namespace fuselstm::detail {

template <typename T>
void sequence_infer(ops::Ops<T>& ops, const SequenceCall<T>& call, const InferenceBuffers<T>& buf,
                    const ForwardIo<T>& io) {
  const SequenceDims& dims = call.dims;
  const SegmentPlan& plan = call.plan;
  const CellActivation cell = call.cell;
  const auto& weights = call.weights;
  const T *x = call.x, *h0 = io.h0, *c0 = io.c0;
  T *y = io.y, *hT = io.hT, *cT = io.cT;
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
      forward_segment(ops, cell, call.persistent, dims, plan.projection_steps, input, dims.layer_input(layer),
                      weights[layer], /*w_ih_packed=*/seg > 0,
                      segment_view(dims, streamed, running, scratch, seg), h, h, state,
                      /*save_gates=*/false);
    }
    ops.copy(hT + layer * state, h + dims.steps * state, state);
    ops.copy(cT + layer * state, buf.c, state);
  }
  write_outputs(ops, dims, buf.h[(dims.layers - 1) % 2] + state, y);
}

template void sequence_infer<float>(ops::Ops<float>&, const SequenceCall<float>&,
                                    const InferenceBuffers<float>&, const ForwardIo<float>&);
template void sequence_infer<double>(ops::Ops<double>&, const SequenceCall<double>&,
                                     const InferenceBuffers<double>&, const ForwardIo<double>&);

}  // namespace fuselstm::detail
