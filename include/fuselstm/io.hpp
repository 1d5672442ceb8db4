#pragma once
// Weight files: safetensors (https://github.com/huggingface/safetensors) with PyTorch nn.LSTM's
// tensor names, so a PyTorch state_dict loads as it is and a file we write loads into nn.LSTM.
//
// The safetensors layout, enforced on every read (each violation is a FormatError naming the file
// and the rule):
//   8 bytes: N, the header length, unsigned 64-bit little-endian; N <= 100,000,000
//   N bytes: a JSON object starting with '{', then nothing but spaces (no NUL byte anywhere, no
//            tabs, newlines or other bytes after the object): for each tensor name
//            {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, plus an
//            optional "__metadata__": {string: string}; no duplicate names, no other keys;
//            a shape has at most 64 dimensions
//   the rest: the data buffer; each tensor's bytes are buffer[begin, end), row-major,
//            little-endian; end - begin = numel × dtype size; the tensors, sorted by begin, tile
//            the buffer exactly (contiguous, in range, no overlap, no hole, nothing after the last).
// Dtypes read: F32, F64 (kept), BF16, F16 (converted to f32, exactly); integer and boolean ones are
// listed in TensorFile::skipped (not read); F8 and unknown dtypes are refused. Dtypes written:
// F32, F64.
// Files are read from and written to the host; a reader never allocates more than a small multiple
// of the file's size, whatever the header claims. The header is read in one pass by a strict
// JSON reader made for the format (no DOM, nothing allocated per entry): time linear in N (a
// million tiny entries, a 70 MB header: 0.21 s with every check on a 2-core Xeon, see
// bench/RESULTS.md), memory under 1x N besides the header itself (each entry keeps a view of its
// name, its shape and offsets). Then one host tensor per entry: a million 4-byte tensors take
// 1.35 s and 7x N in all, most of it allocating the tensors.
// A torch.save file (zip archive or pickle) is named as such, with the way to write safetensors.

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

/// A tensor of the file that is listed, not read: an integer or boolean one (BOOL, U8, I8, I16,
/// U16, I32, U32, I64, U64), e.g. BatchNorm's num_batches_tracked in a PyTorch state_dict.
struct SkippedTensor {
  std::string dtype;  ///< as the file names it, e.g. "I64"
  Shape shape;
};

