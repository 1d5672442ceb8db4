// PyTorch nn.LSTM's parameter names, built and parsed here only.

#include "fuselstm/parameter_names.hpp"

#include "fuselstm/error.hpp"

namespace fuselstm {
namespace {

constexpr ParameterKind kKinds[] = {ParameterKind::weight_ih, ParameterKind::weight_hh,
                                    ParameterKind::bias_ih, ParameterKind::bias_hh};
constexpr std::string_view kLayerMark = "_l";
constexpr std::string_view kReverseSuffix = "_reverse";
// Layers below kMaxLayers have at most 9 digits: parsing never overflows.
constexpr std::size_t kMaxLayerDigits = 9;
static_assert(kMaxLayers == 1000000000, "kMaxLayerDigits is the digit count of kMaxLayers - 1");

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

const char* parameter_kind_name(ParameterKind kind) {
  switch (kind) {
    case ParameterKind::weight_ih:
      return "weight_ih";
    case ParameterKind::weight_hh:
      return "weight_hh";
    case ParameterKind::bias_ih:
      return "bias_ih";
    case ParameterKind::bias_hh:
      return "bias_hh";
  }
  return "?";
}

std::string parameter_name(const ParameterId& id) {
  if (id.layer < 0 || (id.direction != 0 && id.direction != 1)) {
    throw ValueError("fuselstm: parameter_name: need layer >= 0 and direction 0 or 1, got layer " +
                     std::to_string(id.layer) + ", direction " + std::to_string(id.direction));
  }
  return std::string(parameter_kind_name(id.kind)) + std::string(kLayerMark) +
         std::to_string(id.layer) + (id.direction == 1 ? std::string(kReverseSuffix) : "");
}

// Hand-written rather than std::regex: linear time, no recursion on hostile names from files.
std::optional<ParameterId> parse_parameter_name(std::string_view name) {
  ParameterId id;
  bool known_kind = false;
  for (const ParameterKind kind : kKinds) {
    const std::string_view kind_name = parameter_kind_name(kind);
    if (starts_with(name, kind_name)) {
      id.kind = kind;
      name.remove_prefix(kind_name.size());
      known_kind = true;
      break;
    }
  }
  if (!known_kind || !starts_with(name, kLayerMark)) return std::nullopt;
  name.remove_prefix(kLayerMark.size());
  std::size_t digits = 0;
  while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
  if (digits == 0 || digits > kMaxLayerDigits || (digits > 1 && name[0] == '0')) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < digits; ++i) id.layer = id.layer * 10 + (name[i] - '0');
  name.remove_prefix(digits);
  if (name.empty()) return id;
  if (name != kReverseSuffix) return std::nullopt;
  id.direction = 1;
  return id;
}

Shape parameter_shape(const LstmConfig& config, const ParameterId& id) {
  const std::int64_t H = config.hidden_size;
  switch (id.kind) {
    case ParameterKind::weight_ih:
      return {4 * H, id.layer == 0 ? config.input_size : config.directions() * H};
    case ParameterKind::weight_hh:
      return {4 * H, H};
    case ParameterKind::bias_ih:
    case ParameterKind::bias_hh:
      return {4 * H};
  }
  return {};
}

std::vector<ParameterId> parameter_ids(const LstmConfig& config) {
  std::vector<ParameterId> ids;
  const int per_unit = config.bias ? 4 : 2;  // weights first, then biases (kKinds' order)
  for (std::int64_t layer = 0; layer < config.num_layers; ++layer) {
    for (std::int64_t direction = 0; direction < config.directions(); ++direction) {
      for (int k = 0; k < per_unit; ++k) ids.push_back({kKinds[k], layer, direction});
    }
  }
  return ids;
}

}  // namespace fuselstm
