// Built without CUDA: asking for CUDA ops says how to get them.

#include "ops/ops.hpp"
#include "fuselstm/error.hpp"

namespace fuselstm::ops {

template <typename T>
std::unique_ptr<Ops<T>> make_cuda_ops(const Device& device, void*, MathMode,
                                      detail::CachingArena&) {
  throw DeviceError("fuselstm: " + device.str() +
                    " requested, but this build has no CUDA support (configure with the CUDA "
                    "toolkit and -DFUSELSTM_CUDA=ON)");
}

kernels::PersistentPlan cuda_persistent_plan(const Device&, DType, bool, CellActivation,
                                             std::int64_t hidden, std::int64_t batch) {
  kernels::PersistentPlan plan;
  plan.hidden = hidden;
  plan.batch = batch;
  plan.reason = "built without CUDA";
  return plan;
}

template std::unique_ptr<Ops<float>> make_cuda_ops<float>(const Device&, void*, MathMode,
                                                          detail::CachingArena&);
template std::unique_ptr<Ops<double>> make_cuda_ops<double>(const Device&, void*, MathMode,
                                                            detail::CachingArena&);

}  // namespace fuselstm::ops
