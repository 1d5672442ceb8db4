// The persistent algorithm's host implementation (host_recurrence.hpp).

#include "ops/host/host_recurrence.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <type_traits>

namespace fuselstm::ops {
namespace {

constexpr std::int64_t kLanes = 16;  // hidden units per block = floats per panel row

std::int64_t blocks_of(std::int64_t hidden) { return (hidden + kLanes - 1) / kLanes; }

// K per panel-product call: a chunk of four panels is at most 512 KiB (half of a Zen 4 core's L2),
// so it stays in L2 while every row passes over it, and up to H = 512 (backward: K = 4H = 2048) a
// block's products are one call with no partial sums stored and reloaded. Splitting K does not
// change any element's sum. On a Zen 4 (bench/RESULTS.md, session 9) 128 rows (32 KiB, an L1d)
// ran the recurrence 2-8% slower at H = 512 and 1024 and no faster anywhere.
template <typename T>
constexpr std::int64_t kPanelChunk = (std::int64_t{512} << 10) / (4 * kLanes * sizeof(T));

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

// A cell step restricted to rows [r.first, r.end) of the batch: the same memory, row by row.
template <typename T>
kernels::ForwardStepArgs<T> rows_of(kernels::ForwardStepArgs<T> s, Share r) {
  const std::int64_t H = s.hidden;
  s.batch = r.end - r.first;
  s.gates += r.first * 4 * H;
  s.c_prev += r.first * H;
  s.c += r.first * H;
  s.h += r.first * H;
  s.h_prev += r.first * H;
  if (s.lengths) s.lengths += r.first;
  return s;
}
template <typename T>
kernels::BackwardStepArgs<T> rows_of(kernels::BackwardStepArgs<T> s, Share r) {
  const std::int64_t H = s.hidden;
  s.batch = r.end - r.first;
  s.gates += r.first * 4 * H;
  s.c += r.first * H;
  s.c_prev += r.first * H;
  if (s.dy) s.dy += r.first * s.dy_batch_stride;
  s.dh_rec += r.first * H;
  s.dc += r.first * H;
  s.da += r.first * 4 * H;
  if (s.lengths) s.lengths += r.first;
  if (s.dh_carry) s.dh_carry += r.first * H;
  return s;
}

// What a worker computes at each step: its units of every row, or every unit of its rows.
struct Part {
  Share blocks, rows;
};
Part part_of(RecurrenceSplit split, int w, int team, std::int64_t blocks, std::int64_t batch) {
  if (split == RecurrenceSplit::rows) return {{0, blocks}, share_of(w, team, batch)};
  return {share_of(w, team, blocks), {0, batch}};
}

// FUSELSTM_HOST_SPLIT = units | rows forces a split; anything else: automatic. Read once.
SplitPolicy default_split_policy() {
  static const SplitPolicy policy = [] {
    const char* env = std::getenv("FUSELSTM_HOST_SPLIT");
    const std::string asked = env ? env : "";
    if (asked == "units") return SplitPolicy::units;
    if (asked == "rows") return SplitPolicy::rows;
    return SplitPolicy::automatic;
  }();
  return policy;
}

}  // namespace

template <typename T>
HostRecurrence<T>::HostRecurrence(HostSimd simd, int threads, PoolThreads pool_threads)
    : simd_(simd), pool_(threads, pool_threads), split_policy_(default_split_policy()) {}

// Multiply-adds per step below which another worker costs more at its barrier (~0.5 µs when two
// cores meet) than it saves: at B = 1, H = 64 one thread ran the steps faster than two.
constexpr std::int64_t kMinProductsPerWorker = 32768;

// The row split's bounds (split_for): rows per worker at least (one 4-row tile of the panel
// kernel; with 2 rows each the unit split ran 1.5-1.7x faster, with 3 ~5%), and all of W_hh,
// read by every worker each step, within this many bytes unless this many rows per worker share
// each load of it. On a 2-core Zen 4 (1 MiB L2) the row split ran the recurrence 5-15% faster at
// H = 256 and 512 (W_hh 1 and 4 MiB, streamed from L3 at H = 512), B = 8-256; at H = 1024
// (16 MiB) only with 32 rows per worker (bench/RESULTS.md).
constexpr std::int64_t kMinRowsPerWorker = 4;
constexpr std::int64_t kRowSplitWeightBytes = 8 << 20;
constexpr std::int64_t kRowSplitStreamingRows = 32;

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
RecurrenceSplit HostRecurrence<T>::split_for(std::int64_t hidden, std::int64_t batch,
                                             int team) const {
  if (split_policy_ != SplitPolicy::automatic) {
    return split_policy_ == SplitPolicy::rows ? RecurrenceSplit::rows : RecurrenceSplit::units;
  }
  if (team < 2 || batch < kMinRowsPerWorker * team) return RecurrenceSplit::units;
  // Every worker then reads all of W_hh each step: from its own L2 or the shared L3, which pays
  // up to a size, or for any size when enough rows share each load.
  const std::int64_t weight_bytes = 4 * hidden * hidden * std::int64_t(sizeof(T));
  const bool fits = weight_bytes <= kRowSplitWeightBytes;
  return fits || batch >= kRowSplitStreamingRows * team ? RecurrenceSplit::rows
                                                         : RecurrenceSplit::units;
}

template <typename T>
void HostRecurrence<T>::forward(CellActivation cell, const kernels::ForwardRecurrenceArgs<T>& a) {
  if (a.end <= a.first) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const std::int64_t H = a.hidden, B = a.batch, G = 4 * H, nb = blocks_of(H);
  // Block ub's four gate panels, interleaved: row k holds W_hh[q·H + 16·ub + l, k] for q < 4,
  // l < 16 (0 past H), so a chunk of k is one contiguous run. Each worker packs a share of the
  // blocks (in its own cache, and in parallel).
  packed_.resize(static_cast<std::size_t>(nb * 4 * H * kLanes));
  const int workers = workers_for(H, B);
  const std::int64_t per_worker = B * 4 * kLanes;  // four blocks' products for every row
  T* scratch = scratch_for(workers * per_worker);
  const Kernels<T> kern = kernels_for<T>(simd_);
  T* const packed = packed_.data();
  pool_.run(workers, [&](int w, int team, SpinBarrier& barrier) {
    const Share packs = share_of(w, team, nb);
    for (std::int64_t ub = packs.first; ub < packs.end; ++ub) {
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
    const RecurrenceSplit split = split_for(H, B, team);
    const bool by_rows = split == RecurrenceSplit::rows;
    if (by_rows) barrier.wait();  // every block packed: each worker reads them all
    const Part mine = part_of(split, w, team, nb, B);
    const std::int64_t u0 = mine.blocks.first * kLanes, u1 = std::min(H, mine.blocks.end * kLanes);
    const std::int64_t r0 = mine.rows.first, rows = mine.rows.end - r0;
    T* out = scratch + w * per_worker;  // [rows][4][16]
    for (std::int64_t t = a.first; t < a.end; ++t) {
      T* gates = a.gates_at(t) + r0 * G;
      const T* h_prev = a.h_prev_at(t) + r0 * H;
      for (std::int64_t ub = mine.blocks.first; ub < mine.blocks.end && rows > 0; ++ub) {
        // A whole block's last chunk adds its sums into the gates (one add each) in the kernel;
        // a partial block (H not a multiple of 16) goes through `out` so no lane past H is written.
        const std::int64_t lanes = std::min(kLanes, H - ub * kLanes);
        const PanelOut<T> to_out{out, 4 * kLanes, kLanes, false};
        const PanelOut<T> into_gates{gates + ub * kLanes, G, H, true};
        for (std::int64_t k0 = 0; k0 < H; k0 += kPanelChunk<T>) {
          const T* panels[4];
          for (int q = 0; q < 4; ++q) panels[q] = packed + (ub * 4 * H + k0 * 4 + q) * kLanes;
          const bool last = k0 + kPanelChunk<T> >= H;
          kern.four(panels, 4 * kLanes, std::min(kPanelChunk<T>, H - k0), h_prev + k0, H, rows,
                    k0 > 0 ? out : nullptr, last && lanes == kLanes ? into_gates : to_out);
        }
        if (lanes == kLanes) continue;
        for (std::int64_t b = 0; b < rows; ++b) {
          for (std::int64_t q = 0; q < 4; ++q) {
            T* g = gates + b * G + q * H + ub * kLanes;
            const T* o = out + (b * 4 + q) * kLanes;
            for (std::int64_t l = 0; l < lanes; ++l) g[l] = g[l] + o[l];
          }
        }
      }
      if (u0 < u1 && rows > 0) kern.forward_cell(cell, rows_of(a.step(t), mine.rows), u0, u1);
      // By units, h(t) is complete for step t+1 once all have arrived; by rows, a worker's rows
      // depend on its own rows alone.
      if (!by_rows) barrier.wait();
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
  // its blocks four at a time where it has four, so each such group is packed interleaved (row j
  // of the four panels side by side) and a lone block alone. The groups begin at the first block
  // a worker streams: its share's first by units, block 0 by rows (every worker streams all, as
  // one worker alone would). The layout is thus the one of `layout_team` workers by units.
  packed_backward_.resize(static_cast<std::size_t>(nb * G * kLanes));
  const int workers = workers_for(H, B);
  const std::int64_t per_worker = B * 4 * kLanes;  // four blocks' products for every row
  T* scratch = scratch_for(workers * per_worker);
  const Kernels<T> kern = kernels_for<T>(simd_);
  T* const packed = packed_backward_.data();
  // The panels of the previous run are reused only when asked, for the same W_hh, H and layout.
  const bool packed_before = a.same_weights_as_before && backward_packed_from_ == a.weight_hh &&
                             backward_packed_hidden_ == H;
  const int layout_before = backward_packed_layout_;
  backward_packed_from_ = nullptr;  // until the run below has packed
  pool_.run(workers, [&](int w, int team, SpinBarrier& barrier) {
    const RecurrenceSplit split = split_for(H, B, team);
    const bool by_rows = split == RecurrenceSplit::rows;
    const int layout_team = by_rows ? 1 : team;
    if (w == 0) backward_packed_layout_ = layout_team;  // read by no one until the run returns
    const Part mine = part_of(split, w, team, nb, B);
    const bool reuse = packed_before && layout_team == layout_before;
    // By units a worker packs the groups it streams; by rows every other group in turn.
    for (std::int64_t kb = mine.blocks.first, g = 0; kb < mine.blocks.end && !reuse; ++g) {
      const int n = group_size(kb, mine.blocks.end);
      if (!by_rows || g % team == w) {
        T* group = packed + kb * G * kLanes;
        for (int p = 0; p < n; ++p) {
          const std::int64_t lanes = std::min(kLanes, H - (kb + p) * kLanes);
          for (std::int64_t j = 0; j < G; ++j) {
            const T* row = a.weight_hh + j * H + (kb + p) * kLanes;
            T* dst = group + (j * n + p) * kLanes;
            for (std::int64_t l = 0; l < kLanes; ++l) dst[l] = l < lanes ? row[l] : T(0);
          }
        }
      }
      kb += n;
    }
    if (by_rows) barrier.wait();  // every group packed: each worker reads them all
    const std::int64_t u0 = mine.blocks.first * kLanes, u1 = std::min(H, mine.blocks.end * kLanes);
    const std::int64_t r0 = mine.rows.first, rows = mine.rows.end - r0;
    T* out = scratch + w * per_worker;  // [rows][n][16], n ≤ 4 blocks at a time
    T* const dh_rec = a.dh_rec + r0 * H;
    for (std::int64_t t = a.end - 1; t >= a.first; --t) {
      if (u0 < u1 && rows > 0) kern.backward_cell(cell, rows_of(a.step(t), mine.rows), u0, u1);
      if (!by_rows) barrier.wait();  // da(t) complete (by rows: its own rows are)
      const T* da = a.da_at(t) + r0 * G;
      // Four blocks per pass where there are four (each da value loaded once for 64 units), else
      // one: the same chain of FMAs per element either way.
      for (std::int64_t kb = mine.blocks.first; kb < mine.blocks.end && rows > 0;) {
        const int n = group_size(kb, mine.blocks.end);
        // Whole blocks' last chunk writes dh_rec directly; a partial block goes through `out`.
        const bool whole = (kb + n) * kLanes <= H;
        const PanelOut<T> to_out{out, n * kLanes, kLanes, false};
        const PanelOut<T> into_dh{dh_rec + kb * kLanes, H, kLanes, false};
        for (std::int64_t j0 = 0; j0 < G; j0 += kPanelChunk<T>) {
          const T* panels[4];
          for (int p = 0; p < n; ++p) panels[p] = packed + (kb * G + j0 * n + p) * kLanes;
          const bool last = j0 + kPanelChunk<T> >= G;
          (n == 4 ? kern.four : kern.one)(panels, n * kLanes, std::min(kPanelChunk<T>, G - j0),
                                          da + j0, G, rows, j0 > 0 ? out : nullptr,
                                          last && whole ? into_dh : to_out);
        }
        if (!whole) {
          for (int p = 0; p < n; ++p) {
            const std::int64_t lanes = std::min(kLanes, H - (kb + p) * kLanes);
            for (std::int64_t b = 0; b < rows; ++b) {
              for (std::int64_t l = 0; l < lanes; ++l) {
                dh_rec[b * H + (kb + p) * kLanes + l] = out[(b * n + p) * kLanes + l];
              }
            }
          }
        }
        kb += n;
      }
      // A one-slice ring: step t−1 overwrites da(t), so by units wait until everyone has read it
      // (by rows a worker reads and writes its own rows only).
      if (!by_rows && t > a.first && a.da_at(t - 1) == a.da_at(t)) barrier.wait();
    }
  });
  backward_packed_from_ = a.weight_hh;
  backward_packed_hidden_ = H;
}

template class HostRecurrence<float>;
template class HostRecurrence<double>;

}  // namespace fuselstm::ops
