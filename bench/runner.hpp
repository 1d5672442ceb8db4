#pragma once
// Runs one configuration end to end and returns its JSON row: memory check, validation, timing of
// fuselstm, then the cuDNN peer on the GPU.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_case.hpp"
#include "ceilings.hpp"
#include "timing.hpp"

namespace fuselstm::bench {

struct RunOptions {
  TimingOptions timing;
  std::int64_t validate_steps = 0;  // T of the timed-shape validation (0: 256 on GPU, 16 on CPU)
  std::uint64_t seed = 1;           // weights and inputs
  bool peer = true;                 // run cuDNN on the GPU
  std::string suite;                // recorded in the rows
};

/// What is the same for every row of one run (device, versions, commit, ceilings).
struct Environment {
  Device device;
  std::string device_name;
  int driver_version = 0, runtime_version = 0;
  std::int64_t l2_bytes = 0;
  std::string cudnn_version;
  std::string commit;
  std::string host;
  std::string blas;
  int threads = 1;
  Ceilings ceilings;
};
Environment describe_environment(const Device& device);

/// The row's "status" is "ok", "skipped" (does not fit: needed vs available in "reason"),
/// "validation_failed" (nothing timed; the caller stops the run) or "error" (reason).
nlohmann::json run_case(const BenchCase& c, const RunOptions& options, const Environment& env);

}  // namespace fuselstm::bench
