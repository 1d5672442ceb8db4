#pragma once
// The names of an LSTM's parameters: (kind, layer, direction) ↔ PyTorch nn.LSTM's state_dict name
// ("weight_ih_l0", "bias_hh_l2_reverse"), and the model's ordered list. The one place these names
// are built or parsed: the model, init, io and the reference all call it, and users addressing a
// tensor of a bidirectional model should too (a name assembled by hand is how _reverse tensors get
// skipped).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuselstm/config.hpp"
#include "fuselstm/tensor.hpp"

namespace fuselstm {

/// Layers are numbered 0..kMaxLayers − 1 (at most 9 digits in a name; LstmConfig::validate caps
/// num_layers at kMaxLayers).
constexpr std::int64_t kMaxLayers = 1000000000;

/// The four tensors of one layer and direction, in PyTorch's order.
enum class ParameterKind { weight_ih, weight_hh, bias_ih, bias_hh };

/// "weight_ih", "weight_hh", "bias_ih" or "bias_hh".
const char* parameter_kind_name(ParameterKind kind);

/// One parameter tensor of a stacked, possibly bidirectional LSTM.
struct ParameterId {
  ParameterKind kind = ParameterKind::weight_ih;
  std::int64_t layer = 0;      ///< k ≥ 0
  std::int64_t direction = 0;  ///< 0: forward; 1: reverse (PyTorch's _reverse suffix)
  bool operator==(const ParameterId& other) const {
    return kind == other.kind && layer == other.layer && direction == other.direction;
  }
  bool operator!=(const ParameterId& other) const { return !(*this == other); }
};

/// "<kind>_l<layer>" plus "_reverse" when direction is 1, e.g. "bias_hh_l2_reverse".
/// ValueError when layer < 0 or direction is not 0 or 1.
std::string parameter_name(const ParameterId& id);

/// The inverse of parameter_name for a bare name (no module prefix such as "lstm."). Nothing for
/// any other text: unknown kinds ("bias_xx_l0"), a missing, signed or zero-padded layer
/// ("weight_ih_l", "weight_ih_l-1", "weight_ih_l01"), a layer of more than 9 digits, or another
/// suffix ("weight_ih_l0_rev"). parse_parameter_name(parameter_name(id)) == id for every id with
/// layer < kMaxLayers.
std::optional<ParameterId> parse_parameter_name(std::string_view name);

/// The shape of `id` in a model of `config` (X_k = input_size for layer 0, D·H above, D = 2 when
/// bidirectional): weight_ih [4H, X_k], weight_hh [4H, H], bias_ih and bias_hh [4H]. Assumes
/// config.validate() passed (its bounds keep these products inside int64).
Shape parameter_shape(const LstmConfig& config, const ParameterId& id);

/// Every parameter of a model of `config`, in PyTorch's order: for each layer k, its forward
/// tensors (weight_ih, weight_hh, then bias_ih, bias_hh when config.bias), then its reverse ones
/// when bidirectional. Lstm::parameter_names() is this list through parameter_name.
std::vector<ParameterId> parameter_ids(const LstmConfig& config);

}  // namespace fuselstm
