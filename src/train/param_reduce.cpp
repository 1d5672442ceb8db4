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
  Tensor sums = Tensor::empty({n}, DType::f64, params[0].value->context());
  std::set<ContextState*> contexts;
  for (std::int64_t k = 0; k < n; ++k) {
    const ParameterRef& p = params[k];
    contexts.insert(&context_of(*p.gradient));
    context_of(*p.gradient).order_after(context_of(sums));
    with_ops(*p.value, [&](auto& ops) {
      using T = elem_t<decltype(ops)>;
      ops.reduce(kind, p.gradient->numel(), p.gradient->template data_as<T>(),
                 sums.data_as<double>() + k);
    });
  }
  for (ContextState* c : contexts) {
    DeviceScope scope(c->device);
    if (c->device.is_cuda()) cuda_runtime::synchronize(c->device.index, c->stream.get());
  }
  return sums.to_vector<double>();
}

}  // namespace fuselstm::detail
