// fuselstm_bench: validates, then times LSTM training steps (forward, or forward+backward) on long
// sequences, beside cuDNN on the GPU. One JSON object per configuration per line (written as soon
// as it is measured) and a readable table. See bench/RESULTS.md for how to run the suites.
//
// Exit status: 0 all measured or skipped; 1 a configuration failed with an error; 2 a validation
// failed (the run stopped there, nothing of that configuration was timed); 3 cuDNN disagreed
// with fuselstm beyond the threshold; 64 bad arguments.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "runner.hpp"
#include "suites.hpp"
#include "table.hpp"

using namespace fuselstm;
using namespace fuselstm::bench;

namespace {

std::set<std::string> finished_keys(const std::string& path) {
  std::set<std::string> keys;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.contains("key") || !row.contains("status")) continue;
    if (row["status"] == "ok" || row["status"] == "skipped") keys.insert(row["key"]);
  }
  return keys;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fuselstm_bench: LSTM training throughput on long sequences, validated, beside "
      "cuDNN (GPU) or PyTorch (CPU, via bench/run_suite.sh)"};
  std::string device_text = default_device().str(), cell = "tanh", precision = "fp32",
              mode = "fwdbwd", memory = "store_all", memory_limit_text, suite, json_path;
  BenchCase one;
  CaseRunOptions options;
  options.timing.max_seconds = 30;
  bool table = false, resume = false, no_peer = false;
  double budget_s = 0;
  app.add_option("--device", device_text, "cpu or cuda:N (default: cuda:0 when present)");
  app.add_option("-T,--steps", one.T, "sequence length")->check(CLI::PositiveNumber);
  app.add_option("-B,--batch", one.B, "batch size")->check(CLI::PositiveNumber);
  app.add_option("-X,--input", one.X, "input features")->check(CLI::PositiveNumber);
  app.add_option("-H,--hidden", one.H, "hidden units per layer")->check(CLI::PositiveNumber);
  app.add_option("-L,--layers", one.L, "stacked layers")->check(CLI::PositiveNumber);
  auto* cell_opt = app.add_option("--cell", cell, "tanh (standard, cuDNN's) or identity (h = o*c)")
                       ->check(CLI::IsMember({"tanh", "identity"}));
  auto* precision_opt =
      app.add_option("--precision", precision, "fp32, or tf32 (CUDA tensor cores for products)")
          ->check(CLI::IsMember({"fp32", "tf32"}));
  auto* mode_opt = app.add_option("--mode", mode, "fwd (forward only) or fwdbwd (training step)")
                       ->check(CLI::IsMember({"fwd", "fwdbwd"}));
  auto* memory_opt =
      app.add_option("--memory", memory,
                     "what forward keeps for backward: store_all (every step, fastest), recompute "
                     "(checkpoints every k steps, backward recomputes), automatic (store_all when it "
                     "fits --memory-limit, else recompute with the largest k that does)")
          ->check(CLI::IsMember({"store_all", "recompute", "automatic"}));
  auto* segment_opt = app.add_option("--segment-steps", one.segment_steps,
                                     "k of --memory recompute (0: ceil(sqrt(T)))")
                          ->check(CLI::NonNegativeNumber);
  auto* projection_opt =
      app.add_option("--projection-steps", one.projection_steps,
                     "P: steps per input-projection GEMM block (0: automatic; k is rounded up to "
                     "a multiple of it)")
          ->check(CLI::NonNegativeNumber);
  auto* limit_opt = app.add_option(
      "--memory-limit", memory_limit_text,
      "the budget of --memory automatic: bytes, or with a suffix K/M/G/T (binary: 3G = 3 GiB) or "
      "KB/MB/GB/TB (decimal); 0: the device's free memory");
  std::string algorithm = "automatic";
  auto* algorithm_opt =
      app.add_option("--algorithm", algorithm,
                     "recurrent steps: automatic, standard (a GEMM + a fused step per step), "
                     "persistent (one pass per layer, W_hh kept by its workers) or graphs (CUDA)")
          ->check(CLI::IsMember({"automatic", "standard", "persistent", "graphs"}));
  app.add_option("--warmup", options.timing.warmup, "untimed calls first (>= 1)")
      ->check(CLI::PositiveNumber);
  app.add_option("--reps", options.timing.reps, "timed calls")->check(CLI::PositiveNumber);
  app.add_option("--max-seconds", options.timing.max_seconds,
                 "fewer reps (at least 3) when one configuration would time longer (0: no cap)");
  app.add_option("--validate-steps", options.validate_steps,
                 "T of the timed-shape check in f64 (default 256 on GPU, 16 on CPU)");
  app.add_option("--seed", options.seed, "weights and inputs");
  app.add_option("--suite", suite,
                 "a named suite instead of one shape: smoke, short, cpu, cpu-quick, long-cpu, "
                 "gpu-quick, gpu, long-gpu")
      ->check(CLI::IsMember(suite_names()));
  app.add_option(
      "--json", json_path,
      "write one JSON object per configuration per line, each as soon as it is measured");
  app.add_flag("--table", table, "print the readable table at the end");
  app.add_flag("--resume", resume,
               "keep --json's rows and skip configurations it already has (ok or skipped)");
  app.add_option("--budget-s", budget_s, "start no new configuration after this many seconds");
  app.add_flag("--no-peer", no_peer, "do not run cuDNN");
  CLI11_PARSE(app, argc, argv);

  std::vector<BenchCase> cases;
  try {
    Device device = Device::parse(device_text);
    if (suite == "smoke" || suite == "cpu" || suite == "cpu-quick" || suite == "long-cpu") {
      device = Device::cpu();
    }
    if (device.is_cuda() && device.index >= cuda_device_count()) {
      throw ValueError("no CUDA device " + device.str() + " (" +
                       std::to_string(cuda_device_count()) + " usable)");
    }
    options.suite = suite.empty() ? "single" : suite;
    options.peer = !no_peer;
    one.device = device;
    one.cell = cell == "tanh" ? CellActivation::tanh : CellActivation::identity;
    one.precision = precision == "tf32" ? Precision::tf32 : Precision::fp32;
    one.mode = mode == "fwd" ? Mode::fwd : Mode::fwdbwd;
    one.memory = memory == "recompute"   ? MemoryMode::recompute
                 : memory == "automatic" ? MemoryMode::automatic
                                         : MemoryMode::store_all;
    if (limit_opt->count()) one.memory_limit = parse_bytes(memory_limit_text);
    one.algorithm = algorithm == "standard"     ? RecurrentAlgorithm::standard
                    : algorithm == "persistent" ? RecurrentAlgorithm::persistent
                    : algorithm == "graphs"     ? RecurrentAlgorithm::graphs
                                                : RecurrentAlgorithm::automatic;
    if (suite.empty()) {
      cases.push_back(one);
    } else {
      cases = suite_cases(suite, device);
      // Options given explicitly override the suite's.
      for (BenchCase& c : cases) {
        if (cell_opt->count()) c.cell = one.cell;
        if (precision_opt->count()) c.precision = one.precision;
        if (mode_opt->count()) c.mode = one.mode;
        if (memory_opt->count()) c.memory = one.memory;
        if (segment_opt->count()) c.segment_steps = one.segment_steps;
        if (limit_opt->count()) c.memory_limit = one.memory_limit;
        if (projection_opt->count()) c.projection_steps = one.projection_steps;
        if (algorithm_opt->count()) c.algorithm = one.algorithm;
      }
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "fuselstm_bench: %s\n", e.what());
    return 64;
  }

  std::set<std::string> done;
  if (resume && !json_path.empty()) done = finished_keys(json_path);
  std::ofstream json_out;
  if (!json_path.empty()) {
    json_out.open(json_path, resume ? std::ios::app : std::ios::trunc);
    if (!json_out) {
      std::fprintf(stderr, "fuselstm_bench: cannot write %s\n", json_path.c_str());
      return 64;
    }
  }

  const auto start = std::chrono::steady_clock::now();
  Environment env;
  try {
    env = describe_environment(cases.front().device);
  } catch (const Error& e) {
    std::fprintf(stderr, "fuselstm_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "# fuselstm_bench on %s (%s), commit %s, BLAS %s, peak source: %s\n",
               cases.front().device.str().c_str(), env.device_name.c_str(), env.commit.c_str(),
               env.blas.c_str(), env.ceilings.source.c_str());

  std::vector<nlohmann::json> rows;
  RunMemo memo;
  int exit_code = 0, not_started = 0;
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const BenchCase& c = cases[k];
    if (done.count(c.key())) {
      std::fprintf(stderr, "[%zu/%zu] %s: already in %s\n", k + 1, cases.size(), c.str().c_str(),
                   json_path.c_str());
      continue;
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (budget_s > 0 && elapsed > budget_s) {
      ++not_started;
      continue;
    }
    std::fprintf(stderr, "[%zu/%zu] %s ...\n", k + 1, cases.size(), c.str().c_str());
    const nlohmann::json row = run_case(c, options, env, memo);
    if (json_out.is_open()) json_out << row.dump() << "\n" << std::flush;
    rows.push_back(row);
    const std::string status = row["status"];
    if (status == "ok") {
      std::fprintf(
          stderr, "    %.2f us/step, %.3g tokens/s, %.1f GFLOP/s%s\n",
          row["fuselstm"]["us_per_step"].get<double>(),
          row["fuselstm"]["tokens_per_s"].get<double>(),
          row["fuselstm"]["gflop_per_s"].get<double>(),
          row.contains("ratio_to_peer")
              ? (", " + std::to_string(row["ratio_to_peer"].get<double>()) + "x cuDNN's time")
                    .c_str()
              : "");
      const auto& f = row["fuselstm"];
      std::fprintf(stderr, "    memory: %s, k=%lld, planned %.1f MiB, measured %.1f MiB per call\n",
                   f["memory_mode"].get<std::string>().c_str(),
                   (long long)f["segment_steps"].get<std::int64_t>(),
                   f["planned_call_bytes"].get<double>() / (1 << 20),
                   f["call_memory_bytes"].get<double>() / (1 << 20));
      if (row.contains("recompute_overhead")) {
        const auto& o = row["recompute_overhead"];
        if (o.contains("ratio")) {
          std::fprintf(stderr, "    recompute overhead: %.3fx store_all's time (%+.1f%%)\n",
                       o["ratio"].get<double>(), o["percent"].get<double>());
        } else {
          std::fprintf(stderr, "    recompute overhead: %s\n",
                       o["status"].get<std::string>().c_str());
        }
      }
      if (row.contains("cudnn") && row["cudnn"].contains("agrees") &&
          !row["cudnn"]["agrees"].get<bool>()) {
        std::fprintf(stderr, "    WARNING: cuDNN disagrees with fuselstm: max error %g > %g\n",
                     row["cudnn"]["agreement_max_error"].get<double>(),
                     row["cudnn"]["agreement_threshold"].get<double>());
        exit_code = std::max(exit_code, 3);
      }
    } else {
      std::fprintf(stderr, "    %s: %s\n", status.c_str(),
                   row["reason"].get<std::string>().c_str());
    }
    if (status == "error") exit_code = std::max(exit_code, 1);
    if (status == "validation_failed") {
      std::fprintf(stderr,
                   "fuselstm_bench: VALIDATION FAILED for %s; stopping, nothing of it was "
                   "timed.\n  %s\n",
                   c.str().c_str(), row["reason"].get<std::string>().c_str());
      exit_code = 2;
      break;
    }
  }
  if (not_started) {
    std::fprintf(stderr,
                 "fuselstm_bench: time budget of %.0f s reached; %d configurations not started "
                 "(run again with --resume to continue)\n",
                 budget_s, not_started);
  }
  if (table) std::fputs(format_table(rows).c_str(), stdout);
  return exit_code;
}
