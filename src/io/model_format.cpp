#include "io/model_format.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <vector>

#include "fuselstm/checkpoint.hpp"
#include "fuselstm/error.hpp"
#include "fuselstm/parameter_names.hpp"

namespace fuselstm::detail {
namespace {

// Sizes in a file are capped so that 4·H and every shape product stay far from overflow.
constexpr std::int64_t kMaxSize = 2147483647;

[[noreturn]] void fail(const std::string& source, const std::string& problem) {
  throw FormatError("fuselstm: " + source + ": " + problem);
}

std::string key(const char* field) { return std::string(kReservedPrefix) + field; }

const std::string& required(const Metadata& metadata, const std::string& name,
                            const std::string& source) {
  const auto it = metadata.find(name);
  if (it == metadata.end()) fail(source, "__metadata__ lacks " + name);
  return it->second;
}

// A decimal integer in [low, high], the whole text and nothing else.
std::int64_t parse_integer(const std::string& text, const std::string& name, std::int64_t low,
                           std::int64_t high, const std::string& source) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < low || value > high) {
    fail(source, name + " must be an integer in [" + std::to_string(low) + ", " +
                     std::to_string(high) + "], got '" + text + "'");
  }
  return value;
}

struct ParsedName {
  std::string prefix;  // "" or ending in '.'
  std::optional<ParameterId> id;  // nothing for a projection weight (weight_hr_l{k}[_reverse])
};

// "lstm.weight_ih_l3" -> {"lstm.", weight_ih layer 3}; nullopt for names that are not nn.LSTM's.
// The module prefix is everything up to the last '.': nn.LSTM's own names hold none.
std::optional<ParsedName> parse_name(const std::string& name) {
  const std::size_t dot = name.rfind('.');
  ParsedName p;
  p.prefix = dot == std::string::npos ? "" : name.substr(0, dot + 1);
  const std::string bare = name.substr(p.prefix.size());
  p.id = parse_parameter_name(bare);
  if (p.id) return p;
  // PyTorch's projection weight (proj_size > 0) has the same layer suffix as weight_hh: recognise
  // it so that such a file is refused with a clear message instead of its tensors being "extra".
  constexpr std::string_view kProjection = "weight_hr";
  if (bare.compare(0, kProjection.size(), kProjection) == 0 &&
      parse_parameter_name("weight_hh" + bare.substr(kProjection.size()))) {
    return p;
  }
  return std::nullopt;
}

std::string quoted_list(const std::set<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "'" : ", '") + s + "'";
  return out;
}

// The parameters of `config` with their shapes, in the model's order (layer k's forward
// tensors, then its _reverse ones, as PyTorch), so the first problem reported is the first in the
// model. Layer k > 0 reads layer k-1's output, D·H wide. Only called once the file holds enough
// tensors for num_layers (check_lstm_tensors), so the list is bounded by the file.
std::vector<std::pair<std::string, Shape>> expected_shapes(const LstmConfig& config) {
  std::vector<std::pair<std::string, Shape>> shapes;
  for (const ParameterId& id : parameter_ids(config)) {
    shapes.push_back({parameter_name(id), parameter_shape(config, id)});
  }
  return shapes;
}

const char* bool_text(bool value) { return value ? "true" : "false"; }

bool parse_bool(const Metadata& metadata, const std::string& name, const std::string& source) {
  const std::string& text = required(metadata, name, source);
  if (text != "true" && text != "false") {
    fail(source, name + " must be 'true' or 'false', got '" + text + "'");
  }
  return text == "true";
}

std::string describe(const LstmConfig& config) {
  return "(input_size " + std::to_string(config.input_size) + ", hidden_size " +
         std::to_string(config.hidden_size) + ", num_layers " +
         std::to_string(config.num_layers) + (config.bidirectional ? ", bidirectional" : "") +
         (config.bias ? ", with bias)" : ", without bias)");
}

}  // namespace

