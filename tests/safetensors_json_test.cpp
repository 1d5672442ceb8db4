// The safetensors header reader is a JSON parser of its own (src/io/safetensors.cpp): checked here
// against nlohmann-json, which the writer uses and the reader once did, on strings (escapes,
// surrogates, UTF-8), numbers and random edits of a valid header. The rule: where nlohmann refuses
// the text, the reader refuses it; where the reader calls the text invalid JSON, nlohmann refuses
// it; where the reader accepts, nlohmann accepts and reads the same names, shapes and metadata.

#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "io_test_util.hpp"

namespace fuselstm::testing {
namespace {

using json = nlohmann::json;

// What the reader made of a header (with an empty data buffer unless given).
struct Outcome {
  bool ok = false;
  std::string error;
  TensorFile file;
};

Outcome load(const std::string& header, std::size_t data_floats = 0) {
  const std::vector<std::uint8_t> bytes = raw_safetensors(header, float_bytes(data_floats));
  Outcome out;
  try {
    out.file = parse_safetensors(bytes.data(), bytes.size(), "buffer");
    out.ok = true;
  } catch (const FormatError& e) {
    out.error = e.what();
  }
  return out;
}

// Bytes outside printable ASCII as \xHH, so a failure shows the case.
std::string printable(const std::string& s) {
  std::string out;
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7F) {
      out += c;
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", b);
      out += hex;
    }
  }
  return out;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Random JSON-ish string literals built from pieces that matter to a string parser.
std::string random_string_literal(std::mt19937_64& rng) {
  static const std::vector<std::string> pieces = {"a",
                                                  "Z",
                                                  " ",
                                                  "/",
                                                  "\\",
                                                  "\"",
                                                  "u",
                                                  "\\u",
                                                  "\\n",
                                                  "\\t",
                                                  "\\/",
                                                  "\\\"",
                                                  "\\\\",
                                                  "\\x",
                                                  "\\U",
                                                  "D83D",
                                                  "DE00",
                                                  "dc00",
                                                  "d800",
                                                  "DBFF",
                                                  "DFFF",
                                                  "0041",
                                                  "00e9",
                                                  "0000",
                                                  "FFFF",
                                                  "12",
                                                  "g",
                                                  "\x01",
                                                  "\x1F",
                                                  "\x7F",
                                                  "\x80",
                                                  "\xBF",
                                                  "\xC0",
                                                  "\xC1",
                                                  "\xC2",
                                                  "\xDF",
                                                  "\xE0",
                                                  "\xE1",
                                                  "\xEC",
                                                  "\xED",
                                                  "\xEE",
                                                  "\xEF",
                                                  "\x9F",
                                                  "\xA0",
                                                  "\xF0",
                                                  "\xF1",
                                                  "\xF3",
                                                  "\xF4",
                                                  "\x8F",
                                                  "\x90",
                                                  "\xF5",
                                                  "\xFF",
                                                  "\xC3\xA9",
                                                  "\xE2\x82\xAC",
                                                  "\xF0\x9F\x98\x80"};
  std::string s = "\"";
  const int n = static_cast<int>(rng() % 7);
  for (int k = 0; k < n; ++k) s += pieces[rng() % pieces.size()];
  return s + "\"";
}

TEST(SafetensorsJson, StringsAgreeWithNlohmann) {
  std::vector<std::string> cases = {R"("plain")",
                                    R"("")",
                                    R"("\"\\\/\b\f\n\r\t")",
                                    R"("\u0041\u00e9\u20AC")",
                                    R"("\u0000")",
                                    R"("\uD83D\uDE00")",
                                    R"("\ud83d\ude00")",
                                    R"("\uD83D")",
                                    R"("\uDE00")",
                                    R"("\uD83Dx")",
                                    R"("\uD83D\u0041")",
                                    R"("\u12")",
                                    R"("\u12G4")",
                                    R"("\x41")",
                                    R"("\)",
                                    R"("abc)",
                                    "\"\xC3\xA9\"",
                                    "\"\xC2\x80\"",
                                    "\"\xDF\xBF\"",
                                    "\"\xE0\xA0\x80\"",
                                    "\"\xEF\xBF\xBF\"",
                                    "\"\xF0\x90\x80\x80\"",
                                    "\"\xF4\x8F\xBF\xBF\"",
                                    "\"\xC0\x80\"",
                                    "\"\xC1\xBF\"",
                                    "\"\xE0\x80\x80\"",
                                    "\"\xE0\x9F\xBF\"",
                                    "\"\xED\xA0\x80\"",
                                    "\"\xED\x9F\xBF\"",
                                    "\"\xF0\x80\x80\x80\"",
                                    "\"\xF0\x8F\xBF\xBF\"",
                                    "\"\xF4\x90\x80\x80\"",
                                    "\"\xF5\x80\x80\x80\"",
                                    "\"\x80\"",
                                    "\"\xC3\"",
                                    "\"\xE2\x82\"",
                                    "\"\xFF\"",
                                    "\"\x01\"",
                                    "\"\x1F\"",
                                    "\"\x7F\"",
                                    "\"\t\"",
                                    "\"\n\""};
  std::mt19937_64 rng(7);
  for (int k = 0; k < 20000; ++k) cases.push_back(random_string_literal(rng));

  int accepted = 0;
  for (const std::string& literal : cases) {
    SCOPED_TRACE(printable(literal));
    // As a metadata value: the only possible error is invalid JSON.
    const std::string as_value = R"({"__metadata__":{"k":)" + literal + "}}";
    const bool valid = json::accept(as_value);
    const Outcome value = load(as_value);
    ASSERT_EQ(value.ok, valid) << value.error;
    if (!value.ok) {
      EXPECT_TRUE(has(value.error, "not valid JSON")) << value.error;
      continue;
    }
    ++accepted;
    const std::string decoded = json::parse(as_value)["__metadata__"]["k"].get<std::string>();
    EXPECT_EQ(value.file.metadata.at("k"), decoded);
    // As a tensor name.
    const Outcome name =
        load("{" + literal + R"(:{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})");
    if (decoded.empty()) {
      EXPECT_TRUE(has(name.error, "empty name")) << name.error;
    } else if (decoded != "__metadata__") {
      ASSERT_TRUE(name.ok) << name.error;
      EXPECT_EQ(name.file.tensors.size(), 1u);
      EXPECT_EQ(name.file.tensors.count(decoded), 1u);
    }
  }
  std::printf("%zu string literals, %d valid\n", cases.size(), accepted);
  EXPECT_GT(accepted, 1000);  // the random cases are not all invalid
}

