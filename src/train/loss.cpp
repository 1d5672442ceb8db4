// Losses: checks, then one fused loss-and-gradient op over the rows seen and one deterministic
// reduction of the terms, on the ops of the input's context; the value is read back after a synchronize.

#include "fuselstm/loss.hpp"

#include "runtime/raw_buffer.hpp"
#include "train/train_util.hpp"

namespace fuselstm {
namespace {

// The rows of a [T, B, K] input that the loss sees.
struct RowRange {
  std::int64_t first = 0;  // first row seen (t·B + b)
  std::int64_t count = 0;  // rows seen
};

RowRange rows_seen(const LossOptions& o, std::int64_t T, std::int64_t B) {
  if (o.steps == LossSteps::all) return {0, T * B};
  return {(T - 1) * B, B};
}

void check_sequence(const char* where, const char* name, const Tensor& t) {
  if (!t.defined() || t.shape().size() != 3 || t.dim(0) < 1 || t.dim(1) < 1 || t.dim(2) < 1) {
    throw ShapeError(std::string("fuselstm: ") + where + ": " + name +
                     " must be [T >= 1, B >= 1, K >= 1], got " + t.describe());
  }
}

// A 1-D scratch tensor on `like`'s context with room for at least n elements of `dtype` (kept
// while it is large enough and on that context: a loop of one shape allocates it once).
void reserve(Tensor& t, std::int64_t n, DType dtype, const Tensor& like) {
  if (!t.defined() || t.numel() < n || t.dtype() != dtype || t.context() != like.context()) {
    t = Tensor::empty({n}, dtype, like.context());
  }
}

// The loss value: the copy to the host waits for the context's stream.
double read_back(const Tensor& total) { return total.to_vector<double>()[0]; }

}  // namespace

// --- MSE --------------------------------------------------------------------------------------

struct MseLoss::Impl {
  LossOptions options;
  Tensor terms;  // [≥ n] per-element terms
  Tensor total;  // f64 [1]
};

MseLoss::MseLoss(const LossOptions& options)
    : impl_(std::make_unique<Impl>(Impl{options, Tensor(), Tensor()})) {}
MseLoss::~MseLoss() = default;
MseLoss::MseLoss(MseLoss&&) noexcept = default;
MseLoss& MseLoss::operator=(MseLoss&&) noexcept = default;
const LossOptions& MseLoss::options() const {
  return impl_->options;
}

LossResult MseLoss::operator()(const Tensor& prediction, const Tensor& target) {
  const LossOptions& o = impl_->options;
  check_sequence("MseLoss", "prediction", prediction);
  const std::int64_t T = prediction.dim(0), B = prediction.dim(1), K = prediction.dim(2);
  const Shape want = o.steps == LossSteps::all ? prediction.shape() : Shape{B, K};
  detail::check_operand("MseLoss", "target", target, prediction, &want);

  const RowRange rows = rows_seen(o, T, B);
  const std::int64_t n = rows.count * K;
  reserve(impl_->terms, n, prediction.dtype(), prediction);
  reserve(impl_->total, 1, DType::f64, prediction);
  LossResult result;
  result.grad = Tensor::empty(prediction.shape(), prediction.dtype(), prediction.context());
  detail::with_ops(prediction, [&](auto& ops) {
    using T_ = detail::elem_t<decltype(ops)>;
    T_* grad = result.grad.data_as<T_>();
    if (rows.first > 0) ops.fill(grad, rows.first * K, T_(0));
    kernels::MseArgs<T_> a;
    a.n = n;
    a.prediction = prediction.data_as<T_>() + rows.first * K;
    a.target = target.data_as<T_>();
    a.term = impl_->terms.data_as<T_>();
    a.grad = grad + rows.first * K;
    a.grad_scale = o.reduction == Reduction::mean ? T_(1.0 / static_cast<double>(n)) : T_(1);
    ops.mse_loss(a);
    ops.reduce(kernels::ReduceKind::sum, n, a.term, impl_->total.data_as<double>());
  });
  const double sum = read_back(impl_->total);
  result.value = o.reduction == Reduction::mean ? sum / static_cast<double>(n) : sum;
  return result;
}

// --- Cross-entropy ----------------------------------------------------------------------------

struct CrossEntropyLoss::Impl {
  LossOptions options;
  Tensor terms;               // [≥ rows] per-row terms
  Tensor total;               // f64 [1]
  detail::RawBuffer targets;  // int64 [≥ rows] on the device
  std::shared_ptr<detail::ContextState> targets_context;
};

CrossEntropyLoss::CrossEntropyLoss(const LossOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
}
CrossEntropyLoss::~CrossEntropyLoss() = default;
CrossEntropyLoss::CrossEntropyLoss(CrossEntropyLoss&&) noexcept = default;
CrossEntropyLoss& CrossEntropyLoss::operator=(CrossEntropyLoss&&) noexcept = default;
const LossOptions& CrossEntropyLoss::options() const {
  return impl_->options;
}

LossResult CrossEntropyLoss::operator()(const Tensor& logits,
                                        const std::vector<std::int64_t>& targets) {
  const LossOptions& o = impl_->options;
  check_sequence("CrossEntropyLoss", "logits", logits);
  const std::int64_t T = logits.dim(0), B = logits.dim(1), K = logits.dim(2);
  const RowRange rows = rows_seen(o, T, B);
  if (static_cast<std::int64_t>(targets.size()) != rows.count) {
    throw ShapeError("fuselstm: CrossEntropyLoss: targets must hold " + std::to_string(rows.count) +
                     (o.steps == LossSteps::all ? " (T·B)" : " (B)") + " values, got " +
                     std::to_string(targets.size()));
  }
  std::int64_t counted = 0;
  for (std::size_t r = 0; r < targets.size(); ++r) {
    const std::int64_t t = targets[r];
    if (t == o.ignore_index) continue;
    if (t < 0 || t >= K) {
      throw ValueError("fuselstm: CrossEntropyLoss: targets[" + std::to_string(r) +
                       "] = " + std::to_string(t) + " is outside [0, " + std::to_string(K) +
                       ") and is not ignore_index (" + std::to_string(o.ignore_index) + ")");
    }
    ++counted;
  }

  const std::size_t target_bytes = targets.size() * sizeof(std::int64_t);
  if (impl_->targets.bytes() < target_bytes || impl_->targets_context != logits.context().state()) {
    impl_->targets = detail::RawBuffer(logits.context().state(), target_bytes);
    impl_->targets_context = logits.context().state();
  }
  reserve(impl_->terms, rows.count, logits.dtype(), logits);
  reserve(impl_->total, 1, DType::f64, logits);
  LossResult result;
  result.grad = Tensor::empty(logits.shape(), logits.dtype(), logits.context());
  // Queued after the previous call's kernels, which read the old targets.
  detail::DeviceScope scope(logits.device());
  impl_->targets.copy_from_host(targets.data());
  const bool mean = o.reduction == Reduction::mean;
  detail::with_ops(logits, [&](auto& ops) {
    using T_ = detail::elem_t<decltype(ops)>;
    T_* grad = result.grad.data_as<T_>();
    if (rows.first > 0) ops.fill(grad, rows.first * K, T_(0));
    kernels::CrossEntropyArgs<T_> a;
    a.rows = rows.count;
    a.classes = K;
    a.logits = logits.data_as<T_>() + rows.first * K;
    a.targets = static_cast<const std::int64_t*>(impl_->targets.data());
    a.ignore_index = o.ignore_index;
    a.term = impl_->terms.data_as<T_>();
    a.grad = grad + rows.first * K;
    a.grad_scale = mean && counted > 0 ? T_(1.0 / static_cast<double>(counted)) : T_(1);
    ops.cross_entropy_loss(a);
    ops.reduce(kernels::ReduceKind::sum, rows.count, a.term, impl_->total.data_as<double>());
  });
  const double sum = read_back(impl_->total);
  result.value = mean ? (counted > 0 ? sum / static_cast<double>(counted) : 0.0) : sum;
  return result;
}

}  // namespace fuselstm
