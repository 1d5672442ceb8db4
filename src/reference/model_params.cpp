// A model's parameters in the reference's layout: what every check of the product path needs.

#include "fuselstm/lstm.hpp"
#include "reference/reference.hpp"

namespace fuselstm::reference {

Dims dims_of(const Lstm& model) {
  const LstmConfig& c = model.config();
  return {0, 0, c.input_size, c.hidden_size, c.num_layers, c.bidirectional};
}

Params<double> params_of(const Lstm& model) {
  Params<double> p;
  const std::int64_t D = model.config().directions();
  for (std::int64_t unit = 0; unit < model.config().num_layers * D; ++unit) {
    const std::string s =
        "_l" + std::to_string(unit / D) + (unit % D == 1 ? "_reverse" : "");
    p.weight_ih.push_back(model.parameter("weight_ih" + s).to_vector<double>());
    p.weight_hh.push_back(model.parameter("weight_hh" + s).to_vector<double>());
    if (model.config().bias) {
      p.bias_ih.push_back(model.parameter("bias_ih" + s).to_vector<double>());
      p.bias_hh.push_back(model.parameter("bias_hh" + s).to_vector<double>());
    }
  }
  return p;
}

}  // namespace fuselstm::reference
