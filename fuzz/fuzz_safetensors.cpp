// libFuzzer target over the weight-file loader: the safetensors layout checks, then the model
// built from the tensors (name parsing, prefix detection, configuration from metadata or shapes).
// Any input must load or fail with fuselstm::FormatError; any other exception escapes and aborts,
// which libFuzzer reports, as it does every sanitizer finding, leak, timeout or oversized malloc.
// Built by -DFUSELSTM_FUZZ=ON with clang; run with tools/run_fuzz.sh.

#include <cstddef>
#include <cstdint>

#include "fuselstm/error.hpp"
#include "fuselstm/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    fuselstm::TensorFile file = fuselstm::parse_safetensors(data, size, "fuzz-input");
    fuselstm::LoadedModel loaded = fuselstm::load_model(std::move(file), {}, "fuzz-input");
    // A model that loads must be usable: one step of forward on a tiny input.
    const fuselstm::LstmConfig& cfg = loaded.model.config();
    if (cfg.input_size * cfg.hidden_size * cfg.num_layers <= 4096) {
      const fuselstm::Tensor x =
          fuselstm::Tensor::zeros({1, 1, cfg.input_size}, cfg.dtype, cfg.device);
      loaded.model.forward(x);
    }
  } catch (const fuselstm::FormatError&) {
    // The expected outcome for malformed input.
  }
  return 0;
}
