// Model files: an Lstm's parameters under PyTorch's names plus its configuration, as safetensors.

#include "fuselstm/error.hpp"
#include "fuselstm/io.hpp"
#include "io/model_format.hpp"

namespace fuselstm {

void save_model(const Lstm& model, const std::string& path, const Metadata& metadata,
                const TensorMap& extra) {
  detail::check_caller_metadata(metadata, "save_model");
  std::map<std::string, const Tensor*> tensors;
  for (const std::string& name : model.parameter_names()) tensors[name] = &model.parameter(name);
  for (const auto& [name, tensor] : extra) {
    if (!tensors.emplace(name, &tensor).second) {
      throw ValueError("fuselstm: save_model: extra tensor '" + name +
                       "' has the name of a model parameter");
    }
  }
  Metadata all = metadata;
  detail::add_config_metadata(all, model.config(), kModelFormat, kModelFormatVersion);
  write_safetensors(path, tensors, all);
}

namespace {

// Our own files keep the model unprefixed, and their other tensors may carry parameter names
// (an optimizer's "optim.exp_avg.weight_ih_l0"): no guessing there.
std::optional<std::string> prefix_for(const TensorFile& file,
                                      const std::optional<std::string>& prefix) {
  if (prefix || !file.metadata.count(detail::kFormatKey)) return prefix;
  return std::string();
}

}  // namespace

LoadedModel load_model(TensorFile&& file, const LoadOptions& options, const std::string& source) {
  const std::optional<std::string> prefix = prefix_for(file, options.prefix);
  detail::LstmTensors lstm = detail::split_lstm_tensors(std::move(file.tensors), prefix, source);
  detail::check_skipped(file.skipped, lstm.prefix, source);
  const std::optional<LstmConfig> recorded = detail::config_from_metadata(file.metadata, source);
  LstmConfig config = recorded ? *recorded : detail::infer_config(lstm, source);
  detail::check_lstm_tensors(lstm, config, source);
  if (!options.allow_non_finite) detail::check_finite(lstm, config, source);
  config.dtype = options.dtype ? *options.dtype : lstm.params.at("weight_ih_l0").dtype();
  config.device = options.device;
  config.math = options.math;
  config.context = options.context;
  config.memory_mode = options.memory_mode;
  config.segment_steps = options.segment_steps;
  config.memory_limit_bytes = options.memory_limit_bytes;
  if (options.batch_first) config.batch_first = *options.batch_first;
  if (options.dropout) config.dropout = *options.dropout;
  if (options.dropout_seed) config.dropout_seed = *options.dropout_seed;

  Lstm model(config);
  detail::assign_parameters(model, lstm);
  return LoadedModel{std::move(model), std::move(lstm.extra), std::move(file.metadata),
                     std::move(file.skipped)};
}

LoadedModel load_model(const std::string& path, const LoadOptions& options) {
  return load_model(read_safetensors(path), options, path);
}

namespace detail {

LstmTensors checked_weights(const Lstm& model, TensorFile& file,
                            const std::optional<std::string>& prefix, const std::string& source,
                            bool allow_non_finite) {
  LstmTensors lstm = split_lstm_tensors(std::move(file.tensors), prefix_for(file, prefix), source);
  check_skipped(file.skipped, lstm.prefix, source);
  const LstmConfig& mine = model.config();
  if (const std::optional<LstmConfig> recorded = config_from_metadata(file.metadata, source)) {
    const auto differs = [&](const char* field, const std::string& theirs,
                             const std::string& ours) {
      if (theirs != ours) {
        throw FormatError("fuselstm: " + source + ": the file's " + field + " is " + theirs +
                          " but the model's is " + ours);
      }
    };
    differs("input_size", std::to_string(recorded->input_size), std::to_string(mine.input_size));
    differs("hidden_size", std::to_string(recorded->hidden_size), std::to_string(mine.hidden_size));
    differs("num_layers", std::to_string(recorded->num_layers), std::to_string(mine.num_layers));
    differs("bias", recorded->bias ? "true" : "false", mine.bias ? "true" : "false");
    differs("cell", cell_activation_name(recorded->cell), cell_activation_name(mine.cell));
    differs("bidirectional", recorded->bidirectional ? "true" : "false",
            mine.bidirectional ? "true" : "false");
  }
  check_lstm_tensors(lstm, mine, source);
  if (!allow_non_finite) check_finite(lstm, mine, source);
  return lstm;
}

}  // namespace detail

TensorFile load_weights(Lstm& model, TensorFile&& file, const std::optional<std::string>& prefix,
                        const std::string& source, bool allow_non_finite) {
  detail::LstmTensors lstm = detail::checked_weights(model, file, prefix, source, allow_non_finite);
  detail::assign_parameters(model, lstm);
  return TensorFile{std::move(lstm.extra), std::move(file.metadata), std::move(file.skipped)};
}

TensorFile load_weights(Lstm& model, const std::string& path,
                        const std::optional<std::string>& prefix, bool allow_non_finite) {
  return load_weights(model, read_safetensors(path), prefix, path, allow_non_finite);
}

}  // namespace fuselstm
