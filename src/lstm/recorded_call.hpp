#pragma once
// How the orchestration reaches the ops: directly, or, for RecurrentAlgorithm::graphs, recorded
// first (no work runs, and nothing may allocate, wait or read back: CaptureRegion) and then run
// as a graph from the ops' cache (ops/graph_runner.hpp). Internal.

#include "fuselstm/config.hpp"
#include "ops/call_recorder.hpp"
#include "runtime/capture_region.hpp"

namespace fuselstm::detail {

template <typename T, typename Orchestrate>
void run_orchestration(ops::Ops<T>& ops, RecurrentAlgorithm algorithm, Orchestrate&& orchestrate) {
  if (algorithm != RecurrentAlgorithm::graphs) {
    orchestrate(ops);
    return;
  }
  ops::CallRecorder<T> recorder(ops);
  {
    CaptureRegion region;
    orchestrate(static_cast<ops::Ops<T>&>(recorder));
  }
  ops.run_recorded(recorder.log());
}

}  // namespace fuselstm::detail
