// A model's parameters in the reference's layout: what every check of the product path needs.

#include "fuselstm/lstm.hpp"
#include "fuselstm/parameter_names.hpp"
#include "reference/reference.hpp"

namespace fuselstm::reference {

Dims dims_of(const Lstm& model) {
  const LstmConfig& c = model.config();
  return {0, 0, c.input_size, c.hidden_size, c.num_layers, c.bidirectional};
}

Params<double> params_of(const Lstm& model) {
  // parameter_ids lists unit by unit (layer k forward, then layer k reverse): the reference's
  // unit order, so each kind's list grows in unit order.
  Params<double> p;
  for (const ParameterId& id : parameter_ids(model.config())) {
    std::vector<double> values = model.parameter(parameter_name(id)).to_vector<double>();
    switch (id.kind) {
      case ParameterKind::weight_ih: p.weight_ih.push_back(std::move(values)); break;
      case ParameterKind::weight_hh: p.weight_hh.push_back(std::move(values)); break;
      case ParameterKind::bias_ih: p.bias_ih.push_back(std::move(values)); break;
      case ParameterKind::bias_hh: p.bias_hh.push_back(std::move(values)); break;
    }
  }
  return p;
}

}  // namespace fuselstm::reference
