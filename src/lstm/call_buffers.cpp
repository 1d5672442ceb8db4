#include "lstm/call_buffers.hpp"

#include <algorithm>

namespace fuselstm::detail {

CallBuffers describe_call(const LstmConfig& cfg, std::int64_t T, std::int64_t B,
                          const SegmentPlan& plan, bool dropout, bool lengths) {
  const std::int64_t H = cfg.hidden_size, X = cfg.input_size, L = cfg.num_layers;
  const std::int64_t D = cfg.directions(), G = 4 * H;
  CallBuffers c;
  c.x = {T, B, X};
  const std::int64_t checkpoints = plan.recompute ? plan.segments() + 1 : T + 1;
  for (std::int64_t unit = 0; unit < L * D; ++unit) {
    c.h.push_back({T + 1, B, H});
    c.checkpoints.push_back({checkpoints, B, H});
    if (!plan.recompute) c.gates.push_back({T, B, G});
  }
  if (D == 2) {
    for (std::int64_t k = 0; k < L; ++k) {
      c.reversed_input.push_back({T, B, k == 0 ? X : D * H});
      if (k + 1 < L) c.layer_output.push_back({T, B, D * H});
    }
  }
  if (dropout) {
    for (std::int64_t k = 1; k < L; ++k) c.dropped_input.push_back({T, B, D * H});
  }

  if (plan.recompute) {
    const std::int64_t k = plan.segment_steps;
    c.segment_gates = {k * B, G};
    c.segment_c = {k * B, H};
    c.h_spare = {B, H};
  }
  // da also holds a transposed-back weight gradient [4H, X_k or H] at the end of a unit.
  const std::int64_t widest_input = L > 1 ? std::max(X, D * H) : X;
  c.da = {std::max({plan.da_ring_steps() * B, widest_input, H}), G};
  c.dh_rec = {B, H};
  c.dc = {B, H};
  c.dbias = {G};
  c.dweight_t = {widest_input + H, G};
  if (L > 1) c.dx_inner = {T * B, D * H};
  if (D == 2) {
    c.dy_reverse = {T * B, H};
    c.dx_reverse = {T * B, std::max(X, D * H)};
  }

  c.y = cfg.batch_first ? Shape{B, T, D * H} : Shape{T, B, D * H};
  c.state = {L * D, B, H};
  c.dx = cfg.batch_first ? Shape{B, T, X} : Shape{T, B, X};
  if (cfg.batch_first) c.dx_time_major = {T, B, X};
  if (lengths) c.dh_carry = {B, H};
  return c;
}

namespace {
std::int64_t sum(const std::vector<Shape>& shapes) {
  std::int64_t n = 0;
  for (const Shape& s : shapes) n += elements_of(s);
  return n;
}
}  // namespace

std::int64_t CallBuffers::context_elements() const {
  return elements_of(x) + sum(h) + sum(checkpoints) + sum(gates) + sum(reversed_input) +
         sum(layer_output) + sum(dropped_input);
}

std::int64_t CallBuffers::workspace_elements() const {
  return sum({segment_gates, segment_c, h_spare, da, dh_rec, dc, dbias, dx_inner, dy_reverse,
              dx_reverse, dweight_t, dx_time_major, dh_carry});
}

std::int64_t CallBuffers::output_elements() const {
  return elements_of(y) + 4 * elements_of(state) + elements_of(dx);
}

}  // namespace fuselstm::detail
