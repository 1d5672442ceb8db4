#pragma once
// Launch geometry shared by the elementwise kernels: grid-stride loops over n elements.

#include <algorithm>
#include <cstdint>

namespace fuselstm::kernels {

constexpr int kThreads = 256;

// Enough blocks to cover n once, capped: the grid-stride loop covers the rest.
inline unsigned blocks_for(std::int64_t n) {
  const std::int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<std::int64_t>(1, std::min<std::int64_t>(blocks, 65535)));
}

}  // namespace fuselstm::kernels

// for (e in this thread's share of [0, n))
#define FUSELSTM_GRID_STRIDE_LOOP(e, n)                                                   \
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < (n); \
       e += std::int64_t(gridDim.x) * blockDim.x)
