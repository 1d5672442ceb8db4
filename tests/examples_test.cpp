// The worked examples (examples/char_lm*, examples/forecast*): short seeded runs beat their
// baselines by a clear ratio (ratios only, never timings), a resumed run continues exactly, and
// the text helpers do what they say.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <random>

#include "char_lm_train.hpp"
#include "classify_train.hpp"
#include "forecast_train.hpp"
#include "text_data.hpp"

namespace fuselstm::examples {
namespace {

std::u32string project_text() {
  return decode_utf8(read_text_files(default_corpus_files()));
}

// A file in a folder of this process's own (mkdtemp), so parallel runs never share a path; the
// folder is removed when the process exits.
std::string temp_path(const std::string& name) {
  struct Folder {
    std::string path;
    Folder() {
      path = (std::filesystem::temp_directory_path() / "fuselstm_examples_test_XXXXXX").string();
      if (::mkdtemp(path.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    }
    ~Folder() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Folder folder;
  return (std::filesystem::path(folder.path) / name).string();
}

TEST(TextData, FoldersDevicesAndMissingFilesAreNamedErrors) {
  const auto expect_error = [](const std::string& path, const std::string& part) {
    try {
      read_text_files({path});
      ADD_FAILURE() << path << " was read";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  };
  expect_error(std::filesystem::temp_directory_path().string(), "not a regular file");
  expect_error("/dev/zero", "not a regular file");  // would never end
  expect_error(temp_path("no_such_file.txt"), "does not exist");
}

TEST(TextData, Utf8RoundTripsAndReadsStrayBytesAsLatin1) {
  const std::string text = "a\xC3\xA9\xE2\x8A\x99\xF0\x9F\x98\x80z";  // a é ⊙ 😀 z
  const std::u32string decoded = decode_utf8(text);
  EXPECT_EQ(decoded, (std::u32string{U'a', 0xE9, 0x2299, 0x1F600, U'z'}));
  EXPECT_EQ(encode_utf8(decoded), text);
  // A lone continuation byte, a truncated sequence at the end, an overlong '/' (C0 AF): each byte
  // stands for itself.
  EXPECT_EQ(decode_utf8("\x80x\xC0\xAF\xE2\x8A"),
            (std::u32string{0x80, U'x', 0xC0, 0xAF, 0xE2, 0x8A}));
}

TEST(TextData, VocabularyAndUnigramCrossEntropy) {
  const Vocabulary vocab(U"abcab");
  EXPECT_EQ(vocab.size(), 3);
  EXPECT_EQ(vocab.encode(U"cab"), (std::vector<std::int64_t>{2, 0, 1}));
  EXPECT_EQ(vocab.id(U'z'), -1);
  EXPECT_THROW(vocab.encode(U"abz"), ValueError);
  // Train "aab" with add-one: p(a) = 3/6, p(b) = 2/6, p(c) = 1/6. Held out "abc".
  const double expected = -(std::log(3.0 / 6) + std::log(2.0 / 6) + std::log(1.0 / 6)) / 3;
  EXPECT_NEAR(unigram_cross_entropy({0, 0, 1}, {0, 1, 2}, 3), expected, 1e-15);
}

TEST(TextData, DefaultCorpusIsTheProjectsOwnText) {
  const std::vector<std::string> files = default_corpus_files();
  ASSERT_GE(files.size(), 2u);
  EXPECT_EQ(std::filesystem::path(files[0]).filename(), "README.md");
  EXPECT_GT(project_text().size(), 20000u);  // enough for the default streams and held-out part
}

CharLmOptions short_char_run() {
  CharLmOptions o;  // about a second on a 2-core CPU
  o.hidden_size = 64;
  o.window = 32;
  o.batch = 16;
  o.steps = 250;
  o.seed = 3;
  return o;
}

TEST(CharLmExample, ShortRunBeatsTheUnigramBaseline) {
  CharLm lm(short_char_run(), project_text());
  const double before = lm.evaluate();
  double first_loss = 0;
  for (std::int64_t s = 0; s < lm.options().steps; ++s) {
    const double loss = lm.train_step();
    if (s == 0) first_loss = loss;
    ASSERT_TRUE(std::isfinite(loss)) << "step " << s;
  }
  const double after = lm.evaluate(), unigram = lm.unigram_cross_entropy();
  std::printf(
      "char_lm: held-out %.4f nats/char (untrained %.4f, first window %.4f), unigram "
      "%.4f, ratio %.3f\n",
      after, before, first_loss, unigram, after / unigram);
  // An untrained model is near log V; a trained one must clearly beat character frequencies,
  // i.e. have learnt which characters follow which.
  EXPECT_LT(after, 0.9 * unigram);
  EXPECT_LT(after, before);
}

TEST(CharLmExample, SamplesAreFromTheVocabularyAndSeeded) {
  CharLmOptions o = short_char_run();
  o.hidden_size = 16, o.steps = 5;
  CharLm lm(o, project_text());
  for (int s = 0; s < 5; ++s) lm.train_step();
  std::mt19937_64 a(11), b(11);
  const std::u32string first = lm.sample(U"The ", 50, 0.8, a);
  EXPECT_EQ(first.size(), 50u);
  for (const char32_t ch : first) EXPECT_GE(lm.vocabulary().id(ch), 0);
  EXPECT_EQ(lm.sample(U"The ", 50, 0.8, b), first);  // same seed, same text
  EXPECT_THROW(lm.sample(U"", 5, 0.0, a), ValueError);
}

// A run saved after k steps and resumed in a new process-like object continues exactly as the
// uninterrupted run: the weights, Adam's moments and step, the carried (h, c) and the data
// position are all in the checkpoint. Same device and inputs: the same bits.
TEST(CharLmExample, ResumedRunEqualsUninterruptedRun) {
  CharLmOptions o = short_char_run();
  o.hidden_size = 24, o.window = 8, o.batch = 4, o.steps = 30;  // mid-epoch: state is carried
  const std::u32string text = project_text();
  const std::string path = temp_path("char_lm.ckpt");

  CharLm whole(o, text);
  for (int s = 0; s < 30; ++s) whole.train_step();

  CharLm first_half(o, text);
  for (int s = 0; s < 17; ++s) first_half.train_step();
  first_half.save(path);
  CharLm resumed(o, text);
  resumed.resume(path);
  EXPECT_EQ(resumed.step(), 17);
  for (int s = 17; s < 30; ++s) resumed.train_step();

  EXPECT_EQ(resumed.evaluate(), whole.evaluate());
  for (const std::string& name : whole.model().parameter_names()) {
    EXPECT_EQ(resumed.model().parameter(name).to_vector<double>(),
              whole.model().parameter(name).to_vector<double>())
        << name;
  }
  std::mt19937_64 a(5), b(5);
  EXPECT_EQ(resumed.sample(U"", 40, 1.0, a), whole.sample(U"", 40, 1.0, b));  // the head too

  // Another window length reads the text in another order: refused, and nothing changes.
  CharLmOptions other = o;
  other.window = 9;
  CharLm mismatched(other, text);
  const double untouched = mismatched.evaluate();
  EXPECT_THROW(mismatched.resume(path), FormatError);
  EXPECT_EQ(mismatched.evaluate(), untouched);
  EXPECT_EQ(mismatched.step(), 0);
  std::remove(path.c_str());
}

TEST(CharLmExample, RejectsTooShortTextNamingTheSizes) {
  CharLmOptions o = short_char_run();
  try {
    CharLm lm(o, U"far too short");
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("13 characters"), std::string::npos) << e.what();
  }
}

TEST(ForecastExample, SignalIsSeededAndNoisy) {
  const std::vector<double> a = make_signal(500, 0.1, 4), b = make_signal(500, 0.1, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, make_signal(500, 0.1, 5));
  double mean = 0, square = 0;
  for (const double v : a) mean += v / 500, square += v * v / 500;
  // Three sines of amplitudes 1, 0.6, 0.3 average to ~0 with power (1 + 0.36 + 0.09)/2 ≈ 0.725,
  // plus the noise's 0.01; 500 points cover 45, 17 and 7 periods: loose bounds.
  EXPECT_LT(std::abs(mean), 0.1);
  EXPECT_NEAR(square, 0.735, 0.1);
}

TEST(ForecastExample, ShortRunBeatsTheLastValueBaseline) {
  ForecastOptions o;  // well under a second on a 2-core CPU
  o.hidden_size = 16;
  o.steps = 150;
  o.seed = 3;
  Forecaster f(o);
  for (std::int64_t s = 0; s < o.steps; ++s) ASSERT_TRUE(std::isfinite(f.train_step()));
  const ForecastEvaluation e = f.evaluate();
  std::printf("forecast: held-out MSE %.5f, last-value baseline %.5f, ratio %.3f\n", e.model_mse,
              e.baseline_mse, e.model_mse / e.baseline_mse);
  EXPECT_LT(e.model_mse, 0.7 * e.baseline_mse);
  // Every held-out step after the training part is scored once, for both predictors.
  ASSERT_FALSE(e.time.empty());
  EXPECT_EQ(e.time.front(), f.train_points());
  EXPECT_EQ(e.prediction.size(), e.time.size());
}

TEST(ForecastExample, RejectsBadOptionsNamingThem) {
  ForecastOptions o;
  o.horizon = 0;
  EXPECT_THROW(Forecaster{o}, ValueError);
  o.horizon = 1, o.series_length = 50;
  try {
    Forecaster f(o);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("series_length"), std::string::npos) << e.what();
  }
}

// The task is what it says: labels follow the counts of "a" and "b", lengths cover the range,
// padding is 0 exactly past each length, and no sequence is a tie.
TEST(ClassifyExample, BatchesArePaddedAndLabelledByTheCounts) {
  ClassifyOptions o;
  std::mt19937_64 rng(5);
  const SequenceBatch b = make_count_batch(200, o, rng);
  ASSERT_EQ(b.ids.size(), std::size_t(b.B * b.T));
  std::int64_t shortest = o.max_length, longest = 0, positives = 0;
  for (std::int64_t s = 0; s < b.B; ++s) {
    std::int64_t a = 0, c = 0;
    for (std::int64_t t = 0; t < b.T; ++t) {
      const std::int64_t id = b.ids[s * b.T + t];
      if (t >= b.lengths[s]) {
        EXPECT_EQ(id, 0) << "padding at " << s << ", " << t;
      } else {
        EXPECT_GE(id, 1);
        EXPECT_LT(id, o.vocab);
        a += id == 1;
        c += id == 2;
      }
    }
    EXPECT_NE(a, c);
    EXPECT_EQ(b.labels[s], a > c ? 1 : 0);
    shortest = std::min(shortest, b.lengths[s]);
    longest = std::max(longest, b.lengths[s]);
    positives += b.labels[s];
  }
  EXPECT_EQ(shortest, o.min_length);
  EXPECT_EQ(longest, o.max_length);
  EXPECT_GT(positives, 60);  // about half of 200
  EXPECT_LT(positives, 140);
}

// A short seeded run (about a second on 2 cores) beats the majority-label baseline by a ratio.
TEST(ClassifyExample, ShortRunBeatsTheMajorityBaseline) {
  ClassifyOptions o;
  o.steps = 150;
  o.eval_sequences = 400;
  o.seed = 4;
  SequenceClassifier c(o);
  for (std::int64_t s = 0; s < o.steps; ++s) ASSERT_TRUE(std::isfinite(c.train_step()));
  const ClassifyEvaluation e = c.evaluate();
  std::printf("classify: held-out accuracy %.3f, majority baseline %.3f\n", e.accuracy,
              e.baseline_accuracy);
  EXPECT_EQ(e.sequences, 400);
  EXPECT_GT(e.baseline_accuracy, 0.35);  // the labels are balanced: the baseline is near 0.5
  EXPECT_GT(e.accuracy, 1.6 * e.baseline_accuracy);
}

TEST(ClassifyExample, RejectsBadOptionsNamingThem) {
  ClassifyOptions o;
  o.min_length = 30;  // > max_length
  try {
    SequenceClassifier c(o);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("min_length"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fuselstm::examples
