// The public Lstm class: checks every argument, allocates what the call needs, then hands raw
// pointers to the orchestration (sequence_forward / sequence_backward) on the model's ops.

#include "fuselstm/lstm.hpp"

#include <atomic>
#include <cmath>
#include <random>

#include "fuselstm/error.hpp"
#include "dropout.hpp"
#include "model_impl.hpp"
#include "sequence.hpp"

namespace fuselstm {
namespace detail {
namespace {

std::uint64_t next_model_id() {
  static std::atomic<std::uint64_t> counter{1};
  return counter++;
}

// Throws ShapeError unless `t` is `dtype`[expected] on `device`.
void check_tensor(const char* where, const char* name, const Tensor& t, const Shape& expected,
                  DType dtype, const Device& device) {
  const std::string want = std::string(dtype_name(dtype)) + shape_str(expected) + " on " +
                           device.str();
  if (!t.defined() || t.shape() != expected || t.dtype() != dtype || t.device() != device) {
    throw ShapeError(std::string("fuselstm: ") + where + ": " + name + " must be " + want +
                     ", got " + t.describe());
  }
}

}  // namespace

ModelImpl::ModelImpl(const LstmConfig& cfg) : config(cfg), id(next_model_id()) {
  config.validate();
  const std::int64_t H = config.hidden_size;
  for (std::int64_t k = 0; k < config.num_layers; ++k) {
    const std::string suffix = "_l" + std::to_string(k);
    const std::int64_t X = k == 0 ? config.input_size : H;
    std::vector<std::pair<std::string, Shape>> layer = {{"weight_ih" + suffix, {4 * H, X}},
                                                        {"weight_hh" + suffix, {4 * H, H}}};
    if (config.bias) {
      layer.push_back({"bias_ih" + suffix, {4 * H}});
      layer.push_back({"bias_hh" + suffix, {4 * H}});
    }
    for (auto& [name, shape] : layer) {
      index_of[name] = names.size();
      names.push_back(name);
      params.push_back(Tensor::empty(shape, config.dtype, config.device));
      grads.push_back(Tensor::zeros(shape, config.dtype, config.device));
    }
  }
  if (config.dtype == DType::f32) {
    ops_f32 = ops::make_ops<float>(config.device, config.cuda_stream, config.math);
  } else {
    ops_f64 = ops::make_ops<double>(config.device, config.cuda_stream, config.math);
  }
}

std::size_t ModelImpl::lookup(const std::string& name) const {
  const auto it = index_of.find(name);
  if (it == index_of.end()) {
    std::string valid;
    for (const auto& n : names) valid += (valid.empty() ? "" : ", ") + n;
    throw ValueError("fuselstm: no parameter named '" + name + "' (valid: " + valid + ")");
  }
  return it->second;
}

namespace {

template <typename T>
std::vector<LayerWeights<T>> layer_weights(ModelImpl& m) {
  std::vector<LayerWeights<T>> out(static_cast<std::size_t>(m.config.num_layers));
  for (std::size_t k = 0; k < out.size(); ++k) {
    const std::string s = "_l" + std::to_string(k);
    out[k].weight_ih = m.params[m.lookup("weight_ih" + s)].data_as<T>();
    out[k].weight_hh = m.params[m.lookup("weight_hh" + s)].data_as<T>();
    if (m.config.bias) {
      out[k].bias_ih = m.params[m.lookup("bias_ih" + s)].data_as<T>();
      out[k].bias_hh = m.params[m.lookup("bias_hh" + s)].data_as<T>();
    }
  }
  return out;
}

template <typename T>
std::vector<LayerGradients<T>> layer_gradients(ModelImpl& m) {
  std::vector<LayerGradients<T>> out(static_cast<std::size_t>(m.config.num_layers));
  for (std::size_t k = 0; k < out.size(); ++k) {
    const std::string s = "_l" + std::to_string(k);
    out[k].weight_ih = m.grads[m.lookup("weight_ih" + s)].data_as<T>();
    out[k].weight_hh = m.grads[m.lookup("weight_hh" + s)].data_as<T>();
    if (m.config.bias) {
      out[k].bias_ih = m.grads[m.lookup("bias_ih" + s)].data_as<T>();
      out[k].bias_hh = m.grads[m.lookup("bias_hh" + s)].data_as<T>();
    }
  }
  return out;
}

template <typename T>
const T* optional_data(const Tensor& t) {
  return t.defined() ? t.data_as<T>() : nullptr;
}

template <typename T>
SequenceDims dims_of(const ModelImpl& m, std::int64_t steps, std::int64_t batch) {
  return {steps, batch, m.config.input_size, m.config.hidden_size, m.config.num_layers};
}

template <typename T>
void run_forward(ModelImpl& m, ContextData& ctx, const Tensor& h0, const Tensor& c0,
                 ForwardResult& out) {
  std::vector<LayerActivations<T>> saved(ctx.gates.size());
  for (std::size_t k = 0; k < saved.size(); ++k) {
    saved[k] = {ctx.gates[k].data_as<T>(), ctx.c[k].data_as<T>(), ctx.h[k].data_as<T>()};
  }
  attach_dropout<T>(ctx, saved);
  sequence_forward<T>(m.ops<T>(), m.config.cell, dims_of<T>(m, ctx.steps, ctx.batch),
                      ctx.x.data_as<T>(), optional_data<T>(h0), optional_data<T>(c0),
                      layer_weights<T>(m), saved, out.y.data_as<T>(), out.hT.data_as<T>(),
                      out.cT.data_as<T>());
}

template <typename T>
void run_backward(ModelImpl& m, const ContextData& ctx, const Tensor& dy, const Tensor& dhT,
                  const Tensor& dcT, BackwardResult& out) {
  std::vector<LayerActivations<T>> saved(ctx.gates.size());
  for (std::size_t k = 0; k < saved.size(); ++k) {
    // The orchestration reads these only; the struct is shared with forward, hence non-const.
    saved[k] = {const_cast<T*>(ctx.gates[k].data_as<T>()), const_cast<T*>(ctx.c[k].data_as<T>()),
                const_cast<T*>(ctx.h[k].data_as<T>())};
  }
  attach_dropout<T>(ctx, saved);
  BackwardWorkspace<T> work;
  work.da = m.work.da.data_as<T>();
  work.dh_rec = m.work.dh_rec.data_as<T>();
  work.dc = m.work.dc.data_as<T>();
  work.dx_inner = m.work.dx_inner.defined() ? m.work.dx_inner.data_as<T>() : nullptr;
  work.dbias = m.work.dbias.data_as<T>();
  sequence_backward<T>(m.ops<T>(), m.config.cell, dims_of<T>(m, ctx.steps, ctx.batch),
                       ctx.x.data_as<T>(), layer_weights<T>(m), saved, optional_data<T>(dy),
                       optional_data<T>(dhT), optional_data<T>(dcT), layer_gradients<T>(m), work,
                       out.dx.data_as<T>(), out.dh0.data_as<T>(), out.dc0.data_as<T>());
}

// Grows backward's workspace to (T, B); allocates into locals first so a failure changes nothing.
void reserve_workspace(ModelImpl& m, std::int64_t steps, std::int64_t batch) {
  const std::int64_t rows = steps * batch;
  if (rows <= m.work.capacity_rows && batch <= m.work.capacity_batch) return;
  const std::int64_t H = m.config.hidden_size;
  const DType dt = m.config.dtype;
  const Device dev = m.config.device;
  ModelImpl::Workspace w;
  w.capacity_rows = std::max(rows, m.work.capacity_rows);
  w.capacity_batch = std::max(batch, m.work.capacity_batch);
  w.da = Tensor::empty({w.capacity_rows, 4 * H}, dt, dev);
  w.dh_rec = Tensor::empty({w.capacity_batch, H}, dt, dev);
  w.dc = Tensor::empty({w.capacity_batch, H}, dt, dev);
  if (m.config.num_layers > 1) w.dx_inner = Tensor::empty({w.capacity_rows, H}, dt, dev);
  w.dbias = Tensor::empty({4 * H}, dt, dev);
  m.work = std::move(w);
}

}  // namespace
}  // namespace detail

ForwardContext::ForwardContext() = default;
ForwardContext::~ForwardContext() = default;
ForwardContext::ForwardContext(ForwardContext&&) noexcept = default;
ForwardContext& ForwardContext::operator=(ForwardContext&&) noexcept = default;
std::int64_t ForwardContext::steps() const { return data_ ? data_->steps : 0; }
std::int64_t ForwardContext::batch() const { return data_ ? data_->batch : 0; }

Lstm::Lstm(const LstmConfig& config) : impl_(std::make_unique<detail::ModelImpl>(config)) {
  init_pytorch_default(0);
}
Lstm::~Lstm() = default;
Lstm::Lstm(Lstm&&) noexcept = default;
Lstm& Lstm::operator=(Lstm&&) noexcept = default;

const LstmConfig& Lstm::config() const { return impl_->config; }
const std::vector<std::string>& Lstm::parameter_names() const { return impl_->names; }
Tensor& Lstm::parameter(const std::string& name) { return impl_->params[impl_->lookup(name)]; }
const Tensor& Lstm::parameter(const std::string& name) const {
  return impl_->params[impl_->lookup(name)];
}
Tensor& Lstm::gradient(const std::string& name) { return impl_->grads[impl_->lookup(name)]; }
const Tensor& Lstm::gradient(const std::string& name) const {
  return impl_->grads[impl_->lookup(name)];
}

void Lstm::init_uniform(std::uint64_t seed, double low, double high) {
  if (!(low <= high) || !std::isfinite(low) || !std::isfinite(high)) {
    throw ValueError("fuselstm: init_uniform: need finite low <= high, got [" +
                     std::to_string(low) + ", " + std::to_string(high) + ")");
  }
  std::mt19937_64 engine(seed);
  for (Tensor& p : impl_->params) {
    std::vector<double> values(static_cast<std::size_t>(p.numel()));
    for (double& v : values) {
      const double u = static_cast<double>(engine() >> 11) * 0x1.0p-53;
      v = low + (high - low) * u;
    }
    p.assign(values);
  }
}

void Lstm::init_pytorch_default(std::uint64_t seed) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(impl_->config.hidden_size));
  init_uniform(seed, -bound, bound);
}

