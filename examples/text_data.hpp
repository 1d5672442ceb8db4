#pragma once
// Text for the character-level language model: UTF-8 files read as code points, the vocabulary
// (one id per distinct character), and the held-out unigram baseline.

#include <cstdint>
#include <string>
#include <vector>

namespace fuselstm::examples {

/// The project's own text, the char model's default corpus: README.md and the public headers
/// (include/fuselstm/*.hpp, sorted by name), the API's documentation. Found under the source tree
/// the examples were built from; ValueError naming the missing path (and saying to pass a file)
/// when it is not there.
std::vector<std::string> default_corpus_files();

/// The largest text file read_text_files takes (the whole text is held in memory, 4 bytes a
/// character once decoded).
inline constexpr std::uintmax_t kMaxTextFileBytes = 256'000'000;

/// The files' contents, concatenated in order, as UTF-8 bytes. ValueError naming a file that
/// does not exist, is not a regular file (a folder, a device), is over kMaxTextFileBytes or
/// cannot be read.
std::string read_text_files(const std::vector<std::string>& paths);

/// UTF-8 → code points. A byte that does not start a valid sequence stands for itself (as
/// Latin-1), so any file decodes.
std::u32string decode_utf8(const std::string& bytes);
/// Code points → UTF-8.
std::string encode_utf8(const std::u32string& text);

/// The distinct characters of a text, sorted by code point; id = position.
class Vocabulary {
 public:
  Vocabulary() = default;
  explicit Vocabulary(const std::u32string& text);
  std::int64_t size() const { return static_cast<std::int64_t>(chars_.size()); }
  char32_t character(std::int64_t id) const { return chars_[static_cast<std::size_t>(id)]; }
  /// The character's id; -1 when it is not in the vocabulary.
  std::int64_t id(char32_t character) const;
  /// Every character's id; ValueError naming the first one missing from the vocabulary.
  std::vector<std::int64_t> encode(const std::u32string& text) const;
  /// The characters in order (a checkpoint stores them to check it is resumed on the same text).
  const std::u32string& characters() const { return chars_; }

 private:
  std::u32string chars_;
};

/// The held-out cross-entropy, in nats per character, of the unigram model fitted on `train`:
/// −mean over `held_out` of log p(c), p(c) = (count_train(c) + 1) / (|train| + V) (add-one, so
/// a character unseen in training costs log(|train| + V) instead of infinity). Ids in [0, V).
double unigram_cross_entropy(const std::vector<std::int64_t>& train,
                             const std::vector<std::int64_t>& held_out, std::int64_t vocab_size);

}  // namespace fuselstm::examples
