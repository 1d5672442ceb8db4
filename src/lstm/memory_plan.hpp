#pragma once
// How much memory a (T, B) forward + backward takes in each memory mode (the sum of
// call_buffers.hpp's description, which is also what lstm.cpp allocates), and which segment plan a
// configuration resolves to.

#include <cstdint>

#include "fuselstm/config.hpp"
#include "fuselstm/lstm.hpp"
#include "lstm/sequence.hpp"

namespace fuselstm::detail {

/// The bytes of a plan, as a fresh model would allocate them; `dropout` when the forward keeps
/// inter-layer dropout masks (training, config.dropout > 0, L > 1).
MemoryPlan plan_bytes(const LstmConfig& config, std::int64_t steps, std::int64_t batch,
                      const SegmentPlan& plan, bool dropout);

/// The segment plan of config.memory_mode for (T, B); automatic picks store_all when it fits the
/// budget, else the largest k that does (OutOfMemoryError naming needed and available if none).
/// `reusable_bytes`: what the model holds already and would reuse or free (its workspace), added
/// to the free memory when that is the budget.
SegmentPlan resolve_segment_plan(const LstmConfig& config, std::int64_t steps, std::int64_t batch,
                                 bool dropout, std::int64_t reusable_bytes);

}  // namespace fuselstm::detail
