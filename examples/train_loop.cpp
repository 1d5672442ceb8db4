// A complete training loop with the toolkit: a 2-layer LSTM with dropout, orthogonal recurrent
// weights and forget-gate bias 1, a linear head, cross-entropy on every step, AdamW, gradient
// clipping, a cosine schedule with warm-up and the non-finite guard. The task: at every step,
// name the feature (of K) that was largest one step earlier, which needs the LSTM's memory.
//
//   ./build/examples/train_loop [--device cpu|cuda[:N]] [--steps N]   (--help: the options)

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <random>
#include <string>

#include "fuselstm/fuselstm.hpp"

using namespace fuselstm;

namespace {

constexpr std::int64_t T = 12, B = 16, X = 6, H = 32, K = X;

// Random inputs [T, B, X] and the targets [T·B]: argmax of x(t−1); step 0 is padding (-100).
void make_batch(std::mt19937_64& rng, const ExecutionContext& ctx, Tensor& x,
                std::vector<std::int64_t>& targets) {
  std::vector<double> values(T * B * X);
  for (double& v : values) v = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  targets.assign(T * B, -100);
  for (std::int64_t t = 1; t < T; ++t)
    for (std::int64_t b = 0; b < B; ++b) {
      const double* prev = values.data() + ((t - 1) * B + b) * X;
      std::int64_t best = 0;
      for (std::int64_t k = 1; k < X; ++k) best = prev[k] > prev[best] ? k : best;
      targets[t * B + b] = best;
    }
  x = Tensor::from_vector({T, B, X}, values, DType::f32, ctx);
}

}  // namespace

int run(const Device& device, int steps);

int main(int argc, char** argv) {
  CLI::App app{"fuselstm: a complete training loop (AdamW, clipping, cosine schedule, guard)"};
  std::string device = default_device().str();
  int steps = 600;
  app.add_option("device,--device", device, "cpu or cuda[:N] (default: cuda:0 when present, else cpu)");
  app.add_option("--steps", steps, "training steps")->check(CLI::PositiveNumber)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run(Device::parse(device), steps);
  } catch (const std::exception& e) {  // the library's errors and any other: one line, exit 1
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

int run(const Device& device, int steps) {
  std::mt19937_64 data_rng(1);
  Tensor x;
  std::vector<std::int64_t> targets;

  // --- the loop, as in the README ---
  // Everything runs on one execution context: the device's stream and a memory arena that makes
  // every iteration after the first allocate nothing from the system.
  const ExecutionContext ctx(device);
  LstmSpec spec;  // what the model is
  spec.input_size = X, spec.hidden_size = H, spec.num_layers = 2, spec.dropout = 0.1;
  RunOptions options;  // how it runs
  options.device = device, options.context = ctx;
  Lstm model(spec, options);
  init_orthogonal_recurrent(model, /*seed=*/1);
  init_forget_gate_bias(model, 1.0);
  Linear head(model, K, /*seed=*/2);
  CrossEntropyLoss loss({Reduction::mean, LossSteps::all, /*ignore_index=*/-100});
  AdamW opt(parameters_of(model, head), {/*lr=*/1e-2, 0.9, 0.999, 1e-8, /*weight_decay=*/1e-2});
  opt.set_check_finite(true);  // stop with a named tensor on NaN/Inf, before any update
  CosineWarmupLr schedule(1e-2, /*warmup_steps=*/std::min(20, steps - 1), steps);
  std::int64_t first_steps_allocations = 0;
  for (int step = 0; step < steps; ++step) {
    make_batch(data_rng, ctx, x, targets);
    ForwardResult f = model.forward(x);
    LossResult r = loss(head.forward(f.y), targets);
    model.zero_grad(), head.zero_grad();
    model.backward(f.context, head.backward(f.y, r.grad));
    const double norm = clip_grad_norm(parameters_of(model, head), /*max_norm=*/1.0);
    const double lr = schedule.step(opt);
    opt.step();
    if (step % 50 == 0 || step == steps - 1)
      std::printf("step %3d  loss %.4f  grad norm %.3f  lr %.2e\n", step, r.value, norm, lr);
    if (step == 1) first_steps_allocations = ctx.memory_stats().system_allocations;
  }
  // --- end of the loop ---
  std::printf("memory: %lld system allocations in the first two steps, %lld in the %d after\n",
              static_cast<long long>(first_steps_allocations),
              static_cast<long long>(ctx.memory_stats().system_allocations -
                                     first_steps_allocations),
              steps - 2);

  // Evaluation: dropout off, accuracy on a fresh batch.
  model.set_training(false);
  make_batch(data_rng, ctx, x, targets);
  const std::vector<float> logits = head.forward(model.forward(x).y).to_vector<float>();
  int correct = 0, counted = 0;
  for (std::int64_t r = 0; r < T * B; ++r) {
    if (targets[r] < 0) continue;
    std::int64_t best = 0;
    for (std::int64_t k = 1; k < K; ++k) best = logits[r * K + k] > logits[r * K + best] ? k : best;
    correct += best == targets[r];
    ++counted;
  }
  std::printf("evaluation accuracy %.3f on %s (chance %.3f)\n", double(correct) / counted,
              device.str().c_str(), 1.0 / K);
  return 0;
}
