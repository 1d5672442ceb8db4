// Writes model files and what fuselstm computes with them, for
//   /usr/bin/python3 tools/make_pytorch_fixtures.py --verify <this program>
// which loads every <name>.model.safetensors into torch.nn.LSTM with load_state_dict (strict, the
// file's tensors as they are) and compares its forward with <name>.check.safetensors.
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

void export_case(const std::string& folder, const std::string& name, DType dtype, std::int64_t T,
                 std::int64_t B, std::int64_t X, std::int64_t H, std::int64_t L, bool bias,
                 std::uint64_t seed) {
  LstmConfig cfg;
  cfg.input_size = X;
  cfg.hidden_size = H;
  cfg.num_layers = L;
  cfg.bias = bias;
  cfg.dtype = dtype;
  Lstm model(cfg);
  model.init_pytorch_default(seed);
  std::mt19937_64 rng(seed + 1);
  TensorMap check;
  check.emplace("x", seeded({T, B, X}, dtype, rng));
  check.emplace("h0", seeded({L, B, H}, dtype, rng));
  check.emplace("c0", seeded({L, B, H}, dtype, rng));
  ForwardResult out = model.forward(check.at("x"), check.at("h0"), check.at("c0"));
  check.emplace("y", std::move(out.y));
  check.emplace("hT", std::move(out.hT));
  check.emplace("cT", std::move(out.cT));
  save_model(model, folder + "/" + name + ".model.safetensors");
  write_safetensors(folder + "/" + name + ".check.safetensors", check);
  std::printf("wrote %s/%s.{model,check}.safetensors\n", folder.c_str(), name.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <folder>\n", argv[0]);
    return 2;
  }
  try {
    export_case(argv[1], "f64_2layer", DType::f64, 6, 2, 3, 5, 2, true, 11);
    export_case(argv[1], "f32_1layer", DType::f32, 5, 3, 4, 3, 1, true, 12);
    export_case(argv[1], "f32_3layer_nobias", DType::f32, 4, 1, 1, 2, 3, false, 13);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
