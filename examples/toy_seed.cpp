#include "toy_seed.hpp"

#include "numpy_random.hpp"

#include <random>

namespace fuselstm::examples {
namespace {

constexpr std::int64_t kCells = 100, kInputs = 50;
const std::vector<double> kTargets = {-0.5, 0.2, 0.1, -0.5};

// The seed's start: each of W_g, W_i, W_f, W_o [H, X+H] and then b_g, b_i, b_f, b_o [H] is drawn
// from numpy's generator re-seeded with 0, as u·0.2 − 0.1 (so the four matrices are equal and each
// bias is the first H draws); the inputs continue the stream that drew b_o. W_k's columns split
// into weight_ih (the x part) and weight_hh (the h part) at gate block k of PyTorch's order i, f,
// g, o; b_k goes into bias_ih; bias_hh stays zero.
std::vector<double> seed_start(Lstm& model) {
  const std::int64_t H = kCells, X = kInputs, G = 4 * H;
  std::vector<double> w_ih(G * X), w_hh(G * H), b_ih(G), b_hh(G, 0.0);
  const int block_of_seed_gate[4] = {2, 0, 1, 3};  // W_g, W_i, W_f, W_o -> PyTorch blocks g, i, f, o
  for (int block : block_of_seed_gate) {
    NumpyRandomState rng(0);
    for (std::int64_t r = 0; r < H; ++r) {
      for (std::int64_t j = 0; j < X + H; ++j) {
        const double w = rng.random_sample() * 0.2 - 0.1;
        if (j < X) w_ih[(block * H + r) * X + j] = w;
        else w_hh[(block * H + r) * H + (j - X)] = w;
      }
    }
  }
  std::vector<double> x;
  for (int block : block_of_seed_gate) {
    NumpyRandomState rng(0);
    for (std::int64_t r = 0; r < H; ++r) b_ih[block * H + r] = rng.random_sample() * 0.2 - 0.1;
    if (block == 3) {  // b_o was drawn last: the inputs continue its stream
      for (std::int64_t k = 0; k < 4 * X; ++k) x.push_back(rng.random_sample());
    }
  }
  model.parameter("weight_ih_l0").assign(w_ih);
  model.parameter("weight_hh_l0").assign(w_hh);
  model.parameter("bias_ih_l0").assign(b_ih);
  model.parameter("bias_hh_l0").assign(b_hh);
  return x;
}

std::vector<double> uniform_start(Lstm& model, std::uint64_t seed) {
  model.init_uniform(seed, -0.1, 0.1);
  model.parameter("bias_hh_l0").fill(0.0);
  std::mt19937_64 engine(seed ^ 0x5eedULL);
  std::vector<double> x(4 * kInputs);
  for (double& v : x) v = static_cast<double>(engine() >> 11) * 0x1.0p-53;
  return x;
}

}  // namespace

std::vector<ToyIteration> train_toy(const ToyOptions& o,
                                    const std::function<void(const ToyIteration&)>& on_iteration) {
  LstmConfig cfg;
  cfg.input_size = kInputs;
  cfg.hidden_size = kCells;
  cfg.cell = o.cell;
  cfg.dtype = o.dtype;
  cfg.device = o.device;
  Lstm model(cfg);
  const std::vector<double> xv =
      o.init == ToyInit::seed ? seed_start(model) : uniform_start(model, o.seed);
  const std::int64_t T = static_cast<std::int64_t>(kTargets.size());
  const Tensor x = Tensor::from_vector({T, 1, kInputs}, xv, o.dtype, o.device);
  Sgd sgd(model, o.lr, {"bias_hh_l0"});  // the seed has one bias per gate

  std::vector<ToyIteration> history;
  std::vector<double> dy(static_cast<std::size_t>(T * kCells), 0.0);
  for (int it = 0; it < o.iterations; ++it) {
    ForwardResult f = model.forward(x);
    const std::vector<double> y = f.y.to_vector<double>();
    ToyIteration rec{it, {}, 0.0};
    for (std::int64_t t = 0; t < T; ++t) {
      const double pred = y[t * kCells];  // hidden unit 0 is the prediction
      rec.prediction.push_back(pred);
      rec.loss += (pred - kTargets[t]) * (pred - kTargets[t]);
      dy[t * kCells] = 2 * (pred - kTargets[t]);
    }
    model.zero_grad();
    model.backward(f.context, Tensor::from_vector({T, 1, kCells}, dy, o.dtype, o.device));
    sgd.step();
    if (on_iteration) on_iteration(rec);
    history.push_back(std::move(rec));
  }
  return history;
}

}  // namespace fuselstm::examples
