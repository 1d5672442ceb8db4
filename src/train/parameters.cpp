#include "fuselstm/parameters.hpp"

#include "fuselstm/head.hpp"
#include "lstm/model_impl.hpp"

namespace fuselstm {

ParameterList parameters_of(Lstm& model) {
  detail::ModelImpl& m = model.impl();
  ParameterList list;
  for (std::size_t k = 0; k < m.names.size(); ++k) {
    const int layer = static_cast<int>(m.ids[k].layer);  // validate() caps num_layers below 2^31
    list.push_back({m.names[k], layer, &m.params[k], &m.grads[k], &m});
  }
  return list;
}

ParameterList parameters_of(Linear& head) {
  ParameterList list;
  list.push_back({head.name() + ".weight", -1, &head.weight(), &head.weight_grad(), &head.owner()});
  if (head.has_bias()) {
    list.push_back({head.name() + ".bias", -1, &head.bias(), &head.bias_grad(), &head.owner()});
  }
  return list;
}

ParameterList parameters_of(Lstm& model, Linear& head) {
  ParameterList list = parameters_of(model);
  for (ParameterRef& p : parameters_of(head)) list.push_back(std::move(p));
  return list;
}

}  // namespace fuselstm
