// Checkpoints: a model file (same names, same configuration keys) with the training state beside.

#include "fuselstm/checkpoint.hpp"

#include <charconv>
#include <cmath>

#include "io/model_format.hpp"

namespace fuselstm {
namespace {

constexpr const char* kStepKey = "fuselstm.step";

[[noreturn]] void fail(const std::string& source, const std::string& problem) {
  throw FormatError("fuselstm: " + source + ": " + problem);
}

// The shortest decimal text that reads back to the same double, independent of the locale.
std::string exact_text(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::optional<double> parse_double(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

void save_checkpoint(const std::string& path, const Lstm& model, const TrainingState& state) {
  detail::check_caller_metadata(state.metadata, "save_checkpoint");
  if (state.step < 0) {
    throw ValueError("fuselstm: save_checkpoint: step must be >= 0, got " +
                     std::to_string(state.step));
  }
  std::map<std::string, const Tensor*> tensors;
  for (const std::string& name : model.parameter_names()) tensors[name] = &model.parameter(name);
  for (const auto& [name, tensor] : state.tensors) {
    if (!tensors.emplace(name, &tensor).second) {
      throw ValueError("fuselstm: save_checkpoint: state tensor '" + name +
                       "' has the name of a model parameter");
    }
  }
  Metadata metadata = state.metadata;
  detail::add_config_metadata(metadata, model.config(), kCheckpointFormat,
                              kCheckpointFormatVersion);
  metadata[kStepKey] = std::to_string(state.step);
  write_safetensors(path, tensors, metadata);
}

TrainingState load_checkpoint(const std::string& path, Lstm& model) {
  TensorFile file = read_safetensors(path);
  const auto format = file.metadata.find(detail::kFormatKey);
  if (format == file.metadata.end() || format->second != kCheckpointFormat) {
    fail(path, std::string("not a fuselstm checkpoint (") + detail::kFormatKey + " is " +
                   (format == file.metadata.end() ? "absent" : "'" + format->second + "'") +
                   "); load a model file with load_model or load_weights");
  }
  // Everything about the file is checked before the model changes: step first, then the
  // parameters (load_weights changes nothing when its own checks fail).
  const auto step_text = file.metadata.find(kStepKey);
  if (step_text == file.metadata.end()) fail(path, std::string("__metadata__ lacks ") + kStepKey);
  TrainingState state;
  const std::string& text = step_text->second;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), state.step);
  if (ec != std::errc() || ptr != text.data() + text.size() || state.step < 0) {
    fail(path, std::string(kStepKey) + " must be an integer >= 0, got '" + text + "'");
  }
  TensorFile rest = load_weights(model, std::move(file), std::string(), path);
  state.tensors = std::move(rest.tensors);
  for (auto& [key, value] : rest.metadata) {
    if (key.rfind(detail::kReservedPrefix, 0) != 0) state.metadata.emplace(key, std::move(value));
  }
  return state;
}

void save_optimizer_state(const Sgd& optimizer, TrainingState& state) {
  state.metadata["optim.type"] = "sgd";
  state.metadata["optim.lr"] = exact_text(optimizer.lr());
}

void load_optimizer_state(Sgd& optimizer, const TrainingState& state) {
  const auto type = state.metadata.find("optim.type");
  if (type == state.metadata.end() || type->second != "sgd") {
    throw FormatError("fuselstm: load_optimizer_state: the checkpoint's optimizer is " +
                      (type == state.metadata.end() ? std::string("not recorded (no optim.type)")
                                                    : "'" + type->second + "'") +
                      ", not 'sgd'");
  }
  const auto lr = state.metadata.find("optim.lr");
  const std::optional<double> value =
      lr == state.metadata.end() ? std::nullopt : parse_double(lr->second);
  if (!value || !std::isfinite(*value) || !(*value > 0)) {
    throw FormatError("fuselstm: load_optimizer_state: optim.lr must be a finite number > 0, got " +
                      (lr == state.metadata.end() ? std::string("none") : "'" + lr->second + "'"));
  }
  optimizer.set_lr(*value);
}

}  // namespace fuselstm
