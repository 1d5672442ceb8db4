#pragma once
// The GPU peer: cuDNN's RNN API (cudnnRNNForward, cudnnRNNBackwardData_v8,
// cudnnRNNBackwardWeights_v8) on the same weights and inputs as fuselstm, standard tanh cell only.
// Every algorithm (STANDARD, PERSIST_STATIC, PERSIST_STATIC_SMALL_H, PERSIST_DYNAMIC) is tried
// with the math type of the precision (fp32: CUDNN_FMA_MATH, so no tensor cores; tf32:
// CUDNN_DEFAULT_MATH and CUDNN_TENSOR_OP_MATH); what cuDNN rejects is recorded as not supported.
// cudnn_peer.cpp needs cuDNN; cudnn_peer_stub.cpp stands in when it was not found.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench_case.hpp"
#include "problem.hpp"
#include "timing.hpp"

namespace fuselstm::bench::cudnn_peer {

/// True when the bench was built with cuDNN.
bool compiled();
/// "9.19.0" (the loaded library's version), or why there is none.
std::string version();

struct Attempt {
  std::string algo;    // "STANDARD", "PERSIST_STATIC", ...
  std::string math;    // "FMA", "DEFAULT", "TENSOR_OP"
  std::string status;  // "ok", "not_supported", "skipped", "error"
  std::string detail;  // cuDNN's message for not_supported / error, or the memory note
  Stats ranking;       // timed at the agreement length (all that ran)
  Stats timed;         // timed at the full T (the best only); reps == 0 otherwise
  // max|diff| / max|fuselstm| per tensor at the agreement length; worst first in `max_error`.
  std::vector<std::pair<std::string, double>> agreement;
  double max_error = -1;
  std::string worst_tensor;
};

struct Result {
  std::string note;  // why it did not run, when it did not
  std::vector<Attempt> attempts;
  int best = -1;  // index into attempts of the fastest that ran, -1 if none
  std::int64_t agreement_steps = 0;
  std::int64_t bytes_needed = 0, bytes_available = 0;  // for the full-T run of the best
};

struct Inputs {
  BenchCase bench_case;                        // the timed configuration (T is the full length)
  reference::Params<double> weights;           // fuselstm's f32 weights (as double)
  const Problem* agreement_problem = nullptr;  // the validation inputs (T = agreement length)
  const Outputs* agreement_outputs = nullptr;  // fuselstm's f32 results on them
  const std::vector<float>* timing_pattern = nullptr;  // tiled into the timing inputs
  TimingOptions timing;
  void* stream = nullptr;  // cudaStream_t, the same as fuselstm's
};

/// Ranks every algorithm at the agreement length (and checks agreement with fuselstm there),
/// then times the fastest at the full length. Never throws for cuDNN's or CUDA's errors: they are
/// recorded in the attempts.
Result run(const Inputs& inputs);

}  // namespace fuselstm::bench::cudnn_peer
