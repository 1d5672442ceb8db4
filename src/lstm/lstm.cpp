// The public Lstm class: checks every argument, allocates what the call needs, then hands raw
// pointers to the orchestration (sequence_forward / sequence_backward) on the model's ops.

#include "fuselstm/lstm.hpp"

#include <atomic>
#include <cmath>
#include <limits>
#include <new>
#include <random>

#include "fuselstm/error.hpp"
#include "fuselstm/parameter_names.hpp"
#include "lstm/dropout.hpp"
#include "lstm/model_impl.hpp"
#include "lstm/recorded_call.hpp"
#include "lstm/memory_plan.hpp"
#include "lstm/sequence.hpp"
#include "lstm/size_limits.hpp"
#include "ops/host/host_cell_simd.hpp"
#include "runtime/tensor_access.hpp"

namespace fuselstm {
namespace detail {
namespace {

std::uint64_t next_model_id() {
  static std::atomic<std::uint64_t> counter{1};
  return counter++;
}

// Throws ShapeError unless `t` is `dtype`[expected] on `device`.
void check_tensor_on(const char* where, const char* name, const Tensor& t, const Shape& expected,
                     DType dtype, const Device& device) {
  const std::string want = std::string(dtype_name(dtype)) + shape_str(expected) + " on " +
                           device.str();
  if (!t.defined() || t.shape() != expected || t.dtype() != dtype || t.device() != device) {
    throw ShapeError(std::string("fuselstm: ") + where + ": " + name + " must be " + want +
                     ", got " + t.describe());
  }
}

// An input made on another context of the model's device: the model's stream waits for the work
// queued there so far (no host wait; nothing when it is the model's own context).
void order_input(ModelImpl& m, const Tensor& t) {
  if (t.defined()) m.context.state()->order_after(*t.context().state());
}

// Throws ShapeError unless `t` is the model's dtype[expected] on its device; orders the model's
// stream after the tensor's context.
void check_tensor(const char* where, const char* name, const Tensor& t, const Shape& expected,
                  ModelImpl& m) {
  check_tensor_on(where, name, t, expected, m.config.dtype, m.config.device);
  order_input(m, t);
}

ExecutionContext context_of(const LstmConfig& config) {
  config.validate();
  return config.context ? *config.context : ExecutionContext::default_for(config.device);
}

}  // namespace

ModelImpl::ModelImpl(const LstmConfig& cfg)
    : config(cfg), context(context_of(cfg)), id(next_model_id()) {
  ids = parameter_ids(config);
  for (const ParameterId& id : ids) {
    const Shape shape = parameter_shape(config, id);
    index_of[parameter_name(id)] = names.size();
    names.push_back(parameter_name(id));
    params.push_back(Tensor::empty(shape, config.dtype, context));
    grads.push_back(Tensor::zeros(shape, config.dtype, context));
  }
  if (config.dtype == DType::f32) ops_f32 = context.state()->ops<float>(config.math);
  else ops_f64 = context.state()->ops<double>(config.math);
}

SegmentPlan ModelImpl::segment_plan(std::int64_t steps, std::int64_t batch) const {
  return resolve_segment_plan(config, steps, batch, dropout_active(), work.bytes());
}

namespace {

// What a workspace tensor must become to serve `need` as well as what it served before: the same
// columns, the larger row count (an empty `need`: keep what is there).
Shape grown(const Tensor& have, const Shape& need) {
  if (need.empty()) return have.defined() ? have.shape() : Shape{};
  if (!have.defined()) return need;
  Shape s = need;
  s[0] = std::max(s[0], have.dim(0));
  return s;
}

}  // namespace

void ModelImpl::reserve_workspace(const CallBuffers& b) {
  const std::pair<Tensor*, const Shape*> parts[] = {
      {&work.seg_gates, &b.segment_gates}, {&work.seg_c, &b.segment_c},
      {&work.h_spare, &b.h_spare},         {&work.da, &b.da},
      {&work.dh_rec, &b.dh_rec},           {&work.dc, &b.dc},
      {&work.dx_inner, &b.dx_inner},       {&work.dbias, &b.dbias},
      {&work.dy_reverse, &b.dy_reverse},   {&work.dx_reverse, &b.dx_reverse},
      {&work.dweight_t, &b.dweight_t}};
  bool fits = true;
  for (const auto& [have, need] : parts) {
    fits = fits && (need->empty() || (have->defined() && have->numel() >= elements_of(*need)));
  }
  if (fits) return;
  std::vector<Shape> shapes;
  for (const auto& [have, need] : parts) shapes.push_back(grown(*have, *need));
  work = Workspace();  // scratch only: free it first so the peak is the new size, not old + new
  for (std::size_t k = 0; k < shapes.size(); ++k) *parts[k].first = empty(shapes[k]);
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

// Pointers to one tensor set (parameters or gradients) per unit, in unit order.
template <typename T, typename Unit>
std::vector<Unit> unit_pointers(ModelImpl& m, std::vector<Tensor>& tensors) {
  // Unit = layer·D + direction, the orchestration's order.
  const std::int64_t D = m.config.directions();
  std::vector<Unit> out(static_cast<std::size_t>(m.config.num_layers * D));
  for (std::size_t i = 0; i < m.ids.size(); ++i) {
    const ParameterId& id = m.ids[i];
    T* data = tensors[i].data_as<T>();
    Unit& unit = out[static_cast<std::size_t>(id.layer * D + id.direction)];
    switch (id.kind) {
      case ParameterKind::weight_ih: unit.weight_ih = data; break;
      case ParameterKind::weight_hh: unit.weight_hh = data; break;
      case ParameterKind::bias_ih: unit.bias_ih = data; break;
      case ParameterKind::bias_hh: unit.bias_hh = data; break;
    }
  }
  return out;
}

template <typename T>
std::vector<LayerWeights<T>> layer_weights(ModelImpl& m) {
  return unit_pointers<T, LayerWeights<T>>(m, m.params);
}

template <typename T>
std::vector<LayerGradients<T>> layer_gradients(ModelImpl& m) {
  return unit_pointers<T, LayerGradients<T>>(m, m.grads);
}

template <typename T>
const T* optional_data(const Tensor& t) {
  return t.defined() ? t.data_as<T>() : nullptr;
}

template <typename T>
T* data_or_null(Tensor& t) {
  return t.defined() ? t.data_as<T>() : nullptr;
}

SequenceDims dims_of(const ModelImpl& m, std::int64_t steps, std::int64_t batch) {
  SequenceDims d;
  d.steps = steps;
  d.batch = batch;
  d.input = m.config.input_size;
  d.hidden = m.config.hidden_size;
  d.layers = m.config.num_layers;
  d.directions = m.config.directions();
  d.batch_first = m.config.batch_first;
  return d;
}

SequenceDims dims_of(const ModelImpl& m, const ContextData& ctx) {
  SequenceDims d = dims_of(m, ctx.steps, ctx.batch);
  d.lengths = static_cast<const std::int32_t*>(ctx.lengths.data());
  return d;
}

// The orchestration's view of a context; it only reads through these pointers during backward.
template <typename T>
std::vector<LayerSaved<T>> saved_of(const ContextData& ctx) {
  std::vector<LayerSaved<T>> saved(ctx.h.size());
  const std::int64_t stride = ctx.plan.recompute ? 1 : ctx.steps;
  for (std::size_t k = 0; k < saved.size(); ++k) {
    saved[k].h = const_cast<T*>(ctx.h[k].data_as<T>());
    saved[k].checkpoints = const_cast<T*>(ctx.checkpoints[k].data_as<T>());
    saved[k].checkpoint_stride = stride;
    saved[k].gates = ctx.gates.empty() ? nullptr : const_cast<T*>(ctx.gates[k].data_as<T>());
  }
  return saved;
}

template <typename T>
LayerLinks<T> links_of(const ContextData& ctx) {
  // The orchestration only reads through these during backward; the struct serves both passes.
  LayerLinks<T> links;
  for (const Tensor& t : ctx.reversed_input) links.reversed_input.push_back(const_cast<T*>(t.data_as<T>()));
  for (const Tensor& t : ctx.layer_output) links.output.push_back(const_cast<T*>(t.data_as<T>()));
  for (const Tensor& t : ctx.dropped_input) {
    links.dropped_input.push_back(t.defined() ? const_cast<T*>(t.data_as<T>()) : nullptr);
  }
  links.dropout_keys = ctx.dropout_keys;
  return links;
}

template <typename T>
SegmentWorkspace<T> segment_workspace(ModelImpl& m) {
  return {data_or_null<T>(m.work.seg_gates), data_or_null<T>(m.work.seg_c),
          data_or_null<T>(m.work.h_spare)};
}

// Whether the recurrent steps run as the persistent algorithm. automatic: on the host for float32
// with vector cell math (bench/RESULTS.md, "persistent host algorithm": 0.40-0.74x standard's time
// on every measured shape with OpenBLAS's default kernels on the dev VM, 0.72-0.94x at B = 16..64
// with its AVX-512 kernels, where B = 1 and B = 256 ran 2-13% slower: within this VM's noise of a
// tie at B = 1, so not worth a shape rule yet); on CUDA never: on an H200 the persistent kernel
// was correct but beat the standard steps only at B = 1, where graphs did as well (RESULTS.md).
bool runs_persistent(const LstmConfig& config) {
  switch (config.algorithm) {
    case RecurrentAlgorithm::persistent: return true;
    case RecurrentAlgorithm::standard:
    case RecurrentAlgorithm::graphs: return false;
    case RecurrentAlgorithm::automatic:
      return config.device.is_cpu() && config.dtype == DType::f32 &&
             ops::host_simd_selected() != ops::HostSimd::scalar;
  }
  return false;
}

// The call's shared description, from the model and the context forward filled (or fills).
template <typename T>
SequenceCall<T> call_of(ModelImpl& m, const ContextData& ctx) {
  SequenceCall<T> call;
  call.cell = m.config.cell;
  call.persistent = runs_persistent(m.config);
  call.dims = dims_of(m, ctx);
  call.plan = ctx.plan;
  call.x = ctx.x.data_as<T>();
  call.weights = layer_weights<T>(m);
  call.saved = saved_of<T>(ctx);
  call.links = links_of<T>(ctx);
  call.segment = segment_workspace<T>(m);
  return call;
}

template <typename T>
void run_forward(ModelImpl& m, ContextData& ctx, const Tensor& h0, const Tensor& c0,
                 ForwardResult& out) {
  ForwardIo<T> io;
  io.h0 = optional_data<T>(h0);
  io.c0 = optional_data<T>(c0);
  io.y = out.y.data_as<T>();
  io.hT = out.hT.data_as<T>();
  io.cT = out.cT.data_as<T>();
  const SequenceCall<T> call = call_of<T>(m, ctx);
  run_orchestration<T>(m.ops<T>(), m.config.algorithm,
                       [&](ops::Ops<T>& o) { sequence_forward<T>(o, call, io); });
}

template <typename T>
void run_backward(ModelImpl& m, ContextData& ctx, const Tensor& dy, const Tensor& dhT,
                  const Tensor& dcT, Tensor& dh_carry, Tensor& dx_time_major,
                  BackwardResult& out) {
  BackwardWorkspace<T> work;
  work.da = m.work.da.data_as<T>();
  work.dh_rec = m.work.dh_rec.data_as<T>();
  work.dc = m.work.dc.data_as<T>();
  work.dx_inner = data_or_null<T>(m.work.dx_inner);
  work.dbias = m.work.dbias.data_as<T>();
  work.dweight_t = m.work.dweight_t.data_as<T>();
  work.dh_carry = data_or_null<T>(dh_carry);
  work.dx_time_major = data_or_null<T>(dx_time_major);
  work.dy_reverse = data_or_null<T>(m.work.dy_reverse);
  work.dx_reverse = data_or_null<T>(m.work.dx_reverse);
  BackwardIo<T> io;
  io.dy = optional_data<T>(dy);
  io.dhT = optional_data<T>(dhT);
  io.dcT = optional_data<T>(dcT);
  io.dx = data_or_null<T>(out.dx);
  io.dh0 = out.dh0.data_as<T>();
  io.dc0 = out.dc0.data_as<T>();
  SequenceCall<T> call = call_of<T>(m, ctx);
  call.regenerate_gates = ctx.plan.da_in_gates && ctx.gates_spent;
  ctx.gates_spent = ctx.plan.da_in_gates;
  const std::vector<LayerGradients<T>> grads = layer_gradients<T>(m);
  run_orchestration<T>(m.ops<T>(), m.config.algorithm, [&](ops::Ops<T>& o) {
    sequence_backward<T>(o, call, io, grads, work);
  });
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
Lstm::Lstm(const LstmSpec& spec, const RunOptions& run) : Lstm(LstmConfig(spec, run)) {}
Lstm::~Lstm() = default;
Lstm::Lstm(Lstm&&) noexcept = default;
Lstm& Lstm::operator=(Lstm&&) noexcept = default;

detail::ModelImpl& Lstm::live(const char* method) const {
  if (!impl_) {
    throw ValueError(std::string("fuselstm: Lstm::") + method +
                     " on a moved-from model (it holds no parameters; assign a model to it first)");
  }
  return *impl_;
}

const LstmConfig& Lstm::config() const { return live("config").config; }
const std::vector<std::string>& Lstm::parameter_names() const {
  return live("parameter_names").names;
}
Tensor& Lstm::parameter(const std::string& name) {
  detail::ModelImpl& m = live("parameter");
  return m.params[m.lookup(name)];
}
const Tensor& Lstm::parameter(const std::string& name) const {
  const detail::ModelImpl& m = live("parameter");
  return m.params[m.lookup(name)];
}
void Lstm::bind_parameter(const std::string& name, Tensor value, Tensor gradient) {
  detail::ModelImpl& m = live("bind_parameter");
  const std::size_t i = m.lookup(name);
  const Tensor& own = m.params[i];
  const auto check = [&](const Tensor& t, const char* what) {
    if (!t.defined() || t.shape() != own.shape() || t.dtype() != own.dtype() ||
        t.device() != own.device()) {
      throw ShapeError("fuselstm: Lstm::bind_parameter: the " + std::string(what) + " of '" + name +
                       "' must be " + std::string(dtype_name(own.dtype())) + shape_str(own.shape()) +
                       " on " + own.device().str() + ", got " + t.describe());
    }
  };
  check(value, "value");
  if (gradient.defined()) check(gradient, "gradient");
  m.params[i] = std::move(value);
  if (gradient.defined()) m.grads[i] = std::move(gradient);
}

Tensor& Lstm::gradient(const std::string& name) {
  detail::ModelImpl& m = live("gradient");
  return m.grads[m.lookup(name)];
}
const Tensor& Lstm::gradient(const std::string& name) const {
  const detail::ModelImpl& m = live("gradient");
  return m.grads[m.lookup(name)];
}

void Lstm::init_uniform(std::uint64_t seed, double low, double high) {
  if (!(low <= high) || !std::isfinite(low) || !std::isfinite(high)) {
    throw ValueError("fuselstm: init_uniform: need finite low <= high, got [" +
                     std::to_string(low) + ", " + std::to_string(high) + ")");
  }
  detail::ModelImpl& m = live("init_uniform");
  std::mt19937_64 engine(seed);
  // Drawn and written in chunks: no numel-sized host vector (the same draws in the same order).
  constexpr std::int64_t kChunk = (std::int64_t{1} << 20) / sizeof(double);
  std::vector<double> values;
  try {
    values.resize(kChunk);
  } catch (const std::bad_alloc&) {
    throw OutOfMemoryError("fuselstm: init_uniform: out of host memory for a 1 MiB buffer");
  }
  for (Tensor& p : m.params) {
    for (std::int64_t first = 0; first < p.numel(); first += kChunk) {
      const std::int64_t count = std::min(kChunk, p.numel() - first);
      for (std::int64_t k = 0; k < count; ++k) {
        const double u = static_cast<double>(engine() >> 11) * 0x1.0p-53;
        values[k] = low + (high - low) * u;
      }
      detail::assign_range(p, first, values.data(), count);
    }
  }
}

void Lstm::init_pytorch_default(std::uint64_t seed) {
  const std::int64_t H = live("init_pytorch_default").config.hidden_size;
  const double bound = 1.0 / std::sqrt(static_cast<double>(H));
  init_uniform(seed, -bound, bound);
}

namespace detail {
namespace {

// The checked shape of a sequence call: x is [T, B, X] ([B, T, X] when batch_first).
struct SequenceShape {
  std::int64_t steps = 0, batch = 0;
};

// Throws E naming T, B and the configuration's sizes unless the buffers of a (T, B) call, summed,
// fit int64 bytes. A bound, not the plan: (T+1)·B rows × 16·(X + D·H) values × (L·D + 1) × the
// word dominates every buffer a forward, backward or infer forms (per unit h, c or checkpoints and
// gates: 6H per row; per layer the reversed, joined and dropped inputs; x, y, dx and the
// workspace) and their sum in plan_memory, so no size product wraps. Anything it refuses needs
// more than ~10^17 bytes.
template <typename E>
void check_sequence_size(const char* where, const LstmConfig& cfg, std::int64_t steps,
                         std::int64_t batch) {
  const std::int64_t D = cfg.directions();
  const auto width = checked_mul(checked_add(cfg.input_size, D * cfg.hidden_size), 16);
  const auto bytes = checked_mul(
      checked_mul(checked_mul(checked_add(steps, 1), batch), width),
      checked_mul(checked_add(checked_mul(cfg.num_layers, D), 1),
                  static_cast<std::int64_t>(dtype_size(cfg.dtype))));
  if (!bytes) {
    throw E(std::string("fuselstm: ") + where + ": T = " + std::to_string(steps) + ", B = " +
            std::to_string(batch) + " is too large for input_size " +
            std::to_string(cfg.input_size) + ", hidden_size " + std::to_string(cfg.hidden_size) +
            ", num_layers " + std::to_string(cfg.num_layers) +
            ": (T+1)·B·16·(X + D·H)·(L·D + 1) bytes overflow int64");
  }
}

SequenceShape check_sequence(const char* where, ModelImpl& m, const Tensor& x,
                             const Tensor& h0, const Tensor& c0,
                             const std::vector<std::int64_t>& lengths) {
  const LstmConfig& cfg = m.config;
  const char* layout = cfg.batch_first ? "[B >= 1, T >= 1, X = " : "[T >= 1, B >= 1, X = ";
  if (!x.defined() || x.shape().size() != 3 || x.dim(2) != cfg.input_size || x.dim(0) < 1 ||
      x.dim(1) < 1) {
    throw ShapeError(std::string("fuselstm: ") + where + ": x must be " + layout +
                     std::to_string(cfg.input_size) + "], got " + x.describe());
  }
  check_tensor(where, "x", x, x.shape(), m);
  SequenceShape s;
  s.steps = cfg.batch_first ? x.dim(1) : x.dim(0);
  s.batch = cfg.batch_first ? x.dim(0) : x.dim(1);
  check_sequence_size<ShapeError>(where, cfg, s.steps, s.batch);
  const Shape state{cfg.num_layers * cfg.directions(), s.batch, cfg.hidden_size};
  if (h0.defined()) check_tensor(where, "h0", h0, state, m);
  if (c0.defined()) check_tensor(where, "c0", c0, state, m);
  if (!lengths.empty()) {
    if (static_cast<std::int64_t>(lengths.size()) != s.batch) {
      throw ShapeError(std::string("fuselstm: ") + where + ": lengths must have B = " +
                       std::to_string(s.batch) + " entries, got " +
                       std::to_string(lengths.size()));
    }
    for (std::size_t b = 0; b < lengths.size(); ++b) {
      // Lengths travel to the kernels as int32.
      if (lengths[b] < 1 || lengths[b] > s.steps ||
          lengths[b] > std::numeric_limits<std::int32_t>::max()) {
        throw ValueError(std::string("fuselstm: ") + where + ": lengths[" + std::to_string(b) +
                         "] = " + std::to_string(lengths[b]) + " is outside [1, T = " +
                         std::to_string(s.steps) + "] or above 2^31 - 1");
      }
    }
  }
  return s;
}

// The lengths as int32 on the model's device (empty buffer when not given).
RawBuffer device_lengths(const ModelImpl& m, const std::vector<std::int64_t>& lengths) {
  if (lengths.empty()) return RawBuffer();
  const std::vector<std::int32_t> narrow(lengths.begin(), lengths.end());  // checked <= T
  RawBuffer buffer(m.context.state(), narrow.size() * sizeof(std::int32_t));
  buffer.copy_from_host(narrow.data());
  return buffer;
}

Shape sequence_shape(const LstmConfig& cfg, std::int64_t steps, std::int64_t batch,
                     std::int64_t features) {
  return cfg.batch_first ? Shape{batch, steps, features} : Shape{steps, batch, features};
}

// Copies x (either layout) into the time-major tensor `dst`.
template <typename T>
void copy_time_major(ModelImpl& m, const Tensor& x, std::int64_t steps, std::int64_t batch,
                     Tensor& dst) {
  if (m.config.batch_first) {
    m.ops<T>().swap_axes(steps, batch, m.config.input_size, x.data_as<T>(), dst.data_as<T>());
  } else {
    m.ops<T>().copy(dst.data_as<T>(), x.data_as<T>(), x.numel());
  }
}

// The time-major copy every pass reads x through, with the steps past each sequence's length
// zeroed: those rows still enter the input-projection GEMM and the dW_ih GEMM, where NaN or Inf in
// them would leak into valid results through 0·NaN.
template <typename T>
void copy_input(ModelImpl& m, const Tensor& x, std::int64_t steps, std::int64_t batch,
                const RawBuffer& lengths, Tensor& dst) {
  copy_time_major<T>(m, x, steps, batch, dst);
  if (lengths.data()) {
    m.ops<T>().zero_padded_steps(steps, batch, m.config.input_size,
                                 static_cast<const std::int32_t*>(lengths.data()), false,
                                 dst.data_as<T>());
  }
}

template <typename T>
void run_infer(ModelImpl& m, const SequenceDims& dims, const SegmentPlan& plan, const Tensor& x,
               const Tensor& h0, const Tensor& c0, const RawBuffer& lengths,
               InferenceResult& out) {
  const LstmConfig& cfg = m.config;
  const std::int64_t T_ = dims.steps, B = dims.batch, H = dims.hidden, k = plan.projection_steps;
  Tensor x_time_major, h_a, h_b, c, gates, c_mid;  // allocated before any work is queued
  // x is read in place unless it needs a transpose or its padding zeroed (copy_input).
  const bool copy_x = cfg.batch_first || lengths.data();
  if (copy_x) x_time_major = Tensor::empty({T_, B, dims.input}, cfg.dtype, m.context);
  h_a = Tensor::empty({T_ + 1, B, H}, cfg.dtype, m.context);
  if (dims.layers > 1) h_b = Tensor::empty({T_ + 1, B, H}, cfg.dtype, m.context);
  c = Tensor::empty({B, H}, cfg.dtype, m.context);
  gates = Tensor::empty({k * B, 4 * H}, cfg.dtype, m.context);
  c_mid = Tensor::empty({k * B, H}, cfg.dtype, m.context);
  const T* input = x.data_as<T>();
  if (copy_x) {
    copy_input<T>(m, x, T_, B, lengths, x_time_major);
    input = x_time_major.data_as<T>();
  }
  InferenceBuffers<T> buf;
  buf.h[0] = h_a.data_as<T>();
  buf.h[1] = data_or_null<T>(h_b);
  buf.c = c.data_as<T>();
  buf.gates = gates.data_as<T>();
  buf.c_mid = c_mid.data_as<T>();
  SequenceCall<T> call;
  call.cell = cfg.cell;
  call.dims = dims;
  call.plan = plan;
  call.x = input;
  call.weights = layer_weights<T>(m);
  ForwardIo<T> io;
  io.h0 = optional_data<T>(h0);
  io.c0 = optional_data<T>(c0);
  io.y = out.y.data_as<T>();
  io.hT = out.hT.data_as<T>();
  io.cT = out.cT.data_as<T>();
  run_orchestration<T>(m.ops<T>(), cfg.algorithm,
                       [&](ops::Ops<T>& o) { sequence_infer<T>(o, call, buf, io); });
}

}  // namespace
}  // namespace detail

ForwardResult Lstm::forward(const Tensor& x, const Tensor& h0, const Tensor& c0,
                            const std::vector<std::int64_t>& lengths) {
  detail::ModelImpl& m = live("forward");
  detail::DeviceScope scope(m.config.device);
  const LstmConfig& cfg = m.config;
  const auto [T, B] = detail::check_sequence("forward", m, x, h0, c0, lengths);
  const std::int64_t H = cfg.hidden_size, L = cfg.num_layers, D = cfg.directions();
  const Shape state{L * D, B, H};

  // Everything is allocated before any work is queued: a failure leaves nothing half-written.
  auto ctx = std::make_unique<detail::ContextData>();
  ctx->model_id = m.id;
  ctx->steps = T;
  ctx->batch = B;
  ctx->plan = m.segment_plan(T, B);
  const detail::CallBuffers buffers =
      detail::describe_call(cfg, T, B, ctx->plan, m.dropout_active(), !lengths.empty());
  m.reserve_workspace(buffers);
  ctx->lengths = detail::device_lengths(m, lengths);
  ctx->x = m.empty(buffers.x);
  for (const auto* group : {&buffers.h, &buffers.checkpoints, &buffers.gates,
                            &buffers.reversed_input, &buffers.layer_output}) {
    std::vector<Tensor>& into = group == &buffers.h             ? ctx->h
                                : group == &buffers.checkpoints ? ctx->checkpoints
                                : group == &buffers.gates       ? ctx->gates
                                : group == &buffers.reversed_input ? ctx->reversed_input
                                                                   : ctx->layer_output;
    for (const Shape& shape : *group) into.push_back(m.empty(shape));
  }
  ForwardResult out;
  out.y = m.empty(buffers.y);
  out.hT = m.empty(buffers.state);
  out.cT = m.empty(buffers.state);
  detail::prepare_dropout(m, *ctx, buffers.dropped_input);  // inter-layer dropout (training only)

  if (cfg.dtype == DType::f32) {
    detail::copy_input<float>(m, x, T, B, ctx->lengths, ctx->x);
    detail::run_forward<float>(m, *ctx, h0, c0, out);
  } else {
    detail::copy_input<double>(m, x, T, B, ctx->lengths, ctx->x);
    detail::run_forward<double>(m, *ctx, h0, c0, out);
  }
  out.context.data_ = std::move(ctx);
  return out;
}

BackwardResult Lstm::backward(const ForwardContext& context, const Tensor& dy, const Tensor& dhT,
                              const Tensor& dcT, bool compute_dx) {
  detail::ModelImpl& m = live("backward");
  detail::DeviceScope scope(m.config.device);
  const LstmConfig& cfg = m.config;
  if (!context.defined()) throw ValueError("fuselstm: backward: the context is empty");
  if (context.data_->model_id != m.id) {
    throw ValueError("fuselstm: backward: the context was made by another model's forward");
  }
  detail::ContextData& ctx = *context.data_;  // backward may spend its gates (da_in_gates)
  const std::int64_t T = ctx.steps, B = ctx.batch, H = cfg.hidden_size, L = cfg.num_layers;
  const std::int64_t D = cfg.directions();
  const Shape state{L * D, B, H};
  if (dy.defined()) {
    detail::check_tensor("backward", "dy", dy, detail::sequence_shape(cfg, T, B, D * H), m);
  }
  if (dhT.defined()) detail::check_tensor("backward", "dhT", dhT, state, m);
  if (dcT.defined()) detail::check_tensor("backward", "dcT", dcT, state, m);

  const detail::CallBuffers buffers = detail::describe_call(
      cfg, T, B, ctx.plan, !ctx.dropped_input.empty(), ctx.lengths.data() != nullptr);
  m.reserve_workspace(buffers);
  BackwardResult out;
  Tensor dx_time_major;
  if (compute_dx) {
    out.dx = m.empty(buffers.dx);
    dx_time_major = m.empty(buffers.dx_time_major);
  }
  Tensor dh_carry = m.empty(buffers.dh_carry);
  out.dh0 = m.empty(buffers.state);
  out.dc0 = m.empty(buffers.state);

  if (cfg.dtype == DType::f32) {
    detail::run_backward<float>(m, ctx, dy, dhT, dcT, dh_carry, dx_time_major, out);
  } else {
    detail::run_backward<double>(m, ctx, dy, dhT, dcT, dh_carry, dx_time_major, out);
  }
  return out;
}

InferenceResult Lstm::infer(const Tensor& x, const Tensor& h0, const Tensor& c0,
                            const std::vector<std::int64_t>& lengths) {
  detail::ModelImpl& m = live("infer");
  detail::DeviceScope scope(m.config.device);
  const LstmConfig& cfg = m.config;
  const auto [T, B] = detail::check_sequence("infer", m, x, h0, c0, lengths);
  if (cfg.bidirectional) {
    // The reverse direction needs the whole sequence; the training forward's buffers serve, in
    // evaluation mode (inference never applies dropout).
    const bool training = m.training;
    m.training = false;
    try {
      ForwardResult f = forward(x, h0, c0, lengths);
      m.training = training;
      return {std::move(f.y), std::move(f.hT), std::move(f.cT)};
    } catch (...) {
      m.training = training;
      throw;
    }
  }
  const Shape state{cfg.num_layers, B, cfg.hidden_size};
  const detail::RawBuffer device_lengths = detail::device_lengths(m, lengths);
  detail::SequenceDims dims = detail::dims_of(m, T, B);
  dims.lengths = static_cast<const std::int32_t*>(device_lengths.data());
  InferenceResult out;
  out.y = Tensor::empty(detail::sequence_shape(cfg, T, B, cfg.hidden_size), cfg.dtype, m.context);
  out.hT = Tensor::empty(state, cfg.dtype, m.context);
  out.cT = Tensor::empty(state, cfg.dtype, m.context);
  const detail::SegmentPlan plan = m.segment_plan(T, B);
  if (cfg.dtype == DType::f32) {
    detail::run_infer<float>(m, dims, plan, x, h0, c0, device_lengths, out);
  } else {
    detail::run_infer<double>(m, dims, plan, x, h0, c0, device_lengths, out);
  }
  return out;
}

Tensor Lstm::step(const Tensor& x_t, Tensor& h, Tensor& c) {
  detail::ModelImpl& m = live("step");
  detail::DeviceScope scope(m.config.device);
  const LstmConfig& cfg = m.config;
  if (cfg.bidirectional) {
    throw ValueError("fuselstm: step: a bidirectional model needs the whole sequence; use infer()");
  }
  if (!x_t.defined() || x_t.shape().size() != 2 || x_t.dim(1) != cfg.input_size || x_t.dim(0) < 1) {
    throw ShapeError("fuselstm: step: x_t must be [B >= 1, X = " + std::to_string(cfg.input_size) +
                     "], got " + x_t.describe());
  }
  const std::int64_t B = x_t.dim(0);
  const Shape state{cfg.num_layers, B, cfg.hidden_size};
  detail::check_tensor("step", "x_t", x_t, x_t.shape(), m);
  if (h.defined()) detail::check_tensor("step", "h", h, state, m);  // undefined: zeros
  if (c.defined()) detail::check_tensor("step", "c", c, state, m);
  // One step is a sequence of length 1 in either layout: [1, B, X] and [B, 1, X] hold the same
  // bytes in the same order.
  Tensor x = x_t.clone().reshape(cfg.batch_first ? Shape{B, 1, cfg.input_size}
                                                 : Shape{1, B, cfg.input_size});
  InferenceResult r = infer(x, h, c);
  h = std::move(r.hT);
  c = std::move(r.cT);
  return std::move(r.y).reshape({B, cfg.hidden_size});
}

MemoryPlan Lstm::plan_memory(std::int64_t steps, std::int64_t batch) const {
  const detail::ModelImpl& m = live("plan_memory");
  if (steps < 1 || batch < 1) {
    throw ValueError("fuselstm: plan_memory: need T >= 1 and B >= 1, got T=" +
                     std::to_string(steps) + ", B=" + std::to_string(batch));
  }
  detail::check_sequence_size<ValueError>("plan_memory", m.config, steps, batch);
  return detail::plan_bytes(m.config, steps, batch, m.segment_plan(steps, batch),
                            m.dropout_active());
}

void Lstm::zero_grad() {
  detail::ModelImpl& m = live("zero_grad");
  detail::DeviceScope scope(m.config.device);
  for (Tensor& g : m.grads) {
    if (m.config.dtype == DType::f32) {
      m.ops<float>().fill(g.data_as<float>(), g.numel(), 0.0f);
    } else {
      m.ops<double>().fill(g.data_as<double>(), g.numel(), 0.0);
    }
  }
}

void Lstm::synchronize() { live("synchronize").context.synchronize(); }

const ExecutionContext& Lstm::context() const { return live("context").context; }

}  // namespace fuselstm
