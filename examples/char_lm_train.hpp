#pragma once
// A character-level language model trained with truncated BPTT: the library calls of the char_lm
// example, in a class the example and the tests share.
//
// The training text is cut into B contiguous streams, one per batch column; each step reads the
// next window of T characters of every stream (character ids, looked up by an Embedding into the
// LSTM's inputs [T, B, E]) and learns to predict
// each window's characters shifted by one. The LSTM's final (h, c) of one window is the next
// window's (h0, c0), so the model sees each stream as one long sequence, but no gradient crosses
// a window boundary: that is truncated BPTT, and memory stays O(T) however long the text is. When
// a stream runs out, an epoch ends and every stream starts again from zero state.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fuselstm/fuselstm.hpp"
#include "text_data.hpp"

namespace fuselstm::examples {

struct CharLmOptions {
  Device device = Device::cpu();
  DType dtype = DType::f32;
  std::int64_t embedding_dim = 32; ///< E, the characters' embedding width
  std::int64_t hidden_size = 128;  ///< H
  std::int64_t num_layers = 1;     ///< L
  std::int64_t window = 64;        ///< T, the truncated-BPTT length
  std::int64_t batch = 32;         ///< B, parallel streams
  std::int64_t steps = 600;        ///< total optimizer steps (the schedule's length; a resumed run keeps the checkpoint's horizon, char_lm.schedule_steps)
  double lr = 3e-2;                ///< Adam's peak learning rate (cosine decay to lr/10)
  std::int64_t warmup_steps = 10;  ///< linear warm-up (at most steps − 1)
  double clip = 1.0;               ///< max global gradient norm
  double val_fraction = 0.1;       ///< the text's tail held out for validation
  std::uint64_t seed = 1;          ///< weights
};

class CharLm {
 public:
  /// Builds the vocabulary from the whole text, holds out its last val_fraction, and makes the
  /// model (Embedding + LSTM + Linear head, seeded). ValueError naming the option when the text is too short
  /// for B streams of T + 1 characters and a held-out window, or an option is out of range.
  CharLm(const CharLmOptions& options, const std::u32string& text);

  /// One window of truncated BPTT: forward from the carried state, cross-entropy over T·B
  /// characters, backward, clipping, Adam. Returns the window's mean loss (nats/char).
  double train_step();
  /// Mean cross-entropy (nats/char) on the held-out text, read as parallel streams with carried
  /// state like training, with the inference-only forward. Changes no training state.
  double evaluate();
  /// The held-out unigram cross-entropy (nats/char): the baseline evaluate() should beat.
  double unigram_cross_entropy() const { return unigram_; }

  /// Generates `length` characters after `prime` (characters not in the vocabulary are skipped)
  /// with the streaming API: one Lstm::step() per character from zero state, each next character
  /// drawn from softmax(logits / temperature). temperature > 0.
  std::u32string sample(const std::u32string& prime, std::int64_t length, double temperature,
                        std::mt19937_64& rng);

  /// Writes a checkpoint (model, embedding, head, Adam's moments and step count, the carried state, the
  /// vocabulary and the options the data order depends on) to `path`, atomically.
  void save(const std::string& path) const;
  /// Continues from a checkpoint save() wrote with the same text and options: the next
  /// train_step() is the one that would have followed. FormatError naming the mismatch (another
  /// vocabulary, window, batch or model size); nothing changes then.
  void resume(const std::string& path);

  std::int64_t step() const { return step_; }  ///< train_step() calls so far
  std::int64_t tokens_per_step() const { return options_.window * options_.batch; }
  std::int64_t train_characters() const { return static_cast<std::int64_t>(train_.size()); }
  std::int64_t held_out_characters() const { return static_cast<std::int64_t>(held_out_.size()); }
  const Vocabulary& vocabulary() const { return vocab_; }
  const CharLmOptions& options() const { return options_; }
  double lr() const { return optimizer_.lr(); }  ///< the last step's (set by the schedule)
  Lstm& model() { return model_; }

 private:
  // Input ids [T, B] and targets [T·B] (both index t·B + b) for `streams` streams of `ids` of
  // `stream_length` each, window `window` (inputs at w·T + t, targets one later).
  std::vector<std::int64_t> window_ids(const std::vector<std::int64_t>& ids, std::int64_t streams,
                                       std::int64_t stream_length, std::int64_t window,
                                       std::vector<std::int64_t>& targets) const;

  CharLmOptions options_;
  Vocabulary vocab_;
  std::vector<std::int64_t> train_, held_out_;
  double unigram_ = 0;
  Embedding embedding_;
  Lstm model_;
  Linear head_;
  CrossEntropyLoss loss_;
  Adam optimizer_;
  CosineWarmupLr schedule_;
  std::int64_t schedule_horizon_;  ///< the schedule's total steps (kept across resumes)
  Tensor carry_h_, carry_c_;  // [L, B, H]; undefined (zeros) at an epoch's start
  std::int64_t step_ = 0;
};

}  // namespace fuselstm::examples
