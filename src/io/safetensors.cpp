// safetensors: the header is parsed by nlohmann-json, then every layout rule of io.hpp is checked
// before a single tensor byte is allocated. Sizes come from the real file (or buffer) size, never
// from what the header claims, so a hostile header cannot make us allocate more than the file.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_set>
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
constexpr const char* kMetadataKey = "__metadata__";
constexpr std::size_t kMaxRank = 64;  // PyTorch's own limit on a tensor's dimensions

enum class FileDType { f32, f64, bf16, f16 };

std::size_t file_dtype_size(FileDType d) {
  switch (d) {
    case FileDType::f32: return 4;
    case FileDType::f64: return 8;
    default: return 2;
  }
}

struct Entry {
  std::string name;
  FileDType dtype;          // for a listed-only entry: a dtype of the same element size
  bool listed_only = false;  // an integer or boolean tensor: in TensorFile::skipped, not read
  std::string dtype_text;
  Shape shape;
  std::uint64_t begin = 0, end = 0;  // into the data buffer
};

struct Header {
  std::vector<Entry> entries;
  Metadata metadata;
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

std::optional<FileDType> parse_dtype(const std::string& source, const std::string& name,
                                     const std::string& text) {
  if (text == "F32") return FileDType::f32;
  if (text == "F64") return FileDType::f64;
  if (text == "BF16") return FileDType::bf16;
  if (text == "F16") return FileDType::f16;
  // Integers and booleans (e.g. BatchNorm's num_batches_tracked) are listed, not read: nullopt.
  static const std::set<std::string> listed = {"BOOL", "U8",  "I8",  "I16", "U16",
                                               "I32",  "U32", "I64", "U64"};
  if (listed.count(text)) return std::nullopt;
  static const std::set<std::string> known_unsupported = {"F8_E4M3", "F8_E5M2"};
  const std::string what = known_unsupported.count(text) ? "unsupported dtype '" : "unknown dtype '";
  fail(source, "tensor '" + name + "': " + what + text + "' (supported: F32, F64, BF16, F16)");
}

// Listed-only dtypes have no FileDType; one of the same element size serves the size checks.
FileDType listed_dtype_size(const std::string& text) {
  if (text == "I64" || text == "U64") return FileDType::f64;
  if (text == "I32" || text == "U32") return FileDType::f32;
  return FileDType::f16;  // I16, U16; BOOL, U8, I8 are 1 byte (element_size)
}

std::size_t element_size(const Entry& e) {
  if (e.listed_only && (e.dtype_text == "BOOL" || e.dtype_text == "U8" || e.dtype_text == "I8")) {
    return 1;
  }
  return file_dtype_size(e.dtype);
}

std::string shape_text(const Shape& shape) {
  std::string out = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) out += (k ? "," : "") + std::to_string(shape[k]);
  return out + "]";
}

// The header's JSON read as a stream of SAX events straight into entries: no DOM, no callback
// parser (whose rescans of the parent object made N entries cost O(N^2)), so the work is linear in
// the header's length and the memory a small multiple of it (each entry keeps its name, a shape of
// at most kMaxRank dimensions and four numbers). Every rule that needs one entry is checked when
// the entry closes; the rules across entries (duplicate names, tiling) after the last.
class HeaderReader {
public:
  explicit HeaderReader(const std::string& source) : source_(source) {}
  Header take() { return std::move(header_); }

  bool null() { return scalar("null"); }
  bool boolean(bool value) { return scalar(value ? "true" : "false"); }
  bool number_integer(json::number_integer_t value) { return scalar(std::to_string(value)); }
  bool number_unsigned(json::number_unsigned_t value) {
    if (state_ == State::shape) return dimension(value);
    if (state_ == State::offsets) return offset(value);
    return scalar(std::to_string(value));
  }
  bool number_float(json::number_float_t, const json::string_t& text) { return scalar(text); }
  bool string(json::string_t& value) {
    if (state_ == State::metadata) {
      if (!header_.metadata.try_emplace(std::move(key_), std::move(value)).second) {
        fail(source_, "duplicate key '" + key_ + "'");
      }
      return true;
    }
    if (state_ == State::entry && key_ == "dtype") {
      const std::optional<FileDType> dtype = parse_dtype(source_, entry_.name, value);
      entry_.listed_only = !dtype;
      entry_.dtype = dtype ? *dtype : listed_dtype_size(value);
      entry_.dtype_text = value;
      dtype_text_ = value;
      return true;
    }
    return scalar("\"" + value + "\"");
  }
  bool binary(json::binary_t&) { return scalar("binary"); }

