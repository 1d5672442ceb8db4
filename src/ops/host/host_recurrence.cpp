// The persistent algorithm's host implementation (host_recurrence.hpp).

#include "ops/host/host_recurrence.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace fuselstm::ops {
namespace {

constexpr std::int64_t kLanes = 16;  // hidden units per block = floats per panel row

std::int64_t blocks_of(std::int64_t hidden) { return (hidden + kLanes - 1) / kLanes; }

// K per panel-product call: one chunk of the panels a call streams stays in L1 (32 KiB) while
// every row of the batch passes over it. Splitting K does not change any element's sum.
constexpr std::int64_t kForwardChunk = 128;   // 4 panels × 128 × 16 floats
constexpr std::int64_t kBackwardChunk = 128;  // up to 4 panels × 128 × 16 floats

// Generic panel products (double, or float without host_panel_products): host_panel_vector.inc's
// order, one std::fma at a time.
template <typename T, int P>
void generic_panel_product(const T* const* panels, std::int64_t step, std::int64_t K, const T* x,
                           std::int64_t x_stride, std::int64_t rows, const T* partial,
                           PanelOut<T> out) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (int p = 0; p < P; ++p) {
      T* o = out.data + r * out.row_stride + p * out.panel_stride;
      const T* from = partial ? partial + (r * P + p) * kLanes : nullptr;
      for (int l = 0; l < kLanes; ++l) {
        T acc = from ? from[l] : T(0);
        for (std::int64_t k = 0; k < K; ++k) {
          acc = std::fma(panels[p][k * step + l], x[r * x_stride + k], acc);
        }
        o[l] = out.add ? o[l] + acc : acc;
      }
    }
  }
}

template <typename T>
struct Kernels {
  using Product = void (*)(const T* const*, std::int64_t, std::int64_t, const T*, std::int64_t,
                           std::int64_t,
                           const T*, PanelOut<T>);
  Product four = generic_panel_product<T, 4>;
  Product one = generic_panel_product<T, 1>;
  HostSimd simd = HostSimd::scalar;

  void forward_cell(CellActivation cell, const kernels::ForwardStepArgs<T>& s, std::int64_t u0,
                    std::int64_t u1) const {
    if constexpr (std::is_same_v<T, float>) host_forward_step_units(simd, cell, s, u0, u1);
    else scalar_forward_step_units(cell, s, u0, u1);
  }
  void backward_cell(CellActivation cell, const kernels::BackwardStepArgs<T>& s, std::int64_t u0,
                     std::int64_t u1) const {
    if constexpr (std::is_same_v<T, float>) host_backward_step_units(simd, cell, s, u0, u1);
    else scalar_backward_step_units(cell, s, u0, u1);
  }
};

template <typename T>
Kernels<T> kernels_for(HostSimd simd) {
  Kernels<T> k;
  k.simd = simd;
  if constexpr (std::is_same_v<T, float>) {
    const PanelProducts p = host_panel_products(simd);
    k.four = p.four;
    k.one = p.one;
  }
  return k;
}

// The blocks [first, end) worker w of `workers` owns.
struct Share {
  std::int64_t first, end;
};
Share share_of(int w, int workers, std::int64_t blocks) {
  return {w * blocks / workers, (w + 1) * blocks / workers};
}

// Backward streams a worker's blocks four at a time where four remain before `end`, else one.
int group_size(std::int64_t block, std::int64_t end) { return end - block >= 4 ? 4 : 1; }

}  // namespace

template <typename T>
HostRecurrence<T>::HostRecurrence(HostSimd simd, int threads, PoolThreads pool_threads)
    : simd_(simd), pool_(threads, pool_threads) {}

// Multiply-adds per step below which another worker costs more at its barrier (~0.5 µs when two
// cores meet) than it saves: at B = 1, H = 64 one thread ran the steps faster than two.
constexpr std::int64_t kMinProductsPerWorker = 32768;

template <typename T>
int HostRecurrence<T>::workers_for(std::int64_t hidden, std::int64_t batch) const {
  const std::int64_t by_work = std::max<std::int64_t>(1, 4 * hidden * hidden * batch / kMinProductsPerWorker);
  return static_cast<int>(std::min({std::int64_t(pool_.size()), blocks_of(hidden), by_work}));
}

