#pragma once
// Inter-layer dropout's mask: a counter-based generator (Philox4x32-10) so that the host and every
// CUDA thread draw the same bits for the same (seed, element) without any shared state.

#include <cstdint>

#include "cell_math.hpp"  // FUSELSTM_HD

namespace fuselstm::kernels {

struct Philox4x32 {
  std::uint32_t v[4];
};

/// Philox4x32-10 (Salmon et al., SC'11) of `counter` under the key (key0, key1), with Random123's
/// constants and key schedule (the key is bumped before rounds 2..10). Known answers are in
/// Random123's tests/kat_vectors (checked by tests/dropout_test.cpp).
FUSELSTM_HD Philox4x32 philox4x32_10(Philox4x32 counter, std::uint32_t key0, std::uint32_t key1) {
  constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) key0 += kWeyl0, key1 += kWeyl1;
    const std::uint64_t p0 = std::uint64_t(kMul0) * counter.v[0];
    const std::uint64_t p1 = std::uint64_t(kMul1) * counter.v[2];
    const std::uint32_t hi0 = std::uint32_t(p0 >> 32), lo0 = std::uint32_t(p0);
    const std::uint32_t hi1 = std::uint32_t(p1 >> 32), lo1 = std::uint32_t(p1);
    counter = {{hi1 ^ counter.v[1] ^ key0, lo1, hi0 ^ counter.v[3] ^ key1, lo0}};
  }
  return counter;
}

/// Which elements one dropout call keeps. Element e of the call uses stream position
/// n = offset + e: Philox block n / 4 (as the counter {low 32 bits, high 32 bits, 0, 0}) under
/// the key {low, high 32 bits of seed}, word n mod 4. It is kept when that word < keep_bound.
struct DropoutKey {
  std::uint64_t seed = 0;
  std::uint64_t offset = 0;
  std::uint64_t keep_bound = 0;  // round((1 − p)·2³²): P(keep) = keep_bound / 2³²
  double scale = 1;              // 1 / (1 − p): inverted dropout keeps the expectation
};

/// round((1 − p)·2³²) for 0 ≤ p < 1.
inline std::uint64_t dropout_keep_bound(double p) {
  return static_cast<std::uint64_t>((1.0 - p) * 4294967296.0 + 0.5);
}

/// The 32-bit draw at stream position n.
FUSELSTM_HD std::uint32_t dropout_draw(std::uint64_t seed, std::uint64_t n) {
  const std::uint64_t block = n >> 2;
  const Philox4x32 counter = {{std::uint32_t(block), std::uint32_t(block >> 32), 0u, 0u}};
  return philox4x32_10(counter, std::uint32_t(seed), std::uint32_t(seed >> 32)).v[n & 3];
}

/// dst[e] = src[e]·scale when element e is kept, else 0 (a dropped NaN becomes 0, as no value of
/// it reaches the next layer). src may equal dst.
template <typename T>
FUSELSTM_HD void dropout_element(std::int64_t e, const DropoutKey& key, const T* src, T* dst) {
  const bool keep = dropout_draw(key.seed, key.offset + std::uint64_t(e)) < key.keep_bound;
  dst[e] = keep ? src[e] * T(key.scale) : T(0);
}

}  // namespace fuselstm::kernels