std::string exact_text(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

void check_caller_metadata(const Metadata& metadata, const char* where) {
  for (const auto& [name, value] : metadata) {
    if (name.rfind(kReservedPrefix, 0) == 0) {
      throw ValueError(std::string("fuselstm: ") + where + ": metadata key '" + name +
                       "' is reserved (keys starting with \"fuselstm.\" are the library's)");
    }
  }
}

void add_config_metadata(Metadata& metadata, const LstmConfig& config, const char* format,
                         int version) {
  metadata[kFormatKey] = format;
  metadata[kFormatVersionKey] = std::to_string(version);
  metadata[key("input_size")] = std::to_string(config.input_size);
  metadata[key("hidden_size")] = std::to_string(config.hidden_size);
  metadata[key("num_layers")] = std::to_string(config.num_layers);
  metadata[key("bias")] = bool_text(config.bias);
  metadata[key("cell")] = cell_activation_name(config.cell);
  metadata[key("bidirectional")] = bool_text(config.bidirectional);
  metadata[key("batch_first")] = bool_text(config.batch_first);
  metadata[key("dropout")] = exact_text(config.dropout);
  metadata[key("dropout_seed")] = std::to_string(config.dropout_seed);
}

std::int64_t format_version(const Metadata& metadata, const std::string& source) {
  const std::string& format = required(metadata, kFormatKey, source);
  int newest = 0;
  if (format == kModelFormat) newest = kModelFormatVersion;
  else if (format == kCheckpointFormat) newest = kCheckpointFormatVersion;
  else {
    fail(source, std::string(kFormatKey) + " is '" + format + "'; this build reads '" +
                     kModelFormat + "' and '" + kCheckpointFormat + "'");
  }
  const std::int64_t version =
      parse_integer(required(metadata, kFormatVersionKey, source), kFormatVersionKey, 1,
                    kMaxSize, source);
  if (version > newest) {
    fail(source, "written by a newer fuselstm (" + format + " format_version " +
                     std::to_string(version) + "; this build reads up to " +
                     std::to_string(newest) + "): upgrade fuselstm to load it");
  }
  return version;
}

std::optional<LstmConfig> config_from_metadata(const Metadata& metadata,
                                               const std::string& source) {
  if (!metadata.count(kFormatKey)) return std::nullopt;
  const std::int64_t version = format_version(metadata, source);
  LstmConfig config;
  config.input_size = parse_integer(required(metadata, key("input_size"), source),
                                    key("input_size"), 1, kMaxSize, source);
  config.hidden_size = parse_integer(required(metadata, key("hidden_size"), source),
                                     key("hidden_size"), 1, kMaxSize, source);
  config.num_layers = parse_integer(required(metadata, key("num_layers"), source),
                                    key("num_layers"), 1, kMaxSize, source);
  config.bias = parse_bool(metadata, key("bias"), source);
  const std::string& cell = required(metadata, key("cell"), source);
  if (cell == "tanh") config.cell = CellActivation::tanh;
  else if (cell == "identity") config.cell = CellActivation::identity;
  else fail(source, key("cell") + " must be 'tanh' or 'identity', got '" + cell + "'");
  // Version 1 files predate these keys: their models were unidirectional, time-major, no dropout
  // (the LstmConfig defaults). From version 2 on the keys are required.
  if (version >= 2) {
    config.bidirectional = parse_bool(metadata, key("bidirectional"), source);
    config.batch_first = parse_bool(metadata, key("batch_first"), source);
    const std::string& dropout = required(metadata, key("dropout"), source);
    double p = 0;
    const char* end = dropout.data() + dropout.size();
    const auto [ptr, ec] = std::from_chars(dropout.data(), end, p);
    if (ec != std::errc() || ptr != end || !(p >= 0 && p < 1)) {
      fail(source, key("dropout") + " must be a number in [0, 1), got '" + dropout + "'");
    }
    config.dropout = p;
    const std::string& seed = required(metadata, key("dropout_seed"), source);
    const char* seed_end = seed.data() + seed.size();
    const auto [seed_ptr, seed_ec] = std::from_chars(seed.data(), seed_end, config.dropout_seed);
    if (seed_ec != std::errc() || seed_ptr != seed_end) {
      fail(source, key("dropout_seed") + " must be an unsigned 64-bit integer, got '" + seed + "'");
    }
  }
  return config;
}

LstmTensors split_lstm_tensors(TensorMap&& tensors, const std::optional<std::string>& prefix,
                               const std::string& source) {
  LstmTensors out;
  if (prefix) {
    out.prefix = *prefix;
  } else {
    std::set<std::string> prefixes;
    for (const auto& [name, tensor] : tensors) {
      if (const auto p = parse_name(name)) prefixes.insert(p->prefix);
    }
    if (prefixes.empty()) {
      fail(source, "no LSTM parameters (weight_ih_l0, weight_hh_l0, ...) in the file");
    }
    if (prefixes.size() > 1) {
      fail(source, "LSTM parameters under several prefixes (" + quoted_list(prefixes) +
                       "): say which with LoadOptions::prefix (load_model) or the prefix argument (load_weights)");
    }
    out.prefix = *prefixes.begin();
  }
  for (auto& [name, tensor] : tensors) {
    const auto p = parse_name(name);
    if (!p || p->prefix != out.prefix) {
      out.extra.emplace(name, std::move(tensor));
      continue;
    }
    if (!p->id) {
      fail(source, "tensor '" + name + "' belongs to an LSTM with proj_size, which fuselstm does "
                   "not support");
    }
    out.params.emplace(name.substr(out.prefix.size()), std::move(tensor));
  }
  if (out.params.empty()) {
    fail(source, "no LSTM parameters under the prefix '" + out.prefix + "'");
  }
  return out;
}

void check_skipped(const std::map<std::string, SkippedTensor>& skipped, const std::string& prefix,
                   const std::string& source) {
  for (const auto& [name, tensor] : skipped) {
    const auto p = parse_name(name);
    if (p && p->prefix == prefix) {
      fail(source, "tensor '" + name + "' has dtype " + tensor.dtype +
                       "; an LSTM parameter must be F32, F64, BF16 or F16");
    }
  }
}

LstmConfig infer_config(const LstmTensors& lstm, const std::string& source) {
  const auto shape_of = [&](const std::string& name) -> const Shape& {
    const auto it = lstm.params.find(name);
    if (it == lstm.params.end()) fail(source, "missing tensor '" + lstm.prefix + name + "'");
    return it->second.shape();
  };
  const Shape& ih = shape_of("weight_ih_l0");
  if (ih.size() != 2 || ih[0] < 4 || ih[0] % 4 != 0 || ih[1] < 1 || ih[0] / 4 > kMaxSize ||
      ih[1] > kMaxSize) {
    fail(source, "tensor '" + lstm.prefix + "weight_ih_l0' must be [4H, X] with H, X >= 1, got " +
                     shape_str(ih));
  }
  LstmConfig config;
  config.input_size = ih[1];
  config.hidden_size = ih[0] / 4;
  config.bias = lstm.params.count("bias_ih_l0") || lstm.params.count("bias_hh_l0");
  // Layers 0..L-1: L is one more than the largest layer index present; bidirectional when any
  // tensor is a _reverse one. check_lstm_tensors then reports any tensor missing in between and
  // any layer k > 0 whose input is not D·H wide.
  std::int64_t layers = 0;
  for (const auto& [name, tensor] : lstm.params) {
    const ParameterId id = *parse_parameter_name(name);  // split_lstm_tensors kept LSTM names only
    layers = std::max(layers, id.layer + 1);
    config.bidirectional = config.bidirectional || id.direction == 1;
  }
  config.num_layers = layers;
  config.dtype = lstm.params.at("weight_ih_l0").dtype();
  return config;
}

void check_lstm_tensors(const LstmTensors& lstm, const LstmConfig& config,
                        const std::string& source) {
  // A num_layers from metadata can claim more layers than the file holds: fail before building
  // a list that long.
  const std::int64_t per_layer = (config.bias ? 4 : 2) * config.directions();
  if (config.num_layers > static_cast<std::int64_t>(lstm.params.size()) / per_layer + 1) {
    fail(source, "num_layers " + std::to_string(config.num_layers) + " needs " +
                     std::to_string(per_layer) + " tensors per layer but the file has " +
                     std::to_string(lstm.params.size()) + " LSTM tensors");
  }
  const auto expected = expected_shapes(config);
  std::set<std::string> expected_names;
  for (const auto& [name, shape] : expected) expected_names.insert(name);
  const std::string described = describe(config);
  for (const auto& [name, shape] : expected) {
    const auto it = lstm.params.find(name);
    if (it == lstm.params.end()) {
      fail(source, "missing tensor '" + lstm.prefix + name + "' of an LSTM " + described);
    }
    if (it->second.shape() != shape) {
      fail(source, "tensor '" + lstm.prefix + name + "' has shape " +
                       shape_str(it->second.shape()) + " but an LSTM " + described + " needs " +
                       shape_str(shape));
    }
  }
  for (const auto& [name, tensor] : lstm.params) {
    if (!expected_names.count(name)) {
      fail(source, "unexpected tensor '" + lstm.prefix + name + "' for an LSTM " + described);
    }
  }
}

std::int64_t first_non_finite(const Tensor& tensor) {
  const auto scan = [](const auto* data, std::int64_t n) -> std::int64_t {
    for (std::int64_t k = 0; k < n; ++k) {
      if (!std::isfinite(data[k])) return k;
    }
    return -1;
  };
  const Tensor host = tensor.device().is_cpu() ? Tensor() : tensor.to(Device::cpu());
  const Tensor& t = tensor.device().is_cpu() ? tensor : host;
  return t.dtype() == DType::f32 ? scan(t.data_as<float>(), t.numel())
                                 : scan(t.data_as<double>(), t.numel());
}

void check_finite(const LstmTensors& lstm, const LstmConfig& config, const std::string& source) {
  for (const auto& [name, shape] : expected_shapes(config)) {
    const Tensor& t = lstm.params.at(name);
    const std::int64_t bad = first_non_finite(t);
    if (bad >= 0) {
      const double value = t.dtype() == DType::f32 ? double(t.data_as<float>()[bad])
                                                   : t.data_as<double>()[bad];
      fail(source, "tensor '" + lstm.prefix + name + "' holds " + exact_text(value) +
                       " at flat index " + std::to_string(bad) +
                       " (non-finite weights are refused; LoadOptions::allow_non_finite / "
                       "load_weights' allow_non_finite accept them)");
    }
  }
}

void assign_parameters(Lstm& model, const LstmTensors& lstm) {
  for (const std::string& name : model.parameter_names()) {
    const Tensor& source = lstm.params.at(name);
    Tensor& target = model.parameter(name);
    if (target.dtype() == DType::f32) target.assign(source.to_vector<float>());
    else target.assign(source.to_vector<double>());
  }
}

}  // namespace fuselstm::detail
