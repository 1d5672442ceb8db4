#include "fuselstm/config.hpp"

#include "fuselstm/error.hpp"

namespace fuselstm {

const char* cell_activation_name(CellActivation cell) {
  return cell == CellActivation::tanh ? "tanh" : "identity";
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
