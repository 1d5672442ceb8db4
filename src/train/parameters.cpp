#include "fuselstm/parameters.hpp"

#include "fuselstm/head.hpp"
#include "fuselstm/lstm.hpp"

namespace fuselstm {

ParameterList parameters_of(Lstm& model) {
  ParameterList list;
  for (const std::string& name : model.parameter_names()) {
    const int layer = std::stoi(name.substr(name.rfind("_l") + 2));  // "..._l{k}"
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

}  // namespace fuselstm
