// Writes model files and what fuselstm computes with them, for
//   /usr/bin/python3 tools/make_pytorch_fixtures.py --verify <this program>
// which loads every <name>.model.safetensors into torch.nn.LSTM with load_state_dict (strict, the
// file's tensors as they are; bidirectional, batch_first and dropout from the file's metadata) and
// compares its forward with <name>.check.safetensors.
// Usage: fuselstm_export_for_pytorch <folder>

#include <cstdio>
#include <random>
#include <string>

#include "fuselstm/fuselstm.hpp"

namespace {

using namespace fuselstm;

Tensor seeded(const Shape& shape, DType dtype, std::mt19937_64& rng) {
  std::vector<double> v(static_cast<std::size_t>(shape_numel(shape)));
  for (double& e : v) e = static_cast<double>(rng() >> 11) * 0x1.0p-53 * 2.0 - 1.0;
  return Tensor::from_vector(shape, v, dtype);
}

struct ExportCase {
  const char* name;
  DType dtype;
  std::int64_t T, B, X, H, L;
  bool bias = true;
  bool bidirectional = false;
  bool batch_first = false;
  double dropout = 0;  // recorded in the file; the check runs in evaluation mode, as PyTorch's
  std::uint64_t seed = 0;
};

void export_case(const std::string& folder, const ExportCase& c) {
  LstmConfig cfg;
  cfg.input_size = c.X;
  cfg.hidden_size = c.H;
  cfg.num_layers = c.L;
  cfg.bias = c.bias;
  cfg.dtype = c.dtype;
  cfg.bidirectional = c.bidirectional;
  cfg.batch_first = c.batch_first;
  cfg.dropout = c.dropout;
  Lstm model(cfg);
  model.init_pytorch_default(c.seed);
  model.set_training(false);
  std::mt19937_64 rng(c.seed + 1);
  const std::int64_t LD = c.L * cfg.directions();
  TensorMap check;
  check.emplace("x",
                seeded(c.batch_first ? Shape{c.B, c.T, c.X} : Shape{c.T, c.B, c.X}, c.dtype, rng));
  check.emplace("h0", seeded({LD, c.B, c.H}, c.dtype, rng));
  check.emplace("c0", seeded({LD, c.B, c.H}, c.dtype, rng));
  ForwardResult out = model.forward(check.at("x"), check.at("h0"), check.at("c0"));
  check.emplace("y", std::move(out.y));
  check.emplace("hT", std::move(out.hT));
  check.emplace("cT", std::move(out.cT));
  const std::string base = folder + "/" + c.name;
  save_model(model, base + ".model.safetensors");
  write_safetensors(base + ".check.safetensors", check);
  std::printf("wrote %s.{model,check}.safetensors\n", base.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <folder>\n", argv[0]);
    return 2;
  }
  try {
    // name, dtype, T, B, X, H, L, bias, bidirectional, batch_first, dropout, seed
    export_case(argv[1], {"f64_2layer", DType::f64, 6, 2, 3, 5, 2, true, false, false, 0, 11});
    export_case(argv[1], {"f32_1layer", DType::f32, 5, 3, 4, 3, 1, true, false, false, 0, 12});
    export_case(argv[1],
                {"f32_3layer_nobias", DType::f32, 4, 1, 1, 2, 3, false, false, false, 0, 13});
    export_case(argv[1],
                {"f64_2layer_bidirectional", DType::f64, 5, 3, 3, 5, 2, true, true, false, 0, 14});
    export_case(argv[1], {"f32_3layer_bidirectional_batch_first_dropout", DType::f32, 4, 2, 5, 3, 3,
                          true, true, true, 0.25, 15});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
