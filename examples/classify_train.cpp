#include "classify_train.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace fuselstm::examples {
namespace {

constexpr std::int64_t kPadding = 0, kTokenA = 1, kTokenB = 2;

const ClassifyOptions& checked(const ClassifyOptions& o) {
  const auto require = [](bool ok, const std::string& what) {
    if (!ok) throw ValueError("fuselstm: classify: " + what);
  };
  require(o.vocab >= 3, "vocab must be >= 3 (padding, a, b), got " + std::to_string(o.vocab));
  require(o.embedding_dim >= 1, "embedding_dim must be >= 1");
  require(o.hidden_size >= 1, "hidden_size must be >= 1");
  require(o.num_layers >= 1, "num_layers must be >= 1");
  require(o.head_hidden >= 1, "head_hidden must be >= 1");
  require(o.min_length >= 1 && o.min_length <= o.max_length,
          "need 1 <= min_length <= max_length, got " + std::to_string(o.min_length) + " and " +
              std::to_string(o.max_length));
  require(o.batch >= 1, "batch must be >= 1");
  require(o.steps >= 0, "steps must be >= 0");
  require(std::isfinite(o.lr) && o.lr > 0, "lr must be finite and > 0");
  require(std::isfinite(o.clip) && o.clip > 0, "clip must be finite and > 0");
  require(o.eval_sequences >= 1, "eval_sequences must be >= 1");
  return o;
}

LstmConfig model_config(const ClassifyOptions& o) {
  LstmConfig c;
  c.input_size = o.embedding_dim;
  c.hidden_size = o.hidden_size;
  c.num_layers = o.num_layers;
  c.bidirectional = true;
  c.batch_first = true;
  c.dtype = o.dtype;
  c.device = o.device;
  return c;
}

AdamOptions adamw_options(const ClassifyOptions& o) {
  AdamOptions a = AdamW::default_options();
  a.lr = o.lr;
  return a;
}

// The logits' argmax per row.
std::vector<std::int64_t> predictions(const Tensor& logits) {
  const std::vector<double> z = logits.to_vector<double>();
  const std::int64_t K = logits.dim(1);
  std::vector<std::int64_t> out(static_cast<std::size_t>(logits.dim(0)));
  for (std::size_t r = 0; r < out.size(); ++r) {
    const auto row = z.begin() + static_cast<std::ptrdiff_t>(r) * K;
    out[r] = std::max_element(row, row + K) - row;
  }
  return out;
}

}  // namespace

SequenceBatch make_count_batch(std::int64_t count, const ClassifyOptions& o, std::mt19937_64& rng) {
  SequenceBatch batch;
  batch.B = count;
  std::vector<std::vector<std::int64_t>> sequences;
  for (std::int64_t s = 0; s < count; ++s) {
    std::vector<std::int64_t> tokens;
    std::int64_t a = 0, b = 0;
    do {  // redraw ties: every sequence has a defined label
      const std::int64_t length =
          o.min_length + static_cast<std::int64_t>(rng() % std::uint64_t(o.max_length - o.min_length + 1));
      tokens.assign(static_cast<std::size_t>(length), 0);
      a = b = 0;
      for (std::int64_t& t : tokens) {
        t = 1 + static_cast<std::int64_t>(rng() % std::uint64_t(o.vocab - 1));
        a += t == kTokenA;
        b += t == kTokenB;
      }
    } while (a == b);
    batch.lengths.push_back(static_cast<std::int64_t>(tokens.size()));
    batch.labels.push_back(a > b ? 1 : 0);
    batch.T = std::max(batch.T, static_cast<std::int64_t>(tokens.size()));
    sequences.push_back(std::move(tokens));
  }
  batch.ids.assign(static_cast<std::size_t>(batch.B * batch.T), kPadding);
  for (std::int64_t s = 0; s < count; ++s) {
    std::copy(sequences[s].begin(), sequences[s].end(), batch.ids.begin() + s * batch.T);
  }
  return batch;
}

SequenceClassifier::SequenceClassifier(const ClassifyOptions& options)
    : options_(checked(options)),
      embedding_(options_.vocab, options_.embedding_dim, options_.dtype,
                 ExecutionContext::default_for(options_.device), options_.seed, kPadding,
                 "embedding"),
      model_(model_config(options_)),
      head_({2 * options_.hidden_size, options_.head_hidden, 2}, Activation::relu, options_.dtype,
            model_.context(), options_.seed + 1, true, "head"),
      parameters_(concat({parameters_of(embedding_), parameters_of(model_), parameters_of(head_)})),
      optimizer_(parameters_, adamw_options(options_)),
      train_data_(options_.seed) {
  model_.init_pytorch_default(options_.seed + 2);
}

double SequenceClassifier::train_step() {
  const SequenceBatch batch = make_count_batch(options_.batch, options_, train_data_);
  for (std::int64_t label : batch.labels) positives_seen_ += label;
  labels_seen_ += batch.B;

  embedding_.zero_grad();
  model_.zero_grad();
  head_.zero_grad();
  const Tensor x = embedding_.forward(batch.ids, {batch.B, batch.T});
  const ForwardResult y = model_.forward(x, Tensor(), Tensor(), batch.lengths);
  const Tensor last = gather_last_steps(y.y, batch.lengths, /*batch_first=*/true);
  const MlpResult logits = head_.forward(last);
  const LossResult loss = loss_(logits.output, batch.labels);
  const Tensor dlast = head_.backward(last, logits, loss.grad);
  const BackwardResult back =
      model_.backward(y.context, scatter_last_steps(dlast, batch.T, batch.lengths, true));
  embedding_.backward(batch.ids, back.dx);
  clip_grad_norm(parameters_, options_.clip);
  optimizer_.step();
  ++step_;
  return loss.value;
}

ClassifyEvaluation SequenceClassifier::evaluate() {
  std::mt19937_64 held_out(options_.seed ^ 0x9e3779b97f4a7c15ULL);  // never the training draws
  const std::int64_t majority = 2 * positives_seen_ >= labels_seen_ ? 1 : 0;
  ClassifyEvaluation e;
  std::int64_t model_right = 0, baseline_right = 0;
  for (std::int64_t done = 0; done < options_.eval_sequences; done += options_.batch) {
    const SequenceBatch batch =
        make_count_batch(std::min(options_.batch, options_.eval_sequences - done), options_, held_out);
    const Tensor x = embedding_.forward(batch.ids, {batch.B, batch.T});
    const InferenceResult y = model_.infer(x, Tensor(), Tensor(), batch.lengths);
    const MlpResult logits = head_.forward(gather_last_steps(y.y, batch.lengths, true));
    const std::vector<std::int64_t> predicted = predictions(logits.output);
    for (std::int64_t s = 0; s < batch.B; ++s) {
      model_right += predicted[s] == batch.labels[s];
      baseline_right += majority == batch.labels[s];
    }
    e.sequences += batch.B;
  }
  e.accuracy = double(model_right) / double(e.sequences);
  e.baseline_accuracy = double(baseline_right) / double(e.sequences);
  return e;
}

}  // namespace fuselstm::examples
