#pragma once
// How an Lstm sits in a file of named tensors: PyTorch's parameter names (with an optional module
// prefix) and the fuselstm.* configuration keys of "__metadata__". Shared by model files and
// checkpoints. Internal.

#include <map>
#include <optional>
#include <string>

#include "fuselstm/io.hpp"

namespace fuselstm::detail {

inline constexpr const char* kReservedPrefix = "fuselstm.";
inline constexpr const char* kFormatKey = "fuselstm.format";
inline constexpr const char* kFormatVersionKey = "fuselstm.format_version";

/// The shortest decimal text that reads back to the same double, independent of the locale.
std::string exact_text(double value);

/// ValueError when a caller's metadata key starts with "fuselstm." (`where` names the call).
void check_caller_metadata(const Metadata& metadata, const char* where);

/// Adds fuselstm.format / format_version and the configuration (sizes, bias, cell,
/// bidirectional, batch_first, dropout, dropout_seed) to `metadata`.
void add_config_metadata(Metadata& metadata, const LstmConfig& config, const char* format,
                         int version);

/// The fuselstm.format_version of a file with a known fuselstm.format (FormatError naming
/// `source` for an unknown format, a malformed version, or a newer one than this build reads).
std::int64_t format_version(const Metadata& metadata, const std::string& source);

/// The configuration recorded in `metadata` (the fields add_config_metadata writes; version 1
/// files leave the last four at their defaults), or nullopt when
/// the file has no fuselstm.format (a plain state_dict). FormatError naming `source` for an unknown
/// format, a newer version (with the fix: upgrade), or a missing or malformed key.
std::optional<LstmConfig> config_from_metadata(const Metadata& metadata, const std::string& source);

/// A file's tensors split into the LSTM's parameters (keyed by their unprefixed PyTorch names) and
/// everything else.
struct LstmTensors {
  std::string prefix;
  std::map<std::string, Tensor> params;
  TensorMap extra;
};

/// Splits `tensors` (moved from). `prefix`: the LSTM's module prefix, or nullopt to find it (the
/// only prefix that holds LSTM parameter names). FormatError for no LSTM tensors, several
/// candidate prefixes, or a projected (weight_hr) LSTM.
LstmTensors split_lstm_tensors(TensorMap&& tensors, const std::optional<std::string>& prefix,
                               const std::string& source);

/// FormatError when an integer or boolean tensor of the file has the name of an LSTM parameter
/// under `prefix` (the model cannot be loaded without it).
void check_skipped(const std::map<std::string, SkippedTensor>& skipped, const std::string& prefix,
                   const std::string& source);

/// The configuration implied by the shapes (bidirectional when any _reverse tensor is present;
/// cell = tanh, dtype f64 when weight_ih_l0 is f64).
LstmConfig infer_config(const LstmTensors& lstm, const std::string& source);

/// FormatError unless `lstm.params` holds exactly the parameters of `config`, with their shapes.
void check_lstm_tensors(const LstmTensors& lstm, const LstmConfig& config,
                        const std::string& source);

/// FormatError naming `source`, the first tensor (in the model's order) with a NaN or infinite
/// value and that value's flat index (row-major).
void check_finite(const LstmTensors& lstm, const LstmConfig& config, const std::string& source);

/// The first non-finite element of a host tensor, or -1.
std::int64_t first_non_finite(const Tensor& tensor);

/// Every check of load_weights on `file` (its tensors moved out), changing nothing: the model's
/// tensors, split from the rest (in `extra`).
LstmTensors checked_weights(const Lstm& model, TensorFile& file,
                            const std::optional<std::string>& prefix, const std::string& source,
                            bool allow_non_finite);

/// Copies every parameter into the model, converted to its dtype and device (after
/// check_lstm_tensors passed).
void assign_parameters(Lstm& model, const LstmTensors& lstm);

}  // namespace fuselstm::detail
