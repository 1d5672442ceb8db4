#pragma once
// The safetensors header parser on its own, for the benchmark and the tests: it applies every rule
// read_safetensors applies to the header (JSON, names, dtypes, shapes, offsets tiling the data
// buffer) and allocates no tensor. Internal.

#include <cstddef>
#include <cstdint>
#include <string>

namespace fuselstm::detail {

/// Parses and checks the header `text` (the bytes after the 8-byte length, padding included) for a
/// data buffer of `buffer_size` bytes; returns the number of tensors it lists. Throws FormatError
/// naming `source` and the problem.
std::size_t check_safetensors_header(const std::string& text, std::uint64_t buffer_size,
                                     const std::string& source);

}  // namespace fuselstm::detail
