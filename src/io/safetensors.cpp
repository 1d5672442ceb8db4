// safetensors: the header is read by a strict JSON reader made for the format, checking every
// layout rule of io.hpp before a single tensor byte is allocated (nlohmann-json writes headers).
// Sizes come from the real file (or buffer) size, never from what the header claims, so a hostile
// header cannot make us allocate more than the file.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>  // the writer's header
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "fuselstm/error.hpp"
#include "fuselstm/io.hpp"
#include "io/atomic_file.hpp"
#include "io/half.hpp"
#include "io/safetensors_header.hpp"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader and writer assume a little-endian host"
#endif

namespace fuselstm {
namespace {

using json = nlohmann::json;

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // safetensors' own limit
constexpr std::string_view kMetadataKey = "__metadata__";
constexpr std::size_t kMaxRank = 64;  // PyTorch's own limit on a tensor's dimensions

// The dtypes safetensors defines. The first four are read (F32 and F64 kept, BF16 and F16 widened
// to f32); the integer and boolean ones are listed in TensorFile::skipped, not read.
enum class FileDType : std::uint8_t {
  f32, f64, bf16, f16,                              // read
  boolean, u8, i8, i16, u16, i32, u32, i64, u64  // listed
};

struct FileDTypeInfo {
  std::string_view name;
  std::uint8_t size;  // bytes per element
};
constexpr FileDTypeInfo kFileDTypes[] = {{"F32", 4}, {"F64", 8}, {"BF16", 2}, {"F16", 2},
                                         {"BOOL", 1}, {"U8", 1}, {"I8", 1},   {"I16", 2},
                                         {"U16", 2},  {"I32", 4}, {"U32", 4}, {"I64", 8},
                                         {"U64", 8}};
const FileDTypeInfo& info(FileDType d) { return kFileDTypes[static_cast<int>(d)]; }
bool is_read(FileDType d) { return d <= FileDType::f16; }

// One tensor of the header. Flat and allocation-free: the name is a view, the shape a range of
// Header::dims, so a million entries cost a million times 40 bytes and no allocation each.
struct Entry {
  std::string_view name;             // into the header text, or Header::unescaped_names
  std::uint64_t begin = 0, end = 0;  // into the data buffer
  std::uint32_t first_dim = 0;       // the shape is Header::dims[first_dim, first_dim + rank)
  std::uint8_t rank = 0;
  FileDType dtype = FileDType::f32;
};

// Views into the header text: a Header must not outlive the text it was read from.
struct Header {
  std::vector<Entry> entries;  // in the header's order
  std::vector<std::int64_t> dims;
  std::deque<std::string> unescaped_names;  // the names written with escapes, decoded (stable)
  Metadata metadata;

  Shape shape(const Entry& e) const {
    const auto first = dims.begin() + e.first_dim;
    return Shape(first, first + e.rank);
  }
};

[[noreturn]] void fail(const std::string& source, const std::string& problem) {
  throw FormatError("fuselstm: " + source + ": " + problem);
}

// Where the bytes come from: a file (read piecewise with pread) or a buffer in memory.
class ByteSource {
public:
  virtual ~ByteSource() = default;
  virtual std::uint64_t size() const = 0;
  /// Reads [offset, offset + n), which the caller has checked lies inside size().
  virtual void read(std::uint64_t offset, void* dst, std::size_t n) const = 0;
};

class MemorySource final : public ByteSource {
public:
  MemorySource(const void* bytes, std::size_t size) : bytes_(bytes), size_(size) {}
  std::uint64_t size() const override { return size_; }
  void read(std::uint64_t offset, void* dst, std::size_t n) const override {
    if (n) std::memcpy(dst, static_cast<const char*>(bytes_) + offset, n);
  }

private:
  const void* bytes_;
  std::size_t size_;
};

class FileSource final : public ByteSource {
public:
  explicit FileSource(const std::string& path) : path_(path) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it is rejected below anyway.
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat info {};
    if (::fstat(fd_, &info) != 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd_);
      fail(path, "cannot stat: " + reason);
    }
    if (!S_ISREG(info.st_mode)) {
      ::close(fd_);
      fail(path, "not a regular file");
    }
    size_ = static_cast<std::uint64_t>(info.st_size);
  }
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  std::uint64_t size() const override { return size_; }
  void read(std::uint64_t offset, void* dst, std::size_t n) const override {
    char* p = static_cast<char*>(dst);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail(path_, std::string("read failed: ") + std::strerror(errno));
      if (got == 0) fail(path_, "truncated: the file shrank while it was read");
      p += got;
      offset += static_cast<std::uint64_t>(got);
      n -= static_cast<std::size_t>(got);
    }
  }

