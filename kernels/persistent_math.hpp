#pragma once
// The persistent recurrent algorithm on CUDA: its partition, its eligibility, and each block's work
// per step as host-and-device functions of (team, block, step, slice). The kernel
// (kernels/persistent_kernels.cu) runs every block at once with one grid-wide barrier per step; the
// host twin (persistent_twin.hpp) runs the same functions over the same partition one block after
// another between "barriers", so CI checks the partition, the indexing and the phase order without
// a GPU. Opt-in only (RecurrentAlgorithm::persistent): correct on an H200, faster than the
// standard steps only at B = 1 (bench/RESULTS.md, session 9).
//
// Partition. Block k of `blocks` owns hidden units [k·U, min((k+1)·U, H)), U = ⌈H / SMs⌉ (one
// block per multiprocessor; the last block may own fewer units). Its slice of W_hh is the 4·U rows
// of its units, all four gates, kept in shared memory for the whole call:
//   slice[(g·U + ul)·H + k] = W_hh[(g·H + u0 + ul)·H + k]   (g gate, ul local unit, k column)
// so the cell update of its units needs nothing from other blocks.
//
// Forward, step t (one grid barrier per step): for each (b, ul) of its units, a warp computes the
// four dot products h(t−1)[b, :]·slice row (g, ul) (lanes split k; see team_dot for the order),
// adds them to gates(t), and runs lstm_forward_element for element b·H + u0 + ul; then the barrier
// makes h(t) visible to every block.
//
// Backward, step t (one grid barrier per step): (A) lstm_backward_element for the block's own
// elements writes da(t)'s columns of its units; (B) its partial product of those columns with its
// rows, P_k[b, u] = Σ_{g, ul} da(t)[b, g·H + u0 + ul]·W_hh[g·H + u0 + ul, u] for every u ∈ [0, H),
// goes to a scratch [2, blocks, B, H] (step parity t mod 2, so a block one step ahead never
// overwrites what a slower block still reads); barrier; (C) dh_rec[b, u] = Σ_k P_k[b, u] (k in
// order 0..blocks−1) for its own units. da is never exchanged; the weight-gradient GEMMs read it
// from the ring afterwards as with the standard algorithm.
//
// Eligibility (plan_persistent, computed on the host before any launch; the standard steps run
// otherwise):
//   - 1 ≤ B ≤ kPersistentMaxBatch (small batch is where keeping W_hh on chip pays; above it the
//     recurrent GEMM is compute-bound and cuBLAS wins);
//   - float or double (FFMA/DFMA; no tensor cores);
//   - the device supports cooperative launch (cudaDevAttrCooperativeLaunch);
//   - the slice, 4·U·H elements, fits the opt-in shared memory per block
//     (cudaDevAttrMaxSharedMemoryPerBlockOptin);
//   - every block is co-resident: blocks ≤ SMs · (active blocks per SM at that shared memory,
//     cudaOccupancyMaxActiveBlocksPerMultiprocessor), checked by persistent_check_occupancy.
// Roughly: fp32 up to H ≈ 1150 and fp64 up to H ≈ 800 on 132 SMs with 227 KiB per block.

#include <cstdint>

#include "kernels/cell_math.hpp"
#include "kernels/recurrence_math.hpp"

namespace fuselstm::kernels {

constexpr int kPersistentThreads = 256;  // threads per block (8 warps)
constexpr int kPersistentLanes = 32;     // lanes of one warp: they split one dot product
constexpr std::int64_t kPersistentMaxBatch = 64;

/// What eligibility needs to know of a device (queried once by the CUDA ops; chosen by the tests
/// for the twin).
struct PersistentDevice {
  int multiprocessors = 0;             // cudaDevAttrMultiProcessorCount
  std::int64_t shared_per_block = 0;   // bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin
  bool cooperative_launch = false;     // cudaDevAttrCooperativeLaunch
};

/// The partition of one call: which units each block owns and how much shared memory it needs.
struct PersistentPlan {
  bool eligible = false;
  const char* reason = "not planned";  // why not eligible (a static string)
  std::int64_t hidden = 0;             // H
  std::int64_t batch = 0;              // B
  std::int64_t units = 0;              // U: units per block (the last block may own fewer)
  int blocks = 0;                      // ⌈H / U⌉
  std::int64_t shared_bytes = 0;       // the slice: 4·U·H elements

