// Sequence classification: does token "a" occur more often than token "b"? Variable-length
// sequences in padded batch-first batches, an embedding, a bidirectional 2-layer LSTM with the
// lengths, an MLP head on each sequence's last real step and cross-entropy with AdamW; prints the
// held-out accuracy beside the majority-label baseline.
//
//   build/examples/classify
//   build/examples/classify --steps 800 --hidden 32 --max-length 40

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "classify_train.hpp"
#include "progress.hpp"

using namespace fuselstm;
using namespace fuselstm::examples;

int main(int argc, char** argv) {
  CLI::App app{"fuselstm: classifying variable-length sequences (which of two tokens is more frequent)"};
  std::string device = default_device().str(), dtype = "f32";
  ClassifyOptions o;
  app.add_option("--device", device, "cpu or cuda[:N] (default: cuda:0 when present, else cpu)");
  app.add_option("--dtype", dtype, "f32 or f64")->check(CLI::IsMember({"f32", "f64"}));
  app.add_option("--vocab", o.vocab, "V: padding, a, b and V - 3 distractors")->capture_default_str();
  app.add_option("--embedding", o.embedding_dim, "E, embedding width")->capture_default_str();
  app.add_option("--hidden", o.hidden_size, "H, LSTM cells per layer and direction")
      ->capture_default_str();
  app.add_option("--layers", o.num_layers, "L, stacked bidirectional layers")->capture_default_str();
  app.add_option("--head-hidden", o.head_hidden, "M, the MLP head's hidden width")
      ->capture_default_str();
  app.add_option("--min-length", o.min_length, "shortest sequence")->capture_default_str();
  app.add_option("--max-length", o.max_length, "longest sequence")->capture_default_str();
  app.add_option("--batch", o.batch, "B, sequences per step")->capture_default_str();
  app.add_option("--steps", o.steps, "AdamW steps")->capture_default_str();
  app.add_option("--lr", o.lr, "AdamW's learning rate")->capture_default_str();
  app.add_option("--clip", o.clip, "max global gradient norm")->capture_default_str();
  app.add_option("--eval", o.eval_sequences, "held-out sequences")->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the data and the weights")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    o.device = Device::parse(device);
    o.dtype = dtype == "f64" ? DType::f64 : DType::f32;
    SequenceClassifier classifier(o);
    std::printf(
        "# classify on %s (%s), %s: V %lld, lengths %lld..%lld; embedding %lld, bidirectional "
        "LSTM %lld x %lld, MLP head %lld, batch %lld, steps %lld\n",
        o.device.str().c_str(), device_name(o.device).c_str(), dtype.c_str(),
        static_cast<long long>(o.vocab), static_cast<long long>(o.min_length),
        static_cast<long long>(o.max_length), static_cast<long long>(o.embedding_dim),
        static_cast<long long>(o.num_layers), static_cast<long long>(o.hidden_size),
        static_cast<long long>(o.head_hidden), static_cast<long long>(o.batch),
        static_cast<long long>(o.steps));
    std::fflush(stdout);
    ProgressLine progress(0, o.steps, o.batch * o.max_length, 50);
    while (classifier.step() < o.steps) {
      const double loss = classifier.train_step();
      progress.update(classifier.step() - 1, loss);
    }
    const ClassifyEvaluation e = classifier.evaluate();
    std::printf("held-out accuracy over %lld sequences: model %.3f, majority-label baseline %.3f\n",
                static_cast<long long>(e.sequences), e.accuracy, e.baseline_accuracy);
  } catch (const std::exception& e) {  // the library's errors and any other: one line, exit 1
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
