#include "char_lm_train.hpp"

#include <cstdlib>
#include <algorithm>
#include <cmath>
#include <sstream>

namespace fuselstm::examples {
namespace {

const CharLmOptions& checked(const CharLmOptions& o) {
  const auto require = [](bool ok, const std::string& what) {
    if (!ok) throw ValueError("fuselstm: char_lm: " + what);
  };
  require(o.embedding_dim >= 1, "embedding_dim must be >= 1, got " + std::to_string(o.embedding_dim));
  require(o.hidden_size >= 1, "hidden_size must be >= 1, got " + std::to_string(o.hidden_size));
  require(o.num_layers >= 1, "num_layers must be >= 1, got " + std::to_string(o.num_layers));
  require(o.window >= 1, "window must be >= 1, got " + std::to_string(o.window));
  require(o.batch >= 1, "batch must be >= 1, got " + std::to_string(o.batch));
  require(o.steps >= 1, "steps must be >= 1, got " + std::to_string(o.steps));
  require(o.warmup_steps >= 0, "warmup_steps must be >= 0, got " + std::to_string(o.warmup_steps));
  require(std::isfinite(o.lr) && o.lr > 0, "lr must be finite and > 0");
  require(std::isfinite(o.clip) && o.clip > 0, "clip must be finite and > 0");
  require(o.val_fraction > 0 && o.val_fraction < 1, "val_fraction must be in (0, 1)");
  return o;
}

// The split point: the held-out part is the text's last round(n·val_fraction) characters.
std::int64_t held_out_size(std::int64_t n, double val_fraction) {
  return static_cast<std::int64_t>(std::llround(static_cast<double>(n) * val_fraction));
}

// The text's ids before (train) or from (held out) the split point, after checking that each
// part is long enough for the streams that read it: B streams of T + 1 and one held-out window.
std::vector<std::int64_t> split_part(const Vocabulary& vocab, const std::u32string& text,
                                     const CharLmOptions& o, bool held_out) {
  const auto fits = [&](std::int64_t n) {
    const std::int64_t n_held = held_out_size(n, o.val_fraction);
    return n - n_held >= o.batch * (o.window + 1) && n_held >= o.window + 1;
  };
  const auto n = static_cast<std::int64_t>(text.size());
  if (!fits(n)) {
    const double f = o.val_fraction;
    auto needed = static_cast<std::int64_t>(
                      std::max(o.batch * (o.window + 1) / (1 - f), (o.window + 1) / f)) -
                  2;
    while (!fits(needed)) ++needed;
    std::ostringstream message;
    message << "fuselstm: char_lm: the text has " << n << " characters; with window " << o.window
            << ", batch " << o.batch << " and val_fraction " << f << " it needs at least " << needed
            << " (use a longer text, or a smaller --window / --batch)";
    throw ValueError(message.str());
  }
  const std::int64_t n_train = n - held_out_size(n, o.val_fraction);
  const std::u32string part = held_out ? text.substr(n_train) : text.substr(0, n_train);
  return vocab.encode(part);
}

LstmConfig model_config(const CharLmOptions& o) {
  LstmConfig cfg;
  cfg.input_size = o.embedding_dim;  // each character's embedding
  cfg.hidden_size = o.hidden_size;
  cfg.num_layers = o.num_layers;
  cfg.dtype = o.dtype;
  cfg.device = o.device;
  return cfg;
}

// How the held-out text is read: `streams` contiguous streams of `length` characters, each in
// `windows` windows of T (so every scored character has a predecessor in its stream).
struct HeldOutLayout {
  std::int64_t streams, length, windows;
};
HeldOutLayout held_out_layout(std::int64_t n, std::int64_t T, std::int64_t B) {
  // At least 8 windows per stream where the text allows, so most characters are predicted with
  // context carried from earlier windows, as in training.
  const std::int64_t streams = std::clamp<std::int64_t>(n / (8 * T + 1), 1, B);
  const std::int64_t length = n / streams;
  return {streams, length, (length - 1) / T};
}

std::vector<std::int64_t> scored_held_out(const std::vector<std::int64_t>& ids, std::int64_t T,
                                          std::int64_t B) {
  const HeldOutLayout l = held_out_layout(static_cast<std::int64_t>(ids.size()), T, B);
  std::vector<std::int64_t> scored;
  for (std::int64_t s = 0; s < l.streams; ++s)
    for (std::int64_t k = 1; k <= l.windows * T; ++k) scored.push_back(ids[s * l.length + k]);
  return scored;
}

}  // namespace

CharLm::CharLm(const CharLmOptions& options, const std::u32string& text)
    : options_(checked(options)),
      vocab_(text),
      train_(split_part(vocab_, text, options_, false)),
      held_out_(split_part(vocab_, text, options_, true)),
      unigram_(examples::unigram_cross_entropy(
          train_, scored_held_out(held_out_, options_.window, options_.batch), vocab_.size())),
      embedding_(vocab_.size(), options_.embedding_dim, options_.dtype,
                 ExecutionContext::default_for(options_.device), options_.seed + 2),
      model_(model_config(options_)),
      head_(model_, vocab_.size(), options_.seed + 1),
      loss_(),
      optimizer_(concat({parameters_of(embedding_), parameters_of(model_, head_)}),
                 AdamOptions{options_.lr, 0.9, 0.999, 1e-8, 0}),
      schedule_(options_.lr, std::min(options_.warmup_steps, options_.steps - 1), options_.steps,
                options_.lr / 10),
      schedule_horizon_(options_.steps) {
  model_.init_pytorch_default(options_.seed);
  init_forget_gate_bias(model_, 1.0);  // remember by default: helps early in training
}

std::vector<std::int64_t> CharLm::window_ids(const std::vector<std::int64_t>& ids,
                                             std::int64_t streams, std::int64_t stream_length,
                                             std::int64_t window,
                                             std::vector<std::int64_t>& targets) const {
  const std::int64_t T = options_.window;
  std::vector<std::int64_t> inputs(static_cast<std::size_t>(T * streams));
  targets.resize(inputs.size());
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t b = 0; b < streams; ++b) {
      const std::int64_t at = b * stream_length + window * T + t;
      inputs[static_cast<std::size_t>(t * streams + b)] = ids[at];
      targets[static_cast<std::size_t>(t * streams + b)] = ids[at + 1];
    }
  }
  return inputs;
}

