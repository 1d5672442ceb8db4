// libFuzzer targets over the other loaders, one executable each (FUZZ_LOADER picks it):
//   1 load_weights: the bytes as a file loaded into a fixed model (X 2, H 3, L 2, bias)
//   2 load_checkpoint: the bytes written to a scratch file, resumed all-or-nothing into that
//     model, an Adam optimizer, a head and a random engine (ResumeTargets)
//   3 load_optimizer_state: the file's tensors and metadata as a TrainingState, into Adam and
//     into SGD with momentum
// Any input must load or fail with fuselstm::FormatError (anything else escapes and aborts), and
// a model, head or optimizer that loaded must hold only finite values.

#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "fuselstm/fuselstm.hpp"

using namespace fuselstm;

namespace {

LstmConfig fixed_config() {
  LstmConfig cfg;
  cfg.input_size = 2;
  cfg.hidden_size = 3;
  cfg.num_layers = 2;
  return cfg;
}

void require_finite(const ParameterList& parameters) {
  for (const ParameterRef& p : parameters) {
    for (const double v : p.value->to_vector<double>()) {
      if (!std::isfinite(v)) std::abort();  // a loader let a NaN through
    }
  }
}

void require_finite(const Optimizer& optimizer) {
  for (const auto& [name, t] : optimizer.state()) {
    for (const double v : t.get().to_vector<double>()) {
      if (!std::isfinite(v)) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Lstm model(fixed_config());
  try {
#if FUZZ_LOADER == 1
    load_weights(model, parse_safetensors(data, size, "fuzz-input"), std::nullopt, "fuzz-input");
    require_finite(parameters_of(model));
#elif FUZZ_LOADER == 2
    static const std::string path =
        "/tmp/fuselstm_fuzz_checkpoint_" + std::to_string(::getpid()) + ".safetensors";
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    Linear head(model, 2);
    Adam adam(parameters_of(model, head));
    std::mt19937_64 rng(1);
    ResumeTargets targets;
    targets.parameters = parameters_of(head);
    targets.optimizer = &adam;
    targets.rngs.push_back(rng_target("data_rng", rng));
    load_checkpoint(path, model, targets);
    require_finite(parameters_of(model, head));
    require_finite(adam);
#elif FUZZ_LOADER == 3
    TensorFile file = parse_safetensors(data, size, "fuzz-input");
    TrainingState state;
    state.tensors = std::move(file.tensors);
    state.metadata = std::move(file.metadata);
    Adam adam(parameters_of(model));
    try {
      load_optimizer_state(adam, state);
      require_finite(adam);
    } catch (const FormatError&) {
    }
    SgdOptions momentum;
    momentum.momentum = 0.9;
    Sgd sgd(parameters_of(model), momentum);
    load_optimizer_state(sgd, state);
    require_finite(sgd);
#else
#error "FUZZ_LOADER must be 1, 2 or 3"
#endif
  } catch (const FormatError&) {
    // The expected outcome for malformed input.
  }
  return 0;
}
