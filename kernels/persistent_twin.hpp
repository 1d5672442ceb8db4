#pragma once
// The host twin of the persistent CUDA kernel (persistent_kernels.cu): the same per-block
// functions of persistent_math.hpp over the same partition, the blocks run one after another
// between "barriers" (the end of each loop over blocks), every warp's lanes emulated in the order
// the kernel's shuffles add them. Same phases, same indexing, same summation order as the kernel
// (only the transcendentals' last bits differ between the host's libm and the device's): what CI
// can check of the kernel without a GPU. Host code only; a test backend runs it.

#include <vector>

#include "kernels/persistent_math.hpp"

namespace fuselstm::kernels {

/// One block as a single thread with one warp whose 32 lanes run one after another.
struct PersistentHostTeam {
  int thread() const { return 0; }
  int threads() const { return 1; }
  int warp() const { return 0; }
  int warps() const { return 1; }
  bool leader() const { return true; }
  /// sum[g] = the 32 lanes' lane_partial shares added as the kernel's butterfly does.
  template <typename T, int N>
  void dot(const T* w, std::int64_t w_stride, const T* x, std::int64_t n, T (&sum)[N]) const {
    T lane[kPersistentLanes][N];
    for (int l = 0; l < kPersistentLanes; ++l) lane_partial<N>(l, w, w_stride, x, n, lane[l]);
    for (int offset = kPersistentLanes / 2; offset > 0; offset /= 2) {
      T next[kPersistentLanes][N];
      for (int l = 0; l < kPersistentLanes; ++l) {
        for (int g = 0; g < N; ++g) next[l][g] = lane[l][g] + lane[l ^ offset][g];
      }
      for (int l = 0; l < kPersistentLanes; ++l) {
        for (int g = 0; g < N; ++g) lane[l][g] = next[l][g];
      }
    }
    for (int g = 0; g < N; ++g) sum[g] = lane[0][g];
  }
};

/// forward_recurrence as the kernel computes it, for an eligible plan of (a.hidden, a.batch).
template <typename T, bool kTanhCell>
void persistent_forward_twin(const PersistentPlan& p, const ForwardRecurrenceArgs<T>& a) {
  const PersistentHostTeam team;
  std::vector<std::vector<T>> slices(p.blocks, std::vector<T>(p.slice_elements()));
  for (int k = 0; k < p.blocks; ++k) persistent_load_slice(team, a.weight_hh, p, k, slices[k].data());
  for (std::int64_t t = a.first; t < a.end; ++t) {
    for (int k = 0; k < p.blocks; ++k) {
      persistent_forward_block_step<T, kTanhCell>(team, a, p, k, t, slices[k].data());
    }
    // barrier
  }
}

/// backward_recurrence as the kernel computes it, for an eligible plan of (a.hidden, a.batch).
template <typename T, bool kTanhCell>
void persistent_backward_twin(const PersistentPlan& p, const BackwardRecurrenceArgs<T>& a) {
  const PersistentHostTeam team;
  std::vector<std::vector<T>> slices(p.blocks, std::vector<T>(p.slice_elements()));
  for (int k = 0; k < p.blocks; ++k) persistent_load_slice(team, a.weight_hh, p, k, slices[k].data());
  std::vector<T> scratch(p.scratch_elements());
  const std::int64_t part = a.batch * a.hidden;
  for (std::int64_t t = a.end - 1; t >= a.first; --t) {
    T* partials = persistent_partials_at(p, scratch.data(), t);
    for (int k = 0; k < p.blocks; ++k) {
      persistent_backward_cell<T, kTanhCell>(team, a, p, k, t);
      persistent_backward_partial(team, a, p, k, t, slices[k].data(), partials + k * part);
    }
    // barrier
    for (int k = 0; k < p.blocks; ++k) persistent_backward_reduce(team, a, p, k, partials);
  }
}

}  // namespace fuselstm::kernels
