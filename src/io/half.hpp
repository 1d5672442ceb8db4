#pragma once
// IEEE binary16 (F16) and bfloat16 (BF16) to float: exact, since every value of either is a float.
// Internal to the weight-file reader.

#include <cstdint>
#include <cstring>

namespace fuselstm::detail {

/// bfloat16 is the upper half of a float's bits (same sign, exponent and top 7 mantissa bits).
inline float bf16_to_float(std::uint16_t bits) {
  const std::uint32_t wide = static_cast<std::uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof value);
  return value;
}

/// binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits; subnormals, infinities and NaN
/// payloads map to their float equivalents.
inline float f16_to_float(std::uint16_t bits) {
  const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
  std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  std::uint32_t mantissa = bits & 0x3FFu;
  std::uint32_t wide;
  if (exponent == 0x1Fu) {  // inf / NaN
    wide = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal: rebias 15 -> 127
    wide = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // signed zero
    wide = sign;
  } else {  // subnormal: shift the leading 1 into the implicit position
    exponent = 113u;  // 127 - 15 + 1
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    wide = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float value;
  std::memcpy(&value, &wide, sizeof value);
  return value;
}

}  // namespace fuselstm::detail
