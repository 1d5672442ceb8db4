#include "lstm/memory_plan.hpp"

#include <cmath>
#include <limits>

#include "fuselstm/error.hpp"
#include "lstm/call_buffers.hpp"
#include "runtime/memory.hpp"

namespace fuselstm::detail {

MemoryPlan plan_bytes(const LstmConfig& cfg, std::int64_t T, std::int64_t B,
                      const SegmentPlan& plan, bool dropout) {
  const CallBuffers buffers = describe_call(cfg, T, B, plan, dropout);
  const std::int64_t word = static_cast<std::int64_t>(dtype_size(cfg.dtype));
  MemoryPlan m;
  m.mode = plan.recompute ? MemoryMode::recompute : MemoryMode::store_all;
  m.segment_steps = plan.segment_steps;
  m.context_bytes = buffers.context_elements() * word;
  m.workspace_bytes = buffers.workspace_elements() * word;
  m.output_bytes = buffers.output_elements() * word;
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
  p.da_in_gates = !recompute && cfg.device.is_cpu();
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