template <typename T>
T* HostRecurrence<T>::scratch_for(std::int64_t elements) {
  if (scratch_.size() < static_cast<std::size_t>(elements)) {
    scratch_.resize(static_cast<std::size_t>(elements));
  }
  return scratch_.data();
}

template <typename T>
void HostRecurrence<T>::forward(CellActivation cell, const kernels::ForwardRecurrenceArgs<T>& a) {
  if (a.end <= a.first) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const std::int64_t H = a.hidden, B = a.batch, G = 4 * H, nb = blocks_of(H);
  // Block ub's four gate panels, interleaved: row k holds W_hh[q·H + 16·ub + l, k] for q < 4,
  // l < 16 (0 past H), so a chunk of k is one contiguous run. Each worker packs its own blocks
  // (in its own cache, and in parallel).
  packed_.resize(static_cast<std::size_t>(nb * 4 * H * kLanes));
  const int workers = workers_for(H, B);
  const std::int64_t per_worker = B * 4 * kLanes;  // four blocks' products for every row
  T* scratch = scratch_for(workers * per_worker);
  const Kernels<T> kern = kernels_for<T>(simd_);
  T* const packed = packed_.data();
  pool_.run(workers, [&](int w, int team, SpinBarrier& barrier) {
    const Share mine = share_of(w, team, nb);
    const std::int64_t u0 = mine.first * kLanes, u1 = std::min(H, mine.end * kLanes);
    for (std::int64_t ub = mine.first; ub < mine.end; ++ub) {
      T* block = packed + ub * 4 * H * kLanes;
      for (std::int64_t q = 0; q < 4; ++q) {
        for (std::int64_t l = 0; l < kLanes; ++l) {
          const std::int64_t unit = ub * kLanes + l;
          const T* row = unit < H ? a.weight_hh + (q * H + unit) * H : nullptr;
          for (std::int64_t k = 0; k < H; ++k) {
            block[(k * 4 + q) * kLanes + l] = row ? row[k] : T(0);
          }
        }
      }
    }
    T* out = scratch + w * per_worker;  // [B][4][16]
    for (std::int64_t t = a.first; t < a.end; ++t) {
      T* gates = a.gates_at(t);
      const T* h_prev = a.h_prev_at(t);
      for (std::int64_t ub = mine.first; ub < mine.end; ++ub) {
        // A whole block's last chunk adds its sums into the gates (one add each) in the kernel;
        // a partial block (H not a multiple of 16) goes through `out` so no lane past H is written.
        const std::int64_t lanes = std::min(kLanes, H - ub * kLanes);
        const PanelOut<T> to_out{out, 4 * kLanes, kLanes, false};
        const PanelOut<T> into_gates{gates + ub * kLanes, G, H, true};
        for (std::int64_t k0 = 0; k0 < H; k0 += kForwardChunk) {
          const T* panels[4];
          for (int q = 0; q < 4; ++q) panels[q] = packed + (ub * 4 * H + k0 * 4 + q) * kLanes;
          const bool last = k0 + kForwardChunk >= H;
          kern.four(panels, 4 * kLanes, std::min(kForwardChunk, H - k0), h_prev + k0, H, B,
                    k0 > 0 ? out : nullptr, last && lanes == kLanes ? into_gates : to_out);
        }
        if (lanes == kLanes) continue;
        for (std::int64_t b = 0; b < B; ++b) {
          for (std::int64_t q = 0; q < 4; ++q) {
            T* g = gates + b * G + q * H + ub * kLanes;
            const T* o = out + (b * 4 + q) * kLanes;
            for (std::int64_t l = 0; l < lanes; ++l) g[l] = g[l] + o[l];
          }
        }
      }
      if (u0 < u1) kern.forward_cell(cell, a.step(t), u0, u1);
      barrier.wait();  // h(t) complete for step t+1
    }
  });
}

