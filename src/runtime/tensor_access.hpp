#pragma once
// Internal: writing part of a tensor from host values, in bounded chunks (Tensor::assign writes
// the whole; init_uniform draws and writes chunk by chunk without a numel-sized vector).

#include <cstdint>

#include "fuselstm/tensor.hpp"

namespace fuselstm::detail {

/// Elements [first, first + count) of `dst` (row-major, any device) = values[0..count), converted
/// to dst's dtype through a host buffer of at most 1 MiB. ShapeError when the range is outside
/// dst; OutOfMemoryError when the host buffer cannot be allocated.
template <typename U>
void assign_range(Tensor& dst, std::int64_t first, const U* values, std::int64_t count);

}  // namespace fuselstm::detail