  bool start_object(std::size_t) {
    switch (state_) {
      case State::start: state_ = State::top; return true;
      case State::top_value:
        if (key_ == kMetadataKey) {
          if (metadata_seen_) fail(source_, "duplicate tensor name '" + key_ + "'");
          metadata_seen_ = true;
          state_ = State::metadata;
        } else {
          state_ = State::entry;
          entry_ = Entry{};
          entry_.name = std::move(key_);
          seen_ = 0;
        }
        return true;
      default: return nested();
    }
  }
  bool key(json::string_t& key) {
    if (state_ == State::top) {
      if (key.empty()) fail(source_, "a tensor has an empty name");
      key_ = std::move(key);
      state_ = State::top_value;
      return true;
    }
    if (state_ == State::metadata) {
      key_ = std::move(key);
      return true;
    }
    // state_ == State::entry (keys appear only in objects, and deeper objects are refused)
    const int bit = key == "dtype" ? 1 : key == "shape" ? 2 : key == "data_offsets" ? 4 : 0;
    if (bit == 0) fail(source_, "tensor '" + entry_.name + "': unexpected key '" + key + "'");
    if (seen_ & bit) fail(source_, "duplicate key '" + key + "'");
    seen_ |= bit;
    key_ = std::move(key);
    return true;
  }
  bool end_object() {
    if (state_ == State::metadata) {
      state_ = State::top;
    } else if (state_ == State::entry) {
      finish_entry();
      state_ = State::top;
    } else {
      state_ = State::done;  // the root object; strict parsing refuses anything after it
    }
    return true;
  }
  bool start_array(std::size_t) {
    if (state_ == State::entry && key_ == "shape") {
      state_ = State::shape;
      numel_ = 1;
      return true;
    }
    if (state_ == State::entry && key_ == "data_offsets") {
      state_ = State::offsets;
      offsets_ = 0;
      return true;
    }
    if (state_ == State::start) fail(source_, "the header is not a JSON object");
    return nested();
  }
  bool end_array() {
    if (state_ == State::offsets && offsets_ != 2) {
      fail(source_, "tensor '" + entry_.name + "': data_offsets must be [begin, end]");
    }
    state_ = State::entry;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    fail(source_, std::string("the header is not valid JSON: ") + e.what());
  }

private:
  enum class State { start, top, top_value, metadata, entry, shape, offsets, done };

  // Any object or array where the format has none: either too deep, or the wrong type of value.
  bool nested() {
    if (state_ == State::shape || state_ == State::offsets || state_ == State::metadata) {
      fail(source_, "the header nests deeper than safetensors allows");
    }
    return scalar("an object or array");
  }
  // A value of the wrong type (text: how it reads) where the state expects something else.
  bool scalar(const std::string& text) {
    switch (state_) {
      case State::start: fail(source_, "the header is not a JSON object");
      case State::top_value:
        if (key_ == kMetadataKey) fail(source_, "__metadata__ must be an object of strings");
        fail(source_, "tensor '" + key_ + "': entry must be a JSON object");
      case State::metadata:
        fail(source_, "__metadata__['" + key_ + "'] must be a string, got " + text);
      case State::entry:
        if (key_ == "dtype") fail(source_, "tensor '" + entry_.name + "': dtype must be a string");
        if (key_ == "shape") fail(source_, "tensor '" + entry_.name + "': shape must be an array");
        fail(source_, "tensor '" + entry_.name + "': data_offsets must be [begin, end]");
      case State::shape:
        fail(source_, "tensor '" + entry_.name + "': shape[" +
                          std::to_string(entry_.shape.size()) +
                          "] must be a non-negative integer, got " + text);
      case State::offsets:
        if (offsets_ >= 2) {
          fail(source_, "tensor '" + entry_.name + "': data_offsets must be [begin, end]");
        }
        fail(source_, "tensor '" + entry_.name + "': data_offsets[" + std::to_string(offsets_) +
                          "] must be a non-negative integer, got " + text);
      default: fail(source_, "the header is not valid JSON");
    }
  }
  bool dimension(std::uint64_t d) {
    if (entry_.shape.size() >= kMaxRank) {
      fail(source_, "tensor '" + entry_.name + "': shape has more than " +
                        std::to_string(kMaxRank) + " dimensions");
    }
    // numel × dtype size with overflow checks; the byte length must fit the buffer anyway.
    if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
        __builtin_mul_overflow(numel_, d, &numel_) ||
        numel_ > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      entry_.shape.push_back(static_cast<std::int64_t>(
          std::min<std::uint64_t>(d, std::numeric_limits<std::int64_t>::max())));
      fail(source_, "tensor '" + entry_.name + "': shape " + shape_text(entry_.shape) +
                        "... has too many elements");
    }
    entry_.shape.push_back(static_cast<std::int64_t>(d));
    return true;
  }
  bool offset(std::uint64_t value) {
    if (offsets_ >= 2) fail(source_, "tensor '" + entry_.name + "': data_offsets must be [begin, end]");
    (offsets_ == 0 ? entry_.begin : entry_.end) = value;
    ++offsets_;
    return true;
  }
  void finish_entry() {
    const Entry& e = entry_;
    static const char* const keys[] = {"dtype", "shape", "data_offsets"};
    for (int k = 0; k < 3; ++k) {
      if (!(seen_ & (1 << k))) fail(source_, "tensor '" + e.name + "': missing \"" + keys[k] + "\"");
    }
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(numel_, element_size(e), &bytes)) {
      fail(source_, "tensor '" + e.name + "': shape " + shape_text(e.shape) + " has too many bytes");
    }
    const std::string range = "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
    if (e.end < e.begin) {
      fail(source_, "tensor '" + e.name + "': data_offsets " + range + " end before begin");
    }
    if (e.end - e.begin != bytes) {
      fail(source_, "tensor '" + e.name + "': data_offsets " + range + " hold " +
                        std::to_string(e.end - e.begin) + " bytes but shape " +
                        shape_text(e.shape) + " of " + dtype_text_ + " needs " +
                        std::to_string(bytes));
    }
    header_.entries.push_back(std::move(entry_));
  }

  const std::string& source_;
  Header header_;
  State state_ = State::start;
  std::string key_;  // the last key read (a tensor name, a metadata key or an entry's field)
  Entry entry_;      // the entry being read
  std::string dtype_text_;
  int seen_ = 0;  // the entry's fields seen so far: 1 dtype, 2 shape, 4 data_offsets
  std::uint64_t numel_ = 1;
  int offsets_ = 0;
  bool metadata_seen_ = false;
};

