#pragma once
// Training checkpoints: the model's parameters plus everything else a run needs to continue as if
// it had never stopped (step, optimizer state, random engines), in one safetensors file.
//
// The file: the model's parameters under PyTorch's names (as save_model writes them, so
// load_model and PyTorch's load_state_dict(strict=False) read the model out of a checkpoint),
// the state's tensors under their own names, and "__metadata__" with fuselstm.format =
// "lstm-checkpoint", the configuration, fuselstm.step and the state's strings.
//
// Plugging in an optimizer: it writes its hyperparameters as strings under "optim." (with
// "optim.type" naming it) and its per-parameter tensors under "optim.<slot>.<parameter>" (Adam:
// "optim.exp_avg.weight_ih_l0", ...), through a save_optimizer_state / load_optimizer_state pair
// like Sgd's below; load_optimizer_state checks optim.type and every shape before changing anything.

#include <cstdint>
#include <sstream>
#include <string>

#include "fuselstm/error.hpp"
#include "fuselstm/io.hpp"
#include "fuselstm/lstm.hpp"
#include "fuselstm/optim.hpp"

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

/// Writes model + state to `path`, atomically (see write_safetensors). Gradients are not saved:
/// a run resumes after an optimizer step, where they are zeroed anyway. ValueError for a reserved
/// key, a clashing name or a negative step (nothing written).
void save_checkpoint(const std::string& path, const Lstm& model, const TrainingState& state);

/// Loads a checkpoint's parameters into `model` (same configuration, as load_weights checks;
/// converted to the model's dtype) and returns the state: tensors on the host in the file's
/// dtype, metadata without the fuselstm.* keys. FormatError naming the file and the problem (not a
/// checkpoint, a newer format, a malformed step, any model mismatch); the model is unchanged then.
TrainingState load_checkpoint(const std::string& path, Lstm& model);

/// Sgd's state: optim.type = "sgd" and optim.lr (shortest text that reads back to the same
/// double). The frozen list is the constructor's business and is not saved.
void save_optimizer_state(const Sgd& optimizer, TrainingState& state);
/// Restores what save_optimizer_state wrote. FormatError when optim.type is not "sgd" or optim.lr
/// is missing or not a finite positive number; the optimizer is unchanged then.
void load_optimizer_state(Sgd& optimizer, const TrainingState& state);

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

}  // namespace fuselstm