private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

std::string shape_text(const std::int64_t* dims, std::size_t rank) {
  std::string out = "[";
  for (std::size_t k = 0; k < rank; ++k) out += (k ? "," : "") + std::to_string(dims[k]);
  return out + "]";
}

// The header's JSON, read in one pass straight into entries by a reader that knows the format:
// no DOM, no recursion (the deepest value the format has is an array inside an entry inside the
// root), nothing allocated per entry. It is a strict RFC 8259 parser (UTF-8 checked, escapes
// decoded, numbers by the JSON grammar) that stops at the first byte that breaks either JSON or a
// rule of the format, naming it. Every rule that needs one entry is checked when the entry closes;
// the rules across entries (duplicate names, tiling) after the last.
//
// Speed (fuselstm_header_bench, bench/RESULTS.md; 2-core "Intel(R) Xeon(R) Processor"): a million
// tiny entries (a 70 MB header) are read and checked in 0.21 s, the peak resident set growing by
// 0.92x the header besides the header's text (100k entries: 0.015 s, 1.2x). nlohmann-json's SAX
// parser, which this replaced, took 0.72-0.81 s for the JSON alone and 1.18 s (2.85x) with the
// checks.
class HeaderReader {
public:
  HeaderReader(const std::string& source, const std::string& text)
      : source_(source), begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  Header read() {
    // The least an entry can take is 50 bytes ("x":{"dtype":"U8","shape":[],"data_offsets":[0,0]})
    // plus a comma: reserving that bound, the entries never move; untouched pages cost nothing.
    header_.entries.reserve(static_cast<std::size_t>(end_ - begin_) / 51 + 1);
    expect('{', "'{'");
    if (peek() == '}') {
      ++p_;
    } else {
      for (;;) {
        if (peek() != '"') syntax("expected a tensor name in quotes");
        const std::string_view key = string();
        if (key.empty()) fail(source_, "a tensor has an empty name");
        expect(':', "':'");
        if (key == kMetadataKey) {
          read_metadata();
        } else {
          read_entry(escaped_ ? std::string_view(header_.unescaped_names.emplace_back(key)) : key);
        }
        if (!next_member('}')) break;
      }
    }
    // After the object only the padding spaces safetensors writers add.
    const char* close = p_;
    skip_whitespace();
    if (p_ != end_) syntax("unexpected text after the header's object");
    if (std::find_if(close, end_, [](char c) { return c != ' '; }) != end_) {
      fail(source_, "only spaces may follow the header's closing '}' (the padding writers add)");
    }
    return std::move(header_);
  }

private:
  // A number token: its text, and its value when it is an integer in [0, 2^64).
  struct Number {
    std::string_view text;
    bool is_unsigned = false;
    std::uint64_t value = 0;
  };

  [[noreturn]] void syntax(const std::string& problem) const {
    fail(source_, "the header is not valid JSON: " + problem + " at byte " +
                      std::to_string(p_ - begin_));
  }
  [[noreturn]] void entry_fail(std::string_view name, const std::string& problem) const {
    fail(source_, "tensor '" + std::string(name) + "': " + problem);
  }

  static bool whitespace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
  static bool digit(char c) { return c >= '0' && c <= '9'; }
  void skip_whitespace() {
    while (p_ != end_ && whitespace(*p_)) ++p_;
  }
  // The next byte that is not whitespace (not consumed).
  char peek() {
    skip_whitespace();
    if (p_ == end_) syntax("unexpected end of the header");
    return *p_;
  }
  void expect(char c, const char* what) {
    if (peek() != c) syntax(std::string("expected ") + what);
    ++p_;
  }
  // After a member of an object (close '}') or an element of an array (close ']'): true at ',',
  // false at the close.
  bool next_member(char close) {
    const char c = peek();
    if (c == ',') {
      ++p_;
      return true;
    }
    if (c != close) syntax(std::string("expected ',' or '") + close + "'");
    ++p_;
    return false;
  }

