// Parameter names: (kind, layer, direction) ↔ PyTorch nn.LSTM's name, round trips and rejects, and
// the model's order (the one the model, io, init and the reference all take from this module).

#include "fuselstm/parameter_names.hpp"

#include <gtest/gtest.h>

#include "fuselstm/error.hpp"
#include "fuselstm/lstm.hpp"

namespace fuselstm::testing {
namespace {

constexpr ParameterKind kAllKinds[] = {ParameterKind::weight_ih, ParameterKind::weight_hh,
                                       ParameterKind::bias_ih, ParameterKind::bias_hh};

std::string describe(const ParameterId& id) {
  return std::string(parameter_kind_name(id.kind)) + " layer " + std::to_string(id.layer) +
         " direction " + std::to_string(id.direction);
}

TEST(ParameterNames, PyTorchSpelling) {
  EXPECT_EQ(parameter_name({ParameterKind::weight_ih, 0, 0}), "weight_ih_l0");
  EXPECT_EQ(parameter_name({ParameterKind::weight_hh, 1, 0}), "weight_hh_l1");
  EXPECT_EQ(parameter_name({ParameterKind::bias_ih, 10, 1}), "bias_ih_l10_reverse");
  EXPECT_EQ(parameter_name({ParameterKind::bias_hh, 2, 1}), "bias_hh_l2_reverse");
}

TEST(ParameterNames, RoundTripEveryKindLayerAndDirection) {
  // Layers: the small ones every model has, digit-count edges, and the largest 9-digit layer.
  for (const std::int64_t layer :
       {0LL, 1LL, 2LL, 9LL, 10LL, 99LL, 100LL, 123456789LL, 999999999LL}) {
    for (const ParameterKind kind : kAllKinds) {
      for (const std::int64_t direction : {0, 1}) {
        const ParameterId id{kind, layer, direction};
        const std::string name = parameter_name(id);
        const std::optional<ParameterId> back = parse_parameter_name(name);
        ASSERT_TRUE(back.has_value()) << describe(id) << " -> '" << name << "'";
        EXPECT_EQ(*back, id) << describe(id) << " -> '" << name << "' -> " << describe(*back);
      }
    }
  }
}

TEST(ParameterNames, RejectsWhatIsNotAnLstmName) {
  for (const char* name : {"",
                           "weight_ih",
                           "weight_ih_l",
                           "weight_ih_l-1",
                           "weight_ih_l+1",
                           "weight_ih_l0_rev",
                           "weight_ih_l0_reverse_reverse",
                           "weight_ih_l0reverse",
                           "weight_ih_l0_",
                           "bias_xx_l0",
                           "weight_hr_l0",
                           "weight_ih_l01",
                           "weight_ih_l00",
                           "weight_ih_l1000000000",
                           "weight_ih_l99999999999999999999",
                           "weight_ih_l 1",
                           "weight_ih_lx",
                           "Weight_ih_l0",
                           "lstm.weight_ih_l0",
                           "weight_ih_l0.x",
                           "xweight_ih_l0",
                           "weight_ih_L0",
                           "_l0",
                           "weight_ih_l1_l2",
                           "bias_ih_l0\n"}) {
    EXPECT_FALSE(parse_parameter_name(name).has_value()) << "'" << name << "'";
  }
}

TEST(ParameterNames, RefusesAnIdWithoutAName) {
  EXPECT_THROW(parameter_name({ParameterKind::weight_ih, -1, 0}), ValueError);
  EXPECT_THROW(parameter_name({ParameterKind::weight_ih, 0, 2}), ValueError);
  EXPECT_THROW(parameter_name({ParameterKind::weight_ih, 0, -1}), ValueError);
}

TEST(ParameterNames, ModelOrderIsPyTorchs) {
  LstmConfig cfg;
  cfg.input_size = 3;
  cfg.hidden_size = 5;
  cfg.num_layers = 2;
  cfg.bidirectional = true;
  const std::vector<std::string> expected = {
      "weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",         "bias_hh_l0",
      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
      "weight_ih_l1",         "weight_hh_l1",         "bias_ih_l1",         "bias_hh_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"};
  std::vector<std::string> names;
  for (const ParameterId& id : parameter_ids(cfg)) names.push_back(parameter_name(id));
  EXPECT_EQ(names, expected);
  EXPECT_EQ(Lstm(cfg).parameter_names(), expected);

  // Shapes: layer 1 reads both directions of layer 0 (2H wide).
  EXPECT_EQ(parameter_shape(cfg, {ParameterKind::weight_ih, 0, 1}), (Shape{20, 3}));
  EXPECT_EQ(parameter_shape(cfg, {ParameterKind::weight_ih, 1, 1}), (Shape{20, 10}));
  EXPECT_EQ(parameter_shape(cfg, {ParameterKind::weight_hh, 1, 0}), (Shape{20, 5}));
  EXPECT_EQ(parameter_shape(cfg, {ParameterKind::bias_hh, 1, 1}), (Shape{20}));

  cfg.bias = false;
  cfg.bidirectional = false;
  names.clear();
  for (const ParameterId& id : parameter_ids(cfg)) names.push_back(parameter_name(id));
  EXPECT_EQ(names, (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "weight_ih_l1",
                                             "weight_hh_l1"}));
  EXPECT_EQ(Lstm(cfg).parameter_names(), names);
}

}  // namespace
}  // namespace fuselstm::testing
