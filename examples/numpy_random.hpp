#pragma once
// numpy's legacy generator, for reproducing numpy experiments (the seed's run) exactly.

#include <cstdint>
#include <random>

namespace fuselstm {

/// numpy.random.RandomState(seed).random_sample(), bit for bit.
/// numpy seeds MT19937 from an integer exactly as std::mt19937(seed) does (init_genrand), and makes
/// each double from two 32-bit outputs a, b as ((a >> 5)·2²⁶ + (b >> 6)) / 2⁵³ (53 random bits).
/// seed 0 gives 0.5488135039273248, 0.7151893663724195, 0.6027633760716439, ...
class NumpyRandomState {
public:
  explicit NumpyRandomState(std::uint32_t seed) : engine_(seed) {}
  /// The next double in [0, 1).
  double random_sample() {
    const std::uint32_t a = static_cast<std::uint32_t>(engine_()) >> 5;
    const std::uint32_t b = static_cast<std::uint32_t>(engine_()) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

private:
  std::mt19937 engine_;
};

}  // namespace fuselstm
