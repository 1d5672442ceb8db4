#pragma once
// The graph cache behind GraphOps::run_recorded, shared by the CUDA backend (CUDA graphs) and its
// host twin, so CI runs the same decisions the GPU makes:
//   - a log with the same calls and bytes as a cached graph's: launch that graph as it is;
//   - the same methods in the same order but other arguments (new buffers, a new dropout key):
//     a second graph for them, or, once two exist, the least recently used one updated in place
//     (cudaGraphExecUpdate) and launched;
//   - otherwise, or when the update is refused: capture and instantiate a new graph.
// At most kCapacity graphs are kept; the least recently used one is dropped first. Internal.

#include <cstdint>
#include <list>
#include <memory>

#include "ops/call_log.hpp"

namespace fuselstm::ops {

/// One instantiated graph of a backend.
class GraphInstance {
public:
  virtual ~GraphInstance() = default;
};

/// How a backend captures, updates and launches graphs of recorded calls.
template <typename T>
class GraphBackend {
public:
  virtual ~GraphBackend() = default;
  /// Captures `log` and instantiates it. Throws on failure, leaving nothing behind.
  virtual std::unique_ptr<GraphInstance> instantiate(const CallLog<T>& log) = 0;
  /// Updates `graph` to run `log` instead (same methods, other arguments). False when the
  /// backend cannot (the graph is then unchanged and must not be launched for `log`).
  virtual bool update(GraphInstance& graph, const CallLog<T>& log) = 0;
  /// Queues one run of `graph`.
  virtual void launch(GraphInstance& graph) = 0;
};

template <typename T>
class GraphRunner {
public:
  /// Up to 8 graphs: forward and backward of a few shapes, or of one shape with both memory modes.
  static constexpr std::size_t kCapacity = 8;
  /// Graphs kept per method sequence (each with its own arguments) before one is updated.
  static constexpr std::size_t kPerMethods = 2;

  explicit GraphRunner(GraphBackend<T>& backend) : backend_(backend) {}

  void run(const CallLog<T>& log) {
    if (log.empty()) return;
    const std::uint64_t key = log.method_hash();
    // A graph running exactly these calls: launched as it is.
    auto oldest = entries_.end();  // the least recently used graph of the same methods
    std::size_t same_methods = 0;
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->key != key || !it->log.same_methods(log)) continue;
      if (it->log.same_calls(log)) {
        entries_.splice(entries_.begin(), entries_, it);  // most recently used first
        ++stats_.replays;
        backend_.launch(*entries_.front().graph);
        return;
      }
      ++same_methods;
      oldest = it;
    }
    // Once kPerMethods graphs of these methods exist, the least recently used one is updated to
    // these arguments; below that a new graph is captured, so calls that alternate between two
    // argument sets (a training forward and an inference, buffers that swap) both replay.
    if (same_methods >= kPerMethods) {
      entries_.splice(entries_.begin(), entries_, oldest);
      Entry& e = entries_.front();
      CallLog<T> next = log;  // copied first: the entry's log always says what its graph runs
      try {
        if (backend_.update(*e.graph, next)) {
          ++stats_.updates;
        } else {
          e.graph = backend_.instantiate(next);
          ++stats_.captures;
        }
      } catch (...) {
        entries_.pop_front();  // its graph may be half updated: never launch it again
        throw;
      }
      e.log = std::move(next);
      backend_.launch(*e.graph);
      return;
    }
    Entry fresh{key, log, backend_.instantiate(log)};
    if (entries_.size() >= kCapacity) {
      entries_.pop_back();
      ++stats_.evictions;
    }
    entries_.push_front(std::move(fresh));
    ++stats_.captures;
    backend_.launch(*entries_.front().graph);
  }

  GraphStats stats() const { return stats_; }

private:
  struct Entry {
    std::uint64_t key;
    CallLog<T> log;  // what the graph runs now
    std::unique_ptr<GraphInstance> graph;
  };
  GraphBackend<T>& backend_;
  std::list<Entry> entries_;
  GraphStats stats_;
};

}  // namespace fuselstm::ops
