#pragma once
// One benchmark configuration, and what can be counted about it before anything runs: its FLOPs,
// the fewest bytes a time step must move, and the device memory fuselstm needs for it.

#include <cstdint>
#include <string>

#include "fuselstm/fuselstm.hpp"

namespace fuselstm::bench {

enum class Precision { fp32, tf32 };
enum class Mode { fwd, fwdbwd };

inline const char* precision_name(Precision p) {
  return p == Precision::fp32 ? "fp32" : "tf32";
}
inline const char* mode_name(Mode m) {
  return m == Mode::fwd ? "fwd" : "fwdbwd";
}

struct BenchCase {
  Device device = Device::cpu();
  std::int64_t T = 1000, B = 16, X = 256, H = 256, L = 1;
  CellActivation cell = CellActivation::tanh;
  Precision precision = Precision::fp32;
  Mode mode = Mode::fwdbwd;

  std::int64_t layer_input(std::int64_t layer) const { return layer == 0 ? X : H; }
  /// "T1000_B16_X256_H256_L1_tanh_fp32_fwdbwd_cuda:0": the key rows are joined on.
  std::string key() const;
  /// "T=1000 B=16 X=256 H=256 L=1 tanh fp32 fwdbwd"
  std::string str() const;
};

/// FLOPs of one call: Σ_layers 8·B·H·(X_k+H)·T forward, 24·B·H·(X_k+H)·T forward+backward
/// (the GEMMs; the pointwise work is O(B·H·T) and left out, as everyone does).
double flops_per_call(const BenchCase& c);

/// The fewest device-memory bytes one time step must move when nothing stays on chip: W_hh
/// (4H·H values) read once per layer per direction of the step (forward; backward reads it again).
double floor_bytes_per_step(const BenchCase& c);

/// Device bytes fuselstm allocates for one call of `c` in dtype `dtype`, with what the bench itself
/// holds (inputs, output gradients, `input_buffers` rotated copies of x): parameters, gradients,
/// the forward context (x copy, gates, c, h per layer), outputs, backward's workspace and results.
/// A margin for library handles (cuBLAS workspace) is added by the caller.
std::int64_t fuselstm_bytes_needed(const BenchCase& c, DType dtype, int input_buffers);

}  // namespace fuselstm::bench