  // A string, at its opening quote. The view points into the text when the string has no escapes
  // (escaped_ false), else into scratch_, valid until the next call.
  std::string_view string() {
    const char* start = ++p_;
    escaped_ = false;
    for (;;) {
      if (p_ == end_) syntax("unterminated string");
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        const std::string_view view(start, static_cast<std::size_t>(p_ - start));
        ++p_;
        return view;
      }
      if (c == '\\') break;
      if (c < 0x20) syntax("control character in a string (it must be escaped)");
      if (c < 0x80) ++p_;
      else utf8_sequence();
    }
    // Escapes: decode into scratch_.
    escaped_ = true;
    scratch_.assign(start, p_);
    for (;;) {
      if (p_ == end_) syntax("unterminated string");
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return scratch_;
      }
      if (c == '\\') {
        escape();
      } else if (c < 0x20) {
        syntax("control character in a string (it must be escaped)");
      } else if (c < 0x80) {
        scratch_ += static_cast<char>(c);
        ++p_;
      } else {
        const char* first = p_;
        utf8_sequence();
        scratch_.append(first, p_);
      }
    }
  }
  // One UTF-8 sequence of 2-4 bytes (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
  void utf8_sequence() {
    const auto c = static_cast<unsigned char>(*p_);
    int more = 0;
    unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) more = 1;
    else if (c == 0xE0) more = 2, low = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) more = 2;
    else if (c == 0xED) more = 2, high = 0x9F;
    else if (c >= 0xEE && c <= 0xEF) more = 2;
    else if (c == 0xF0) more = 3, low = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) more = 3;
    else if (c == 0xF4) more = 3, high = 0x8F;
    else syntax("invalid UTF-8 in a string");
    ++p_;
    for (int k = 0; k < more; ++k, ++p_) {
      if (p_ == end_) syntax("invalid UTF-8 in a string");
      const auto b = static_cast<unsigned char>(*p_);
      if (b < (k == 0 ? low : 0x80) || b > (k == 0 ? high : 0xBF)) {
        syntax("invalid UTF-8 in a string");
      }
    }
  }
  // One escape, at its backslash, appended to scratch_ as UTF-8.
  void escape() {
    if (++p_ == end_) syntax("unterminated string");
    const char c = *p_++;
    switch (c) {
      case '"': scratch_ += '"'; return;
      case '\\': scratch_ += '\\'; return;
      case '/': scratch_ += '/'; return;
      case 'b': scratch_ += '\b'; return;
      case 'f': scratch_ += '\f'; return;
      case 'n': scratch_ += '\n'; return;
      case 'r': scratch_ += '\r'; return;
      case 't': scratch_ += '\t'; return;
      case 'u': break;
      default: --p_; syntax("invalid escape in a string");
    }
    std::uint32_t code = hex4();
    if (code >= 0xDC00 && code <= 0xDFFF) syntax("a lone low surrogate \\u escape in a string");
    if (code >= 0xD800 && code <= 0xDBFF) {  // a high surrogate: its low half must follow
      if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
        syntax("a high surrogate \\u escape without its low half in a string");
      }
      p_ += 2;
      const std::uint32_t low = hex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        syntax("a high surrogate \\u escape without its low half in a string");
      }
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    if (code < 0x80) {
      scratch_ += static_cast<char>(code);
    } else if (code < 0x800) {
      scratch_ += static_cast<char>(0xC0 | code >> 6);
      scratch_ += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      scratch_ += static_cast<char>(0xE0 | code >> 12);
      scratch_ += static_cast<char>(0x80 | (code >> 6 & 0x3F));
      scratch_ += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      scratch_ += static_cast<char>(0xF0 | code >> 18);
      scratch_ += static_cast<char>(0x80 | (code >> 12 & 0x3F));
      scratch_ += static_cast<char>(0x80 | (code >> 6 & 0x3F));
      scratch_ += static_cast<char>(0x80 | (code & 0x3F));
    }
  }
  std::uint32_t hex4() {
    std::uint32_t code = 0;
    for (int k = 0; k < 4; ++k, ++p_) {
      if (p_ == end_) syntax("unterminated string");
      const char h = *p_;
      const int v = digit(h) ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                       : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (v < 0) syntax("invalid \\u escape in a string");
      code = code << 4 | static_cast<std::uint32_t>(v);
    }
    return code;
  }

  // A number, at its first byte ('-' or a digit), by the JSON grammar
  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
  Number number() {
    const char* start = p_;
    bool integral = true, overflow = false;
    std::uint64_t value = 0;
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    if (p_ == end_ || !digit(*p_)) syntax("invalid number");
    if (*p_ == '0') {
      ++p_;
    } else {
      for (; p_ != end_ && digit(*p_); ++p_) {
        overflow |= __builtin_mul_overflow(value, 10u, &value) ||
                    __builtin_add_overflow(value, static_cast<unsigned>(*p_ - '0'), &value);
      }
    }
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      if (++p_ == end_ || !digit(*p_)) syntax("invalid number");
      while (p_ != end_ && digit(*p_)) ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      if (++p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !digit(*p_)) syntax("invalid number");
      while (p_ != end_ && digit(*p_)) ++p_;
    }
    Number n;
    n.text = std::string_view(start, static_cast<std::size_t>(p_ - start));
    if (!negative && integral && !overflow) {
      n.is_unsigned = true;
      n.value = value;
      return n;
    }
    // Never a valid dimension or offset; but JSON parsers (nlohmann's, Python's) refuse a number
    // beyond the double range, so that is reported as invalid JSON, as it was before.
    double ignored = 0;
    if (std::from_chars(start, p_, ignored).ec == std::errc::result_out_of_range &&
        exponent_estimate(n.text) > 0) {
      syntax("number overflow");
    }
    return n;
  }
  // Roughly the decimal exponent of a valid number token (saturating): enough to tell an overflow
  // from an underflow, which are hundreds of decades apart.
  static long long exponent_estimate(std::string_view t) {
    const std::size_t e = std::min(t.find_first_of("eE"), t.size());
    const std::string_view mantissa = t.substr(0, e);
    long long estimate = 0;
    const std::size_t first = mantissa.find_first_of("123456789");  // none: the value is 0
    if (first != std::string_view::npos) {
      const std::size_t point = std::min(mantissa.find('.'), mantissa.size());
      estimate = static_cast<long long>(point) - static_cast<long long>(first);
    }
    if (e < t.size()) {
      std::size_t j = e + 1;
      const bool minus = t[j] == '-';
      if (t[j] == '+' || t[j] == '-') ++j;
      long long exponent = 0;
      for (; j < t.size(); ++j) exponent = std::min(exponent * 10 + (t[j] - '0'), 1'000'000'000LL);
      estimate += minus ? -exponent : exponent;
    }
    return estimate;
  }
  // A scalar value (string, number, true, false, null) consumed; returns how it reads, for a
  // message saying that it is of the wrong type. An object or an array is not consumed.
  std::string wrong_value() {
    const char c = peek();
    if (c == '{' || c == '[') return "an object or array";
    if (c == '"') return "\"" + std::string(string()) + "\"";
    if (c == '-' || digit(c)) return std::string(number().text);
    for (const char* literal : {"true", "false", "null"}) {
      const std::size_t n = std::strlen(literal);
      if (static_cast<std::size_t>(end_ - p_) >= n && std::memcmp(p_, literal, n) == 0) {
        p_ += n;
        return literal;
      }
    }
    syntax("expected a value");
  }

  // An element of "shape" or "data_offsets", consumed: its value when it is an integer in
  // [0, 2^64), else nullopt and `got` says how it reads. An object or array there is refused.
  std::optional<std::uint64_t> unsigned_element(std::string& got) {
    const char c = peek();
    if (c == '{' || c == '[') fail(source_, "the header nests deeper than safetensors allows");
    if (c != '-' && !digit(c)) {
      got = wrong_value();
      return std::nullopt;
    }
    const Number n = number();
    if (n.is_unsigned) return n.value;
    got = std::string(n.text);
    return std::nullopt;
  }

  void read_metadata() {
    if (peek() != '{') {
      wrong_value();
      fail(source_, "__metadata__ must be an object of strings");
    }
    if (metadata_seen_) fail(source_, "duplicate tensor name '__metadata__'");
    metadata_seen_ = true;
    ++p_;
    if (peek() == '}') {
      ++p_;
      return;
    }
    do {
      if (peek() != '"') syntax("expected a key in quotes");
      std::string key(string());
      expect(':', "':'");
      const char c = peek();
      if (c == '{' || c == '[') fail(source_, "the header nests deeper than safetensors allows");
      if (c != '"') {
        const std::string got = wrong_value();
        fail(source_, "__metadata__['" + key + "'] must be a string, got " + got);
      }
      std::string value(string());
      const auto [at, inserted] = header_.metadata.try_emplace(std::move(key), std::move(value));
      if (!inserted) fail(source_, "duplicate key '" + at->first + "'");
    } while (next_member('}'));
  }

  void read_entry(std::string_view name) {
    if (peek() != '{') {
      wrong_value();
      entry_fail(name, "entry must be a JSON object");
    }
    ++p_;
    Entry e;
    e.name = name;
    e.first_dim = static_cast<std::uint32_t>(header_.dims.size());
    std::uint64_t numel = 1;
    int seen = 0;  // the fields seen so far: 1 dtype, 2 shape, 4 data_offsets
    if (peek() == '}') {
      ++p_;
    } else {
      do {
        if (peek() != '"') syntax("expected a key in quotes");
        const std::string_view key = string();
        const int bit = key == "dtype" ? 1 : key == "shape" ? 2 : key == "data_offsets" ? 4 : 0;
        if (bit == 0) entry_fail(name, "unexpected key '" + std::string(key) + "'");
        if (seen & bit) fail(source_, "duplicate key '" + std::string(key) + "'");
        seen |= bit;
        expect(':', "':'");
        if (bit == 1) read_dtype(e);
        else if (bit == 2) numel = read_shape(e);
        else read_offsets(e);
      } while (next_member('}'));
    }
    static const char* const keys[] = {"dtype", "shape", "data_offsets"};
    for (int k = 0; k < 3; ++k) {
      if (!(seen & (1 << k))) entry_fail(name, std::string("missing \"") + keys[k] + "\"");
    }
    const std::int64_t* dims = header_.dims.data() + e.first_dim;
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(numel, info(e.dtype).size, &bytes)) {
      entry_fail(name, "shape " + shape_text(dims, e.rank) + " has too many bytes");
    }
    const auto range = [&] {
      return "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
    };
    if (e.end < e.begin) entry_fail(name, "data_offsets " + range() + " end before begin");
    if (e.end - e.begin != bytes) {
      entry_fail(name, "data_offsets " + range() + " hold " + std::to_string(e.end - e.begin) +
                           " bytes but shape " + shape_text(dims, e.rank) + " of " +
                           std::string(info(e.dtype).name) + " needs " + std::to_string(bytes));
    }
    header_.entries.push_back(e);
  }

  void read_dtype(Entry& e) {
    if (peek() != '"') {
      wrong_value();
      entry_fail(e.name, "dtype must be a string");
    }
    const std::string_view text = string();
    for (std::size_t k = 0; k < std::size(kFileDTypes); ++k) {
      if (kFileDTypes[k].name == text) {
        e.dtype = static_cast<FileDType>(k);
        return;
      }
    }
    const bool known = text == "F8_E4M3" || text == "F8_E5M2";
    entry_fail(e.name, std::string(known ? "unsupported" : "unknown") + " dtype '" +
                           std::string(text) + "' (supported: F32, F64, BF16, F16)");
  }

  // Returns the number of elements, checked against overflow (the byte length must fit the buffer
  // anyway).
  std::uint64_t read_shape(Entry& e) {
    if (peek() != '[') {
      wrong_value();
      entry_fail(e.name, "shape must be an array");
    }
    ++p_;
    std::vector<std::int64_t>& dims = header_.dims;
    std::uint64_t numel = 1;
    if (peek() == ']') {
      ++p_;
      return numel;
    }
    do {
      const std::size_t k = dims.size() - e.first_dim;
      std::string got;
      const std::optional<std::uint64_t> value = unsigned_element(got);
      if (!value) {
        entry_fail(e.name, "shape[" + std::to_string(k) +
                               "] must be a non-negative integer, got " + got);
      }
      if (k >= kMaxRank) {
        entry_fail(e.name, "shape has more than " + std::to_string(kMaxRank) + " dimensions");
      }
      constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      const std::uint64_t d = *value;
      dims.push_back(static_cast<std::int64_t>(std::min(d, kMax)));
      if (d > kMax || __builtin_mul_overflow(numel, d, &numel) || numel > kMax) {
        entry_fail(e.name, "shape " + shape_text(dims.data() + e.first_dim, k + 1) +
                               "... has too many elements");
      }
    } while (next_member(']'));
    e.rank = static_cast<std::uint8_t>(dims.size() - e.first_dim);
    return numel;
  }

  void read_offsets(Entry& e) {
    const std::string must = "data_offsets must be [begin, end]";
    if (peek() != '[') {
      wrong_value();
      entry_fail(e.name, must);
    }
    ++p_;
    int count = 0;
    if (peek() != ']') {
      do {
        std::string got;
        const std::optional<std::uint64_t> value = unsigned_element(got);
        if (count >= 2) entry_fail(e.name, must);
        if (!value) {
          entry_fail(e.name, "data_offsets[" + std::to_string(count) +
                                 "] must be a non-negative integer, got " + got);
        }
        (count++ == 0 ? e.begin : e.end) = *value;
      } while (next_member(']'));
    } else {
      ++p_;
    }
    if (count != 2) entry_fail(e.name, must);
  }

  const std::string& source_;
  const char* const begin_;
  const char* p_;
  const char* const end_;
  Header header_;
  std::string scratch_;  // a string with escapes, decoded
  bool escaped_ = false;  // whether the last string() had escapes (and lives in scratch_)
  bool metadata_seen_ = false;
};

