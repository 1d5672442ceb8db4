#include "text_data.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "fuselstm/error.hpp"

#ifndef FUSELSTM_SOURCE_DIR
#error "examples/CMakeLists.txt defines FUSELSTM_SOURCE_DIR (the source tree: the default text)"
#endif

namespace fuselstm::examples {

std::vector<std::string> default_corpus_files() {
  namespace fs = std::filesystem;
  const fs::path root(FUSELSTM_SOURCE_DIR);
  const fs::path readme = root / "README.md", headers = root / "include" / "fuselstm";
  for (const fs::path& needed : {readme, headers}) {
    if (!fs::exists(needed)) {
      throw ValueError(
          "fuselstm: the default text (the project's README.md and public headers) "
          "is missing: " +
          needed.string() + " does not exist; pass a text file of your own (--text FILE)");
    }
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(headers)) {
    if (entry.path().extension() == ".hpp") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());  // directory order is not fixed: the text would not be
  files.insert(files.begin(), readme.string());
  return files;
}

std::string read_text_files(const std::vector<std::string>& paths) {
  std::string text;
  for (const std::string& path : paths) {
    // A folder, a device (/dev/zero never ends) or a huge file is a named error, not an
    // ios_failure or an out-of-memory abort.
    std::error_code ec;
    const std::filesystem::file_status status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
      throw ValueError("fuselstm: the text file '" + path + "' does not exist");
    }
    if (!std::filesystem::is_regular_file(status)) {
      throw ValueError("fuselstm: '" + path + "' is not a regular file (a folder or a device?)");
    }
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec || size > kMaxTextFileBytes) {
      throw ValueError("fuselstm: the text file '" + path + "' is over the limit of " +
                       std::to_string(kMaxTextFileBytes / 1000000) + " MB");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ValueError("fuselstm: cannot read the text file '" + path + "'");
    text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) throw ValueError("fuselstm: error while reading the text file '" + path + "'");
  }
  return text;
}

std::u32string decode_utf8(const std::string& bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (std::size_t k = 0; k < bytes.size();) {
    const unsigned char lead = byte(k);
    std::size_t extra = lead >= 0xF0 && lead < 0xF5 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC2 ? 1 : 0;
    if (lead >= 0xF5) extra = 0;
    char32_t cp = extra == 3 ? lead & 0x07 : extra == 2 ? lead & 0x0F : lead & 0x1F;
    bool valid = extra > 0 && k + extra < bytes.size();
    for (std::size_t j = 1; valid && j <= extra; ++j) {
      valid = (byte(k + j) & 0xC0) == 0x80;
      cp = (cp << 6) | (byte(k + j) & 0x3F);
    }
    // Overlong encodings and surrogates are not valid UTF-8 either.
    if (valid && ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
                  (cp >= 0xD800 && cp <= 0xDFFF))) {
      valid = false;
    }
    if (valid) {
      out.push_back(cp);
      k += extra + 1;
    } else {
      out.push_back(lead);  // ASCII, or a stray byte read as Latin-1
      k += 1;
    }
  }
  return out;
}

std::string encode_utf8(const std::u32string& text) {
  std::string out;
  for (const char32_t cp : text) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

Vocabulary::Vocabulary(const std::u32string& text) : chars_(text) {
  std::sort(chars_.begin(), chars_.end());
  chars_.erase(std::unique(chars_.begin(), chars_.end()), chars_.end());
}

std::int64_t Vocabulary::id(char32_t character) const {
  const auto it = std::lower_bound(chars_.begin(), chars_.end(), character);
  return it != chars_.end() && *it == character ? it - chars_.begin() : -1;
}

std::vector<std::int64_t> Vocabulary::encode(const std::u32string& text) const {
  std::vector<std::int64_t> ids(text.size());
  for (std::size_t k = 0; k < text.size(); ++k) {
    ids[k] = id(text[k]);
    if (ids[k] < 0) {
      std::ostringstream message;
      message << "fuselstm: character U+" << std::hex << std::uppercase
              << static_cast<std::uint32_t>(text[k]) << " ('" << encode_utf8(text.substr(k, 1))
              << "') at position " << std::dec << k << " is not in the vocabulary";
      throw ValueError(message.str());
    }
  }
  return ids;
}

double unigram_cross_entropy(const std::vector<std::int64_t>& train,
                             const std::vector<std::int64_t>& held_out, std::int64_t vocab_size) {
  std::vector<double> count(static_cast<std::size_t>(vocab_size), 1.0);  // add-one
  for (const std::int64_t id : train) count[static_cast<std::size_t>(id)] += 1;
  const double total = static_cast<double>(train.size() + static_cast<std::size_t>(vocab_size));
  double nats = 0;
  for (const std::int64_t id : held_out)
    nats -= std::log(count[static_cast<std::size_t>(id)] / total);
  return held_out.empty() ? 0.0 : nats / static_cast<double>(held_out.size());
}

}  // namespace fuselstm::examples
