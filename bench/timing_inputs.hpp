#pragma once
// The timing inputs, the same for fuselstm and its peers: one seeded random pattern (never zeros),
// tiled into each input starting at its own offset, states scaled like the validation's.

#include <algorithm>
#include <cstddef>
#include <vector>

namespace fuselstm::bench::timing_inputs {

struct Fill {
  std::size_t offset;  // where in the pattern the tiling starts
  float scale;         // multiplies the pattern's [-1, 1) values
};
constexpr Fill x{0, 1.0f};  // fuselstm's rotated copies start at k·7919 (k = 0 is this one)
constexpr std::size_t x_rotation_stride = 7919;
constexpr Fill h0{11, 0.5f}, c0{13, 0.5f};
constexpr Fill dy{17, 1.0f}, dhT{19, 1.0f}, dcT{23, 1.0f};

/// Calls write(dst_index, values, count) over n elements: `pattern` rotated by fill.offset and
/// scaled, repeated. The chunk is as long as the pattern.
template <typename Write>
void tile(const float* pattern, std::size_t pattern_size, std::size_t n, Fill fill, Write&& write) {
  static thread_local std::vector<float> chunk;
  chunk.resize(pattern_size);
  for (std::size_t k = 0; k < pattern_size; ++k) {
    chunk[k] = fill.scale * pattern[(k + fill.offset) % pattern_size];
  }
  for (std::size_t done = 0; done < n; done += pattern_size) {
    write(done, chunk.data(), std::min(pattern_size, n - done));
  }
}

}  // namespace fuselstm::bench::timing_inputs
