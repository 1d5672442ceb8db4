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

json run_case(const BenchCase& c, const RunOptions& o, const Environment& env) {
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
                {"mode", mode_name(c.mode)}}},
              {"timing",
               {{"warmup", o.timing.warmup},
                {"reps", o.timing.reps},
                {"max_seconds", o.timing.max_seconds},
                {"clock", c.device.is_cuda() ? "CUDA events" : "steady_clock"}}},
              {"status", "ok"},
              {"reason", ""},
              {"validation", json::array()}};
  try {
    if (c.device.is_cpu() && c.precision == Precision::tf32) {
      throw ValueError("tf32 is a CUDA math mode; the host computes in fp32");
    }
    const std::int64_t x_bytes = c.T * c.B * c.X * std::int64_t(sizeof(float));
    const int input_buffers = x_bytes < 2 * env.l2_bytes ? 4 : 1;  // beat the cache, not measure it
    const std::int64_t margin = c.device.is_cuda() ? gpu_margin_bytes : cpu_margin_bytes;
    const std::int64_t needed = fuselstm_bytes_needed(c, DType::f32, input_buffers) + margin;
    const std::int64_t available = available_bytes(c.device);
    row["memory"] = {
        {"needed_bytes", needed}, {"available_bytes", available}, {"input_buffers", input_buffers}};
    if (needed > available) {
      row["status"] = "skipped";
      row["reason"] = "does not fit: needs " + mib(needed) + ", " + mib(available) + " available";
      return row;
    }

    // 1. The small case against the double reference.
    const Validation small = validate_small_case(c, o.seed);
    row["validation"].push_back(validation_json(small));
    if (!small.passed) {
      row["status"] = "validation_failed";
      row["reason"] = failure(small);
      return row;
    }

    // 2. The timed shape (T capped) against fuselstm's own path in f64 on the same device.
    Problem check_problem;
    Outputs check_outputs;
    {
      const std::int64_t default_steps = c.device.is_cuda() ? 256 : 16;
      std::int64_t steps = std::min(c.T, o.validate_steps > 0 ? o.validate_steps : default_steps);
      auto check_bytes = [&](std::int64_t t) {
        BenchCase s = c;
        s.T = t;
        s.mode = Mode::fwdbwd;
        return fuselstm_bytes_needed(s, DType::f64, 1) + margin;
      };
      while (steps > 1 && check_bytes(steps) > available_bytes(c.device)) steps /= 2;
      if (check_bytes(steps) > available_bytes(c.device)) {
        row["status"] = "skipped";
        row["reason"] = "the f64 check of the timed shape does not fit: needs " +
                        mib(check_bytes(steps)) + ", " + mib(available_bytes(c.device)) +
                        " available";
        return row;
      }
      const Validation shape = validate_against_f64(c, steps, o.seed, check_problem, check_outputs);
      row["validation"].push_back(validation_json(shape));
      if (!shape.passed) {
        row["status"] = "validation_failed";
        row["reason"] = failure(shape);
        return row;
      }
    }

    // 3. Timing fuselstm.
    std::unique_ptr<gpu::Stream> stream;
    if (c.device.is_cuda()) stream = std::make_unique<gpu::Stream>(c.device.index);
    void* stream_handle = stream ? stream->handle() : nullptr;
    reference::Params<double> weights;
    {
      Lstm model(lstm_config(c, DType::f32, stream_handle));
      model.init_pytorch_default(o.seed);
      if (c.device.is_cuda()) weights = reference_params(model);
      const std::vector<float>& pattern = timing_pattern(o.seed);
      const Shape seq{c.T, c.B, c.X}, out{c.T, c.B, c.H}, state{c.L, c.B, c.H};
      std::vector<Tensor> xs;
      for (int k = 0; k < input_buffers; ++k) {
        xs.push_back(Tensor::empty(seq, DType::f32, c.device));
        fill_tiled(xs.back(), pattern,
                   {std::size_t(k) * timing_inputs::x_rotation_stride, timing_inputs::x.scale});
      }
      Tensor h0 = Tensor::empty(state, DType::f32, c.device);
      Tensor c0 = Tensor::empty(state, DType::f32, c.device);
      fill_tiled(h0, pattern, timing_inputs::h0);
      fill_tiled(c0, pattern, timing_inputs::c0);
      Tensor dy, dhT, dcT;
      if (c.mode == Mode::fwdbwd) {
        dy = Tensor::empty(out, DType::f32, c.device);
        dhT = Tensor::empty(state, DType::f32, c.device);
        dcT = Tensor::empty(state, DType::f32, c.device);
        fill_tiled(dy, pattern, timing_inputs::dy);
        fill_tiled(dhT, pattern, timing_inputs::dhT);
        fill_tiled(dcT, pattern, timing_inputs::dcT);
      }
      model.synchronize();
      reset_peak_memory(c.device);
      const std::int64_t held = memory_stats(c.device).current_bytes;
      std::size_t call = 0;
      // What a training step costs through the public API: clear the gradients, forward, backward
      // (results and context are freed at the end of each call, as in a training loop).
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
      fig["peak_memory_bytes"] = mem.peak_bytes;
      fig["call_memory_bytes"] = mem.peak_bytes - held;
      row["fuselstm"] = fig;
    }

    // 4. The peer: cuDNN on the same weights and inputs.
    if (c.device.is_cuda() && o.peer) {
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
