#include "bench_case.hpp"

#include <cctype>
#include <cmath>
#include <sstream>

#include "fuselstm/error.hpp"

namespace fuselstm::bench {

std::string BenchCase::key() const {
  std::ostringstream s;
  s << "T" << T << "_B" << B << "_X" << X << "_H" << H << "_L" << L << "_"
    << cell_activation_name(cell) << "_" << precision_name(precision) << "_" << mode_name(mode);
  if (memory == MemoryMode::recompute) {
    s << "_recompute";
    if (segment_steps > 0) s << "_k" << segment_steps;
  } else if (memory == MemoryMode::automatic) {
    s << "_automatic";
    if (memory_limit > 0) s << "_lim" << memory_limit;
  }
  if (projection_steps > 0) s << "_P" << projection_steps;
  if (algorithm != RecurrentAlgorithm::automatic) s << "_" << recurrent_algorithm_name(algorithm);
  s << "_" << device.str();
  return s.str();
}

BenchCase BenchCase::stored() const {
  BenchCase c = *this;
  c.memory = MemoryMode::store_all;
  c.segment_steps = 0;
  c.memory_limit = 0;
  return c;
}

std::string BenchCase::str() const {
  std::ostringstream s;
  s << "T=" << T << " B=" << B << " X=" << X << " H=" << H << " L=" << L << " "
    << cell_activation_name(cell) << " " << precision_name(precision) << " " << mode_name(mode);
  if (memory != MemoryMode::store_all) s << " " << memory_mode_name(memory);
  if (memory == MemoryMode::recompute && segment_steps > 0) s << " k=" << segment_steps;
  if (memory == MemoryMode::automatic && memory_limit > 0) s << " limit=" << memory_limit;
  if (projection_steps > 0) s << " P=" << projection_steps;
  if (algorithm != RecurrentAlgorithm::automatic) s << " " << recurrent_algorithm_name(algorithm);
  return s.str();
}

double flops_per_call(const BenchCase& c) {
  const double per_mac_pass = c.mode == Mode::fwd ? 8.0 : 24.0;  // 2 FLOPs × 4 gates × passes
  double total = 0;
  for (std::int64_t k = 0; k < c.L; ++k) {
    total +=
        per_mac_pass * double(c.B) * double(c.H) * double(c.layer_input(k) + c.H) * double(c.T);
  }
  return total;
}

double floor_bytes_per_step(const BenchCase& c) {
  const double w_hh_bytes = 4.0 * double(c.H) * double(c.H) * 4.0;  // 4H×H fp32 values
  const double passes = c.mode == Mode::fwd ? 1.0 : 2.0;
  return w_hh_bytes * passes * double(c.L);
}

std::int64_t bench_input_bytes(const BenchCase& c, std::int64_t steps, DType dtype,
                               int input_buffers) {
  const std::int64_t T = steps, B = c.B, state = c.L * B * c.H;
  std::int64_t elements = input_buffers * T * B * c.X + 2 * state;     // x copies, h0, c0
  if (c.mode == Mode::fwdbwd) elements += T * B * c.H + 2 * state;     // dy, dhT, dcT
  return elements * static_cast<std::int64_t>(dtype_size(dtype));
}

std::int64_t parse_bytes(const std::string& text) {
  std::size_t end = 0;
  long double number = -1;
  try {
    number = std::stold(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  std::string unit = text.substr(end);
  for (char& ch : unit) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  long double scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  const char* prefixes = "KMGT";
  for (int k = 0; k < 4; ++k) {
    const std::string p(1, prefixes[k]);
    if (unit == p || unit == p + "IB") scale = std::pow(1024.0L, k + 1);
    if (unit == p + "B") scale = std::pow(1000.0L, k + 1);
  }
  if (end == 0 || scale == 0 || !(number >= 0) || number * scale > 9.2e18L) {
    throw ValueError("--memory-limit: expected bytes such as 3221225472, 3G (GiB) or 3GB, got '" +
                     text + "'");
  }
  return static_cast<std::int64_t>(number * scale);
}

}  // namespace fuselstm::bench
