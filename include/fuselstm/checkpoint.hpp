#pragma once
// Training checkpoints: the model's parameters plus everything else a run needs to continue as if
// it had never stopped (step, optimizer state, random engines), in one safetensors file.
//
// The file: the model's parameters under PyTorch's names (as save_model writes them, so
// load_model and PyTorch's load_state_dict(strict=False) read the model out of a checkpoint),
// the state's tensors under their own names, and "__metadata__" with fuselstm.format =
// "lstm-checkpoint", the configuration (as a model file's), fuselstm.step,
// fuselstm.dropout_offset (the model's position in its dropout stream) and the state's strings.
//
// The optimizer (save_optimizer_state, any Optimizer): "optim.type" ("sgd", "adam", "adamw"),
// "optim.lr" (exact), "optim.step" (its step_count()) as strings, and each tensor of its state()
// under "optim.<state name>" (Adam: "optim.exp_avg.weight_ih_l0", ...,
// "optim.exp_avg.head.weight").
// Tensors outside the model, such as a head's, go in under their own names (save_parameters:
// "head.weight", "head.bias").
//
// A typical resume, into objects built as the first run built them, all-or-nothing (every part
// is read and checked before any changes; a failure leaves model, head, optimizer and engine as
// they were):
//   ResumeTargets targets;
//   targets.parameters = parameters_of(head);
//   targets.optimizer = &optimizer;
//   targets.rngs.push_back(rng_target("data_rng", data_rng));
//   TrainingState s = load_checkpoint(path, model, targets);
// The parts also load one by one (load_checkpoint(path, model), load_parameters,
// load_optimizer_state, restore_rng_state), each all-or-nothing on its own only.

#include <cstdint>
#include <functional>
#include <vector>
#include <sstream>
#include <string>

#include "fuselstm/error.hpp"
#include "fuselstm/io.hpp"
#include "fuselstm/lstm.hpp"
#include "fuselstm/optim.hpp"
#include "fuselstm/parameters.hpp"

