#include "fuselstm/config.hpp"

#include "fuselstm/error.hpp"
#include "fuselstm/parameter_names.hpp"
#include "lstm/size_limits.hpp"
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

const char* recurrent_algorithm_name(RecurrentAlgorithm algorithm) {
  switch (algorithm) {
    case RecurrentAlgorithm::automatic: return "automatic";
    case RecurrentAlgorithm::standard: return "standard";
    case RecurrentAlgorithm::graphs: return "graphs";
    case RecurrentAlgorithm::persistent: return "persistent";
  }
  return "?";
}

namespace {

// Every size the library forms from a configuration fits int64: 4H, each parameter's elements and
// the bytes of all parameters and gradients (so no product wraps into a small or negative size).
void check_size_limits(const LstmConfig& config) {
  const std::int64_t input_size = config.input_size, hidden_size = config.hidden_size;
  const std::int64_t num_layers = config.num_layers, directions = config.directions();
  using detail::checked_add;
  using detail::checked_mul;
  const std::string X = std::to_string(input_size), H = std::to_string(hidden_size);
  const auto four_h = checked_mul(4, hidden_size);
  if (!four_h) {
    throw ValueError("fuselstm: LstmConfig.hidden_size = " + H +
                     " is too large: 4·hidden_size overflows int64 (hidden_size must be < 2^61)");
  }
  // Elements of one layer and direction: weight_ih [4H, X_k], weight_hh [4H, H], two [4H] biases.
  const auto unit = [&](std::int64_t x_k) {
    return checked_mul(four_h, checked_add(checked_add(x_k, hidden_size), 2));
  };
  const auto first = unit(input_size);
  if (!first) {
    throw ValueError("fuselstm: LstmConfig.input_size = " + X + " with hidden_size = " + H +
                     ": layer 0's parameters, 4·H·(X + H + 2) elements, overflow int64");
  }
  const auto inner = num_layers > 1 ? unit(directions * hidden_size) : std::optional<std::int64_t>(0);
  if (!inner) {
    throw ValueError("fuselstm: LstmConfig.hidden_size = " + H +
                     ": a layer's parameters, 4·H·(D·H + H + 2) elements, overflow int64");
  }
  // Parameters and gradients, in bytes, over every layer and direction.
  const auto bytes = checked_mul(
      checked_mul(checked_add(first, checked_mul(num_layers - 1, inner)), directions),
      2 * static_cast<std::int64_t>(dtype_size(config.dtype)));
  if (!bytes) {
    throw ValueError("fuselstm: LstmConfig.num_layers = " + std::to_string(num_layers) +
                     " with input_size = " + X + ", hidden_size = " + H +
                     ": the parameters and gradients' bytes overflow int64");
  }
}

}  // namespace

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
  if (num_layers > kMaxLayers) {  // parameter names hold at most 9 digits of layer
    throw ValueError("fuselstm: LstmConfig.num_layers must be <= " + std::to_string(kMaxLayers) +
                     ", got " + std::to_string(num_layers));
  }
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
  switch (algorithm) {
    case RecurrentAlgorithm::automatic:
    case RecurrentAlgorithm::standard:
    case RecurrentAlgorithm::graphs:
    case RecurrentAlgorithm::persistent: break;
    default:
      throw ValueError("fuselstm: LstmConfig.algorithm is not a RecurrentAlgorithm value (" +
                       std::to_string(static_cast<int>(algorithm)) + ")");
  }
  detail::check_device_usable(device, "LstmConfig.device");
  if (context && context->device() != device) {
    throw ValueError("fuselstm: LstmConfig.context is on " + context->device().str() +
                     " but LstmConfig.device is " + device.str());
  }
}

void LstmConfig::validate() const {
  LstmSpec::validate();
  check_size_limits(*this);  // needs the dtype: the bytes of parameters and gradients
  RunOptions::validate();
}

}  // namespace fuselstm