/// The content of one safetensors file. Tensors are on the host.
struct TensorFile {
  TensorMap tensors;
  Metadata metadata;
  /// The integer and boolean tensors, by name: checked like the others (layout, offsets), not
  /// read. A model loader refuses one only when it has an LSTM parameter's name.
  std::map<std::string, SkippedTensor> skipped;
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
/// file or the new one. A symbolic link is written through: the file it names (after every link
/// in a chain) is replaced and the link stays. The new file keeps the old one's permission bits
/// (a new file: 0666 less the umask; owner and group are the writer's). The temporary is named
/// ".fuselstm-<hash of the name>.tmp.<pid>.<n>", so any file name the file system accepts works;
/// it is removed on every error, and a later save to the same name removes those that killed
/// saves left behind (their process no longer exists). ValueError for a bad name or undefined tensor (nothing written);
/// FormatError naming the path when the file system fails.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const Metadata& metadata = {});
/// The same with borrowed tensors (e.g. a model's parameters), without copying them first.
void write_safetensors(const std::string& path,
                       const std::map<std::string, const Tensor*>& tensors,
                       const Metadata& metadata = {});

// --- models ---------------------------------------------------------------------------------

/// The format of the files save_model writes, recorded in "__metadata__" with the configuration:
///   fuselstm.format = "lstm-model" (or "lstm-checkpoint", checkpoint.hpp), fuselstm.format_version,
///   fuselstm.input_size, fuselstm.hidden_size, fuselstm.num_layers, fuselstm.bias ("true"/"false"),
///   fuselstm.cell ("tanh"/"identity"), and from format_version 2 on: fuselstm.bidirectional,
///   fuselstm.batch_first ("true"/"false"), fuselstm.dropout (shortest decimal text that reads back
///   to the same double), fuselstm.dropout_seed (decimal). Version 1 files lack the last four and
///   load with their defaults (unidirectional, time-major, no dropout).
/// The memory settings, device, dtype, math mode and stream are how a model runs, not what it is:
/// they are not recorded (LoadOptions chooses them).
/// Keys starting with "fuselstm." are reserved; other keys are the caller's.
inline constexpr const char* kModelFormat = "lstm-model";
inline constexpr int kModelFormatVersion = 2;

/// Saves the model's parameters under PyTorch's names (weight_ih_l{k}, weight_hh_l{k},
/// bias_ih_l{k}, bias_hh_l{k} and, when bidirectional, the same with the suffix _reverse; no
/// prefix: `nn.LSTM.load_state_dict` takes the file's tensors as they are), in the model's dtype,
/// with the configuration and `metadata` (keys not starting with "fuselstm.") in "__metadata__".
/// `extra` tensors (e.g. a head's, under its own prefix such as "head.weight") are stored beside
/// them; their names must not clash with the model's.
/// Atomic (see write_safetensors). ValueError for a reserved metadata key or a clashing name.
void save_model(const Lstm& model, const std::string& path, const Metadata& metadata = {},
                const TensorMap& extra = {});

struct LoadOptions {
  Device device = Device::cpu();  ///< where the model lives
  /// The model's dtype; default: f64 when the file's weight_ih_l0 is F64, else f32. BF16/F16
  /// values are exact in either; F64 read into f32 is rounded to nearest.
  std::optional<DType> dtype;
  MathMode math = MathMode::fp32;  ///< as LstmConfig::math
  std::optional<ExecutionContext> context;  ///< as LstmConfig::context
  MemoryMode memory_mode = MemoryMode::store_all;  ///< as LstmConfig::memory_mode
  std::int64_t segment_steps = 0;                  ///< as LstmConfig::segment_steps
  std::int64_t memory_limit_bytes = 0;             ///< as LstmConfig::memory_limit_bytes
  /// Override the file's recorded batch_first, dropout and dropout_seed (as LstmConfig's); by
  /// default they are the file's, or false / 0 / 0 for a file without fuselstm metadata (e.g. a
  /// PyTorch state_dict: set batch_first here for a module built with batch_first=True).
  std::optional<bool> batch_first;
  std::optional<double> dropout;
  std::optional<std::uint64_t> dropout_seed;
  /// The module prefix of the LSTM's tensors, e.g. "lstm." for `lstm.weight_ih_l0`. Default: ""
  /// for files fuselstm wrote (fuselstm.format in the metadata); otherwise found from the names
  /// (the one prefix before weight_ih_l0 ...; "" when unprefixed), FormatError when several
  /// prefixes hold LSTM tensors.
  std::optional<std::string> prefix;
  /// Accept NaN and infinite weights. By default a file with one is refused (FormatError naming
  /// the tensor and the first bad flat index): such a model only ever computes NaN.
  bool allow_non_finite = false;
};

/// A model read from a file, with what else the file holds.
struct LoadedModel {
  Lstm model;
  TensorMap extra;    ///< every tensor that is not one of the model's parameters (host, file dtype)
  Metadata metadata;  ///< the file's whole "__metadata__"
  std::map<std::string, SkippedTensor> skipped;  ///< the file's integer/boolean tensors, listed
};

/// Loads a model written by save_model, or a PyTorch nn.LSTM state_dict saved with safetensors
/// (e.g. `safetensors.torch.save_file(lstm.state_dict(), path)`). The configuration comes from
/// the fuselstm.* metadata when present (and must agree with every tensor's shape); otherwise it
/// is inferred from the shapes: X from weight_ih_l0 [4H, X], H from weight_hh_l0 [4H, H], L from
/// the layers present (0..L-1, none missing), bidirectional when any tensor has the suffix
/// _reverse (then layer k > 0's weight_ih must be [4H, 2H], and every layer needs both
/// directions), bias from bias_ih/bias_hh (all layers or none), and cell = tanh (PyTorch's).
/// Projected LSTMs (weight_hr_l{k}, PyTorch's proj_size) are rejected. FormatError naming the
/// file and the problem; a newer format_version says to upgrade. Invalid LoadOptions (e.g. dropout
/// outside [0, 1)) are a ValueError from the model's configuration check.
LoadedModel load_model(const std::string& path, const LoadOptions& options = {});
/// The same from a file already read (read_safetensors / parse_safetensors); `source` names it in
/// errors. The tensors are moved out of `file`.
LoadedModel load_model(TensorFile&& file, const LoadOptions& options = {},
                       const std::string& source = "<memory>");

/// Loads the parameters of a file into an existing model: the file must hold exactly the model's
/// parameters (same names after the prefix, found as LoadOptions::prefix says; same shapes;
/// converted to the model's dtype) and, when it has fuselstm.* metadata, the same shape-defining
/// configuration (input_size, hidden_size, num_layers, bias, cell, bidirectional; batch_first and
/// dropout are how the model runs and stay the model's own) and finite values unless
/// `allow_non_finite` (as LoadOptions::allow_non_finite). Nothing changes when a check fails.
/// Returns the tensors that are not the model's parameters and the metadata.
TensorFile load_weights(Lstm& model, const std::string& path,
                        const std::optional<std::string>& prefix = std::nullopt,
                        bool allow_non_finite = false);
TensorFile load_weights(Lstm& model, TensorFile&& file,
                        const std::optional<std::string>& prefix = std::nullopt,
                        const std::string& source = "<memory>", bool allow_non_finite = false);

}  // namespace fuselstm