template <typename T>
void HostRecurrence<T>::backward(CellActivation cell,
                                 const kernels::BackwardRecurrenceArgs<T>& a) {
  if (a.end <= a.first) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const std::int64_t H = a.hidden, B = a.batch, G = 4 * H, nb = blocks_of(H);
  // Block kb's panel: row j holds W_hh[j, 16·kb + l] for l < 16 (0 past H). A worker streams
  // its blocks four at a time where it has four, so it packs each such group interleaved (row j
  // of the four panels side by side) and a lone block alone; each worker packs its own blocks.
  packed_backward_.resize(static_cast<std::size_t>(nb * G * kLanes));
  const int workers = workers_for(H, B);
  const std::int64_t per_worker = B * 4 * kLanes;  // four blocks' products for every row
  T* scratch = scratch_for(workers * per_worker);
  const Kernels<T> kern = kernels_for<T>(simd_);
  T* const packed = packed_backward_.data();
  // The layout depends on the split (groups of four within a worker's share), so the panels of
  // the previous run are reused only when asked, for the same W_hh, H and team.
  const bool packed_before = a.same_weights_as_before && backward_packed_from_ == a.weight_hh &&
                             backward_packed_hidden_ == H;
  const int packed_team_before = backward_packed_team_;
  backward_packed_from_ = nullptr;  // until the run below has packed
  pool_.run(workers, [&](int w, int team, SpinBarrier& barrier) {
    const Share mine = share_of(w, team, nb);
    const std::int64_t u0 = mine.first * kLanes, u1 = std::min(H, mine.end * kLanes);
    if (w == 0) backward_packed_team_ = team;  // read by no one until the run has returned
    const bool reuse = packed_before && team == packed_team_before;
    for (std::int64_t kb = mine.first; kb < mine.end && !reuse;) {
      const int n = group_size(kb, mine.end);
      T* group = packed + kb * G * kLanes;
      for (int p = 0; p < n; ++p) {
        const std::int64_t lanes = std::min(kLanes, H - (kb + p) * kLanes);
        for (std::int64_t j = 0; j < G; ++j) {
          const T* row = a.weight_hh + j * H + (kb + p) * kLanes;
          T* dst = group + (j * n + p) * kLanes;
          for (std::int64_t l = 0; l < kLanes; ++l) dst[l] = l < lanes ? row[l] : T(0);
        }
      }
      kb += n;
    }
    T* out = scratch + w * per_worker;  // [B][n][16], n ≤ 4 blocks at a time
    for (std::int64_t t = a.end - 1; t >= a.first; --t) {
      if (u0 < u1) kern.backward_cell(cell, a.step(t), u0, u1);
      barrier.wait();  // da(t) complete
      const T* da = a.da_at(t);
      // Four blocks per pass where there are four (each da value loaded once for 64 units), else
      // one: the same chain of FMAs per element either way.
      for (std::int64_t kb = mine.first; kb < mine.end;) {
        const int n = group_size(kb, mine.end);
        // Whole blocks' last chunk writes dh_rec directly; a partial block goes through `out`.
        const bool whole = (kb + n) * kLanes <= H;
        const PanelOut<T> to_out{out, n * kLanes, kLanes, false};
        const PanelOut<T> into_dh{a.dh_rec + kb * kLanes, H, kLanes, false};
        for (std::int64_t j0 = 0; j0 < G; j0 += kBackwardChunk) {
          const T* panels[4];
          for (int p = 0; p < n; ++p) panels[p] = packed + (kb * G + j0 * n + p) * kLanes;
          const bool last = j0 + kBackwardChunk >= G;
          (n == 4 ? kern.four : kern.one)(panels, n * kLanes, std::min(kBackwardChunk, G - j0),
                                          da + j0, G, B, j0 > 0 ? out : nullptr,
                                          last && whole ? into_dh : to_out);
        }
        if (!whole) {
          for (int p = 0; p < n; ++p) {
            const std::int64_t lanes = std::min(kLanes, H - (kb + p) * kLanes);
            for (std::int64_t b = 0; b < B; ++b) {
              for (std::int64_t l = 0; l < lanes; ++l) {
                a.dh_rec[b * H + (kb + p) * kLanes + l] = out[(b * n + p) * kLanes + l];
              }
            }
          }
        }
        kb += n;
      }
      // A one-slice ring: step t−1 overwrites da(t), so wait until everyone has read it.
      if (t > a.first && a.da_at(t - 1) == da) barrier.wait();
    }
  });
  backward_packed_from_ = a.weight_hh;
  backward_packed_hidden_ = H;
}

template class HostRecurrence<float>;
template class HostRecurrence<double>;

}  // namespace fuselstm::ops
