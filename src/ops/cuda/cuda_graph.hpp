#pragma once
// CUDA graphs of recorded call sequences (RecurrentAlgorithm::graphs): a log is replayed on the
// CUDA ops while the context's stream is captured (cudaStreamCaptureModeThreadLocal: a call this
// thread makes that a capture cannot hold fails instead of running), then instantiated, updated in
// place with cudaGraphExecUpdate when only arguments change, and launched on the same stream.
// Verified on an H200 (bench/RESULTS.md, session 9: the CUDA tests and the bench's validation);
// CI, which has no GPU, runs its cache decisions through the host twin (host_graph.hpp). Internal.

#include <cuda_runtime_api.h>

#include "ops/graph_runner.hpp"
#include "runtime/capture_region.hpp"
#include "runtime/cuda/cuda_check.hpp"

namespace fuselstm::ops {

template <typename T>
class CudaGraphBackend final : public GraphBackend<T> {
public:
  CudaGraphBackend(Ops<T>& ops, cudaStream_t stream) : ops_(ops), stream_(stream) {}

  std::unique_ptr<GraphInstance> instantiate(const CallLog<T>& log) override {
    const CapturedGraph captured(capture(log));
    cudaGraphExec_t exec = nullptr;
    FUSELSTM_CUDA_CHECK(cudaGraphInstantiate(&exec, captured.graph, 0));
    return std::make_unique<Executable>(exec);
  }
  bool update(GraphInstance& graph, const CallLog<T>& log) override {
    const CapturedGraph captured(capture(log));
    cudaGraphExecUpdateResultInfo info{};
    const cudaError_t status =
        cudaGraphExecUpdate(static_cast<Executable&>(graph).exec, captured.graph, &info);
    if (status == cudaErrorGraphExecUpdateFailure) {
      (void)cudaGetLastError();  // not sticky, but keep it out of the next launch's check
      return false;  // e.g. cuBLAS chose another kernel for a changed shape: capture anew
    }
    FUSELSTM_CUDA_CHECK(status);
    return true;
  }
  void launch(GraphInstance& graph) override {
    FUSELSTM_CUDA_CHECK(cudaGraphLaunch(static_cast<Executable&>(graph).exec, stream_));
  }

private:
  struct Executable final : GraphInstance {
    explicit Executable(cudaGraphExec_t e) : exec(e) {}
    ~Executable() override { FUSELSTM_CUDA_WARN(cudaGraphExecDestroy(exec)); }
    cudaGraphExec_t exec;
  };
  struct CapturedGraph {
    explicit CapturedGraph(cudaGraph_t g) : graph(g) {}
    ~CapturedGraph() { FUSELSTM_CUDA_WARN(cudaGraphDestroy(graph)); }
    CapturedGraph(const CapturedGraph&) = delete;
    CapturedGraph& operator=(const CapturedGraph&) = delete;
    cudaGraph_t graph;
  };

  // The log's calls as a graph (not launched). On any failure the capture is ended and discarded,
  // so the stream is usable again.
  cudaGraph_t capture(const CallLog<T>& log) {
    FUSELSTM_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    try {
      detail::CaptureRegion region;  // no arena allocation, wait or host copy may join the graph
      log.replay(ops_);
    } catch (...) {
      cudaGraph_t partial = nullptr;
      if (cudaStreamEndCapture(stream_, &partial) == cudaSuccess && partial) {
        cudaGraphDestroy(partial);
      }
      (void)cudaGetLastError();
      throw;
    }
    cudaGraph_t graph = nullptr;
    FUSELSTM_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
    return graph;
  }

  Ops<T>& ops_;
  cudaStream_t stream_;
};

}  // namespace fuselstm::ops
