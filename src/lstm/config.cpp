#include "fuselstm/config.hpp"

#include "fuselstm/error.hpp"
#include "runtime/context_state.hpp"

namespace fuselstm {

const char* cell_activation_name(CellActivation cell) {
  return cell == CellActivation::tanh ? "tanh" : "identity";
}

const char* memory_mode_name(MemoryMode mode) {
  switch (mode) {
    case MemoryMode::store_all: return "store_all";
    case MemoryMode::recompute: return "recompute";
    case MemoryMode::automatic: return "automatic";
  }
  return "?";
}

void LstmSpec::validate() const {
  auto positive = [](const char* field, std::int64_t value) {
    if (value < 1) {
      throw ValueError(std::string("fuselstm: LstmConfig.") + field + " must be >= 1, got " +
                       std::to_string(value));
    }
  };
  positive("input_size", input_size);
  positive("hidden_size", hidden_size);
  positive("num_layers", num_layers);
  if (proj_size != 0) {
    throw ValueError("fuselstm: LstmConfig.proj_size = " + std::to_string(proj_size) +
                     ": LSTMs with projections (PyTorch's weight_hr_l{k}) are not supported; "
                     "use proj_size = 0");
  }
  if (!(dropout >= 0 && dropout < 1)) {
    throw ValueError("fuselstm: LstmConfig.dropout must be in [0, 1), got " +
                     std::to_string(dropout));
  }
}

void RunOptions::validate() const {
  if (projection_steps < 0) {
    throw ValueError("fuselstm: LstmConfig.projection_steps must be >= 0 (0: automatic), got " +
                     std::to_string(projection_steps));
  }
  if (segment_steps < 0) {
    throw ValueError("fuselstm: LstmConfig.segment_steps must be >= 0 (0: automatic), got " +
                     std::to_string(segment_steps));
  }
  if (memory_limit_bytes < 0) {
    throw ValueError("fuselstm: LstmConfig.memory_limit_bytes must be >= 0 (0: free memory), got " +
                     std::to_string(memory_limit_bytes));
  }
  detail::check_device_usable(device, "LstmConfig.device");
  if (context && context->device() != device) {
    throw ValueError("fuselstm: LstmConfig.context is on " + context->device().str() +
                     " but LstmConfig.device is " + device.str());
  }
}

void LstmConfig::validate() const {
  LstmSpec::validate();
  RunOptions::validate();
}

}  // namespace fuselstm
