// The safetensors reader and writer on valid files: bitwise round trips, the layout we write,
// BF16/F16 conversion, metadata, and atomic writes.

#include <cmath>
#include <limits>

#include "io_test_util.hpp"

namespace fuselstm::testing {
namespace {

Tensor seeded(const Shape& shape, DType dtype, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return Tensor::from_vector(shape, random_values(static_cast<std::size_t>(shape_numel(shape)), rng),
                             dtype);
}

TEST(Safetensors, RoundTripIsBitwiseForEveryShapeAndDtype) {
  ScratchDir dir;
  TensorMap tensors;
  tensors.emplace("a.matrix", seeded({5, 3}, DType::f32, 1));
  tensors.emplace("b.vector", seeded({7}, DType::f64, 2));
  tensors.emplace("c.scalar", seeded({}, DType::f64, 3));
  tensors.emplace("d.empty", Tensor::empty({0, 3}, DType::f32));
  tensors.emplace("e.cube", seeded({2, 1, 3}, DType::f32, 4));
  const Metadata metadata = {{"purpose", "test"}, {"unicode", "\xce\xbb=0.5"}};
  const std::string path = dir.file("t.safetensors");
  write_safetensors(path, tensors, metadata);

  const TensorFile back = read_safetensors(path);
  EXPECT_EQ(back.metadata, metadata);
  ASSERT_EQ(back.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(back.tensors.count(name)) << name;
    EXPECT_TRUE(same_bits(back.tensors.at(name), t)) << name << ": " << back.tensors.at(name).describe();
  }
  // The same bytes parsed from memory give the same content.
  const std::vector<std::uint8_t> bytes = read_bytes(path);
  const TensorFile parsed = parse_safetensors(bytes.data(), bytes.size(), "copy");
  for (const auto& [name, t] : tensors) EXPECT_TRUE(same_bits(parsed.tensors.at(name), t)) << name;
}

TEST(Safetensors, WritesTheReferenceLayout) {
  ScratchDir dir;
  TensorMap tensors;
  tensors.emplace("w", seeded({2, 3}, DType::f32, 5));
  tensors.emplace("b", seeded({3}, DType::f64, 6));
  const std::string path = dir.file("layout.safetensors");
  write_safetensors(path, tensors, {{"k", "v"}});
  const std::vector<std::uint8_t> bytes = read_bytes(path);
  std::uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = n << 8 | bytes[k];
  EXPECT_EQ(n % 8, 0u) << "header padded so the data starts 8-byte aligned";
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  EXPECT_EQ(header.front(), '{');
  // Data in name order: b (24 bytes) then w (24 bytes).
  EXPECT_NE(header.find("\"b\":{\"data_offsets\":[0,24],\"dtype\":\"F64\",\"shape\":[3]}"),
            std::string::npos) << header;
  EXPECT_NE(header.find("\"w\":{\"data_offsets\":[24,48],\"dtype\":\"F32\",\"shape\":[2,3]}"),
            std::string::npos) << header;
  EXPECT_NE(header.find("\"__metadata__\":{\"k\":\"v\"}"), std::string::npos) << header;
  EXPECT_EQ(bytes.size(), 8 + n + 48);
}

TEST(Safetensors, ConvertsBf16AndF16ExactlyToF32) {
  // Bit patterns with their exact values: normal, negative, subnormal, zero, -0, max, infinity.
  const std::vector<std::uint16_t> f16 = {0x3C00, 0xC100, 0x0001, 0x03FF, 0x0000, 0x8000, 0x7BFF, 0x7C00, 0xFC00};
  const std::vector<float> f16_values = {1.0f, -2.5f, std::ldexp(1.0f, -24),
                                         std::ldexp(1023.0f, -24), 0.0f, -0.0f, 65504.0f,
                                         INFINITY, -INFINITY};
  const std::vector<std::uint16_t> bf16 = {0x3F80, 0xC020, 0x0001, 0x7F7F, 0x8000, 0x7F80, 0x3DCD};
  const std::vector<float> bf16_values = {1.0f, -2.5f, std::ldexp(1.0f, -133),
                                          std::ldexp(255.0f, 120), -0.0f, INFINITY,
                                          0.10009765625f};
  std::vector<std::uint8_t> data;
  for (auto v : f16) data.insert(data.end(), {static_cast<std::uint8_t>(v & 0xFF), static_cast<std::uint8_t>(v >> 8)});
  for (auto v : bf16) data.insert(data.end(), {static_cast<std::uint8_t>(v & 0xFF), static_cast<std::uint8_t>(v >> 8)});
  const std::string fixed = R"({"h":{"dtype":"F16","shape":[9],"data_offsets":[0,18]},)"
                            R"("b":{"dtype":"BF16","shape":[7],"data_offsets":[18,32]},)"
                            R"("nan":{"dtype":"F16","shape":[],"data_offsets":[32,34]},)"
                            R"("bnan":{"dtype":"BF16","shape":[],"data_offsets":[34,36]}})";
  data.insert(data.end(), {0x00, 0x7E, 0xC0, 0x7F});  // f16 NaN 0x7E00, bf16 NaN 0x7FC0
  const std::vector<std::uint8_t> bytes = raw_safetensors(fixed, data);
  const TensorFile file = parse_safetensors(bytes.data(), bytes.size(), "halves");
  const Tensor& h = file.tensors.at("h");
  EXPECT_EQ(h.dtype(), DType::f32);
  EXPECT_EQ(h.shape(), Shape{9});
  const std::vector<float> got_h = h.to_vector<float>();
  const std::vector<float> got_b = file.tensors.at("b").to_vector<float>();
  for (std::size_t k = 0; k < f16.size(); ++k) {
    EXPECT_EQ(got_h[k], f16_values[k]) << "f16 bits 0x" << std::hex << f16[k];
    EXPECT_EQ(std::signbit(got_h[k]), std::signbit(f16_values[k])) << "f16 bits 0x" << std::hex << f16[k];
  }
  for (std::size_t k = 0; k < bf16.size(); ++k) {
    EXPECT_EQ(got_b[k], bf16_values[k]) << "bf16 bits 0x" << std::hex << bf16[k];
    EXPECT_EQ(std::signbit(got_b[k]), std::signbit(bf16_values[k])) << "bf16 bits 0x" << std::hex << bf16[k];
  }
  EXPECT_TRUE(std::isnan(file.tensors.at("nan").to_vector<float>()[0]));
  EXPECT_TRUE(std::isnan(file.tensors.at("bnan").to_vector<float>()[0]));
}

TEST(Safetensors, EmptyFileWithOnlyMetadataIsValid) {
  const std::vector<std::uint8_t> bytes = raw_safetensors(R"({"__metadata__":{"a":"b"}}   )");
  const TensorFile file = parse_safetensors(bytes.data(), bytes.size());
  EXPECT_TRUE(file.tensors.empty());
  EXPECT_EQ(file.metadata.at("a"), "b");
}

TEST(Safetensors, WritesAtomicallyAndLeavesNoTemporaryFiles) {
  ScratchDir dir;
  const std::string path = dir.file("model.safetensors");
  TensorMap first;
  first.emplace("w", seeded({3, 2}, DType::f32, 7));
  write_safetensors(path, first);
  const std::vector<std::uint8_t> good = read_bytes(path);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});

