#include "runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>

#include "cudnn_peer.hpp"
#include "gpu_helper.hpp"
#include "problem.hpp"
#include "timing_inputs.hpp"
#include "validate.hpp"

namespace fuselstm::bench {

using nlohmann::json;

namespace {

constexpr std::int64_t MiB = 1 << 20;
// Room for what the counts leave out: CUDA context, cuBLAS workspace, allocator rounding.
constexpr std::int64_t gpu_margin_bytes = 512 * MiB;
constexpr std::int64_t cpu_margin_bytes = 256 * MiB;
// cuDNN's RNN API fails past this many steps (PyTorch issue 133751).
constexpr std::int64_t cudnn_max_steps = 65535;

std::string run_command(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[256];
    while (std::fgets(buffer, sizeof(buffer), pipe)) out += buffer;
    pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string git_commit() {
  if (const char* env = std::getenv("FUSELSTM_COMMIT"); env && *env) return env;
  const std::string now = run_command("git -C '" FUSELSTM_BENCH_SOURCE_DIR
                                      "' describe --always --dirty --abbrev=12 2>/dev/null");
  if (!now.empty()) return now;
  return FUSELSTM_BENCH_CONFIGURE_COMMIT;  // what git said at configure time ("unknown" if none)
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

std::int64_t host_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::int64_t(sysconf(_SC_AVPHYS_PAGES)) * sysconf(_SC_PAGESIZE);
}

std::int64_t available_bytes(const Device& d) {
  return d.is_cuda() ? gpu::memory_info(d.index).free_bytes : host_available_bytes();
}

std::string mib(std::int64_t bytes) {
  return std::to_string(bytes / MiB) + " MiB";
}

std::string sci(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3g", v);
  return text;
}

std::string failure(const Validation& v) {
  return v.what + ": " + v.worst_tensor + " error " + sci(v.max_error) + " > threshold " +
         sci(v.threshold) + (v.note.empty() ? "" : " (" + v.note + ")");
}

/// 1,000,003 (a prime, so rows of any width differ) seeded uniform values in [-1, 1): tiled into
/// the timing inputs. Random, never zeros: zeros can run faster than real data.
const std::vector<float>& timing_pattern(std::uint64_t seed) {
  static std::vector<float> pattern;
  static std::uint64_t pattern_seed = ~std::uint64_t(0);
  if (pattern_seed != seed) {
    std::mt19937_64 rng(seed ^ 0x5eed);
    pattern.resize(1000003);
    for (float& v : pattern) v = float(-1.0 + 2.0 * (double(rng() >> 11) * 0x1.0p-53));
    pattern_seed = seed;
  }
  return pattern;
}

/// Fills `t` (f32) with the timing pattern as `fill` says (timing_inputs.hpp).
void fill_tiled(Tensor& t, const std::vector<float>& pattern, timing_inputs::Fill fill) {
  auto* dst = t.data_as<float>();
  timing_inputs::tile(pattern.data(), pattern.size(), std::size_t(t.numel()), fill,
                      [&](std::size_t at, const float* values, std::size_t count) {
                        if (t.device().is_cpu()) {
                          std::memcpy(dst + at, values, count * sizeof(float));
                        } else {
                          gpu::copy_to_device(t.device().index, dst + at, values,
                                              count * sizeof(float));
                        }
                      });
}

json validation_json(const Validation& v) {
  json errors = json::object();
  for (const auto& [name, e] : v.errors) errors[name] = e;
  return {{"what", v.what},
          {"dims",
           {{"T", v.dims.T}, {"B", v.dims.B}, {"X", v.dims.X}, {"H", v.dims.H}, {"L", v.dims.L}}},
          {"metric", "max|got-ref| / max|ref| per tensor"},
          {"threshold", v.threshold},
          {"passed", v.passed},
          {"max_error", v.max_error},
          {"worst_tensor", v.worst_tensor},
          {"errors", errors},
          {"note", v.note}};
}

json figures_json(const BenchCase& c, const Stats& s, const Ceilings& ceil) {
  const double seconds = s.median_ms * 1e-3;
  const double flops = flops_per_call(c);
  const double peak = c.precision == Precision::tf32 ? ceil.tf32_flops : ceil.fp32_flops;
  const double step_flop_floor = peak > 0 ? flops / double(c.T) / peak : 0;
  const double step_byte_floor =
      ceil.bytes_per_s > 0 ? floor_bytes_per_step(c) / ceil.bytes_per_s : 0;
  const double floor_s = std::max(step_flop_floor, step_byte_floor);
  const double us_per_step = seconds / double(c.T) * 1e6;
  json j = {{"time_ms", {{"median", s.median_ms}, {"min", s.min_ms}, {"max", s.max_ms}}},
            {"reps", s.reps},
            {"reps_requested", s.reps_requested},
            {"us_per_step", us_per_step},
            {"tokens_per_s", double(c.T * c.B) / seconds},
            {"flops_per_call", flops},
            {"gflop_per_s", flops / seconds * 1e-9}};
  j["peak_gflop_per_s"] = peak > 0 ? json(peak * 1e-9) : json(nullptr);
  j["fraction_of_peak"] = peak > 0 ? json(flops / seconds / peak) : json(nullptr);
  j["floor_us_per_step"] = floor_s > 0 ? json(floor_s * 1e6) : json(nullptr);
  j["floor_limit"] = floor_s <= 0                         ? "unknown"
                     : step_byte_floor >= step_flop_floor ? "bandwidth (W_hh per step)"
                                                          : "compute";
  j["gap_to_floor"] = floor_s > 0 ? json(us_per_step / (floor_s * 1e6)) : json(nullptr);
  return j;
}

json peer_json(const cudnn_peer::Result& r, const BenchCase& c, const Ceilings& ceil) {
  json attempts = json::array();
  for (const auto& a : r.attempts) {
    json agreement = json::object();
    for (const auto& [name, e] : a.agreement) agreement[name] = e;
    json row = {{"algo", a.algo}, {"math", a.math}, {"status", a.status}, {"detail", a.detail}};
    if (a.ranking.reps > 0) {
      row["ranking_ms_median"] = a.ranking.median_ms;
      row["agreement_max_error"] = a.max_error;
      row["agreement_worst_tensor"] = a.worst_tensor;
      row["agreement"] = agreement;
    }
    attempts.push_back(row);
  }
  json j = {{"version", cudnn_peer::version()},
            {"note", r.note},
            {"agreement_steps", r.agreement_steps},
            {"ranking",
             "every algorithm timed at the agreement length (warm-up 1, 3 reps); "
             "the fastest is then timed at the full length"},
            {"attempts", attempts}};
  if (r.best >= 0) {
    const auto& best = r.attempts[std::size_t(r.best)];
    j["best_algo"] = best.algo;
    j["best_math"] = best.math;
    j["precision"] = "fp32 data, " + best.math + " math";
    j["agreement_max_error"] = best.max_error;
    j["agreement_threshold"] = timed_shape_threshold(c.precision);
    j["agrees"] = best.max_error >= 0 && best.max_error <= timed_shape_threshold(c.precision);
    if (best.timed.reps > 0)
      j["figures"] = figures_json(c, best.timed, ceil);
    else
      j["note"] = r.note.empty() ? best.detail : r.note;
  }
  j["bytes_needed"] = r.bytes_needed;
  j["bytes_available"] = r.bytes_available;
  return j;
}

json plan_json(const MemoryPlan& p) {
  return {{"mode", memory_mode_name(p.mode)},
          {"segment_steps", p.segment_steps},
          {"context_bytes", p.context_bytes},
          {"workspace_bytes", p.workspace_bytes},
          {"output_bytes", p.output_bytes},
          {"total_bytes", p.total_bytes()}};
}

/// What one configuration needs on its device, from the library's own plan (Lstm::plan_memory,
/// exact for forward+backward; an upper bound for forward alone) plus parameters, gradients and
/// the bench's inputs. Planned on a model of the same configuration, so automatic resolves the
/// same way it will when timed.
struct Footprint {
  MemoryPlan plan;
  std::int64_t parameter_bytes = 0;  // parameters and gradients
  std::int64_t input_bytes = 0;      // the bench's x copies, states, dy
  std::int64_t margin_bytes = 0;
  std::int64_t needed() const {
    return plan.total_bytes() + parameter_bytes + input_bytes + margin_bytes;
  }
};

std::int64_t parameter_and_gradient_bytes(const Lstm& model) {
  std::int64_t bytes = 0;
  for (const std::string& name : model.parameter_names()) {
    bytes += 2 * model.parameter(name).numel() * std::int64_t(dtype_size(model.config().dtype));
  }
  return bytes;
}

Footprint footprint(const BenchCase& c, std::int64_t steps, DType dtype, int input_buffers) {
  Footprint f;
  const Lstm planner(lstm_config(c, dtype));
  f.plan = planner.plan_memory(steps, c.B);  // automatic: OutOfMemoryError when nothing fits
  f.parameter_bytes = parameter_and_gradient_bytes(planner);
  f.input_bytes = bench_input_bytes(c, steps, dtype, input_buffers);
  f.margin_bytes = c.device.is_cuda() ? gpu_margin_bytes : cpu_margin_bytes;
  return f;
}

json footprint_json(const Footprint& f, std::int64_t available) {
  return {{"plan", plan_json(f.plan)},
          {"parameter_and_gradient_bytes", f.parameter_bytes},
          {"bench_input_bytes", f.input_bytes},
          {"margin_bytes", f.margin_bytes},
          {"needed_bytes", f.needed()},
          {"available_bytes", available}};
}

/// Times fuselstm on `c` (a fresh model, so the measured peak includes the workspace it allocates
/// on the first call). Fills `weights` (when given) with the model's weights for the cuDNN peer.
json time_fuselstm(const BenchCase& c, const CaseRunOptions& o, const Environment& env,
                   int input_buffers, void* stream_handle, reference::Params<double>* weights) {
  Lstm model(lstm_config(c, DType::f32, stream_handle));
  model.init_pytorch_default(o.seed);
  if (weights) *weights = reference_params(model);
  const std::vector<float>& pattern = timing_pattern(o.seed);
  // Inputs on the model's own context (its stream): no cross-stream ordering inside the timing.
  const Shape seq{c.T, c.B, c.X}, out{c.T, c.B, c.H}, state{c.L, c.B, c.H};
  std::vector<Tensor> xs;
  for (int k = 0; k < input_buffers; ++k) {
    xs.push_back(Tensor::empty(seq, DType::f32, model.context()));
    fill_tiled(xs.back(), pattern,
               {std::size_t(k) * timing_inputs::x_rotation_stride, timing_inputs::x.scale});
  }
  Tensor h0 = Tensor::empty(state, DType::f32, model.context());
  Tensor c0 = Tensor::empty(state, DType::f32, model.context());
  fill_tiled(h0, pattern, timing_inputs::h0);
  fill_tiled(c0, pattern, timing_inputs::c0);
  Tensor dy, dhT, dcT;
  if (c.mode == Mode::fwdbwd) {
    dy = Tensor::empty(out, DType::f32, model.context());
    dhT = Tensor::empty(state, DType::f32, model.context());
    dcT = Tensor::empty(state, DType::f32, model.context());
    fill_tiled(dy, pattern, timing_inputs::dy);
    fill_tiled(dhT, pattern, timing_inputs::dhT);
    fill_tiled(dcT, pattern, timing_inputs::dcT);
  }
  model.synchronize();
  // The plan as forward will resolve it now (automatic without a limit reads free memory).
  const MemoryPlan plan = model.plan_memory(c.T, c.B);
  reset_peak_memory(c.device);
  const std::int64_t held = memory_stats(c.device).current_bytes;
  std::size_t call = 0;
  // What a training step costs through the public API: clear the gradients, forward, backward
  // (results and context are freed at the end of each call, as in a training loop; the model's
  // reusable workspace stays).
  const Stats stats = time_calls(c.device, stream_handle, o.timing, [&] {
    const Tensor& x = xs[call++ % xs.size()];
    if (c.mode == Mode::fwd) {
      ForwardResult f = model.forward(x, h0, c0);
      return;
    }
    model.zero_grad();
    ForwardResult f = model.forward(x, h0, c0);
    BackwardResult b = model.backward(f.context, dy, dhT, dcT);
  });
  model.synchronize();
  const MemoryStats mem = memory_stats(c.device);
  json fig = figures_json(c, stats, env.ceilings);
  fig["memory_mode"] = memory_mode_name(plan.mode);
  fig["segment_steps"] = plan.segment_steps;
  fig["planned_call_bytes"] = plan.total_bytes();
  fig["planned_call_bytes_note"] =
      c.mode == Mode::fwd ? "forward+backward's plan: an upper bound for forward alone"
                          : "Lstm::plan_memory: what forward+backward allocate";
  fig["peak_memory_bytes"] = mem.peak_bytes;          // the library's, inputs included
  fig["call_memory_bytes"] = mem.peak_bytes - held;  // what the calls added
  return fig;
}

}  // namespace

Environment describe_environment(const Device& device) {
  Environment e;
  e.device = device;
  e.device_name = device_name(device);
  if (device.is_cuda()) {
    const gpu::Properties p = gpu::properties(device.index);
    e.driver_version = p.driver_version;
    e.runtime_version = p.runtime_version;
    e.l2_bytes = p.l2_bytes;
    e.ceilings = gpu_ceilings_from_table(p.name);
    e.cudnn_version = cudnn_peer::version();
  } else {
    e.l2_bytes = 32 * MiB;  // nominal: rotate inputs below this size
    e.ceilings = cpu_ceilings();
    e.cudnn_version = "n/a (CPU)";
  }
  e.commit = git_commit();
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  e.host = host;
  e.blas = host_blas_description();
  e.threads = host_blas_threads();
  return e;
}

json run_case(const BenchCase& c, const CaseRunOptions& o, const Environment& env, RunMemo& memo) {
  json row = {{"schema", "fuselstm-bench/1"},
              {"impl", "fuselstm"},
              {"suite", o.suite},
              {"key", c.key()},
              {"date", utc_now()},
              {"commit", env.commit},
              {"fuselstm_version", FUSELSTM_VERSION_STRING},
              {"host", env.host},
              {"device", c.device.str()},
              {"device_name", env.device_name},
              {"driver_version", env.driver_version},
              {"cuda_runtime_version", env.runtime_version},
              {"cudnn_version", env.cudnn_version},
              {"blas", env.blas},
              {"threads", env.threads},
              {"ceilings",
               {{"fp32_gflop_per_s", env.ceilings.fp32_flops * 1e-9},
                {"tf32_gflop_per_s", env.ceilings.tf32_flops * 1e-9},
                {"gbyte_per_s", env.ceilings.bytes_per_s * 1e-9},
                {"source", env.ceilings.source}}},
              {"config",
               {{"T", c.T},
                {"B", c.B},
                {"X", c.X},
                {"H", c.H},
                {"L", c.L},
                {"cell", cell_activation_name(c.cell)},
                {"precision", precision_name(c.precision)},
                {"mode", mode_name(c.mode)},
                {"memory_mode", memory_mode_name(c.memory)},
                {"segment_steps", c.segment_steps},
                {"memory_limit_bytes", c.memory_limit},
                {"algorithm", recurrent_algorithm_name(c.algorithm)}}},
              {"timing",
               {{"warmup", o.timing.warmup},
                {"reps", o.timing.reps},
                {"max_seconds", o.timing.max_seconds},
                {"clock", c.device.is_cuda() ? "CUDA events" : "steady_clock"}}},
              {"status", "ok"},
              {"reason", ""},
              {"notes", json::array()},
              {"validation", json::array()}};
  const std::string stored_key = c.stored().key();
  try {
    if (c.device.is_cpu() && c.precision == Precision::tf32) {
      throw ValueError("tf32 is a CUDA math mode; the host computes in fp32");
    }
    const std::int64_t x_bytes = c.T * c.B * c.X * std::int64_t(sizeof(float));
    const int input_buffers = x_bytes < 2 * env.l2_bytes ? 4 : 1;  // beat the cache, not measure it
    {
      const std::int64_t available = available_bytes(c.device);
      const Footprint need = footprint(c, c.T, DType::f32, input_buffers);
      row["memory"] = footprint_json(need, available);
      row["memory"]["input_buffers"] = input_buffers;
      if (need.needed() > available) {
        row["status"] = "skipped";
        row["reason"] = "does not fit: needs " + mib(need.needed()) + " (" +
                        memory_mode_name(need.plan.mode) + ", k=" +
                        std::to_string(need.plan.segment_steps) + "), " + mib(available) +
                        " available";
        return row;
      }
    }
    // The k the timed run will use (automatic resolved), for the checks' segment length.
    const std::int64_t timed_k = row["memory"]["plan"]["segment_steps"].get<std::int64_t>();

    // 1. The small case against the double reference (recomputing, for the recompute modes).
    const Validation small = validate_small_case(c, o.seed);
    row["validation"].push_back(validation_json(small));
    if (!small.passed) {
      row["status"] = "validation_failed";
      row["reason"] = failure(small);
      return row;
    }

    // 2. The timed shape (T capped) against fuselstm's own path in f64 on the same device, and
    // 3. for the recompute modes, bitwise against store_all there.
    Problem check_problem;
    Outputs check_outputs;
    {
      const std::int64_t default_steps = c.device.is_cuda() ? 256 : 16;
      std::int64_t steps = std::min(c.T, o.validate_steps > 0 ? o.validate_steps : default_steps);
      // The f64 store_all model is the largest of the checks' models.
      auto check_bytes = [&](std::int64_t t) {
        BenchCase s = c.stored();
        s.mode = Mode::fwdbwd;
        return footprint(s, t, DType::f64, 1).needed();
      };
      while (steps > 1 && check_bytes(steps) > available_bytes(c.device)) steps /= 2;
      if (check_bytes(steps) > available_bytes(c.device)) {
        row["status"] = "skipped";
        row["reason"] = "the f64 check of the timed shape does not fit: needs " +
                        mib(check_bytes(steps)) + ", " + mib(available_bytes(c.device)) +
                        " available";
        return row;
      }
      const BenchCase checked = checked_case(c, steps, timed_k);
      const Validation shape =
          validate_against_f64(checked, steps, o.seed, check_problem, check_outputs);
      row["validation"].push_back(validation_json(shape));
      if (!shape.passed) {
        row["status"] = "validation_failed";
        row["reason"] = failure(shape);
        return row;
      }
      if (c.memory != MemoryMode::store_all) {
        const Validation bitwise =
            validate_bitwise_vs_stored(checked, o.seed, check_problem, check_outputs);
        row["validation"].push_back(validation_json(bitwise));
        if (!bitwise.passed) {
          row["status"] = "validation_failed";
          row["reason"] = bitwise.what + ": " + bitwise.note + " (worst " + bitwise.worst_tensor +
                          ", scaled error " + sci(bitwise.max_error) + ")";
          return row;
        }
      }
    }

    // 4. Timing fuselstm.
    std::unique_ptr<gpu::Stream> stream;
    if (c.device.is_cuda()) stream = std::make_unique<gpu::Stream>(c.device.index);
    void* stream_handle = stream ? stream->handle() : nullptr;
    reference::Params<double> weights;
    row["fuselstm"] = time_fuselstm(c, o, env, input_buffers, stream_handle,
                                    c.device.is_cuda() ? &weights : nullptr);
    if (c.memory == MemoryMode::store_all) memo.stored_figures[stored_key] = row["fuselstm"];

    // 5. What recomputing costs: the same shape stored, measured in this run.
    if (c.memory != MemoryMode::store_all) {
      json overhead = {{"baseline_key", stored_key},
                       {"expected", "about +33% of forward+backward (one extra forward)"}};
      const json& ours = row["fuselstm"];
      if (ours["memory_mode"] == "store_all") {
        overhead["status"] = "automatic chose store_all";
      } else {
        json stored;
        if (memo.stored_figures.count(stored_key)) {
          stored = memo.stored_figures[stored_key];
          overhead["source"] = "the store_all row of this run";
        } else {
          const std::int64_t available = available_bytes(c.device);
          const Footprint need = footprint(c.stored(), c.T, DType::f32, input_buffers);
          if (need.needed() > available) {
            overhead["status"] = "store_all does not fit";
            overhead["store_all_needed_bytes"] = need.needed();
            overhead["available_bytes"] = available;
          } else {
            stored = time_fuselstm(c.stored(), o, env, input_buffers, stream_handle, nullptr);
            memo.stored_figures[stored_key] = stored;
            overhead["source"] = "timed in this row, after the recompute run";
          }
        }
        if (!stored.is_null()) {
          const double ratio = ours["time_ms"]["median"].get<double>() /
                               stored["time_ms"]["median"].get<double>();
          overhead["status"] = "measured";
          overhead["store_all_time_ms"] = stored["time_ms"];
          overhead["store_all_peak_memory_bytes"] = stored["peak_memory_bytes"];
          overhead["store_all_call_memory_bytes"] = stored["call_memory_bytes"];
          overhead["ratio"] = ratio;
          overhead["percent"] = (ratio - 1) * 100;
          overhead["memory_ratio"] = ours["call_memory_bytes"].get<double>() /
                                     stored["call_memory_bytes"].get<double>();
        }
      }
      row["recompute_overhead"] = overhead;
    }

    // 6. The peer: cuDNN on the same weights and inputs.
    if (c.device.is_cuda() && o.peer) {
      if (c.T > cudnn_max_steps) {
        // Not called: cuDNN's RNN API fails outright past 65,535 steps (PyTorch issue 133751).
        row["cudnn"] = {{"status", "fails"},
                        {"note", "cuDNN fails past 65,535 steps (PyTorch issue 133751); "
                                 "not called"}};
        row["notes"].push_back("cuDNN: fails at T=" + std::to_string(c.T) +
                               " > 65,535 steps (PyTorch issue 133751); not called");
      } else if (c.memory != MemoryMode::store_all && memo.cudnn.count(stored_key)) {
        // cuDNN does not depend on our memory mode: the store_all row's result, not rerun.
        row["cudnn"] = memo.cudnn[stored_key];
        row["cudnn"]["from_row"] = stored_key;
      } else {
        cudnn_peer::Inputs in;
        in.bench_case = c;
        in.weights = std::move(weights);
        in.agreement_problem = &check_problem;
        in.agreement_outputs = &check_outputs;
        in.timing_pattern = &timing_pattern(o.seed);
        in.timing = o.timing;
        in.stream = stream_handle;
        const cudnn_peer::Result r = cudnn_peer::run(in);
        row["cudnn"] = peer_json(r, c, env.ceilings);
        memo.cudnn[stored_key] = row["cudnn"];
      }
      if (row["cudnn"].contains("figures")) {
        row["ratio_to_peer"] = row["fuselstm"]["time_ms"]["median"].get<double>() /
                               row["cudnn"]["figures"]["time_ms"]["median"].get<double>();
        row["peer"] = "cudnn";
      }
    }
  } catch (const OutOfMemoryError& e) {
    row["status"] = "skipped";
    row["reason"] = std::string("out of memory: ") + e.what();
  } catch (const std::exception& e) {
    row["status"] = "error";
    row["reason"] = e.what();
  }
  return row;
}

}  // namespace fuselstm::bench
