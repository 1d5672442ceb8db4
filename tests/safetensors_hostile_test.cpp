// Hostile input: a crafted file for each layout rule, each giving a FormatError that names the file
// and the problem (never a crash, a hang or a huge allocation); then every truncation and many
// byte flips of a valid file, which must each parse or fail with FormatError and nothing else.

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "io_test_util.hpp"

namespace fuselstm::testing {
namespace {

class Hostile : public ::testing::Test {
protected:
  ScratchDir dir;
  std::string path = dir.file("hostile.safetensors");

  // Writes `bytes` and expects read_safetensors to throw FormatError naming the file and `problem`.
  void expect_rejected(const std::vector<std::uint8_t>& bytes, const std::string& problem) {
    write_bytes(path, bytes);
    expect_error_with<FormatError>([&] { read_safetensors(path); }, {path, problem});
    // The in-memory parser applies the same rules.
    expect_error_with<FormatError>(
        [&] { parse_safetensors(bytes.data(), bytes.size(), "buffer"); }, {"buffer", problem});
  }
  // A header with one tensor entry `entry` for "t" and a data buffer of `data_bytes` bytes.
  void expect_entry_rejected(const std::string& entry, std::size_t data_bytes,
                             const std::string& problem) {
    expect_rejected(raw_safetensors("{\"t\":" + entry + "}", float_bytes(data_bytes / 4)), problem);
  }
};

TEST_F(Hostile, Truncated) {
  expect_rejected({}, "truncated");
  expect_rejected({0x10, 0, 0, 0, 0}, "truncated");
  // A valid file cut in its data: the tensors no longer reach.
  std::vector<std::uint8_t> cut =
      raw_safetensors(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", float_bytes(4));
  cut.resize(cut.size() - 3);
  expect_rejected(cut, "out of range");
}

TEST_F(Hostile, HeaderLengthPastTheEnd) {
  std::vector<std::uint8_t> bytes = raw_safetensors("{}");
  bytes[0] = 200;  // claims 200 header bytes; the file has 2
  expect_rejected(bytes, "runs past the end");
}

TEST_F(Hostile, AbsurdHeaderLength) {
  std::vector<std::uint8_t> bytes = raw_safetensors("{}");
  for (int k = 0; k < 8; ++k) bytes[k] = 0xFF;  // 2^64 - 1: must not be allocated
  expect_rejected(bytes, "exceeds the limit of 100000000 bytes");
  const std::uint64_t just_over = 100'000'001;
  for (int k = 0; k < 8; ++k) bytes[k] = static_cast<std::uint8_t>(just_over >> (8 * k));
  expect_rejected(bytes, "exceeds the limit");
}

TEST_F(Hostile, HeaderNotJson) {
  expect_rejected(raw_safetensors("{not json"), "not valid JSON");
  expect_rejected(raw_safetensors("{} trailing"), "not valid JSON");
  expect_rejected(raw_safetensors("{\"\xff\xfe\":1}"), "not valid JSON");  // not UTF-8
  expect_rejected(raw_safetensors("[1, 2]"), "does not start with '{'");
  expect_rejected(raw_safetensors(" {}"), "does not start with '{'");
  expect_rejected(raw_safetensors(""), "does not start with '{'");
  expect_rejected(raw_safetensors("{\"t\": 5}"), "entry must be a JSON object");
  expect_rejected(raw_safetensors("{\"\":{}}"), "empty name");
  // Nesting deeper than the format has is stopped early (a 100 MB header of '[' must not recurse).
  expect_rejected(raw_safetensors("{\"t\":{\"shape\":[[[[[[1]]]]]]}}"), "nests deeper");
  expect_rejected(raw_safetensors("{\"t\":{\"shape\":" + std::string(100000, '[')), "nests deeper");
}

TEST_F(Hostile, OffsetsOverlapOutOfRangeOrLeaveHoles) {
  const std::string a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  expect_rejected(raw_safetensors("{" + a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                  float_bytes(3)),
                  "overlap tensor 'a'");
  expect_rejected(raw_safetensors("{" + a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                  float_bytes(2)),
                  "overlap");
  expect_rejected(raw_safetensors("{" + a + "}", float_bytes(1)), "out of range");
  expect_rejected(raw_safetensors("{" + a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                                  float_bytes(4)),
                  "hole of 4 bytes at offset 8");
  expect_rejected(raw_safetensors("{" + a + "}", float_bytes(3)), "hole of 4 bytes at the end");
  expect_rejected(raw_safetensors("{}", float_bytes(1)), "hole of 4 bytes at the end");
  expect_entry_rejected(R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})", 8, "end before begin");
  expect_entry_rejected(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})", 4, "[begin, end]");
  expect_entry_rejected(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", 4, "non-negative integer");
  expect_entry_rejected(R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551616]})",
                        4, "data_offsets");
}

