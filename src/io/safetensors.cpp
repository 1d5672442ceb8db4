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
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "fuselstm/error.hpp"
#include "fuselstm/io.hpp"
#include "io/atomic_file.hpp"
#include "io/half.hpp"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors reader and writer assume a little-endian host"
#endif

namespace fuselstm {
namespace {

using json = nlohmann::json;

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // safetensors' own limit
constexpr const char* kMetadataKey = "__metadata__";

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
  FileDType dtype;
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

FileDType parse_dtype(const std::string& source, const std::string& name, const std::string& text) {
  if (text == "F32") return FileDType::f32;
  if (text == "F64") return FileDType::f64;
  if (text == "BF16") return FileDType::bf16;
  if (text == "F16") return FileDType::f16;
  static const std::set<std::string> known_unsupported = {
      "BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F8_E4M3", "F8_E5M2"};
  const std::string what = known_unsupported.count(text) ? "unsupported dtype '" : "unknown dtype '";
  fail(source, "tensor '" + name + "': " + what + text + "' (supported: F32, F64, BF16, F16)");
}

std::uint64_t as_unsigned(const std::string& source, const std::string& where, const json& value) {
  if (!value.is_number_unsigned()) {
    fail(source, where + " must be a non-negative integer, got " + value.dump());
  }
  return value.get<std::uint64_t>();
}

Entry parse_entry(const std::string& source, const std::string& name, const json& info) {
  if (name.empty()) fail(source, "a tensor has an empty name");
  if (!info.is_object()) fail(source, "tensor '" + name + "': entry must be a JSON object");
  for (const auto& item : info.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
      fail(source, "tensor '" + name + "': unexpected key '" + item.key() + "'");
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(key)) fail(source, "tensor '" + name + "': missing \"" + key + "\"");
  }
  Entry e;
  e.name = name;
  const json& dtype = info["dtype"];
  if (!dtype.is_string()) fail(source, "tensor '" + name + "': dtype must be a string");
  e.dtype = parse_dtype(source, name, dtype.get<std::string>());

  const json& shape = info["shape"];
  if (!shape.is_array()) fail(source, "tensor '" + name + "': shape must be an array");
  // numel × dtype size with overflow checks; the byte length must fit the buffer anyway.
  std::uint64_t numel = 1;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    const std::uint64_t d = as_unsigned(source, "tensor '" + name + "': shape[" +
                                                    std::to_string(k) + "]", shape[k]);
    if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
        __builtin_mul_overflow(numel, d, &numel) ||
        numel > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail(source, "tensor '" + name + "': shape " + shape.dump() + " has too many elements");
    }
    e.shape.push_back(static_cast<std::int64_t>(d));
  }
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, file_dtype_size(e.dtype), &bytes)) {
    fail(source, "tensor '" + name + "': shape " + shape.dump() + " has too many bytes");
  }

  const json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    fail(source, "tensor '" + name + "': data_offsets must be [begin, end]");
  }
  e.begin = as_unsigned(source, "tensor '" + name + "': data_offsets[0]", offsets[0]);
  e.end = as_unsigned(source, "tensor '" + name + "': data_offsets[1]", offsets[1]);
  if (e.end < e.begin) {
    fail(source, "tensor '" + name + "': data_offsets [" + std::to_string(e.begin) + ", " +
                     std::to_string(e.end) + "] end before begin");
  }
  if (e.end - e.begin != bytes) {
    fail(source, "tensor '" + name + "': data_offsets [" + std::to_string(e.begin) + ", " +
                     std::to_string(e.end) + "] hold " + std::to_string(e.end - e.begin) +
                     " bytes but shape " + shape.dump() + " of " + dtype.get<std::string>() +
                     " needs " + std::to_string(bytes));
  }
  return e;
}

// The tensors must tile [0, buffer_size) exactly: sorted by begin, each starts where the previous
// ended, and the last ends at the buffer's end.
void check_tiling(const std::string& source, std::vector<Entry> entries,
                  std::uint64_t buffer_size) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t expected = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
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

Header parse_header(const std::string& source, const std::string& text,
                    std::uint64_t buffer_size) {
  if (text.empty() || text[0] != '{') {
    fail(source, "the header does not start with '{' (not a safetensors file?)");
  }
  // The callback sees every key before the DOM takes it: duplicates are caught here (the DOM
  // would keep the last silently), and so is nesting deeper than the format has, which keeps the
  // parser's work bounded on hostile input.
  std::set<std::string> names, entry_keys;
  auto watch = [&](int depth, json::parse_event_t event, json& parsed) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth > 2) {
      fail(source, "the header nests deeper than safetensors allows");
    }
    if (event == json::parse_event_t::object_start && depth == 1) entry_keys.clear();
    if (event == json::parse_event_t::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (depth == 1 && !names.insert(key).second) fail(source, "duplicate tensor name '" + key + "'");
      if (depth == 2 && !entry_keys.insert(key).second) fail(source, "duplicate key '" + key + "'");
    }
    return true;
  };
  json root;
  try {
    root = json::parse(text, watch);
  } catch (const json::exception& e) {
    fail(source, std::string("the header is not valid JSON: ") + e.what());
  }
  if (!root.is_object()) fail(source, "the header is not a JSON object");

  Header header;
  for (const auto& item : root.items()) {
    if (item.key() == kMetadataKey) {
      if (!item.value().is_object()) fail(source, "__metadata__ must be an object of strings");
      for (const auto& m : item.value().items()) {
        if (!m.value().is_string()) {
          fail(source, "__metadata__['" + m.key() + "'] must be a string, got " + m.value().dump());
        }
        header.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    header.entries.push_back(parse_entry(source, item.key(), item.value()));
  }
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
  for (const Entry& e : header.entries) file.tensors.emplace(e.name, read_tensor(bytes, data_start, e));
  return file;
}

void check_name(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) {
    throw ValueError("fuselstm: write_safetensors: tensor name '" + name +
                     "' is empty or starts with \"__\" (reserved by safetensors)");
  }
}

}  // namespace

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
