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

}  // namespace fuselstm::kernels