// The tensors must tile [0, buffer_size) exactly: sorted by begin, each starts where the previous
// ended, and the last ends at the buffer's end. Sorts pointers, not entries.
void check_tiling(const std::string& source, const std::vector<Entry>& entries,
                  std::uint64_t buffer_size) {
  std::vector<const Entry*> sorted(entries.size());
  for (std::size_t k = 0; k < entries.size(); ++k) sorted[k] = &entries[k];
  std::sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry* p : sorted) {
    const Entry& e = *p;
    const std::string range = "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ")";
    if (e.end > buffer_size) {
      fail(source, "tensor '" + e.name + "': data_offsets " + range +
                       " out of range: the data buffer has " + std::to_string(buffer_size) +
                       " bytes");
    }
    if (e.begin < expected) {
      fail(source, "tensor '" + e.name + "': data_offsets " + range + " overlap tensor '" +
                       previous->name + "' (which ends at " + std::to_string(expected) + ")");
    }
    if (e.begin > expected) {
      fail(source, "tensor '" + e.name + "': data_offsets " + range + " leave a hole of " +
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

// A hash set of views into the entries' names: expected linear time (sorting the names cost a third
// of the parse at a million entries).
void check_unique_names(const std::string& source, const std::vector<Entry>& entries) {
  std::unordered_set<std::string_view> names;
  names.reserve(entries.size());
  for (const Entry& e : entries) {
    if (!names.insert(e.name).second) fail(source, "duplicate tensor name '" + e.name + "'");
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
  // nlohmann's lexer takes a NUL byte for the end of the input: refuse it first (JSON text never
  // holds one raw, not even inside strings).
  const std::size_t nul = text.find('\0');
  if (nul != std::string::npos) {
    fail(source, "the header holds a NUL byte at offset " + std::to_string(nul) +
                     " (not valid JSON)");
  }
  // After the object only the padding spaces safetensors writers add (strict parsing would also
  // take tabs and newlines).
  std::size_t length = text.size();
  while (length > 0 && text[length - 1] == ' ') --length;
  HeaderReader reader(source);
  json::sax_parse(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(length), &reader,
                  json::input_format_t::json, true);
  if (text[length - 1] != '}') {  // strict parsing took trailing tabs or newlines
    fail(source, "the header is not valid JSON: only spaces may follow the object's '}'");
  }
  Header header = reader.take();
  check_unique_names(source, header.entries);
  check_tiling(source, header.entries, buffer_size);
  return header;
}

// Reads one entry's bytes into a host tensor (f32 for F32, BF16, F16; f64 for F64).
Tensor read_tensor(const ByteSource& bytes, std::uint64_t data_start, const Entry& e) {
  const std::size_t length = static_cast<std::size_t>(e.end - e.begin);
  const std::uint64_t offset = data_start + e.begin;
  if (e.dtype == FileDType::f32 || e.dtype == FileDType::f64) {
    Tensor t = Tensor::empty(e.shape, e.dtype == FileDType::f32 ? DType::f32 : DType::f64);
    bytes.read(offset, t.data(), length);
    return t;
  }
  std::vector<std::uint16_t> raw(length / 2);
  bytes.read(offset, raw.data(), length);
  Tensor t = Tensor::empty(e.shape, DType::f32);
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
    if (e.listed_only) file.skipped.emplace(e.name, SkippedTensor{e.dtype_text, e.shape});
    else file.tensors.emplace(e.name, read_tensor(bytes, data_start, e));
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