ForwardResult Lstm::forward(const Tensor& x, const Tensor& h0, const Tensor& c0) {
  detail::ModelImpl& m = *impl_;
  const LstmConfig& cfg = m.config;
  if (!x.defined() || x.shape().size() != 3 || x.dim(2) != cfg.input_size || x.dim(0) < 1 ||
      x.dim(1) < 1) {
    throw ShapeError("fuselstm: forward: x must be [T >= 1, B >= 1, X = " +
                     std::to_string(cfg.input_size) + "], got " + x.describe());
  }
  const std::int64_t T = x.dim(0), B = x.dim(1), H = cfg.hidden_size, L = cfg.num_layers;
  detail::check_tensor("forward", "x", x, x.shape(), cfg.dtype, cfg.device);
  const Shape state{L, B, H};
  if (h0.defined()) detail::check_tensor("forward", "h0", h0, state, cfg.dtype, cfg.device);
  if (c0.defined()) detail::check_tensor("forward", "c0", c0, state, cfg.dtype, cfg.device);

  // Everything is allocated before any work is queued: a failure leaves nothing half-written.
  auto ctx = std::make_unique<detail::ContextData>();
  ctx->model_id = m.id;
  ctx->steps = T;
  ctx->batch = B;
  ctx->x = x.clone();
  for (std::int64_t k = 0; k < L; ++k) {
    ctx->gates.push_back(Tensor::empty({T, B, 4 * H}, cfg.dtype, cfg.device));
    ctx->c.push_back(Tensor::empty({T + 1, B, H}, cfg.dtype, cfg.device));
    ctx->h.push_back(Tensor::empty({T + 1, B, H}, cfg.dtype, cfg.device));
  }
  ForwardResult out;
  out.y = Tensor::empty({T, B, H}, cfg.dtype, cfg.device);
  out.hT = Tensor::empty(state, cfg.dtype, cfg.device);
  out.cT = Tensor::empty(state, cfg.dtype, cfg.device);
  detail::prepare_dropout(m, *ctx);  // inter-layer dropout (training only)

  if (cfg.dtype == DType::f32) detail::run_forward<float>(m, *ctx, h0, c0, out);
  else detail::run_forward<double>(m, *ctx, h0, c0, out);
  out.context.data_ = std::move(ctx);
  return out;
}

