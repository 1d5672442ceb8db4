#include "bench_case.hpp"

#include <sstream>

namespace fuselstm::bench {

std::string BenchCase::key() const {
  std::ostringstream s;
  s << "T" << T << "_B" << B << "_X" << X << "_H" << H << "_L" << L << "_"
    << cell_activation_name(cell) << "_" << precision_name(precision) << "_" << mode_name(mode)
    << "_" << device.str();
  return s.str();
}

std::string BenchCase::str() const {
  std::ostringstream s;
  s << "T=" << T << " B=" << B << " X=" << X << " H=" << H << " L=" << L << " "
    << cell_activation_name(cell) << " " << precision_name(precision) << " " << mode_name(mode);
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

std::int64_t fuselstm_bytes_needed(const BenchCase& c, DType dtype, int input_buffers) {
  const std::int64_t T = c.T, B = c.B, X = c.X, H = c.H, L = c.L;
  std::int64_t elements = 0;
  for (std::int64_t k = 0; k < L; ++k) {
    const std::int64_t Xk = c.layer_input(k);
    elements += 2 * (4 * H * Xk + 4 * H * H + 8 * H);  // parameters and gradients
    elements += T * B * 4 * H + 2 * (T + 1) * B * H;   // context: gates, c, h
  }
  elements += T * B * X;                  // context: copy of x
  elements += T * B * H + 2 * L * B * H;  // y, hT, cT
  elements += input_buffers * T * B * X;  // the bench's x buffers
  elements += T * B * H + 4 * L * B * H;  // the bench's dy, h0, c0, dhT, dcT
  if (c.mode == Mode::fwdbwd) {
    elements += T * B * 4 * H + 2 * B * H + 4 * H;  // workspace: da, dh_rec, dc, dbias
    if (L > 1) elements += T * B * H;               // workspace: dx of inner layers
    elements += T * B * X + 2 * L * B * H;          // dx, dh0, dc0
  }
  return elements * static_cast<std::int64_t>(dtype_size(dtype));
}

}  // namespace fuselstm::bench