  // A bad name is found before anything is written: the old file stays as it was.
  TensorMap bad;
  bad.emplace("__reserved", seeded({2}, DType::f32, 8));
  expect_error_with<ValueError>([&] { write_safetensors(path, bad); }, {"__reserved"});
  EXPECT_EQ(read_bytes(path), good);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"model.safetensors"});

  // The final rename fails (the target is a non-empty folder): a FormatError naming the path,
  // and the temporary file is gone.
  std::filesystem::create_directories(dir.file("taken/inside"));
  expect_error_with<FormatError>([&] { write_safetensors(dir.file("taken"), first); },
                                 {dir.file("taken"), "rename"});
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"model.safetensors", "taken"}));

  // A folder that does not exist.
  expect_error_with<FormatError>(
      [&] { write_safetensors(dir.file("missing/model.safetensors"), first); },
      {dir.file("missing/model.safetensors"), "temporary"});

  // Overwriting replaces the content completely.
  TensorMap second;
  second.emplace("v", seeded({4}, DType::f64, 9));
  write_safetensors(path, second);
  const TensorFile back = read_safetensors(path);
  EXPECT_EQ(back.tensors.size(), 1u);
  EXPECT_TRUE(same_bits(back.tensors.at("v"), second.at("v")));
}

TEST(Safetensors, MissingFileAndFolderAreClearErrors) {
  ScratchDir dir;
  expect_error_with<FormatError>([&] { read_safetensors(dir.file("nope.safetensors")); },
                                 {dir.file("nope.safetensors"), "cannot open"});
  expect_error_with<FormatError>([&] { read_safetensors(dir.file("")); }, {"not a regular file"});
}

}  // namespace
}  // namespace fuselstm::testing
