// Forward orchestration: per unit (layer, direction) and segment one input-projection GEMM, then
// per step one recurrent GEMM and one fused step. No allocation and no synchronisation inside the
// loops.

#include "lstm/segment.hpp"

namespace fuselstm::detail {
namespace {

// One direction of one layer over its (already time-ordered) input.
template <typename T>
void forward_unit(ops::Ops<T>& ops, CellActivation cell, bool persistent, const SequenceDims& dims,
                  const SegmentPlan& plan, const T* input, std::int64_t input_size,
                  const LayerWeights<T>& w, const LayerSaved<T>& s,
                  const SegmentWorkspace<T>& segment, const T* h0, const T* c0, T* hT, T* cT) {
  const std::int64_t state = dims.batch * dims.hidden;
  if (h0) ops.copy(s.h, h0, state);
  else ops.fill(s.h, state, T(0));
  if (c0) ops.copy(s.checkpoints, c0, state);
  else ops.fill(s.checkpoints, state, T(0));
  for (std::int64_t seg = 0; seg < plan.segments(); ++seg) {
    forward_segment(ops, cell, persistent, dims, plan.projection_steps, input, input_size, w,
                    /*w_ih_packed=*/seg > 0, segment_view(dims, plan, s, segment, seg), s.h, s.h,
                    state);
  }
  ops.copy(hT, s.h + dims.steps * state, state);
  ops.copy(cT, s.checkpoints + plan.segments() * s.checkpoint_stride * state, state);
}

}  // namespace

template <typename T>
void write_outputs(ops::Ops<T>& ops, const SequenceDims& dims, const T* top_h, T* y) {
  const std::int64_t T_ = dims.steps, B = dims.batch, H = dims.hidden;
  if (dims.batch_first) ops.swap_axes(B, T_, H, top_h, y);
  else ops.copy(y, top_h, T_ * B * H);
  if (dims.lengths) ops.zero_padded_steps(T_, B, H, dims.lengths, dims.batch_first, y);
}

template <typename T>
void sequence_forward(ops::Ops<T>& ops, const SequenceCall<T>& call, const ForwardIo<T>& io) {
  const SequenceDims& dims = call.dims;
  const SegmentPlan& plan = call.plan;
  const CellActivation cell = call.cell;
  const LayerLinks<T>& links = call.links;
  const auto& saved = call.saved;
  const T *x = call.x, *h0 = io.h0, *c0 = io.c0;
  T *y = io.y, *hT = io.hT, *cT = io.cT;
  const std::int64_t T_ = dims.steps, B = dims.batch, H = dims.hidden, D = dims.directions;
  const std::int64_t state = B * H;
  for (std::int64_t layer = 0; layer < dims.layers; ++layer) {
    const std::int64_t X = dims.layer_input(layer);
    const T* input = layer == 0 ? x : D == 1 ? saved[layer - 1].h + state : links.output[layer - 1];
    if (T* dropped = links.dropped(layer)) {  // inter-layer dropout: read the input through the mask
      ops.dropout(T_ * B * X, links.dropout_keys[layer], input, dropped);
      input = dropped;
    }
    for (std::int64_t direction = 0; direction < D; ++direction) {
      const std::int64_t unit = layer * D + direction;
      const T* unit_input = input;
      if (direction == 1) {  // the reverse unit reads each sequence backwards from its own end
        ops.reverse_time(T_, B, X, dims.lengths, input, B * X, X, links.reversed_input[layer],
                         false);
        unit_input = links.reversed_input[layer];
      }
      forward_unit(ops, cell, call.persistent, dims, plan, unit_input, X, call.weights[unit], saved[unit],
                   call.segment,
                   h0 ? h0 + unit * state : nullptr, c0 ? c0 + unit * state : nullptr,
                   hT + unit * state, cT + unit * state);
    }
    if (D == 2) {
      const T* fwd = saved[layer * 2].h + state;
      const T* rev = saved[layer * 2 + 1].h + state;
      if (layer + 1 < dims.layers) {
        ops.join_directions(T_, B, H, dims.lengths, fwd, rev, links.output[layer], false);
      } else {
        ops.join_directions(T_, B, H, dims.lengths, fwd, rev, y, dims.batch_first);
        if (dims.lengths) ops.zero_padded_steps(T_, B, 2 * H, dims.lengths, dims.batch_first, y);
      }
    }
  }
  if (D == 1) write_outputs(ops, dims, saved[dims.layers - 1].h + state, y);
}

#define FUSELSTM_INSTANTIATE(T)                                                                  \
  template void write_outputs<T>(ops::Ops<T>&, const SequenceDims&, const T*, T*);                \
  template void sequence_forward<T>(ops::Ops<T>&, const SequenceCall<T>&, const ForwardIo<T>&);
FUSELSTM_INSTANTIATE(float)
FUSELSTM_INSTANTIATE(double)
#undef FUSELSTM_INSTANTIATE

}  // namespace fuselstm::detail
