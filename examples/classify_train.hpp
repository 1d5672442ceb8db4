#pragma once
// Sequence classification: which of two marked tokens occurs more often in a variable-length
// sequence, the library calls of the classify example in a class the example and the tests share.
//
// Token 0 is padding, tokens 1 ("a") and 2 ("b") are the ones counted, 3 .. V − 1 are distractors.
// A sequence has a length drawn uniformly in [min_length, max_length] and tokens drawn uniformly
// from 1 .. V − 1; its label is 1 when "a" occurs more often than "b", 0 when less (ties are
// redrawn). A batch is padded to its longest sequence, batch-first.
//
// The model: Embedding(V, E, padding_idx 0) → a bidirectional L-layer batch-first LSTM with the
// lengths → each sequence's last real step → Mlp(2H → M → 2, ReLU) → cross-entropy, trained with
// AdamW and gradient clipping. The baseline predicts the training set's majority label.

#include <cstdint>
#include <random>
#include <vector>

#include "fuselstm/fuselstm.hpp"

namespace fuselstm::examples {

struct ClassifyOptions {
  Device device = Device::cpu();
  DType dtype = DType::f32;
  std::int64_t vocab = 8;              ///< V: padding, "a", "b" and V − 3 distractors
  std::int64_t embedding_dim = 8;      ///< E
  std::int64_t hidden_size = 24;       ///< H per direction
  std::int64_t num_layers = 2;         ///< L
  std::int64_t head_hidden = 16;       ///< M, the Mlp's hidden width
  std::int64_t min_length = 4;         ///< shortest sequence
  std::int64_t max_length = 24;        ///< longest sequence (T of a full batch)
  std::int64_t batch = 32;             ///< B, sequences per training step (fresh ones each step)
  std::int64_t steps = 400;            ///< AdamW steps
  double lr = 1e-2;                    ///< AdamW's learning rate
  double clip = 1.0;                   ///< max global gradient norm
  std::int64_t eval_sequences = 1000;  ///< held-out sequences (another seed's draws)
  std::uint64_t seed = 1;              ///< the data, the weights
};

/// A padded batch-first batch: ids [B, T] row-major, padding 0 past each length.
struct SequenceBatch {
  std::int64_t B = 0, T = 0;
  std::vector<std::int64_t> ids, lengths, labels;
};

/// `count` sequences of the task above, drawn from `rng`.
SequenceBatch make_count_batch(std::int64_t count, const ClassifyOptions& options,
                               std::mt19937_64& rng);

struct ClassifyEvaluation {
  std::int64_t sequences = 0;
  double accuracy = 0;           ///< the model's fraction of correct labels
  double baseline_accuracy = 0;  ///< predicting the training data's majority label
};

class SequenceClassifier {
 public:
  /// Makes the model; ValueError naming the option when one is out of range.
  explicit SequenceClassifier(const ClassifyOptions& options);
  /// One AdamW step on B fresh training sequences. Returns the loss (mean over the batch).
  double train_step();
  /// Classifies the held-out sequences (inference forward, in batches of B).
  ClassifyEvaluation evaluate();
  std::int64_t step() const { return step_; }
  const ClassifyOptions& options() const { return options_; }

 private:
  ClassifyOptions options_;
  Embedding embedding_;
  Lstm model_;
  Mlp head_;
  ParameterList parameters_;
  CrossEntropyLoss loss_;
  AdamW optimizer_;
  std::mt19937_64 train_data_;
  std::int64_t step_ = 0;
  std::int64_t positives_seen_ = 0, labels_seen_ = 0;  // for the majority baseline
};

}  // namespace fuselstm::examples