// The tensors must tile [0, buffer_size) exactly: sorted by begin, each starts where the previous
// ended, and the last ends at the buffer's end. Writers usually list the tensors in offset order,
// which is only checked; otherwise (begin, end, index) triples are sorted, in one block.
void check_tiling(const std::string& source, const std::vector<Entry>& entries,
                  std::uint64_t buffer_size) {
  struct Range {
    std::uint64_t begin, end;
    std::size_t index;
    bool operator<(const Range& o) const {
      return begin != o.begin ? begin < o.begin : end < o.end;
    }
  };
  const auto range_of = [&](std::size_t k) { return Range{entries[k].begin, entries[k].end, k}; };
  std::vector<Range> sorted;
  for (std::size_t k = 1; k < entries.size(); ++k) {
    if (range_of(k) < range_of(k - 1)) {
      sorted.resize(entries.size());
      for (std::size_t j = 0; j < entries.size(); ++j) sorted[j] = range_of(j);
      std::sort(sorted.begin(), sorted.end());
      break;
    }
  }
  std::uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const Entry& e = entries[sorted.empty() ? k : sorted[k].index];
    const auto name = [](const Entry& x) { return "tensor '" + std::string(x.name) + "'"; };
    const auto range = [&] {
      return "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ")";
    };
    if (e.end > buffer_size) {
      fail(source, name(e) + ": data_offsets " + range() +
                       " out of range: the data buffer has " + std::to_string(buffer_size) +
                       " bytes");
    }
    if (e.begin < expected) {
      fail(source, name(e) + ": data_offsets " + range() + " overlap " + name(*previous) +
                       " (which ends at " + std::to_string(expected) + ")");
    }
    if (e.begin > expected) {
      fail(source, name(e) + ": data_offsets " + range() + " leave a hole of " +
                       std::to_string(e.begin - expected) + " bytes at offset " +
                       std::to_string(expected));
    }
    expected = e.end;
    previous = &e;
  }
  if (expected != buffer_size) {
    fail(source, "the data buffer has " + std::to_string(buffer_size) + " bytes but the tensors " +
                     "cover " + std::to_string(expected) + ": a hole of " +
                     std::to_string(buffer_size - expected) + " bytes at the end");
  }
}

