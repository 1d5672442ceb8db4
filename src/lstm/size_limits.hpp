#pragma once
// Overflow-checked size arithmetic for validation: every size product the library forms is checked
// here first, so none wraps into a small or negative size (undefined behaviour, then a wrong
// allocation).

#include <cstdint>
#include <optional>

namespace fuselstm::detail {

/// a·b, or nothing when it does not fit int64 (or an argument is nothing).
inline std::optional<std::int64_t> checked_mul(std::optional<std::int64_t> a,
                                               std::optional<std::int64_t> b) {
  std::int64_t out = 0;
  if (!a || !b || __builtin_mul_overflow(*a, *b, &out)) return std::nullopt;
  return out;
}

/// a + b, or nothing when it does not fit int64 (or an argument is nothing).
inline std::optional<std::int64_t> checked_add(std::optional<std::int64_t> a,
                                               std::optional<std::int64_t> b) {
  std::int64_t out = 0;
  if (!a || !b || __builtin_add_overflow(*a, *b, &out)) return std::nullopt;
  return out;
}

}  // namespace fuselstm::detail
