#include "train/param_reduce.hpp"

#include <set>

#include "train/train_util.hpp"

namespace fuselstm::detail {

void check_same_device(const char* where, const ParameterList& params) {
  for (const ParameterRef& p : params) {
    if (p.value->device() != params[0].value->device()) {
      throw ValueError(std::string("fuselstm: ") + where +
                       ": every parameter must be on one device; " + params[0].name + " is on " +
                       params[0].value->device().str() + ", " + p.name + " on " +
                       p.value->device().str());
    }
  }
}

std::vector<double> reduce_gradients(const ParameterList& params, kernels::ReduceKind kind) {
  if (params.empty()) return {};
  check_same_device("reduce", params);
  const std::int64_t n = static_cast<std::int64_t>(params.size());
  Tensor sums = Tensor::empty({n}, DType::f64, params[0].value->device());
  std::set<ModelImpl*> owners;
  for (std::int64_t k = 0; k < n; ++k) {
    const ParameterRef& p = params[k];
    owners.insert(p.owner);
    with_ops(*p.owner, [&](auto& ops) {
      using T = elem_t<decltype(ops)>;
      ops.reduce(kind, p.gradient->numel(), p.gradient->template data_as<T>(),
                 sums.data_as<double>() + k);
    });
  }
  for (ModelImpl* owner : owners) with_ops(*owner, [](auto& ops) { ops.synchronize(); });
  return sums.to_vector<double>();
}

}  // namespace fuselstm::detail
