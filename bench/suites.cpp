#include "suites.hpp"

#include "fuselstm/error.hpp"

namespace fuselstm::bench {

namespace {

BenchCase make(const Device& d, std::int64_t T, std::int64_t B, std::int64_t X, std::int64_t H,
               std::int64_t L, CellActivation cell = CellActivation::tanh,
               Precision p = Precision::fp32, Mode m = Mode::fwdbwd) {
  BenchCase c;
  c.device = d;
  c.T = T;
  c.B = B;
  c.X = X;
  c.H = H;
  c.L = L;
  c.cell = cell;
  c.precision = p;
  c.mode = m;
  return c;
}

BenchCase with_memory(BenchCase c, MemoryMode memory, std::int64_t segment_steps = 0,
                      std::int64_t memory_limit = 0) {
  c.memory = memory;
  c.segment_steps = segment_steps;
  c.memory_limit = memory_limit;
  return c;
}

constexpr std::int64_t GiB = std::int64_t(1) << 30;

}  // namespace

const std::vector<std::string>& suite_names() {
  static const std::vector<std::string> names = {"smoke",    "short",     "cpu", "cpu-quick",
                                                 "long-cpu", "gpu-quick", "gpu", "long-gpu"};
  return names;
}

std::vector<BenchCase> suite_cases(const std::string& name, const Device& device) {
  const bool gpu_suite = name == "gpu" || name == "gpu-quick" || name == "long-gpu";
  if (gpu_suite && !device.is_cuda()) {
    throw ValueError("suite '" + name + "' needs --device cuda:N, got " + device.str());
  }
  const Device cpu = Device::cpu();
  std::vector<BenchCase> out;
  if (name == "smoke") {
    // Odd sizes, both cells, 1 and 2 layers, both modes: every path the bench has, in seconds.
    out.push_back(make(cpu, 16, 3, 5, 12, 1));
    out.push_back(make(cpu, 24, 2, 7, 9, 2, CellActivation::identity));
    out.push_back(make(cpu, 16, 4, 8, 16, 1, CellActivation::tanh, Precision::fp32, Mode::fwd));
    // The memory modes: recompute (k = 5 of 16, rounded up to 6 by P = 2: a short last
    // segment) after its store_all row, and automatic under a budget of 24,000 bytes (the stored
    // plan needs ~35,000). P = 2 (the automatic P would be T at these sizes) leaves k a choice.
    BenchCase small = make(cpu, 16, 3, 5, 12, 1);
    BenchCase two_layers = make(cpu, 24, 2, 7, 9, 2, CellActivation::identity);
    small.projection_steps = two_layers.projection_steps = 2;
    out.push_back(small);
    out.push_back(two_layers);
    out.push_back(with_memory(small, MemoryMode::recompute, 5));
    out.push_back(with_memory(two_layers, MemoryMode::automatic, 0, 24000));
  } else if (name == "short") {
    // tools/main.sh's look at the speed, on whatever device was chosen: seconds, not minutes.
    if (device.is_cuda()) {
      out.push_back(make(device, 1000, 16, 768, 768, 1));
      out.push_back(make(device, 1000, 64, 1024, 1024, 1));
    } else {
      out.push_back(make(device, 200, 16, 256, 256, 1));
    }
  } else if (name == "cpu") {
    // Issue 20's table, beside oneDNN's LSTM primitive and PyTorch (bench/run_suite.sh cpu): the
    // T = 1000 grid, two layers, one long thin sequence, a tiny one and a wide batch.
    for (std::int64_t H : {256, 512}) {
      for (std::int64_t B : {16, 64}) out.push_back(make(cpu, 1000, B, H, H, 1));
    }
    out.push_back(make(cpu, 200, 32, 512, 512, 2));
    out.push_back(make(cpu, 10000, 1, 128, 128, 1));
    out.push_back(make(cpu, 1000, 1, 64, 64, 1));
    out.push_back(make(cpu, 200, 256, 512, 512, 1));
  } else if (name == "cpu-quick") {
    // The cheapest half of cpu's shapes, for a loaded machine: one T = 1000 shape, two layers,
    // the long thin sequence and the tiny one.
    out.push_back(make(cpu, 1000, 16, 256, 256, 1));
    out.push_back(make(cpu, 200, 32, 512, 512, 2));
    out.push_back(make(cpu, 10000, 1, 128, 128, 1));
    out.push_back(make(cpu, 1000, 1, 64, 64, 1));
  } else if (name == "long-cpu") {
    // Exact BPTT on long sequences (issue 12): T=100k stored and recomputed side by side (the
    // overhead; forward alone first: recomputing costs one more forward, so the expected overhead
    // is forward / (forward+backward)), then T=1M under automatic with a 3 GiB budget (the stored
    // plan needs ~6.2 GiB).
    const BenchCase long_100k = make(cpu, 100000, 1, 128, 128, 1);
    out.push_back(
        make(cpu, 100000, 1, 128, 128, 1, CellActivation::tanh, Precision::fp32, Mode::fwd));
    out.push_back(long_100k);
    out.push_back(with_memory(long_100k, MemoryMode::recompute));
    out.push_back(
        with_memory(make(cpu, 1000000, 1, 128, 128, 1), MemoryMode::automatic, 0, 3 * GiB));
  } else if (name == "gpu-quick") {
    out.push_back(make(device, 1000, 1, 256, 256, 1));
    out.push_back(make(device, 1000, 16, 768, 768, 1));
    out.push_back(make(device, 1000, 16, 768, 768, 1, CellActivation::tanh, Precision::tf32));
    out.push_back(make(device, 1000, 64, 1024, 1024, 1));
    out.push_back(make(device, 1000, 256, 1024, 1024, 1, CellActivation::tanh, Precision::tf32));
    out.push_back(make(device, 1000, 16, 768, 768, 2));
    out.push_back(make(device, 10000, 16, 768, 768, 1));
  } else if (name == "gpu") {
    for (std::int64_t T : {1000, 10000, 100000}) {
      for (std::int64_t L : {1, 2}) {
        for (std::int64_t H : {256, 768, 1024, 2048}) {
          for (std::int64_t B : {1, 16, 64, 256}) out.push_back(make(device, T, B, H, H, L));
        }
      }
    }
  } else if (name == "long-gpu") {
    // Issue 12 on one GPU: each shape stored (skipped with needed vs available where it does not
    // fit) then recomputed with k = ceil(sqrt(T)); cuDNN runs on the stored row up to 65,535 steps
    // and is reported as failing beyond.
    for (std::int64_t T : {10000, 100000, 1000000}) {
      for (std::int64_t B : {1, 4, 16}) {
        const BenchCase stored = make(device, T, B, 1024, 1024, 1);
        out.push_back(stored);
        out.push_back(with_memory(stored, MemoryMode::recompute));
      }
    }
  } else {
    std::string valid;
    for (const auto& n : suite_names()) valid += (valid.empty() ? "" : ", ") + n;
    throw ValueError("unknown suite '" + name + "' (valid: " + valid + ")");
  }
  return out;
}

}  // namespace fuselstm::bench
