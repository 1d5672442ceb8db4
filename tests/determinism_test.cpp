// Two training runs with the same seeds give bitwise equal weights; another init seed or another
// dropout seed gives different weights. The run uses every piece of the toolkit (orthogonal init,
// forget bias, dropout, head, cross-entropy, AdamW, clipping, a schedule), on the host and on CUDA.

#include "train_test_util.hpp"

namespace fuselstm::testing {
namespace {

std::vector<double> train_weights(Device device, std::uint64_t init_seed,
                                  std::uint64_t dropout_seed) {
  const std::int64_t T = 5, B = 3, X = 4, H = 6, K = 3;
  LstmConfig cfg = train_config(X, H, 3, DType::f32, device);
  cfg.dropout = 0.3;
  cfg.dropout_seed = dropout_seed;
  Lstm model(cfg);
  model.init_pytorch_default(init_seed);
  init_orthogonal_recurrent(model, init_seed);
  init_forget_gate_bias(model, 1.0);
  Linear head(model, K, init_seed);
  CrossEntropyLoss loss;
  AdamW opt(parameters_of(model, head));
  CosineWarmupLr schedule(1e-2, 2, 8);
  std::mt19937_64 rng(99);  // the same data in every run
  for (int step = 0; step < 8; ++step) {
    const Tensor x =
        Tensor::from_vector({T, B, X}, random_values(T * B * X, rng), DType::f32, device);
    std::vector<std::int64_t> targets;
    for (std::int64_t r = 0; r < T * B; ++r)
      targets.push_back(static_cast<std::int64_t>(rng() % K));
    ForwardResult f = model.forward(x);
    const LossResult r = loss(head.forward(f.y), targets);
    model.zero_grad();
    head.zero_grad();
    model.backward(f.context, head.backward(f.y, r.grad));
    clip_grad_norm(parameters_of(model, head), 0.5);
    schedule.step(opt);
    opt.step();
  }
  std::vector<double> all;
  for (const ParameterRef& p : parameters_of(model, head)) {
    const auto v = p.value->to_vector<double>();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

void check_determinism(Device device) {
  const auto a = train_weights(device, 1, 10);
  EXPECT_EQ(a, train_weights(device, 1, 10)) << "same seeds, same bits";
  EXPECT_NE(a, train_weights(device, 2, 10)) << "another init seed";
  EXPECT_NE(a, train_weights(device, 1, 11)) << "another dropout seed";
}

TEST(Determinism, SameSeedsSameWeightsBitwise) {
  check_determinism(Device::cpu());
}

TEST(DeterminismCuda, SameSeedsSameWeightsBitwise) {
  FUSELSTM_REQUIRE_GPU();
  check_determinism(Device::cuda(0));
}

}  // namespace
}  // namespace fuselstm::testing