// An open-addressing hash set of entry indices, in one block: expected linear time and no
// allocation per name (a node-based set of a million names cost a million allocations). A slot
// holds the index + 1 (0: empty) and 32 bits of the hash, so that probing past other names rarely
// reads them.
void check_unique_names(const std::string& source, const std::vector<Entry>& entries) {
  std::size_t capacity = 16;
  while (capacity < 2 * entries.size()) capacity *= 2;
  std::vector<std::uint64_t> slots(capacity, 0);
  const std::hash<std::string_view> hash;
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const std::size_t h = hash(entries[k].name);
    const std::uint64_t tag = static_cast<std::uint64_t>(h >> 32) << 32;
    std::size_t slot = h & (capacity - 1);
    for (; slots[slot] != 0; slot = (slot + 1) & (capacity - 1)) {
      if ((slots[slot] & ~0xFFFFFFFFull) == tag &&
          entries[(slots[slot] & 0xFFFFFFFFull) - 1].name == entries[k].name) {
        fail(source, "duplicate tensor name '" + std::string(entries[k].name) + "'");
      }
    }
    slots[slot] = tag | (k + 1);
  }
}

// torch.save writes a zip archive (PyTorch >= 1.6) or a bare pickle (older, or
// _use_new_zipfile_serialization=False): the most likely wrong file, so say what to do instead.
void check_not_torch_save(const std::string& source, const unsigned char* prefix,
                          std::uint64_t size) {
  const bool zip = size >= 4 && prefix[0] == 'P' && prefix[1] == 'K' && prefix[2] == 3 &&
                   prefix[3] == 4;
  const bool pickle = size >= 2 && prefix[0] == 0x80 && prefix[1] >= 2 && prefix[1] <= 5;
  if (zip || pickle) {
    fail(source, std::string("this is a ") + (zip ? "zip archive" : "Python pickle") +
                     " (a torch.save file?), not safetensors; save the weights with "
                     "safetensors.torch.save_file(model.state_dict(), path)");
  }
}