TEST_F(Hostile, ByteLengthMustMatchTheShape) {
  expect_entry_rejected(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})", 8,
                        "hold 8 bytes but shape [3] of F32 needs 12");
  expect_entry_rejected(R"({"dtype":"F64","shape":[2,1],"data_offsets":[0,8]})", 8, "needs 16");
  // Products that overflow 64 bits, in elements or in bytes.
  expect_entry_rejected(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})", 8,
                        "too many elements");
  expect_entry_rejected(R"({"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]})", 8,
                        "too many bytes");
  expect_entry_rejected(R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]})", 8,
                        "too many elements");
  expect_entry_rejected(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4, "shape[0] must be a non-negative integer");
  expect_entry_rejected(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4, "non-negative integer");
  expect_entry_rejected(R"({"dtype":"F32","shape":[1e400],"data_offsets":[0,4]})", 4, "not valid JSON");
  expect_entry_rejected(R"({"dtype":"F32","shape":"[1]","data_offsets":[0,4]})", 4, "shape must be an array");
}

TEST_F(Hostile, UnknownOrUnsupportedDtypes) {
  expect_entry_rejected(R"({"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]})", 4,
                        "unsupported dtype 'F8_E4M3'");
  // Integer tensors are listed, not read, but their layout is checked like any other's.
  expect_entry_rejected(R"({"dtype":"I64","shape":[1],"data_offsets":[0,4]})", 4, "needs 8");
  expect_entry_rejected(R"({"dtype":"BOOL","shape":[3],"data_offsets":[0,4]})", 4, "needs 3");
  expect_entry_rejected(R"({"dtype":"F128","shape":[1],"data_offsets":[0,16]})", 16, "unknown dtype 'F128'");
  expect_entry_rejected(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})", 4, "unknown dtype 'f32'");
  expect_entry_rejected(R"({"dtype":4,"shape":[1],"data_offsets":[0,4]})", 4, "dtype must be a string");
}

TEST_F(Hostile, DuplicateNamesAndKeys) {
  expect_rejected(raw_safetensors(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                  R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                  float_bytes(2)),
                  "duplicate tensor name 'a'");
  expect_entry_rejected(R"({"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]})", 4,
                        "duplicate key 'dtype'");
  expect_rejected(raw_safetensors(R"({"__metadata__":{"k":"1","k":"2"}})"), "duplicate key 'k'");
  expect_rejected(raw_safetensors(R"({"__metadata__":{"k":"1"},"__metadata__":{}})"),
                  "duplicate tensor name '__metadata__'");
}

TEST_F(Hostile, MalformedEntriesAndMetadata) {
  expect_entry_rejected(R"({"dtype":"F32","shape":[1]})", 4, "missing \"data_offsets\"");
  expect_entry_rejected(R"({"shape":[1],"data_offsets":[0,4]})", 4, "missing \"dtype\"");
  expect_entry_rejected(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1})", 4,
                        "unexpected key 'extra'");
  expect_rejected(raw_safetensors(R"({"__metadata__":{"k":5}})"), "__metadata__['k'] must be a string");
  expect_rejected(raw_safetensors(R"({"__metadata__":[]})"), "__metadata__ must be an object");
}

TEST_F(Hostile, WrongShapeForTheModel) {
  // A layout-valid file whose weight does not fit the configuration it records.
  TensorMap t;
  t.emplace("weight_ih_l0", Tensor::zeros({8, 3}, DType::f32));
  t.emplace("weight_hh_l0", Tensor::zeros({8, 3}, DType::f32));
  write_safetensors(path, t);
  expect_error_with<FormatError>([&] { load_model(path); }, {path, "'weight_hh_l0' has shape [8, 3]", "[8, 2]"});
}

TEST_F(Hostile, SpecialFilesDoNotHang) {
  expect_error_with<FormatError>([&] { read_safetensors(dir.file("")); }, {"not a regular file"});
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error_with<FormatError>([&] { read_safetensors(fifo); }, {fifo, "not a regular file"});
}

