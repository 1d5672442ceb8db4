#pragma once
// Helpers of the weight-file tests: scratch folders, raw safetensors bytes built by hand (so a test
// can break exactly one rule), and a check that an error names the file and the problem.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "fuselstm/io.hpp"
#include "test_util.hpp"

namespace fuselstm::testing {

/// A fresh folder under the system's temporary folder, removed with everything in it at the end.
class ScratchDir {
public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("fuselstm_io_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  /// Names of the entries in the folder, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

private:
  std::filesystem::path path_;
};

/// The 8-byte little-endian length, the header text as given, then `data`.
inline std::vector<std::uint8_t> raw_safetensors(const std::string& header,
                                                 const std::vector<std::uint8_t>& data = {}) {
  // One allocation and memcpy (vector::insert here trips a GCC 12 -Warray-bounds false positive).
  std::vector<std::uint8_t> bytes(8 + header.size() + data.size());
  std::uint64_t n = header.size();
  for (int k = 0; k < 8; ++k) {
    bytes[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(n & 0xFF);
    n >>= 8;
  }
  if (!header.empty()) std::memcpy(bytes.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(bytes.data() + 8 + header.size(), data.data(), data.size());
  return bytes;
}

/// `count` float values as little-endian bytes (1.5, 2.5, ...: never zero).
inline std::vector<std::uint8_t> float_bytes(std::size_t count) {
  std::vector<std::uint8_t> bytes(count * 4);
  for (std::size_t k = 0; k < count; ++k) {
    const float v = 1.5f + static_cast<float>(k);
    std::memcpy(bytes.data() + 4 * k, &v, 4);
  }
  return bytes;
}

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

/// Runs `body` and expects an exception of type E whose message contains every one of `parts`.
template <typename E, typename F>
void expect_error_with(F body, const std::vector<std::string>& parts) {
  try {
    body();
    ADD_FAILURE() << "no exception; expected one mentioning '" << parts.front() << "'";
  } catch (const E& e) {
    for (const std::string& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message '" << e.what() << "' lacks '" << p << "'";
    }
  }
}

/// Bitwise equality of two host or device tensors (dtype, shape and every byte).
inline bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
  return a.bytes() == 0 || std::memcmp(ha.data(), hb.data(), a.bytes()) == 0;
}

}  // namespace fuselstm::testing