TEST(SafetensorsJson, NumbersAgreeWithNlohmann) {
  std::vector<std::string> cases = {"0",
                                    "7",
                                    "10",
                                    "01",
                                    "00",
                                    "-0",
                                    "-1",
                                    "-",
                                    "+1",
                                    "1.",
                                    ".5",
                                    "1.5",
                                    "1.0",
                                    "0.0",
                                    "1e5",
                                    "1E+5",
                                    "1e-5",
                                    "1e",
                                    "1e+",
                                    "1.e5",
                                    "1e400",
                                    "-1e400",
                                    "1e-400",
                                    "1.7976931348623157e308",
                                    "1.7976931348623159e308",
                                    "0e999999999999",
                                    "0.000001e-999999999999",
                                    "9223372036854775807",
                                    "9223372036854775808",
                                    "18446744073709551615",
                                    "18446744073709551616",
                                    "-9223372036854775808",
                                    "-9223372036854775809",
                                    "1" + std::string(400, '0'),
                                    "-1" + std::string(400, '0'),
                                    "1" + std::string(300, '0'),
                                    "0." + std::string(400, '0') + "1",
                                    "0x10",
                                    "1_0",
                                    "Infinity",
                                    "NaN",
                                    "true",
                                    "null"};
  std::mt19937_64 rng(11);
  const std::string alphabet = "0123456789-+.eE";
  for (int k = 0; k < 5000; ++k) {
    std::string t;
    const int n = 1 + static_cast<int>(rng() % 6);
    for (int j = 0; j < n; ++j) t += alphabet[rng() % alphabet.size()];
    cases.push_back(t);
  }

  int unsigned_count = 0;
  for (const std::string& token : cases) {
    SCOPED_TRACE(token.size() > 60 ? token.substr(0, 60) + "..." : token);
    const std::string header =
        R"({"t":{"dtype":"U8","shape":[)" + token + R"(],"data_offsets":[0,0]}})";
    const Outcome out = load(header);
    if (!json::accept(header)) {
      // Refused; either as invalid JSON or, when the token starts with a valid number ("-5-6"),
      // for that number, as nlohmann's events were before.
      EXPECT_FALSE(out.ok);
      continue;
    }
    const json d = json::parse(header)["t"]["shape"][0];
    if (!d.is_number_unsigned()) {
      EXPECT_TRUE(has(out.error, "shape[0] must be a non-negative integer")) << out.error;
      continue;
    }
    ++unsigned_count;
    const auto u = d.get<std::uint64_t>();
    if (u == 0) {
      ASSERT_TRUE(out.ok) << out.error;
      EXPECT_EQ(out.file.skipped.at("t").shape, Shape{0});
    } else if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      EXPECT_TRUE(has(out.error, "too many elements")) << out.error;
    } else {
      EXPECT_TRUE(has(out.error, "needs " + std::to_string(u))) << out.error;
    }
  }
  EXPECT_GT(unsigned_count, 100);
}

