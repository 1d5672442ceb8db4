#include "fuselstm/parameters.hpp"

#include "fuselstm/embedding.hpp"
#include "fuselstm/head.hpp"
#include "fuselstm/mlp.hpp"
#include "fuselstm/lstm.hpp"
#include "fuselstm/parameter_names.hpp"

namespace fuselstm {

ParameterList parameters_of(Lstm& model) {
  ParameterList list;
  const std::vector<ParameterId> ids = parameter_ids(model.config());
  for (const ParameterId& id : ids) {
    const std::string name = parameter_name(id);
    const int layer = static_cast<int>(id.layer);  // validate() caps num_layers below 2^31
    list.push_back({name, layer, &model.parameter(name), &model.gradient(name)});
  }
  return list;
}

ParameterList parameters_of(Linear& head) {
  ParameterList list;
  list.push_back({head.name() + ".weight", -1, &head.weight(), &head.weight_grad()});
  if (head.has_bias()) {
    list.push_back({head.name() + ".bias", -1, &head.bias(), &head.bias_grad()});
  }
  return list;
}

ParameterList parameters_of(Lstm& model, Linear& head) {
  ParameterList list = parameters_of(model);
  for (ParameterRef& p : parameters_of(head)) list.push_back(std::move(p));
  return list;
}

ParameterList parameters_of(Mlp& head) {
  ParameterList list;
  for (int i = 0; i < head.num_layers(); ++i) {
    for (ParameterRef& p : parameters_of(head.layer(i))) list.push_back(std::move(p));
  }
  return list;
}

ParameterList parameters_of(Embedding& embedding) {
  return {{embedding.name() + ".weight", -1, &embedding.weight(), &embedding.weight_grad()}};
}

ParameterList concat(std::vector<ParameterList> lists) {
  ParameterList all;
  for (ParameterList& list : lists) {
    for (ParameterRef& p : list) all.push_back(std::move(p));
  }
  return all;
}

}  // namespace fuselstm
