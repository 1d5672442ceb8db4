#pragma once
// The state behind fuselstm::Lstm: parameters, gradients, the ops of its device, backward's reusable
// workspace. Internal; the optimizers use it to run on the model's ops.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fuselstm/config.hpp"
#include "fuselstm/lstm.hpp"
#include "ops/ops.hpp"

namespace fuselstm::detail {

struct ContextData {
  std::uint64_t model_id = 0;
  std::int64_t steps = 0;
  std::int64_t batch = 0;
  Tensor x;                  // [T, B, X] copy of the input (dW_ih of layer 0 needs it)
  std::vector<Tensor> gates;  // per layer [T, B, 4H]
  std::vector<Tensor> c;      // per layer [T+1, B, H]
  std::vector<Tensor> h;      // per layer [T+1, B, H]
  // Inter-layer dropout (training with config.dropout > 0), per layer k > 0 at index k (index 0
  // unused): layer k−1's output after the mask [T, B, H], and the mask's key.
  std::vector<Tensor> dropped_input;
  std::vector<kernels::DropoutKey> dropout_keys;
};

struct ModelImpl {
  explicit ModelImpl(const LstmConfig& config);

  LstmConfig config;
  std::uint64_t id;  // tells this model's contexts from other models'
  std::vector<std::string> names;
  std::map<std::string, std::size_t> index_of;
  std::vector<Tensor> params;
  std::vector<Tensor> grads;
  bool training = true;              // applies inter-layer dropout (Lstm::set_training)
  std::uint64_t dropout_offset = 0;  // next position in the dropout stream

  std::unique_ptr<ops::Ops<float>> ops_f32;   // when config.dtype == f32
  std::unique_ptr<ops::Ops<double>> ops_f64;  // when config.dtype == f64
  template <typename T> ops::Ops<T>& ops();

  // Backward's workspace; reallocated only when a larger (T, B) arrives.
  struct Workspace {
    std::int64_t capacity_rows = 0;  // T·B it was sized for
    std::int64_t capacity_batch = 0;
    Tensor da, dh_rec, dc, dx_inner, dbias;
  } work;

  std::size_t lookup(const std::string& name) const;
  const Tensor& param(const std::string& name) const { return params[lookup(name)]; }
};

template <> inline ops::Ops<float>& ModelImpl::ops<float>() { return *ops_f32; }
template <> inline ops::Ops<double>& ModelImpl::ops<double>() { return *ops_f64; }

}  // namespace fuselstm::detail