// One edit (delete, insert or replace a byte) of a valid header, many times over.
TEST(SafetensorsJson, EditsOfAValidHeaderAgreeWithNlohmann) {
  const std::string valid =
      "{ \"__metadata__\" : {\"format\":\"pt\", \"n\\u00e9\":\"\\\"x\\\"\"},\n"
      "  \"a.w\\/b\" :{\"dtype\":\"F32\",\"shape\":[2, 1],\"data_offsets\":[0,8]},\t"
      "\"b\":{\"shape\":[],\"dtype\":\"F32\",\"data_offsets\":[8,12]}\r\n,"
      "\"c\":{\"data_offsets\":[12,12],\"dtype\":\"I64\",\"shape\":[0,3]}}   ";
  ASSERT_TRUE(load(valid, 3).ok) << load(valid, 3).error;
  const std::string inserts = "{}[]:,\" \t\n\\0123456789-.eau";
  std::mt19937_64 rng(3);
  int accepted = 0, invalid = 0;
  for (int k = 0; k < 20000; ++k) {
    std::string h = valid;
    const std::size_t at = rng() % h.size();
    switch (rng() % 3) {
      case 0:
        h.erase(at, 1);
        break;
      case 1:
        h.insert(at, 1, inserts[rng() % inserts.size()]);
        break;
      default:
        h[at] = inserts[rng() % inserts.size()];
        break;
    }
    SCOPED_TRACE(printable(h));
    const bool json_ok = json::accept(h);
    const Outcome out = load(h, 3);
    if (!json_ok) {
      ++invalid;
      EXPECT_FALSE(out.ok);
      continue;
    }
    EXPECT_FALSE(has(out.error, "not valid JSON")) << out.error;
    if (!out.ok) continue;
    ++accepted;
    // The same content as nlohmann reads.
    const json dom = json::parse(h);
    std::size_t tensors = 0;
    for (const auto& [name, entry] : dom.items()) {
      if (name == "__metadata__") {
        EXPECT_EQ(out.file.metadata, entry.get<Metadata>());
        continue;
      }
      ++tensors;
      const Shape shape = entry.at("shape").get<Shape>();
      if (entry.at("dtype") == "I64") {
        ASSERT_EQ(out.file.skipped.count(name), 1u) << name;
        EXPECT_EQ(out.file.skipped.at(name).shape, shape);
      } else {
        ASSERT_EQ(out.file.tensors.count(name), 1u) << name;
        EXPECT_EQ(out.file.tensors.at(name).shape(), shape);
      }
    }
    EXPECT_EQ(out.file.tensors.size() + out.file.skipped.size(), tensors);
  }
  std::printf("20000 edits: %d accepted, %d invalid JSON\n", accepted, invalid);
  EXPECT_GT(accepted, 100);
  EXPECT_GT(invalid, 100);
}

}  // namespace
}  // namespace fuselstm::testing
