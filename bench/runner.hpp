#pragma once
// Runs one configuration end to end and returns its JSON row: memory check, validation, timing of
// fuselstm, then the cuDNN peer on the GPU.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_case.hpp"
#include "ceilings.hpp"
#include "timing.hpp"

namespace fuselstm::bench {

struct CaseRunOptions {
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

/// What earlier rows of this run measured, by the store_all key of their shape: a recompute or
/// automatic row reuses the store_all timing of its shape (for the overhead) and cuDNN's result
/// (which does not depend on our memory mode) instead of measuring them again.
struct RunMemo {
  std::map<std::string, nlohmann::json> stored_figures;  // the "fuselstm" object of the row
  std::map<std::string, nlohmann::json> cudnn;           // the "cudnn" object of the row
};

/// The row's "status" is "ok", "skipped" (does not fit: needed vs available in "reason"),
/// "validation_failed" (nothing timed; the caller stops the run) or "error" (reason).
/// For the recompute and automatic memory modes the row's "recompute_overhead" compares the time
/// with the store_all path of the same shape (from `memo`, else timed in the row when it fits,
/// else status "store_all does not fit").
nlohmann::json run_case(const BenchCase& c, const CaseRunOptions& options, const Environment& env,
                        RunMemo& memo);

}  // namespace fuselstm::bench