// Parses `bytes`; anything but success or FormatError fails the test (and a crash fails it harder).
void parse_or_format_error(const std::vector<std::uint8_t>& bytes, const std::string& what) {
  try {
    // The layout, then the model built from it: both are the loader.
    load_model(parse_safetensors(bytes.data(), bytes.size(), what), {}, what);
  } catch (const FormatError&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": not a FormatError: " << e.what();
  }
}

TEST(HostileMutations, EveryTruncationAndHeaderByteFlipOfAValidFile) {
  ScratchDir dir;
  LstmConfig cfg;
  cfg.input_size = 2;
  cfg.hidden_size = 3;
  cfg.num_layers = 2;
  Lstm model(cfg);
  TensorMap head;
  head.emplace("head.weight", Tensor::zeros({1, 3}, DType::f64));
  save_model(model, dir.file("valid.safetensors"), {{"note", "x"}}, head);
  const std::vector<std::uint8_t> valid = read_bytes(dir.file("valid.safetensors"));
  for (std::size_t n = 0; n < valid.size(); ++n) {
    parse_or_format_error(std::vector<std::uint8_t>(valid.begin(), valid.begin() + n),
                          "truncated to " + std::to_string(n));
  }
  std::uint64_t header_length = 0;
  for (int k = 7; k >= 0; --k) header_length = header_length << 8 | valid[k];
  std::mt19937_64 rng(1);
  for (std::size_t pos = 0; pos < 8 + header_length; ++pos) {
    for (int trial = 0; trial < 3; ++trial) {
      std::vector<std::uint8_t> bytes = valid;
      bytes[pos] = static_cast<std::uint8_t>(rng());
      parse_or_format_error(bytes, "byte " + std::to_string(pos) + " = " + std::to_string(bytes[pos]));
    }
  }
}

// A state_dict with an integer tensor (BatchNorm's num_batches_tracked) loads its LSTM; the
// integer tensor is listed in `skipped`. An LSTM parameter stored as an integer is refused.
TEST_F(Hostile, IntegerTensorsAreListedNotRefused) {
  std::string header = R"({"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)";
  header += R"("weight_ih_l0":{"dtype":"F32","shape":[4,1],"data_offsets":[8,24]},)";
  header += R"("weight_hh_l0":{"dtype":"F32","shape":[4,1],"data_offsets":[24,40]}})";
  const std::vector<std::uint8_t> bytes = raw_safetensors(header, float_bytes(10));
  LoadedModel loaded = load_model(parse_safetensors(bytes.data(), bytes.size()));
  EXPECT_EQ(loaded.model.config().hidden_size, 1);
  ASSERT_EQ(loaded.skipped.count("bn.num_batches_tracked"), 1u);
  EXPECT_EQ(loaded.skipped.at("bn.num_batches_tracked").dtype, "I64");
  EXPECT_TRUE(loaded.skipped.at("bn.num_batches_tracked").shape.empty());
  EXPECT_TRUE(loaded.extra.empty());

  std::string bad = R"({"weight_ih_l0":{"dtype":"I32","shape":[4,1],"data_offsets":[0,16]},)";
  bad += R"("weight_hh_l0":{"dtype":"F32","shape":[4,1],"data_offsets":[16,32]}})";
  const std::vector<std::uint8_t> bad_bytes = raw_safetensors(bad, float_bytes(8));
  expect_error_with<FormatError>(
      [&] { load_model(parse_safetensors(bad_bytes.data(), bad_bytes.size()), {}, "buffer"); },
      {"buffer", "weight_ih_l0", "dtype I32"});
}

// A NUL byte is never valid raw JSON (nlohmann's lexer, which read headers before, took it for the
// end of its input): "{}\0junk" must not load as "{}".
TEST_F(Hostile, NulOrJunkAfterTheObjectIsRejected) {
  expect_rejected(raw_safetensors(std::string("{}\0this is not json at all", 26)), "NUL byte");
  expect_rejected(raw_safetensors(std::string("{\"a\0\":{}}", 9)), "NUL byte");
  expect_rejected(raw_safetensors("{}\n"), "only spaces may follow");
  expect_rejected(raw_safetensors("{}\t "), "only spaces may follow");
  expect_rejected(raw_safetensors("{}{}"), "not valid JSON");
  // Trailing spaces are the padding writers add: valid.
  const std::vector<std::uint8_t> padded = raw_safetensors("{}      ");
  EXPECT_TRUE(parse_safetensors(padded.data(), padded.size()).tensors.empty());
}