  FUSELSTM_HD std::int64_t first_unit(int block) const { return block * units; }
  FUSELSTM_HD std::int64_t units_in(int block) const {
    const std::int64_t rest = hidden - first_unit(block);
    return rest < units ? rest : units;
  }
  FUSELSTM_HD std::int64_t slice_elements() const { return 4 * units * hidden; }
  /// Elements of the backward scratch: two step parities of [blocks, B, H] partial products.
  FUSELSTM_HD std::int64_t scratch_elements() const { return 2 * blocks * batch * hidden; }
};

/// The partition and the checks that need no kernel (see the header comment).
inline PersistentPlan plan_persistent(std::int64_t hidden, std::int64_t batch,
                                      std::int64_t element_bytes, const PersistentDevice& device) {
  PersistentPlan p;
  p.hidden = hidden;
  p.batch = batch;
  if (element_bytes != 4 && element_bytes != 8) {
    p.reason = "only float and double";
    return p;
  }
  if (hidden < 1 || batch < 1) {
    p.reason = "empty shape";
    return p;
  }
  if (batch > kPersistentMaxBatch) {
    p.reason = "batch above kPersistentMaxBatch";
    return p;
  }
  if (!device.cooperative_launch) {
    p.reason = "no cooperative launch on this device";
    return p;
  }
  if (device.multiprocessors < 1) {
    p.reason = "no multiprocessor count";
    return p;
  }
  p.units = (hidden + device.multiprocessors - 1) / device.multiprocessors;
  p.blocks = static_cast<int>((hidden + p.units - 1) / p.units);
  p.shared_bytes = p.slice_elements() * element_bytes;
  if (p.shared_bytes > device.shared_per_block) {
    p.reason = "the W_hh slice does not fit the shared memory of a block";
    return p;
  }
  p.eligible = true;
  p.reason = "";
  return p;
}

/// The co-residency check of a cooperative launch: `active_per_sm` blocks of the kernel fit one
/// multiprocessor at the plan's shared memory (the CUDA ops ask the occupancy API; the twin's
/// nominal device says 1).
inline void persistent_check_occupancy(PersistentPlan& p, const PersistentDevice& device,
                                       int active_per_sm) {
  if (!p.eligible) return;
  if (static_cast<std::int64_t>(active_per_sm) * device.multiprocessors < p.blocks) {
    p.eligible = false;
    p.reason = "not every block can be resident at once (occupancy)";
  }
}

FUSELSTM_HD float fma_of(float a, float b, float c) { return fmaf(a, b, c); }
FUSELSTM_HD double fma_of(double a, double b, double c) { return fma(a, b, c); }

/// Lane `lane`'s share of N dot products: out[g] = Σ_{k ≡ lane (mod 32), k < n} w[g·w_stride + k]·x[k],
/// k ascending, one fused multiply-add each. A team adds the 32 lanes' shares as a butterfly:
/// for offset 16, 8, 4, 2, 1, every lane adds its value and the value of lane ⊕ offset (warp
/// shuffles on the device, the same additions in the same order in the host twin).
template <int N, typename T>
FUSELSTM_HD void lane_partial(int lane, const T* w, std::int64_t w_stride, const T* x,
                              std::int64_t n, T (&out)[N]) {
  for (int g = 0; g < N; ++g) out[g] = T(0);
  for (std::int64_t k = lane; k < n; k += kPersistentLanes) {
    const T xk = x[k];
    for (int g = 0; g < N; ++g) out[g] = fma_of(w[g * w_stride + k], xk, out[g]);
  }
}

/// The block's slice of W_hh into shared memory (layout in the header comment).
template <typename T, typename Team>
FUSELSTM_HD void persistent_load_slice(const Team& team, const T* weight_hh,
                                       const PersistentPlan& p, int block, T* slice) {
  const std::int64_t H = p.hidden, U = p.units, u0 = p.first_unit(block), Ub = p.units_in(block);
  const std::int64_t n = 4 * Ub * H;
  for (std::int64_t i = team.thread(); i < n; i += team.threads()) {
    const std::int64_t row = i / H, k = i - row * H;
    const std::int64_t g = row / Ub, ul = row - g * Ub;
    slice[(g * U + ul) * H + k] = weight_hh[(g * H + u0 + ul) * H + k];
  }
}

/// Forward, step t, block `block`: gates(t) += h(t−1)·W_hhᵀ for the block's units, then the cell.
/// Reads h(t−1) of every unit (written by every block before the previous barrier).
template <typename T, bool kTanhCell, typename Team>
FUSELSTM_HD void persistent_forward_block_step(const Team& team, const ForwardRecurrenceArgs<T>& a,
                                               const PersistentPlan& p, int block, std::int64_t t,
                                               const T* slice) {
  const std::int64_t H = a.hidden, u0 = p.first_unit(block), Ub = p.units_in(block);
  const ForwardStepArgs<T> s = a.step(t);
  const T* h_prev = a.h_prev_at(t);
  // Item (b, ul), b-major: the warps at work at one time read the same row of h(t−1).
  for (std::int64_t item = team.warp(); item < a.batch * Ub; item += team.warps()) {
    const std::int64_t b = item / Ub, ul = item - b * Ub, u = u0 + ul;
    T sum[4];
    team.dot(slice + ul * H, p.units * H, h_prev + b * H, H, sum);
    if (team.leader()) {
      T* row = s.gates + b * 4 * H;
      for (int g = 0; g < 4; ++g) row[g * H + u] += sum[g];
      lstm_forward_element<T, kTanhCell>(b * H + u, s);
    }
  }
}

/// Backward, step t, phase A: the cell step of the block's own elements (da(t) of its units'
/// columns, dc, dh_carry; reads dh_rec of its units).
template <typename T, bool kTanhCell, typename Team>
FUSELSTM_HD void persistent_backward_cell(const Team& team, const BackwardRecurrenceArgs<T>& a,
                                          const PersistentPlan& p, int block, std::int64_t t) {
  const std::int64_t H = a.hidden, u0 = p.first_unit(block), Ub = p.units_in(block);
  const BackwardStepArgs<T> s = a.step(t);
  for (std::int64_t i = team.thread(); i < a.batch * Ub; i += team.threads()) {
    const std::int64_t b = i / Ub, ul = i - b * Ub;
    lstm_backward_element<T, kTanhCell>(b * H + u0 + ul, s);
  }
}

/// Backward, step t, phase B: the block's partial product with its rows of W_hh,
/// partial[b·H + u] = Σ_{g, ul} da(t)[b, g·H + u0 + ul]·slice[(g·U + ul)·H + u] (g, then ul
/// ascending, one FMA each), for every u ∈ [0, H). `partial` is [B, H], this block's and this
/// step parity's part of the scratch. Reads only da columns the block wrote in phase A.
template <typename T, typename Team>
FUSELSTM_HD void persistent_backward_partial(const Team& team, const BackwardRecurrenceArgs<T>& a,
                                             const PersistentPlan& p, int block, std::int64_t t,
                                             const T* slice, T* partial) {
  const std::int64_t H = a.hidden, U = p.units, u0 = p.first_unit(block), Ub = p.units_in(block);
  const T* da = a.da_at(t);
  for (std::int64_t o = team.thread(); o < a.batch * H; o += team.threads()) {
    const std::int64_t b = o / H, u = o - b * H;
    const T* da_row = da + b * 4 * H + u0;
    T acc = T(0);
    for (int g = 0; g < 4; ++g) {
      for (std::int64_t ul = 0; ul < Ub; ++ul) {
        acc = fma_of(da_row[g * H + ul], slice[(g * U + ul) * H + u], acc);
      }
    }
    partial[o] = acc;
  }
}

/// Backward, step t, phase C: dh_rec of the block's units = the sum of every block's partial
/// product, blocks in order 0..blocks−1. `partials` is [blocks, B, H] of this step's parity.
template <typename T, typename Team>
FUSELSTM_HD void persistent_backward_reduce(const Team& team, const BackwardRecurrenceArgs<T>& a,
                                            const PersistentPlan& p, int block,
                                            const T* partials) {
  const std::int64_t H = a.hidden, u0 = p.first_unit(block), Ub = p.units_in(block);
  const std::int64_t state = a.batch * H;
  for (std::int64_t i = team.thread(); i < a.batch * Ub; i += team.threads()) {
    const std::int64_t b = i / Ub, ul = i - b * Ub, e = b * H + u0 + ul;
    T sum = partials[e];
#if defined(__CUDA_ARCH__)
#pragma unroll 8  // independent loads in flight; the additions keep their order
#endif
    for (int k = 1; k < p.blocks; ++k) sum += partials[k * state + e];
    a.dh_rec[e] = sum;
  }
}

/// The part of the backward scratch that block `block` writes at step t.
template <typename T>
FUSELSTM_HD T* persistent_partials_at(const PersistentPlan& p, T* scratch, std::int64_t t) {
  return scratch + (t & 1) * p.blocks * p.batch * p.hidden;
}

}  // namespace fuselstm::kernels