BackwardResult Lstm::backward(const ForwardContext& context, const Tensor& dy, const Tensor& dhT,
                              const Tensor& dcT) {
  detail::ModelImpl& m = *impl_;
  const LstmConfig& cfg = m.config;
  if (!context.defined()) throw ValueError("fuselstm: backward: the context is empty");
  if (context.data_->model_id != m.id) {
    throw ValueError("fuselstm: backward: the context was made by another model's forward");
  }
  const detail::ContextData& ctx = *context.data_;
  const std::int64_t T = ctx.steps, B = ctx.batch, H = cfg.hidden_size, L = cfg.num_layers;
  const Shape state{L, B, H};
  if (dy.defined()) detail::check_tensor("backward", "dy", dy, {T, B, H}, cfg.dtype, cfg.device);
  if (dhT.defined()) detail::check_tensor("backward", "dhT", dhT, state, cfg.dtype, cfg.device);
  if (dcT.defined()) detail::check_tensor("backward", "dcT", dcT, state, cfg.dtype, cfg.device);

  detail::reserve_workspace(m, T, B);
  BackwardResult out;
  out.dx = Tensor::empty({T, B, cfg.input_size}, cfg.dtype, cfg.device);
  out.dh0 = Tensor::empty(state, cfg.dtype, cfg.device);
  out.dc0 = Tensor::empty(state, cfg.dtype, cfg.device);

  if (cfg.dtype == DType::f32) detail::run_backward<float>(m, ctx, dy, dhT, dcT, out);
  else detail::run_backward<double>(m, ctx, dy, dhT, dcT, out);
  return out;
}

void Lstm::zero_grad() {
  for (Tensor& g : impl_->grads) {
    if (impl_->config.dtype == DType::f32) {
      impl_->ops<float>().fill(g.data_as<float>(), g.numel(), 0.0f);
    } else {
      impl_->ops<double>().fill(g.data_as<double>(), g.numel(), 0.0);
    }
  }
}

void Lstm::synchronize() {
  if (impl_->config.dtype == DType::f32) impl_->ops<float>().synchronize();
  else impl_->ops<double>().synchronize();
}

}  // namespace fuselstm