// torch.save's zip archive and its legacy pickle are recognised, with the way to save safetensors.
TEST_F(Hostile, TorchSaveFilesSayHowToSaveSafetensors) {
  std::vector<std::uint8_t> zip = {'P', 'K', 3, 4, 20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0};
  zip.resize(600, 0);
  expect_rejected(zip, "zip archive (a torch.save file?)");
  expect_rejected(zip, "safetensors.torch.save_file(model.state_dict(), path)");
  std::vector<std::uint8_t> pickle = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20};
  pickle.resize(600, 0);
  expect_rejected(pickle, "Python pickle (a torch.save file?)");
}

TEST_F(Hostile, ShapesOfMoreThan64DimensionsAreRejected) {
  std::string shape = "[1";
  for (int k = 1; k < 65; ++k) shape += ",1";
  expect_entry_rejected(R"({"dtype":"F32","shape":)" + shape + R"(],"data_offsets":[0,4]})", 4,
                        "shape has more than 64 dimensions");
}

// The callback parser this replaced rescanned the parent object after each entry: 10k entries
// took 1.1 s, 40k 92 s. The reader is linear: 200k entries (a 12 MB header) take 0.1-0.2 s in a
// release build (nlohmann's SAX parser took 0.3 s); the generous bound still fails any quadratic
// parser by hours, and leaves room for sanitizers.
TEST_F(Hostile, ManyEntriesParseInLinearTime) {
  constexpr int kEntries = 200'000;
  std::string header = "{";
  for (int k = 0; k < kEntries; ++k) {
    header += (k ? ",\"t" : "\"t") + std::to_string(k) +
              R"(":{"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
  }
  header += "}";
  const std::vector<std::uint8_t> bytes = raw_safetensors(header);
  const auto start = std::chrono::steady_clock::now();
  const TensorFile file = parse_safetensors(bytes.data(), bytes.size());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(file.tensors.size(), static_cast<std::size_t>(kEntries));
  EXPECT_LT(seconds, 20.0) << kEntries << " entries";
  std::printf("%d entries (%.1f MB header) parsed in %.3f s\n", kEntries, header.size() / 1e6,
              seconds);
}

// Many tiny tensors listed out of offset order (the tiling check sorts them) load with their own
// values; one duplicate name among them, at the end, is still found.
TEST_F(Hostile, ManyTinyTensorsLoadWithTheirValues) {
  constexpr int kEntries = 200'000;
  std::vector<int> slot(kEntries);  // tensor k holds float number slot[k] of the buffer
  for (int k = 0; k < kEntries; ++k) slot[k] = k;
  std::shuffle(slot.begin(), slot.end(), std::mt19937_64(5));
  const auto name = [](int k) { return "layers." + std::to_string(k) + ".bias"; };
  std::string header = "{";
  for (int k = 0; k < kEntries; ++k) {
    header += (k ? ",\"" : "\"") + name(k) + R"(":{"dtype":"F32","shape":[1],"data_offsets":[)" +
              std::to_string(4 * slot[k]) + "," + std::to_string(4 * slot[k] + 4) + "]}";
  }
  const std::vector<std::uint8_t> bytes = raw_safetensors(header + "}", float_bytes(kEntries));
  const auto start = std::chrono::steady_clock::now();
  const TensorFile file = parse_safetensors(bytes.data(), bytes.size());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(file.tensors.size(), static_cast<std::size_t>(kEntries));
  int wrong = 0;
  for (int k = 0; k < kEntries; ++k) {
    const Tensor& t = file.tensors.at(name(k));
    wrong += t.shape() != Shape{1} || *t.data_as<float>() != 1.5f + static_cast<float>(slot[k]);
  }
  EXPECT_EQ(wrong, 0) << "tensors with a wrong shape or value";
  EXPECT_LT(seconds, 20.0) << kEntries << " entries";
  std::printf("%d tiny tensors (%.1f MB header) loaded in %.3f s\n", kEntries, header.size() / 1e6,
              seconds);

  // The last entry renamed to the first's name (same length: the offsets stay valid).
  std::string duplicate = header;
  duplicate.replace(duplicate.rfind('"' + name(kEntries - 1) + '"'), name(kEntries - 1).size() + 2,
                    '"' + name(kEntries - 1).replace(7, 6, "100000") + '"');
  expect_rejected(raw_safetensors(duplicate + "}", float_bytes(kEntries)),
                  "duplicate tensor name 'layers.100000.bias'");
}

}  // namespace
}  // namespace fuselstm::testing