Header parse_header(const std::string& source, const std::string& text,
                    std::uint64_t buffer_size) {
  if (text.empty() || text[0] != '{') {
    fail(source, "the header does not start with '{' (not a safetensors file?)");
  }
  // JSON text never holds a NUL byte raw, not even inside strings; name it plainly (the reader
  // would call it a syntax error).
  const void* nul = std::memchr(text.data(), '\0', text.size());
  if (nul != nullptr) {
    fail(source, "the header holds a NUL byte at offset " +
                     std::to_string(static_cast<const char*>(nul) - text.data()) +
                     " (not valid JSON)");
  }
  Header header = HeaderReader(source, text).read();
  check_unique_names(source, header.entries);
  check_tiling(source, header.entries, buffer_size);
  return header;
}

// Reads one entry's bytes into a host tensor (f32 for F32, BF16, F16; f64 for F64).
Tensor read_tensor(const ByteSource& bytes, std::uint64_t data_start, const Entry& e,
                   const Shape& shape) {
  const std::size_t length = static_cast<std::size_t>(e.end - e.begin);
  const std::uint64_t offset = data_start + e.begin;
  if (e.dtype == FileDType::f32 || e.dtype == FileDType::f64) {
    Tensor t = Tensor::empty(shape, e.dtype == FileDType::f32 ? DType::f32 : DType::f64);
    bytes.read(offset, t.data(), length);
    return t;
  }
  std::vector<std::uint16_t> raw(length / 2);
  bytes.read(offset, raw.data(), length);
  Tensor t = Tensor::empty(shape, DType::f32);
  float* out = t.data_as<float>();
  for (std::size_t k = 0; k < raw.size(); ++k) {
    out[k] = e.dtype == FileDType::bf16 ? detail::bf16_to_float(raw[k])
                                        : detail::f16_to_float(raw[k]);
  }
  return t;
}

