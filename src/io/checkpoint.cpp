// Checkpoints: a model file (same names, same configuration keys) with the training state beside:
// step, dropout offset, optimizer state, extra parameters (a head's), the caller's strings.

#include "fuselstm/checkpoint.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

#include "io/model_format.hpp"

namespace fuselstm {
namespace {

constexpr const char* kStepKey = "fuselstm.step";
constexpr const char* kDropoutOffsetKey = "fuselstm.dropout_offset";
constexpr const char* kOptimPrefix = "optim.";

[[noreturn]] void fail(const std::string& source, const std::string& problem) {
  throw FormatError("fuselstm: " + source + ": " + problem);
}

// The whole text as one number of type V (no sign for unsigned types, no spaces), or nullopt.
template <typename V>
std::optional<V> parse_whole(const std::string& text) {
  V value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

// optim.type: the optimizer's kind in lower case ("sgd", "adam", "adamw"), as version 1 wrote Sgd.
std::string type_name(const Optimizer& optimizer) {
  std::string name = optimizer.kind();
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

// "fuselstm: AdamW: load_state: ..." -> "AdamW: load_state: ...", to nest in another message.
std::string without_library_prefix(const std::string& message) {
  const std::string prefix = "fuselstm: ";
  return starts_with(message, prefix.c_str()) ? message.substr(prefix.size()) : message;
}

void assign_converted(Tensor& target, const Tensor& source) {
  if (target.dtype() == DType::f32)
    target.assign(source.to_vector<float>());
  else
    target.assign(source.to_vector<double>());
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
  metadata[kDropoutOffsetKey] = std::to_string(model.dropout_offset());
  write_safetensors(path, tensors, metadata);
}

namespace {

// A checkpoint read and checked against `model`, nothing assigned yet.
struct CheckedCheckpoint {
  detail::LstmTensors weights;
  std::uint64_t dropout_offset = 0;
  TrainingState state;
};

CheckedCheckpoint read_checkpoint(const std::string& path, const Lstm& model) {
  TensorFile file = read_safetensors(path);
  const auto format = file.metadata.find(detail::kFormatKey);
  if (format == file.metadata.end() || format->second != kCheckpointFormat) {
    fail(path, std::string("not a fuselstm checkpoint (") + detail::kFormatKey + " is " +
                   (format == file.metadata.end() ? "absent" : "'" + format->second + "'") +
                   "); load a model file with load_model or load_weights");
  }
  const std::int64_t version = detail::format_version(file.metadata, path);
  const auto step_text = file.metadata.find(kStepKey);
  if (step_text == file.metadata.end()) fail(path, std::string("__metadata__ lacks ") + kStepKey);
  CheckedCheckpoint out;
  const std::optional<std::int64_t> step = parse_whole<std::int64_t>(step_text->second);
  if (!step || *step < 0) {
    fail(path, std::string(kStepKey) + " must be an integer >= 0, got '" + step_text->second + "'");
  }
  out.state.step = *step;
  if (version >= 2) {  // version 1 predates dropout: its runs were at 0
    const auto offset_text = file.metadata.find(kDropoutOffsetKey);
    if (offset_text == file.metadata.end()) {
      fail(path, std::string("__metadata__ lacks ") + kDropoutOffsetKey);
    }
    const std::optional<std::uint64_t> offset = parse_whole<std::uint64_t>(offset_text->second);
    if (!offset) {
      fail(path, std::string(kDropoutOffsetKey) + " must be an unsigned 64-bit integer, got '" +
                     offset_text->second + "'");
    }
    out.dropout_offset = *offset;
  }
  out.weights = detail::checked_weights(model, file, std::string(), path, false);
  out.state.tensors = std::move(out.weights.extra);
  for (auto& [key, value] : file.metadata) {
    if (!starts_with(key, detail::kReservedPrefix)) out.state.metadata.emplace(key, std::move(value));
  }
  return out;
}

// optim.* of `state` checked against `optimizer`, ready for Optimizer::load_state.
struct CheckedOptimizerState {
  double lr = 0;
  std::int64_t step = 0;
  NamedTensors tensors;
};

CheckedOptimizerState check_optimizer_state(const Optimizer& optimizer, const TrainingState& state) {
  const std::string where = "fuselstm: load_optimizer_state: ";
  const std::string expected = type_name(optimizer);
  const auto type = state.metadata.find("optim.type");
  if (type == state.metadata.end() || type->second != expected) {
    throw FormatError(where + "the checkpoint's optimizer is " +
                      (type == state.metadata.end() ? std::string("not recorded (no optim.type)")
                                                    : "'" + type->second + "'") +
                      ", not '" + expected + "'");
  }
  const auto lr_text = state.metadata.find("optim.lr");
  const std::optional<double> lr =
      lr_text == state.metadata.end() ? std::nullopt : parse_whole<double>(lr_text->second);
  if (!lr || !std::isfinite(*lr) || !(*lr >= 0)) {
    throw FormatError(
        where + "optim.lr must be a finite number >= 0, got " +
        (lr_text == state.metadata.end() ? std::string("none") : "'" + lr_text->second + "'"));
  }
  const auto step_text = state.metadata.find("optim.step");
  const std::optional<std::int64_t> step = step_text == state.metadata.end()
                                               ? std::nullopt
                                               : parse_whole<std::int64_t>(step_text->second);
  if (!step || *step < 0 || *step > Optimizer::kMaxStateStep) {
    throw FormatError(
        where + "optim.step must be an integer in [0, 2^53], got " +
        (step_text == state.metadata.end() ? std::string("none") : "'" + step_text->second + "'"));
  }
  CheckedOptimizerState out;
  out.lr = *lr;
  out.step = *step;
  const std::size_t prefix_length = std::string(kOptimPrefix).size();
  for (const auto& [name, tensor] : state.tensors) {
    if (starts_with(name, kOptimPrefix)) out.tensors.emplace_back(name.substr(prefix_length), tensor);
  }
  try {
    optimizer.check_state(out.step, out.tensors);
  } catch (const Error& e) {
    throw FormatError(where + "the checkpoint's optim.* tensors do not fit this optimizer (" +
                      without_library_prefix(e.what()) + ")");
  }
  return out;
}

// The state's tensor for each parameter, checked (name, shape, finite values).
// `source` names where the tensors come from in messages: "the checkpoint", "the tensors".
std::vector<const Tensor*> check_parameters(const ParameterList& parameters,
                                            const TensorMap& tensors,
                                            const std::string& source = "the checkpoint") {
  std::vector<const Tensor*> sources;
  for (const ParameterRef& p : parameters) {
    const auto it = tensors.find(p.name);
    if (it == tensors.end()) {
      throw FormatError("fuselstm: load_parameters: " + source + " has no tensor '" + p.name + "'");
    }
    if (it->second.shape() != p.value->shape()) {
      throw FormatError("fuselstm: load_parameters: '" + p.name + "' must be " +
                        shape_str(p.value->shape()) + ", " + source + " holds " +
                        shape_str(it->second.shape()));
    }
    const std::int64_t bad = detail::first_non_finite(it->second);
    if (bad >= 0) {
      throw FormatError("fuselstm: load_parameters: '" + p.name +
                        "' holds a NaN or infinite value at flat index " + std::to_string(bad));
    }
    sources.push_back(&it->second);
  }
  return sources;
}

}  // namespace

TrainingState load_checkpoint(const std::string& path, Lstm& model) {
  return load_checkpoint(path, model, ResumeTargets{});
}

TrainingState load_checkpoint(const std::string& path, Lstm& model, const ResumeTargets& targets) {
  // Read and check every part into temporaries; only then change anything.
  CheckedCheckpoint checked = read_checkpoint(path, model);
  const auto in_file = [&](const std::string& what) { return "fuselstm: " + path + ": " + what; };
  std::vector<const Tensor*> parameter_sources;
  try {
    parameter_sources = check_parameters(targets.parameters, checked.state.tensors);
  } catch (const FormatError& e) {
    throw FormatError(in_file(without_library_prefix(e.what())));
  }
  std::optional<CheckedOptimizerState> optimizer_state;
  if (targets.optimizer) {
    try {
      optimizer_state = check_optimizer_state(*targets.optimizer, checked.state);
    } catch (const FormatError& e) {
      throw FormatError(in_file(without_library_prefix(e.what())));
    }
  }
  for (const RngTarget& rng : targets.rngs) {
    const auto text = checked.state.metadata.find(rng.key);
    if (text == checked.state.metadata.end()) {
      throw FormatError(in_file("no random engine state '" + rng.key + "' in the metadata"));
    }
    try {
      rng.check(text->second);
    } catch (const FormatError& e) {
      throw FormatError(in_file(without_library_prefix(e.what())));
    }
  }
  // Commit: every check has passed.
  detail::assign_parameters(model, checked.weights);
  model.set_dropout_offset(checked.dropout_offset);
  for (std::size_t k = 0; k < targets.parameters.size(); ++k) {
    assign_converted(*targets.parameters[k].value, *parameter_sources[k]);
  }
  if (optimizer_state) {
    targets.optimizer->load_state(optimizer_state->step, optimizer_state->tensors);
    targets.optimizer->set_lr(optimizer_state->lr);
  }
  for (const RngTarget& rng : targets.rngs) rng.commit(checked.state.metadata.at(rng.key));
  return std::move(checked.state);
}

void save_optimizer_state(const Optimizer& optimizer, TrainingState& state) {
  // A state saved into twice keeps only the latest optimizer's entries.
  for (auto it = state.metadata.begin(); it != state.metadata.end();) {
    it = starts_with(it->first, kOptimPrefix) ? state.metadata.erase(it) : std::next(it);
  }
  for (auto it = state.tensors.begin(); it != state.tensors.end();) {
    it = starts_with(it->first, kOptimPrefix) ? state.tensors.erase(it) : std::next(it);
  }
  state.metadata["optim.type"] = type_name(optimizer);
  state.metadata["optim.lr"] = detail::exact_text(optimizer.lr());
  state.metadata["optim.step"] = std::to_string(optimizer.step_count());
  for (const auto& [name, tensor] : optimizer.state()) {
    state.tensors.emplace(kOptimPrefix + name, tensor.get().clone());
  }
}

void load_optimizer_state(Optimizer& optimizer, const TrainingState& state) {
  const CheckedOptimizerState checked = check_optimizer_state(optimizer, state);
  optimizer.load_state(checked.step, checked.tensors);  // checked: cannot fail
  optimizer.set_lr(checked.lr);
}

void save_parameters(const ParameterList& parameters, TrainingState& state) {
  for (const ParameterRef& p : parameters) state.tensors.insert_or_assign(p.name, p.value->clone());
}

void load_parameters(const ParameterList& parameters, const TrainingState& state) {
  load_parameters(parameters, state.tensors, "the checkpoint");
}

void load_parameters(const ParameterList& parameters, const TensorMap& tensors,
                     const std::string& source) {
  const std::vector<const Tensor*> sources = check_parameters(parameters, tensors, source);
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    assign_converted(*parameters[k].value, *sources[k]);
  }
}

}  // namespace fuselstm
