#pragma once
// The host twin of CUDA graphs: a "graph" is a copy of the recorded calls, "update" replaces its
// arguments, "launch" replays it on the host ops. Nothing is faster for it (there are no launches
// to save); it runs GraphRunner's cache decisions in CI exactly as the CUDA backend meets them,
// and a replayed graph is a cached log, not the fresh one: equal results prove the log held
// every argument. Internal.

#include "ops/graph_runner.hpp"

namespace fuselstm::ops {

template <typename T>
class HostGraphBackend final : public GraphBackend<T> {
public:
  explicit HostGraphBackend(Ops<T>& ops) : ops_(ops) {}

  std::unique_ptr<GraphInstance> instantiate(const CallLog<T>& log) override {
    return std::make_unique<Graph>(log);
  }
  bool update(GraphInstance& graph, const CallLog<T>& log) override {
    static_cast<Graph&>(graph).calls = log;
    return true;
  }
  void launch(GraphInstance& graph) override { static_cast<Graph&>(graph).calls.replay(ops_); }

private:
  struct Graph final : GraphInstance {
    explicit Graph(const CallLog<T>& log) : calls(log) {}
    CallLog<T> calls;
  };
  Ops<T>& ops_;
};

}  // namespace fuselstm::ops