namespace fuselstm {

inline constexpr const char* kCheckpointFormat = "lstm-checkpoint";
inline constexpr int kCheckpointFormatVersion = 2;

/// Everything besides the parameters that a training run carries from step to step.
struct TrainingState {
  std::int64_t step = 0;  ///< optimizer steps taken so far (>= 0)
  /// Named tensors (any device, f32 or f64): an optimizer's moments, the caller's own. Names must
  /// not clash with the model's parameters nor start with "__".
  TensorMap tensors;
  /// Named strings: optimizer hyperparameters, random engine states (rng_state), the caller's
  /// own. Keys starting with "fuselstm." are reserved.
  Metadata metadata;
};

/// Writes model + state to `path`, atomically (see write_safetensors), with the model's
/// dropout_offset(). Gradients are not saved: a run resumes after an optimizer step, where they
/// are zeroed anyway. ValueError for a reserved key, a clashing name or a negative step (nothing
/// written).
void save_checkpoint(const std::string& path, const Lstm& model, const TrainingState& state);

/// Loads a checkpoint's parameters and dropout offset into `model` (same shape-defining
/// configuration, as load_weights checks; converted to the model's dtype) and returns the state:
/// tensors on the host in the file's dtype, metadata without the fuselstm.* keys. FormatError
/// naming the file and the problem (not a checkpoint, a newer format, a malformed step or dropout
/// offset, any model mismatch, a NaN or infinite weight: always refused here, naming the tensor
/// and its first bad flat index); the model is unchanged then. A format_version 1 checkpoint has no
/// dropout offset and sets it to 0 (that version predates dropout).
TrainingState load_checkpoint(const std::string& path, Lstm& model);

/// A random engine restored by a resume: `check` throws FormatError when the text is not a state
/// of the engine, changing nothing; `commit` sets the engine (after every check passed).
struct RngTarget {
  std::string key;  ///< its metadata key, as saved with rng_state
  std::function<void(const std::string&)> check;
  std::function<void(const std::string&)> commit;
};

/// What a resume restores besides the model; every part optional.
struct ResumeTargets {
  ParameterList parameters;         ///< tensors outside the model (save_parameters), e.g. a head's
  Optimizer* optimizer = nullptr;   ///< state from save_optimizer_state
  std::vector<RngTarget> rngs;      ///< engines saved with rng_state under their keys
};

/// load_checkpoint, plus `targets.parameters` (as load_parameters, values also finite),
/// `targets.optimizer` (as load_optimizer_state) and each engine of `targets.rngs` (as
/// restore_rng_state), all-or-nothing: the file is read and every part checked into temporaries
/// first; only then is anything assigned. FormatError naming the file and the first problem;
/// model, parameters, optimizer and engines are bitwise unchanged then.
TrainingState load_checkpoint(const std::string& path, Lstm& model, const ResumeTargets& targets);

/// Records `optimizer`'s state in `state` (replacing any "optim." entries there): optim.type (its
/// kind() in lower case), optim.lr (shortest text that reads back to the same double), optim.step
/// (step_count()), and a copy of each state() tensor as "optim.<name>". Hyper-parameters other
/// than lr (betas, momentum, ...) and the frozen list are the constructor's business: build the
/// resuming optimizer as the first one was built.
void save_optimizer_state(const Optimizer& optimizer, TrainingState& state);
/// Restores what save_optimizer_state wrote: lr, step count and every state tensor (through
/// Optimizer::load_state, converted to the optimizer's dtype and device). FormatError, with the
/// optimizer unchanged, when optim.type is not this optimizer's, optim.lr is missing or not a
/// finite number >= 0 (0 is what a schedule that ends at 0 leaves), optim.step is missing or not
/// an integer in [0, 2^53], or the "optim." tensors are not exactly those state() names, each
/// with its shape and finite values (exp_avg_sq also >= 0): the message names the first mismatch,
/// tensor and flat index.
void load_optimizer_state(Optimizer& optimizer, const TrainingState& state);

/// Adds a copy of each parameter's value to `state.tensors` under its name (e.g. a Linear head's
/// "head.weight", "head.bias": parameters_of(head)). For tensors outside the model: the model's
/// own are saved by save_checkpoint, and the same names here make it throw.
void save_parameters(const ParameterList& parameters, TrainingState& state);
/// Assigns each parameter the tensor of its name in `state.tensors` (converted to its dtype).
/// FormatError naming the first missing name, wrong shape or non-finite value; nothing changes then.
void load_parameters(const ParameterList& parameters, const TrainingState& state);
/// The same from any named tensors, e.g. a PyTorch model's state_dict read with read_safetensors:
/// load_parameters(parameters_of(head), file.tensors) for an nn.Sequential registered as "head".
/// `source` names them in messages.
void load_parameters(const ParameterList& parameters, const TensorMap& tensors,
                     const std::string& source = "the tensors");

/// The complete state of a standard random engine (std::mt19937, std::mt19937_64, ...) as text.
/// The standard fixes this text for every library, so it restores across platforms.
template <class Engine>
std::string rng_state(const Engine& engine) {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << engine;
  return out.str();
}

/// Sets `engine` to a state rng_state wrote. FormatError naming `what` when the text is not a
/// state of this engine type; the engine is unchanged then.
template <class Engine>
void restore_rng_state(Engine& engine, const std::string& text, const std::string& what = "rng") {
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  Engine restored;
  in >> restored;
  if (in.fail() || !(in >> std::ws).eof()) {
    throw FormatError("fuselstm: restore_rng_state: '" + what +
                      "' is not the state of this random engine type");
  }
  engine = restored;
}

/// A resume target for `engine` under `key` (see ResumeTargets); `engine` must outlive it.
template <class Engine>
RngTarget rng_target(const std::string& key, Engine& engine) {
  return RngTarget{key,
                   [key](const std::string& text) {
                     Engine scratch;
                     restore_rng_state(scratch, text, key);
                   },
                   [key, &engine](const std::string& text) { restore_rng_state(engine, text, key); }};
}

}  // namespace fuselstm
