#pragma once
// Per-element layout helpers of whole sequences (padding masks, time/batch transposes), shared by
// the CUDA kernels and the host ops like cell_math.hpp.

#include <cstdint>

#include "cell_math.hpp"

namespace fuselstm::kernels {

/// Element e of data [T, B, W] (or [B, T, W] when batch_first): zeroed when its step t is past
/// its sequence's length.
template <typename T>
FUSELSTM_HD void zero_padded_element(std::int64_t e, std::int64_t steps, std::int64_t batch,
                                     std::int64_t width, const std::int32_t* lengths,
                                     bool batch_first, T* data) {
  const std::int64_t row = e / width;
  const std::int64_t t = batch_first ? row % steps : row / batch;
  const std::int64_t b = batch_first ? row / steps : row % batch;
  if (t >= lengths[b]) data[e] = T(0);
}

/// Element e of dst [outer, inner, W] = src [inner, outer, W] with the first two axes swapped
/// (time-major ↔ batch-first).
template <typename T>
FUSELSTM_HD void swap_axes_element(std::int64_t e, std::int64_t outer, std::int64_t inner,
                                   std::int64_t width, const T* src, T* dst) {
  const std::int64_t row = e / width, col = e - row * width;
  const std::int64_t o = row / inner, i = row - o * inner;
  dst[e] = src[(i * outer + o) * width + col];
}

/// The step that step t of sequence b maps to when its first len_b steps are reversed (padding
/// stays in place).
FUSELSTM_HD std::int64_t reversed_step(std::int64_t t, std::int64_t b, std::int64_t steps,
                                       const std::int32_t* lengths) {
  const std::int64_t n = lengths ? lengths[b] : steps;
  return t < n ? n - 1 - t : t;
}

/// Element e of dst [T, B, W] (+)= the element of src at the reversed step; src's row (t, b)
/// starts at src + t·src_step + b·src_batch (so a strided or batch-first source needs no copy).
template <typename T>
FUSELSTM_HD void reverse_time_element(std::int64_t e, std::int64_t steps, std::int64_t batch,
                                      std::int64_t width, const std::int32_t* lengths,
                                      const T* src, std::int64_t src_step, std::int64_t src_batch,
                                      T* dst, bool accumulate) {
  const std::int64_t row = e / width, col = e - row * width;
  const std::int64_t t = row / batch, b = row - t * batch;
  const T v = src[reversed_step(t, b, steps, lengths) * src_step + b * src_batch + col];
  dst[e] = accumulate ? dst[e] + v : v;
}

/// Element e of out [T, B, 2H] ([B, T, 2H] when batch_first) = [forward h, reverse h] of step t:
/// fwd [T, B, H] in natural time, rev [T, B, H] in each sequence's reversed time.
template <typename T>
FUSELSTM_HD void join_directions_element(std::int64_t e, std::int64_t steps, std::int64_t batch,
                                         std::int64_t hidden, const std::int32_t* lengths,
                                         const T* fwd, const T* rev, T* out, bool batch_first) {
  const std::int64_t row = e / (2 * hidden), col = e - row * 2 * hidden;
  const std::int64_t t = batch_first ? row % steps : row / batch;
  const std::int64_t b = batch_first ? row / steps : row % batch;
  out[e] = col < hidden
               ? fwd[(t * batch + b) * hidden + col]
               : rev[(reversed_step(t, b, steps, lengths) * batch + b) * hidden + col - hidden];
}

}  // namespace fuselstm::kernels