TensorFile read_from(const ByteSource& bytes, const std::string& source) {
  const std::uint64_t size = bytes.size();
  if (size < 8) {
    fail(source, "truncated: " + std::to_string(size) + " bytes, fewer than the 8-byte header length");
  }
  unsigned char prefix[8];
  bytes.read(0, prefix, 8);
  std::uint64_t header_length = 0;
  for (int k = 7; k >= 0; --k) header_length = header_length << 8 | prefix[k];
  if (header_length > kMaxHeaderBytes || header_length > size - 8) {
    check_not_torch_save(source, prefix, size);  // its first bytes read as an absurd length
  }
  if (header_length > kMaxHeaderBytes) {
    fail(source, "header length " + std::to_string(header_length) + " exceeds the limit of " +
                     std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (header_length > size - 8) {
    fail(source, "header length " + std::to_string(header_length) + " runs past the end of the " +
                     std::to_string(size) + "-byte file (truncated?)");
  }
  std::string text(static_cast<std::size_t>(header_length), '\0');
  bytes.read(8, text.data(), text.size());
  const std::uint64_t data_start = 8 + header_length;
  Header header = parse_header(source, text, size - data_start);

  TensorFile file;
  file.metadata = std::move(header.metadata);
  for (const Entry& e : header.entries) {
    Shape shape = header.shape(e);
    if (is_read(e.dtype)) {
      file.tensors.emplace(e.name, read_tensor(bytes, data_start, e, shape));
    } else {
      const std::string dtype(info(e.dtype).name);
      file.skipped.emplace(e.name, SkippedTensor{dtype, std::move(shape)});
    }
  }
  return file;
}

void check_name(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) {
    throw ValueError("fuselstm: write_safetensors: tensor name '" + name +
                     "' is empty or starts with \"__\" (reserved by safetensors)");
  }
}

}  // namespace