double CharLm::train_step() {
  const std::int64_t B = options_.batch;
  const std::int64_t stream_length = train_characters() / B;
  const std::int64_t windows = (stream_length - 1) / options_.window;
  const std::int64_t window = step_ % windows;
  if (window == 0) carry_h_ = Tensor(), carry_c_ = Tensor();  // a new epoch: zero state

  std::vector<std::int64_t> targets;
  const std::vector<std::int64_t> inputs = window_ids(train_, B, stream_length, window, targets);
  const Tensor x = embedding_.forward(inputs, {options_.window, B});
  ForwardResult f = model_.forward(x, carry_h_, carry_c_);
  const Tensor logits = head_.forward(f.y);
  const LossResult r = loss_(logits, targets);
  embedding_.zero_grad();
  model_.zero_grad();
  head_.zero_grad();
  // No dhT, dcT: the gradient stops at the window's end, and h0, c0 are constants.
  const BackwardResult back = model_.backward(f.context, head_.backward(f.y, r.grad));
  embedding_.backward(inputs, back.dx);
  clip_grad_norm(optimizer_.parameters(), options_.clip);
  schedule_.step(optimizer_);
  optimizer_.step();
  carry_h_ = std::move(f.hT), carry_c_ = std::move(f.cT);
  ++step_;
  return r.value;
}

double CharLm::evaluate() {
  const HeldOutLayout l = held_out_layout(held_out_characters(), options_.window, options_.batch);
  Tensor h, c;
  double total = 0;
  for (std::int64_t w = 0; w < l.windows; ++w) {
    std::vector<std::int64_t> targets;
    const std::vector<std::int64_t> inputs = window_ids(held_out_, l.streams, l.length, w, targets);
    InferenceResult r = model_.infer(embedding_.forward(inputs, {options_.window, l.streams}), h, c);
    total += loss_(head_.forward(r.y), targets).value;  // each window's mean: equal weights
    h = std::move(r.hT), c = std::move(r.cT);
  }
  return total / static_cast<double>(l.windows);
}

std::u32string CharLm::sample(const std::u32string& prime, std::int64_t length, double temperature,
                              std::mt19937_64& rng) {
  if (!(temperature > 0) || !std::isfinite(temperature)) {
    throw ValueError("fuselstm: char_lm: temperature must be finite and > 0");
  }
  const std::int64_t V = vocab_.size(), L = options_.num_layers, H = options_.hidden_size;
  Tensor h = Tensor::zeros({L, 1, H}, options_.dtype, options_.device);
  Tensor c = Tensor::zeros({L, 1, H}, options_.dtype, options_.device);
  std::vector<double> logits;
  const auto feed = [&](std::int64_t id) {
    const Tensor x = embedding_.forward({id}, {1});  // [1, E]
    logits = head_.forward(model_.step(x, h, c)).to_vector<double>();
  };
  std::int64_t last = vocab_.id(U'\n') >= 0 ? vocab_.id(U'\n') : 0;
  feed(last);  // a line start, when the text has lines
  for (const char32_t ch : prime) {
    if (vocab_.id(ch) >= 0) feed(last = vocab_.id(ch));
  }
  std::u32string out;
  std::vector<double> p(static_cast<std::size_t>(V));
  for (std::int64_t k = 0; k < length; ++k) {
    const double top = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (std::int64_t j = 0; j < V; ++j) sum += p[j] = std::exp((logits[j] - top) / temperature);
    // Our own uniform draw: std::uniform_real_distribution differs between standard libraries.
    double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * sum;
    std::int64_t next = 0;
    while (next < V - 1 && u >= p[next]) u -= p[next++];
    out.push_back(vocab_.character(next));
    feed(next);
  }
  return out;
}

