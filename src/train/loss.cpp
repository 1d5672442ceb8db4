// Losses: checks, then one fused loss-and-gradient op over the rows seen and one deterministic
// reduction of the terms, on the ops of the input's context; the value is read back after a synchronize.

#include "fuselstm/loss.hpp"

#include "train/train_util.hpp"

namespace fuselstm {
namespace {

// The input's layout: [T, B, K], or [B, T, K] with batch_first; rows in storage order.
struct Layout {
  std::int64_t T = 0, B = 0, K = 0;
  bool batch_first = false;
  std::int64_t row(std::int64_t t, std::int64_t b) const { return batch_first ? b * T + t : t * B + b; }
};

// A [N, K] input is N independent rows: one step of a batch of N.
Layout layout_of(const LossOptions& o, const Tensor& input) {
  Layout l;
  if (input.shape().size() == 2) {
    l.T = 1;
    l.B = input.dim(0);
    l.K = input.dim(1);
    return l;
  }
  l.batch_first = o.batch_first;
  l.T = o.batch_first ? input.dim(1) : input.dim(0);
  l.B = o.batch_first ? input.dim(0) : input.dim(1);
  l.K = input.dim(2);
  return l;
}

void check_lengths(const char* where, const std::vector<std::int64_t>& lengths, const Tensor& input,
                   const Layout& l) {
  if (!lengths.empty() && input.shape().size() == 2) {
    throw ShapeError(std::string("fuselstm: ") + where + ": lengths need a sequence input [T, B, "
                     "K] (or [B, T, K]); got rows " + input.describe());
  }
  detail::check_lengths(where, lengths, l.B, l.T);
}

std::int64_t steps_of(const std::vector<std::int64_t>& lengths, std::int64_t b, std::int64_t T) {
  return lengths.empty() ? T : lengths[b];
}

void check_sequence(const char* where, const char* name, const Tensor& t) {
  const std::size_t rank = t.defined() ? t.shape().size() : 0;
  if ((rank != 2 && rank != 3) || t.numel() == 0) {
    throw ShapeError(std::string("fuselstm: ") + where + ": " + name +
                     " must be [T, B, K] (or [B, T, K]) or rows [N, K], every size >= 1, got " +
                     t.describe());
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

LossResult MseLoss::operator()(const Tensor& prediction, const Tensor& target,
                               const std::vector<std::int64_t>& lengths) {
  const LossOptions& o = impl_->options;
  check_sequence("MseLoss", "prediction", prediction);
  const Layout l = layout_of(o, prediction);
  const Shape want = o.steps == LossSteps::all ? prediction.shape() : Shape{l.B, l.K};
  detail::check_operand("MseLoss", "target", target, prediction, &want);
  check_lengths("MseLoss", lengths, prediction, l);

  const bool last = o.steps == LossSteps::last;
  std::int64_t real_rows = 0;  // the rows seen: the mean's N is real_rows·K
  for (std::int64_t b = 0; b < l.B; ++b) real_rows += last ? 1 : steps_of(lengths, b, l.T);
  const std::int64_t n = last ? l.B * l.K : l.T * l.B * l.K;  // terms computed
  reserve(impl_->terms, n, prediction.dtype(), prediction);
  reserve(impl_->total, 1, DType::f64, prediction);
  LossResult result;
  result.grad = Tensor::empty(prediction.shape(), prediction.dtype(), prediction.context());
  detail::DeviceScope scope(prediction.device());
  const detail::RawBuffer padded =
      !last ? detail::upload_lengths(lengths, prediction) : detail::RawBuffer();
  const double scale = o.reduction == Reduction::mean ? 1.0 / double(real_rows * l.K) : 1.0;
  detail::with_ops(prediction, [&](auto& ops) {
    using T_ = detail::elem_t<decltype(ops)>;
    T_* grad = result.grad.data_as<T_>();
    T_* terms = impl_->terms.data_as<T_>();
    kernels::MseArgs<T_> a;
    a.grad_scale = T_(scale);
    if (!last) {  // every row; padding's terms and gradient zeroed after (NaN there included)
      a.n = n;
      a.prediction = prediction.data_as<T_>();
      a.target = target.data_as<T_>();
      a.term = terms;
      a.grad = grad;
      ops.mse_loss(a);
      if (padded.data()) {
        const auto* len = static_cast<const std::int32_t*>(padded.data());
        ops.zero_padded_steps(l.T, l.B, l.K, len, l.batch_first, grad);
        ops.zero_padded_steps(l.T, l.B, l.K, len, l.batch_first, terms);
      }
    } else {  // each sequence's own last real row, wherever the layout puts it
      ops.fill(grad, prediction.numel(), T_(0));
      for (std::int64_t b = 0; b < l.B; ++b) {
        const std::int64_t r = l.row(steps_of(lengths, b, l.T) - 1, b);
        a.n = l.K;
        a.prediction = prediction.data_as<T_>() + r * l.K;
        a.target = target.data_as<T_>() + b * l.K;
        a.term = terms + b * l.K;
        a.grad = grad + r * l.K;
        ops.mse_loss(a);
      }
    }
    ops.reduce(kernels::ReduceKind::sum, n, terms, impl_->total.data_as<double>());
  });
  const double sum = read_back(impl_->total);
  result.value = o.reduction == Reduction::mean ? sum / double(real_rows * l.K) : sum;
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
                                        const std::vector<std::int64_t>& targets,
                                        const std::vector<std::int64_t>& lengths) {
  const LossOptions& o = impl_->options;
  check_sequence("CrossEntropyLoss", "logits", logits);
  const Layout l = layout_of(o, logits);
  check_lengths("CrossEntropyLoss", lengths, logits, l);
  const bool last = o.steps == LossSteps::last;
  const std::int64_t expected = last ? l.B : l.T * l.B;
  if (static_cast<std::int64_t>(targets.size()) != expected) {
    throw ShapeError("fuselstm: CrossEntropyLoss: targets must hold " + std::to_string(expected) +
                     (last ? " (B)" : " (T·B)") + " values, got " +
                     std::to_string(targets.size()));
  }
  // One target per row of the input, in storage order; rows the loss does not see (padding,
  // every step but the last with LossSteps::last) get ignore_index: term 0, gradient 0.
  const std::int64_t rows = l.T * l.B;
  std::vector<std::int64_t> per_row(static_cast<std::size_t>(rows), o.ignore_index);
  std::int64_t counted = 0;
  const auto see = [&](std::int64_t row, std::size_t index) {
    const std::int64_t t = targets[index];
    if (t == o.ignore_index) return;
    if (t < 0 || t >= l.K) {
      throw ValueError("fuselstm: CrossEntropyLoss: targets[" + std::to_string(index) + "] = " +
                       std::to_string(t) + " is outside [0, " + std::to_string(l.K) +
                       ") and is not ignore_index (" + std::to_string(o.ignore_index) + ")");
    }
    per_row[static_cast<std::size_t>(row)] = t;
    ++counted;
  };
  for (std::int64_t b = 0; b < l.B; ++b) {
    const std::int64_t steps = steps_of(lengths, b, l.T);
    if (last) {
      see(l.row(steps - 1, b), static_cast<std::size_t>(b));
    } else {
      for (std::int64_t t = 0; t < steps; ++t) {
        see(l.row(t, b), static_cast<std::size_t>(l.row(t, b)));
      }
    }
  }

  const std::size_t target_bytes = per_row.size() * sizeof(std::int64_t);
  if (impl_->targets.bytes() < target_bytes || impl_->targets_context != logits.context().state()) {
    impl_->targets = detail::RawBuffer(logits.context().state(), target_bytes);
    impl_->targets_context = logits.context().state();
  }
  reserve(impl_->terms, rows, logits.dtype(), logits);
  reserve(impl_->total, 1, DType::f64, logits);
  LossResult result;
  result.grad = Tensor::empty(logits.shape(), logits.dtype(), logits.context());
  // Queued after the previous call's kernels, which read the old targets.
  detail::DeviceScope scope(logits.device());
  impl_->targets.copy_from_host(per_row.data());
  const bool mean = o.reduction == Reduction::mean;
  detail::with_ops(logits, [&](auto& ops) {
    using T_ = detail::elem_t<decltype(ops)>;
    kernels::CrossEntropyArgs<T_> a;
    a.rows = rows;
    a.classes = l.K;
    a.logits = logits.data_as<T_>();
    a.targets = static_cast<const std::int64_t*>(impl_->targets.data());
    a.ignore_index = o.ignore_index;
    a.term = impl_->terms.data_as<T_>();
    a.grad = result.grad.data_as<T_>();
    a.grad_scale = mean && counted > 0 ? T_(1.0 / static_cast<double>(counted)) : T_(1);
    ops.cross_entropy_loss(a);
    ops.reduce(kernels::ReduceKind::sum, rows, a.term, impl_->total.data_as<double>());
  });
  const double sum = read_back(impl_->total);
  result.value = mean ? (counted > 0 ? sum / static_cast<double>(counted) : 0.0) : sum;
  return result;
}

}  // namespace fuselstm
