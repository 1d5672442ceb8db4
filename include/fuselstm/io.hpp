#pragma once
// Weight files: safetensors (https://github.com/huggingface/safetensors) with PyTorch nn.LSTM's
// tensor names, so a PyTorch state_dict loads as it is and a file we write loads into nn.LSTM.
//
// The safetensors layout, enforced on every read (each violation is a FormatError naming the file
// and the rule):
//   8 bytes: N, the header length, unsigned 64-bit little-endian; N <= 100,000,000
//   N bytes: a JSON object starting with '{' (trailing spaces allowed): for each tensor name
//            {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, plus an
//            optional "__metadata__": {string: string}; no duplicate names, no other keys
//   the rest: the data buffer; each tensor's bytes are buffer[begin, end), row-major,
//            little-endian; end - begin = numel × dtype size; the tensors, sorted by begin, tile
//            the buffer exactly (contiguous, in range, no overlap, no hole, nothing after the last).
// Dtypes read: F32, F64 (kept), BF16, F16 (converted to f32, exactly). Dtypes written: F32, F64.
// Files are read from and written to the host; a reader never allocates more than a small multiple
// of the file's size, whatever the header claims.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "fuselstm/config.hpp"
#include "fuselstm/lstm.hpp"
#include "fuselstm/tensor.hpp"

namespace fuselstm {

/// Named tensors, sorted by name.
using TensorMap = std::map<std::string, Tensor>;
/// A safetensors file's "__metadata__": string keys to string values.
using Metadata = std::map<std::string, std::string>;

/// The content of one safetensors file. Tensors are on the host.
struct TensorFile {
  TensorMap tensors;
  Metadata metadata;
};

/// Reads a safetensors file. F32/F64 tensors keep their dtype; BF16/F16 become f32.
/// Throws FormatError naming `path` and the problem (missing, unreadable, or any layout rule above).
TensorFile read_safetensors(const std::string& path);

/// Parses a safetensors file already in memory: bytes [size]. `source` names it in error messages.
TensorFile parse_safetensors(const void* bytes, std::size_t size,
                             const std::string& source = "<memory>");

/// Writes `tensors` (any device, defined, f32 or f64; a non-empty name not starting with "__")
/// and `metadata` as a safetensors file. Atomic: the bytes go to a temporary file in the same
/// folder, which is flushed, fsync'ed and renamed over `path`, so a crash leaves either the old
/// file or the new one. ValueError for a bad name or undefined tensor (nothing written);
/// FormatError naming the path when the file system fails.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const Metadata& metadata = {});
/// The same with borrowed tensors (e.g. a model's parameters), without copying them first.
void write_safetensors(const std::string& path,
                       const std::map<std::string, const Tensor*>& tensors,
                       const Metadata& metadata = {});

}  // namespace fuselstm
