#pragma once
// One benchmark configuration, and what can be counted about it before anything runs: its FLOPs,
// the fewest bytes a time step must move, and the memory the bench's own inputs take.

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
  MemoryMode memory = MemoryMode::store_all;  // LstmConfig::memory_mode
  std::int64_t segment_steps = 0;             // LstmConfig::segment_steps (0: ⌈√T⌉)
  std::int64_t memory_limit = 0;              // LstmConfig::memory_limit_bytes (0: free memory)
  std::int64_t projection_steps = 0;          // LstmConfig::projection_steps (0: automatic)
  RecurrentAlgorithm algorithm = RecurrentAlgorithm::automatic;  // LstmConfig::algorithm

  std::int64_t layer_input(std::int64_t layer) const { return layer == 0 ? X : H; }
  /// "T1000_B16_X256_H256_L1_tanh_fp32_fwdbwd_cuda:0": the key rows are joined on. Other memory
  /// modes add "_recompute_k316" / "_automatic_lim3221225472" (k / limit only when not 0) before
  /// the device, so store_all rows keep the keys they had before memory modes existed; an
  /// algorithm other than automatic adds "_standard" / "_persistent" / "_graphs" likewise.
  std::string key() const;
  /// The same case in MemoryMode::store_all (the baseline a recompute row is compared with).
  BenchCase stored() const;
  /// "T=1000 B=16 X=256 H=256 L=1 tanh fp32 fwdbwd" (+ " recompute k=316", " automatic limit=...")
  std::string str() const;
};

/// FLOPs of one call: Σ_layers 8·B·H·(X_k+H)·T forward, 24·B·H·(X_k+H)·T forward+backward
/// (the GEMMs; the pointwise work is O(B·H·T) and left out, as everyone does).
double flops_per_call(const BenchCase& c);

/// The fewest device-memory bytes one time step must move when nothing stays on chip: W_hh
/// (4H·H values) read once per layer per direction of the step (forward; backward reads it again).
double floor_bytes_per_step(const BenchCase& c);

/// Bytes the bench itself holds on the device for one configuration at T = `steps`: `input_buffers`
/// rotated copies of x [T, B, X], h0 and c0 [L, B, H], and with backward dy [T, B, H], dhT and dcT.
/// What the library allocates comes from Lstm::plan_memory (bench/runner.cpp adds them).
std::int64_t bench_input_bytes(const BenchCase& c, std::int64_t steps, DType dtype,
                               int input_buffers);

/// Parses a byte count: digits with an optional binary suffix K, M, G or T (KiB..TiB; "3G" is
/// 3·2³⁰), or KB/MB/GB/TB (powers of 1000). Throws ValueError naming the text otherwise.
std::int64_t parse_bytes(const std::string& text);

}  // namespace fuselstm::bench
