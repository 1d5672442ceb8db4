#pragma once
// Repeated timing of one call: warm-up, then repetitions, each timed with CUDA events on the
// given stream (GPU) or steady_clock (CPU); the median with min and max.

#include <functional>
#include <vector>

#include "fuselstm/device.hpp"

namespace fuselstm::bench {

struct Stats {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int reps = 0;            // repetitions timed
  int reps_requested = 0;  // what was asked (fewer ran when max_seconds cut them)
};
Stats summarize(std::vector<double> ms);

struct TimingOptions {
  int warmup = 2;          // untimed calls first (at least 1: its time sizes the repetitions)
  int reps = 10;           // timed calls
  double max_seconds = 0;  // > 0: fewer repetitions (but at least 3) when they would take longer
};

/// Calls `fn` warmup + reps times. On a CUDA device the events go on `stream`, so `fn` must queue
/// its work there; each repetition waits for its stop event. On the CPU `fn` is synchronous.
Stats time_calls(const Device& device, void* stream, const TimingOptions& options,
                 const std::function<void()>& fn);

}  // namespace fuselstm::bench
