#include "lstm/memory_plan.hpp"

#include <cmath>
#include <limits>

#include "fuselstm/error.hpp"
#include "runtime/memory.hpp"

namespace fuselstm::detail {

MemoryPlan plan_bytes(const LstmConfig& cfg, std::int64_t T, std::int64_t B,
                      const SegmentPlan& plan, bool dropout) {
  const std::int64_t H = cfg.hidden_size, X = cfg.input_size, L = cfg.num_layers;
  const std::int64_t D = cfg.directions(), units = L * D;
  const std::int64_t state = B * H, word = static_cast<std::int64_t>(dtype_size(cfg.dtype));
  const std::int64_t k = plan.segment_steps;
  MemoryPlan m;
  m.mode = plan.recompute ? MemoryMode::recompute : MemoryMode::store_all;
  m.segment_steps = k;
  std::int64_t context = T * B * X + units * (T + 1) * state;  // x copy, h per unit
  if (plan.recompute) context += units * (plan.segments() + 1) * state;  // c checkpoints
  else context += units * ((T + 1) * state + T * B * 4 * H);            // c and gates of every step
  if (D == 2) context += T * B * X + (L - 1) * T * B * 2 * H   // reversed inputs
                         + (L - 1) * T * B * 2 * H;            // joined outputs of layers < L−1
  if (dropout) context += (L - 1) * T * B * D * H;              // masked inputs of layers > 0
  std::int64_t workspace = plan.da_ring_steps() * B * 4 * H + 2 * state + 4 * H;
  if (L > 1) workspace += T * B * D * H;                               // dx of inner layers
  if (D == 2) workspace += T * state + T * B * std::max(X, D * H);    // reverse unit's dy, dx
  if (plan.recompute) workspace += k * B * 4 * H + k * state + state;  // segment gates, c, spare h
  if (cfg.batch_first) workspace += T * B * X;                 // dx before its transpose
  const std::int64_t outputs = T * B * D * H + 2 * units * state  // y, hT, cT
                               + T * B * X + 2 * units * state;  // dx, dh0, dc0
  m.context_bytes = context * word;
  m.workspace_bytes = workspace * word;
  m.output_bytes = outputs * word;
  return m;
}

namespace {

SegmentPlan make_plan(const LstmConfig& cfg, std::int64_t T, std::int64_t B, std::int64_t k,
                      bool recompute) {
  SegmentPlan p;
  p.steps = T;
  p.projection_steps = projection_block_steps(T, B, cfg.device.is_cuda(), cfg.projection_steps);
  p.segment_steps = recompute ? round_segment_steps(k, p.projection_steps, T) : T;
  p.gradient_steps = gradient_block_steps(T, B);
  p.recompute = recompute;
  return p;
}

}  // namespace

SegmentPlan resolve_segment_plan(const LstmConfig& cfg, std::int64_t T, std::int64_t B,
                                 bool dropout, std::int64_t reusable_bytes) {
  switch (cfg.memory_mode) {
    case MemoryMode::store_all: return make_plan(cfg, T, B, T, false);
    case MemoryMode::recompute: {
      const std::int64_t k = cfg.segment_steps > 0
                                 ? cfg.segment_steps
                                 : static_cast<std::int64_t>(std::ceil(std::sqrt(double(T))));
      return make_plan(cfg, T, B, k, true);
    }
    case MemoryMode::automatic: break;
  }
  // A plan counts the workspace as new; with the free memory as the budget, the workspace the
  // model holds now must count as available, or a second call would see it twice.
  const std::int64_t budget = cfg.memory_limit_bytes > 0
                                  ? cfg.memory_limit_bytes
                                  : available_bytes(cfg.device) + reusable_bytes;
  const SegmentPlan stored = make_plan(cfg, T, B, T, false);
  if (plan_bytes(cfg, T, B, stored, dropout).total_bytes() <= budget) return stored;
  // The largest segment that fits: fewer, longer segments mean fewer, larger GEMMs. For n
  // segments the best k is ⌈M/n⌉ projection blocks (M = ⌈T/P⌉): the least workspace for those
  // checkpoints. ⌈M/n⌉ takes O(√M) distinct values, visited largest first, so planning T = 10⁹
  // takes milliseconds.
  const std::int64_t P = stored.projection_steps;
  const std::int64_t M = (T + P - 1) / P;
  std::int64_t least = std::numeric_limits<std::int64_t>::max();
  for (std::int64_t n = 1; n <= M;) {
    const std::int64_t blocks = (M + n - 1) / n;
    const SegmentPlan p = make_plan(cfg, T, B, blocks * P, true);
    const std::int64_t bytes = plan_bytes(cfg, T, B, p, dropout).total_bytes();
    if (bytes <= budget) return p;
    least = std::min(least, bytes);
    // The next n with a smaller ⌈M/n⌉: the first n with ⌈M/n⌉ <= blocks − 1.
    n = blocks == 1 ? M + 1 : (M + blocks - 2) / (blocks - 1);
  }
  throw OutOfMemoryError("fuselstm: T=" + std::to_string(T) + ", B=" + std::to_string(B) +
                         " needs at least " + std::to_string(least) + " bytes on " +
                         cfg.device.str() + " (recomputing segments), " + std::to_string(budget) +
                         " available");
}

}  // namespace fuselstm::detail
