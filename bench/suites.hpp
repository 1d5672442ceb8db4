#pragma once
// Named suites of configurations. Each is ordered cheapest first, so a run cut off by the
// command's time limit has already written the shapes it finished.
//   smoke      tiny CPU shapes (CI): runs, validates and writes JSON in seconds; every memory mode
//   short      a few seconds on the chosen device (tools/main.sh): 2 GPU shapes or 1 CPU shape
//   cpu        T=1000, B in {16, 64}, H=X in {256, 512}, 1 layer (the PyTorch peer runs beside it)
//   long-cpu   H=X=128, B=1: T=100k forward, stored and recomputed; T=1M under automatic, 3 GiB
//   gpu-quick  a few GPU shapes, fp32 and tf32 (under 3 minutes on an H100)
//   gpu        T in {1k, 10k, 100k}, B in {1, 16, 64, 256}, H=X in {256, 768, 1024, 2048},
//              L in {1, 2}; shapes that do not fit in memory are skipped with needed vs available
//   long-gpu   T in {10k, 100k, 1M}, B in {1, 4, 16}, H=X=1024: stored where it fits, and
//              recompute (k = ceil(sqrt(T))) beside it; cuDNN "fails" past 65,535 steps

#include <string>
#include <vector>

#include "bench_case.hpp"

namespace fuselstm::bench {

/// The suite's configurations on `device` (suites gpu* and long-gpu need a CUDA device, smoke, cpu
/// and long-cpu use the CPU, short uses `device`). Throws ValueError listing the names for an unknown suite.
std::vector<BenchCase> suite_cases(const std::string& name, const Device& device);
const std::vector<std::string>& suite_names();

}  // namespace fuselstm::bench
