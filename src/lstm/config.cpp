#include "fuselstm/config.hpp"

#include "fuselstm/error.hpp"
#include "fuselstm/parameter_names.hpp"

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

void LstmConfig::validate() const {
  auto positive = [](const char* field, std::int64_t value) {
    if (value < 1) {
      throw ValueError(std::string("fuselstm: LstmConfig.") + field + " must be >= 1, got " +
                       std::to_string(value));
    }
  };
  positive("input_size", input_size);
  positive("hidden_size", hidden_size);
  positive("num_layers", num_layers);
  if (num_layers > kMaxLayers) {  // parameter names hold at most 9 digits of layer
    throw ValueError("fuselstm: LstmConfig.num_layers must be <= " + std::to_string(kMaxLayers) +
                     ", got " + std::to_string(num_layers));
  }
  if (proj_size != 0) {
    throw ValueError("fuselstm: LstmConfig.proj_size = " + std::to_string(proj_size) +
                     ": LSTMs with projections (PyTorch's weight_hr_l{k}) are not supported; "
                     "use proj_size = 0");
  }
  if (segment_steps < 0) {
    throw ValueError("fuselstm: LstmConfig.segment_steps must be >= 0 (0: automatic), got " +
                     std::to_string(segment_steps));
  }
  if (memory_limit_bytes < 0) {
    throw ValueError("fuselstm: LstmConfig.memory_limit_bytes must be >= 0 (0: free memory), got " +
                     std::to_string(memory_limit_bytes));
  }
  if (!(dropout >= 0 && dropout < 1)) {
    throw ValueError("fuselstm: LstmConfig.dropout must be in [0, 1), got " +
                     std::to_string(dropout));
  }
  if (device.is_cuda()) {
    const int count = cuda_device_count();
    if (!cuda_compiled()) {
      throw DeviceError("fuselstm: LstmConfig.device is " + device.str() +
                        " but this build has no CUDA support");
    }
    if (device.index < 0 || device.index >= count) {
      throw DeviceError("fuselstm: LstmConfig.device is " + device.str() + " but " +
                        std::to_string(count) + " CUDA device(s) are usable");
    }
  }
}

}  // namespace fuselstm