std::size_t detail::check_safetensors_header(const std::string& text, std::uint64_t buffer_size,
                                             const std::string& source) {
  return parse_header(source, text, buffer_size).entries.size();
}

TensorFile read_safetensors(const std::string& path) {
  const FileSource file(path);
  return read_from(file, path);
}

TensorFile parse_safetensors(const void* bytes, std::size_t size, const std::string& source) {
  const MemorySource memory(bytes, size);
  return read_from(memory, source);
}

void write_safetensors(const std::string& path, const std::map<std::string, const Tensor*>& tensors,
                       const Metadata& metadata) {
  // Everything is checked and the header built before the temporary file is created.
  json header = json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    check_name(name);
    if (tensor == nullptr || !tensor->defined()) {
      throw ValueError("fuselstm: write_safetensors: tensor '" + name + "' is undefined");
    }
    const std::uint64_t bytes = tensor->bytes();
    header[name] = {{"dtype", tensor->dtype() == DType::f32 ? "F32" : "F64"},
                    {"shape", tensor->shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // a name or metadata string that is not UTF-8
    throw ValueError("fuselstm: write_safetensors: " + path + ": " + e.what());
  }
  // Pad with spaces (valid JSON whitespace) so the data buffer starts 8-byte aligned, as the
  // reference implementation does.
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char prefix[8];
  std::uint64_t length = text.size();
  for (unsigned char& b : prefix) {
    b = static_cast<unsigned char>(length & 0xFF);
    length >>= 8;
  }

  detail::AtomicFile out(path);
  out.write(prefix, sizeof prefix);
  out.write(text.data(), text.size());
  for (const auto& [name, tensor] : tensors) {
    if (tensor->device().is_cpu()) {
      out.write(tensor->data(), tensor->bytes());
    } else {
      const Tensor host = tensor->to(Device::cpu());
      out.write(host.data(), host.bytes());
    }
  }
  out.commit();
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const Metadata& metadata) {
  std::map<std::string, const Tensor*> borrowed;
  for (const auto& [name, tensor] : tensors) borrowed.emplace(name, &tensor);
  write_safetensors(path, borrowed, metadata);
}

}  // namespace fuselstm