void CharLm::save(const std::string& path) const {
  TrainingState state;
  state.step = optimizer_.step_count();
  save_optimizer_state(optimizer_, state);
  state.tensors.emplace("embedding.weight", embedding_.weight().clone());
  state.tensors.emplace("head.weight", head_.weight().clone());
  state.tensors.emplace("head.bias", head_.bias().clone());
  if (carry_h_.defined()) {
    state.tensors.emplace("carry.h", carry_h_.clone());
    state.tensors.emplace("carry.c", carry_c_.clone());
  }
  state.metadata["char_lm.vocabulary"] = encode_utf8(vocab_.characters());
  state.metadata["char_lm.window"] = std::to_string(options_.window);
  state.metadata["char_lm.batch"] = std::to_string(options_.batch);
  // The schedule's horizon: a resume with a larger --steps continues this schedule (at its final
  // lr after the horizon) instead of restarting a longer cosine mid-way.
  state.metadata["char_lm.schedule_steps"] = std::to_string(schedule_horizon_);
  state.metadata["char_lm.train_characters"] = std::to_string(train_characters());
  save_checkpoint(path, model_, state);
}

void CharLm::resume(const std::string& path) {
  // Everything is read into and checked on a scratch model first: a failed resume changes nothing.
  Lstm scratch(model_.config());
  const TrainingState state = load_checkpoint(path, scratch);  // checks the model's configuration
  const auto fail = [&](const std::string& problem) {
    throw FormatError("fuselstm: char_lm: cannot resume from " + path + ": " + problem);
  };
  const auto expect = [&](const std::string& key, const std::string& want,
                          const std::string& what) {
    const auto found = state.metadata.find(key);
    if (found == state.metadata.end()) fail("it has no " + key);
    if (found->second != want) fail("it was trained with another " + what + " (" + key + ")");
  };
  expect("char_lm.vocabulary", encode_utf8(vocab_.characters()), "text (its characters differ)");
  expect("char_lm.train_characters", std::to_string(train_characters()),
         "text or --val-fraction (the training part's length differs)");
  expect("char_lm.window", std::to_string(options_.window), "--window");
  expect("char_lm.batch", std::to_string(options_.batch), "--batch");
  const auto tensor = [&](const std::string& name, const Shape& shape) -> const Tensor* {
    const auto found = state.tensors.find(name);
    if (found == state.tensors.end()) return nullptr;
    if (found->second.shape() != shape) {
      fail(name + " is " + shape_str(found->second.shape()) + ", expected " + shape_str(shape));
    }
    return &found->second;
  };
  const Tensor* weight = tensor("head.weight", head_.weight().shape());
  const Tensor* bias = tensor("head.bias", head_.bias().shape());
  if (!weight || !bias) fail("it lacks the head's tensors (head.weight, head.bias)");
  const Tensor* table = tensor("embedding.weight", embedding_.weight().shape());
  if (!table) fail("it lacks embedding.weight (a checkpoint from before char_lm had an embedding)");
  const Shape state_shape = {options_.num_layers, options_.batch, options_.hidden_size};
  const Tensor* h = tensor("carry.h", state_shape);
  const Tensor* c = tensor("carry.c", state_shape);
  if (!h != !c) fail("it has only one of carry.h and carry.c");
  // Checkpoints from before char_lm.schedule_steps: the schedule of this run's --steps.
  std::int64_t horizon = options_.steps;
  if (const auto found = state.metadata.find("char_lm.schedule_steps");
      found != state.metadata.end()) {
    char* end = nullptr;
    horizon = std::strtoll(found->second.c_str(), &end, 10);
    if (end == found->second.c_str() || *end != '\0' || horizon < 1) {
      fail("char_lm.schedule_steps is not a positive integer");
    }
  }
  load_optimizer_state(optimizer_, state);  // the last check; nothing below can fail on the data

  for (const std::string& name : model_.parameter_names()) {
    model_.parameter(name).assign(scratch.parameter(name).to_vector<double>());
  }
  embedding_.weight().assign(table->to_vector<double>());
  head_.weight().assign(weight->to_vector<double>());
  head_.bias().assign(bias->to_vector<double>());
  carry_h_ =
      h ? Tensor::from_vector(state_shape, h->to_vector<double>(), options_.dtype, options_.device)
        : Tensor();
  carry_c_ =
      c ? Tensor::from_vector(state_shape, c->to_vector<double>(), options_.dtype, options_.device)
        : Tensor();
  step_ = state.step;
  schedule_horizon_ = horizon;
  schedule_ = CosineWarmupLr(options_.lr, std::min(options_.warmup_steps, horizon - 1), horizon,
                             options_.lr / 10);
  schedule_.set_steps_done(state.step);
}

}  // namespace fuselstm::examples
