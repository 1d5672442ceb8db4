// Real sequences: padded batches with per-sequence lengths, batch-first layout, truncated BPTT with
// carried state, inference without a context and the streaming step() API. Each runs on the host
// ops and, when a GPU is usable, on CUDA.

#include "test_util.hpp"

namespace fuselstm::testing {
namespace {

struct RunSetup {
  Device device = Device::cpu();
  DType dtype = DType::f64;
  MemoryMode mode = MemoryMode::store_all;
  CellActivation cell = CellActivation::tanh;
  bool bidirectional = false;
};

LstmConfig config_for(const RunSetup& s, std::int64_t X, std::int64_t H, std::int64_t L,
                      bool batch_first = false) {
  LstmConfig cfg;
  cfg.input_size = X;
  cfg.hidden_size = H;
  cfg.num_layers = L;
  cfg.cell = s.cell;
  cfg.dtype = s.dtype;
  cfg.device = s.device;
  cfg.memory_mode = s.mode;
  cfg.segment_steps = 3;
  cfg.batch_first = batch_first;
  cfg.bidirectional = s.bidirectional;
  return cfg;
}

Tensor tensor(const Shape& shape, const std::vector<double>& v, const RunSetup& s) {
  return Tensor::from_vector(shape, v, s.dtype, s.device);
}

// f64 agreement when only the order of additions differs (a batch row vs the same row alone).
constexpr double kAtol = 1e-12, kRtol = 1e-10;

// Default: T = 7, five unsorted lengths with 1 and T.
void check_lengths_equal_separate_runs(const RunSetup& s, std::int64_t T = 7,
                                       std::vector<std::int64_t> lengths = {3, 7, 1, 5, 7}) {
  const std::int64_t B = static_cast<std::int64_t>(lengths.size()), X = 4, H = 6, L = 2;
  const std::int64_t U = L * (s.bidirectional ? 2 : 1), W = (s.bidirectional ? 2 : 1) * H;
  std::mt19937_64 rng(21);
  // Random values in the padding too: none of them may leak into any result.
  const auto xv = random_values(T * B * X, rng), dyv = random_values(T * B * W, rng);
  const auto h0v = random_values(U * B * H, rng), c0v = random_values(U * B * H, rng);
  const auto dhv = random_values(U * B * H, rng), dcv = random_values(U * B * H, rng);
  Lstm batch_model(config_for(s, X, H, L));
  batch_model.init_pytorch_default(3);
  ForwardResult f = batch_model.forward(tensor({T, B, X}, xv, s), tensor({U, B, H}, h0v, s),
                                        tensor({U, B, H}, c0v, s), lengths);
  batch_model.zero_grad();
  BackwardResult g = batch_model.backward(f.context, tensor({T, B, W}, dyv, s),
                                          tensor({U, B, H}, dhv, s), tensor({U, B, H}, dcv, s));
  const auto y = f.y.to_vector<double>(), hT = f.hT.to_vector<double>(),
             cT = f.cT.to_vector<double>(), dx = g.dx.to_vector<double>(),
             dh0 = g.dh0.to_vector<double>(), dc0 = g.dc0.to_vector<double>();

  Lstm alone(config_for(s, X, H, L));
  alone.init_pytorch_default(3);
  alone.zero_grad();
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t n = lengths[b];
    SCOPED_TRACE("sequence " + std::to_string(b) + " of length " + std::to_string(n));
    auto take = [&](const std::vector<double>& v, std::int64_t rows, std::int64_t width,
                    std::int64_t count) {  // row b of [rows, B, width], first `count` rows
      std::vector<double> out;
      for (std::int64_t r = 0; r < count; ++r)
        out.insert(out.end(), v.begin() + (r * B + b) * width, v.begin() + (r * B + b + 1) * width);
      (void)rows;
      return out;
    };
    ForwardResult fa = alone.forward(tensor({n, 1, X}, take(xv, T, X, n), s),
                                     tensor({U, 1, H}, take(h0v, U, H, U), s),
                                     tensor({U, 1, H}, take(c0v, U, H, U), s));
    BackwardResult ga =
        alone.backward(fa.context, tensor({n, 1, W}, take(dyv, T, W, n), s),
                       tensor({U, 1, H}, take(dhv, U, H, U), s), tensor({U, 1, H}, take(dcv, U, H, U), s));
    std::vector<double> y_expected = fa.y.to_vector<double>();
    y_expected.resize(T * W, 0.0);  // zero past the end
    expect_close(take(y, T, W, T), y_expected, kAtol, kRtol, "y");
    expect_close(take(hT, U, H, U), fa.hT.to_vector<double>(), kAtol, kRtol, "hT");
    expect_close(take(cT, U, H, U), fa.cT.to_vector<double>(), kAtol, kRtol, "cT");
    std::vector<double> dx_expected = ga.dx.to_vector<double>();
    dx_expected.resize(T * X, 0.0);  // no gradient into padding
    expect_close(take(dx, T, X, T), dx_expected, kAtol, kRtol, "dx");
    expect_close(take(dh0, U, H, U), ga.dh0.to_vector<double>(), kAtol, kRtol, "dh0");
    expect_close(take(dc0, U, H, U), ga.dc0.to_vector<double>(), kAtol, kRtol, "dc0");
  }
  for (const auto& name : batch_model.parameter_names()) {  // the sum over the sequences alone
    expect_close(batch_model.gradient(name).to_vector<double>(),
                 alone.gradient(name).to_vector<double>(), kAtol, kRtol, "d" + name);
  }
}

TEST(VariableLengths, EqualRunningEachSequenceAlone) {
  for (MemoryMode mode : {MemoryMode::store_all, MemoryMode::recompute}) {
    for (CellActivation cell : {CellActivation::tanh, CellActivation::identity}) {
      SCOPED_TRACE(std::string(memory_mode_name(mode)) + " " + cell_activation_name(cell));
      check_lengths_equal_separate_runs({Device::cpu(), DType::f64, mode, cell});
      SCOPED_TRACE("bidirectional");
      check_lengths_equal_separate_runs({Device::cpu(), DType::f64, mode, cell, true});
    }
  }
}

// B = 259: gradient blocks of ⌈1024/259⌉ = 4 steps, so T = 9 runs the backward in three pieces
// (one per block, each flushed at once) with dh carried through every sequence's padding.
TEST(VariableLengths, ManyGradientBlocksEqualRunningEachSequenceAlone) {
  std::vector<std::int64_t> lengths;
  for (std::int64_t b = 0; b < 259; ++b) lengths.push_back(1 + (b * 5) % 9);
  for (MemoryMode mode : {MemoryMode::store_all, MemoryMode::recompute}) {
    SCOPED_TRACE(memory_mode_name(mode));
    check_lengths_equal_separate_runs({Device::cpu(), DType::f64, mode}, 9, lengths);
    check_lengths_equal_separate_runs({Device::cpu(), DType::f64, mode, CellActivation::tanh, true},
                                      9, lengths);
  }
}

TEST(VariableLengths, CudaEqualRunningEachSequenceAlone) {
  FUSELSTM_REQUIRE_GPU();
  check_lengths_equal_separate_runs({Device::cuda(0), DType::f64, MemoryMode::store_all});
  check_lengths_equal_separate_runs({Device::cuda(0), DType::f64, MemoryMode::recompute});
  check_lengths_equal_separate_runs(
      {Device::cuda(0), DType::f64, MemoryMode::store_all, CellActivation::tanh, true});
}

TEST(VariableLengths, RejectsBadLengths) {
  Lstm m(config_for({}, 3, 4, 1));
  const Tensor x = Tensor::zeros({5, 2, 3}, DType::f64);
  EXPECT_THROW(m.forward(x, Tensor(), Tensor(), {5}), ShapeError);
  try {
    m.forward(x, Tensor(), Tensor(), {5, 6});
    ADD_FAILURE() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("lengths[1] = 6"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m.forward(x, Tensor(), Tensor(), {0, 2}), ValueError);
}

// Swaps the first two axes of a [a, b, w] host array.
std::vector<double> swap01(const std::vector<double>& v, std::int64_t a, std::int64_t b,
                           std::int64_t w) {
  std::vector<double> out(v.size());
  for (std::int64_t i = 0; i < a; ++i)
    for (std::int64_t j = 0; j < b; ++j)
      for (std::int64_t k = 0; k < w; ++k) out[(j * a + i) * w + k] = v[(i * b + j) * w + k];
  return out;
}

void check_batch_first(const RunSetup& s) {
  const std::int64_t T = 6, B = 3, X = 4, L = 2, H = (s.bidirectional ? 2 : 1) * 5;  // H: y's width
  const std::vector<std::int64_t> lengths = {6, 2, 4};
  std::mt19937_64 rng(8);
  const auto xv = random_values(T * B * X, rng), dyv = random_values(T * B * H, rng);
  std::vector<double> results[2][3];
  std::vector<std::vector<double>> grads[2];
  for (int batch_first = 0; batch_first < 2; ++batch_first) {
    Lstm m(config_for(s, X, 5, L, batch_first));
    m.init_pytorch_default(4);
    const Tensor x = batch_first ? tensor({B, T, X}, swap01(xv, T, B, X), s) : tensor({T, B, X}, xv, s);
    const Tensor dy = batch_first ? tensor({B, T, H}, swap01(dyv, T, B, H), s) : tensor({T, B, H}, dyv, s);
    ForwardResult f = m.forward(x, Tensor(), Tensor(), lengths);
    m.zero_grad();
    BackwardResult g = m.backward(f.context, dy);
    results[batch_first][0] = batch_first ? swap01(f.y.to_vector<double>(), B, T, H) : f.y.to_vector<double>();
    results[batch_first][1] = batch_first ? swap01(g.dx.to_vector<double>(), B, T, X) : g.dx.to_vector<double>();
    results[batch_first][2] = f.hT.to_vector<double>();
    for (const auto& name : m.parameter_names()) grads[batch_first].push_back(m.gradient(name).to_vector<double>());
  }
  // The same arithmetic in the same order: bitwise equal.
  EXPECT_EQ(results[1][0], results[0][0]) << "y";
  EXPECT_EQ(results[1][1], results[0][1]) << "dx";
  EXPECT_EQ(results[1][2], results[0][2]) << "hT";
  EXPECT_EQ(grads[1], grads[0]) << "parameter gradients";
}

TEST(BatchFirst, EqualsTimeMajor) {
  check_batch_first({});
  check_batch_first({Device::cpu(), DType::f32, MemoryMode::recompute});
  check_batch_first({Device::cpu(), DType::f64, MemoryMode::store_all, CellActivation::tanh, true});
}

TEST(BatchFirst, CudaEqualsTimeMajor) {
  FUSELSTM_REQUIRE_GPU();
  check_batch_first({Device::cuda(0), DType::f32});
}

void check_inference(const RunSetup& s) {
  const std::int64_t T = 9, B = 2, X = 3, H = 4, L = 3;
  std::mt19937_64 rng(12);
  Lstm m(config_for(s, X, H, L));
  m.init_pytorch_default(6);
  const Tensor x = tensor({T, B, X}, random_values(T * B * X, rng), s);
  const Tensor h0 = tensor({L, B, H}, random_values(L * B * H, rng), s);
  const Tensor c0 = tensor({L, B, H}, random_values(L * B * H, rng), s);
  const std::vector<std::int64_t> lengths = {9, 4};
  ForwardResult f = m.forward(x, h0, c0, lengths);
  InferenceResult r = m.infer(x, h0, c0, lengths);
  // Same GEMMs and kernels as the training forward: the same bits.
  EXPECT_EQ(r.y.to_vector<double>(), f.y.to_vector<double>());
  EXPECT_EQ(r.hT.to_vector<double>(), f.hT.to_vector<double>());
  EXPECT_EQ(r.cT.to_vector<double>(), f.cT.to_vector<double>());

  // step() T times: y_t and the final state equal infer's (one step's GEMMs have B rows instead
  // of T·B, which may change the order of additions: f64 agreement, not bits).
  ForwardResult full = m.forward(x, h0, c0);
  Tensor h = h0.clone(), c = c0.clone();
  const auto xs = x.to_vector<double>(), ys = full.y.to_vector<double>();
  for (std::int64_t t = 0; t < T; ++t) {
    const std::vector<double> x_t(xs.begin() + t * B * X, xs.begin() + (t + 1) * B * X);
    const Tensor y_t = m.step(tensor({B, X}, x_t, s), h, c);
    const std::vector<double> want(ys.begin() + t * B * H, ys.begin() + (t + 1) * B * H);
    expect_close(y_t.to_vector<double>(), want, kAtol, kRtol, "y at step " + std::to_string(t));
  }
  expect_close(h.to_vector<double>(), full.hT.to_vector<double>(), kAtol, kRtol, "h after T steps");
  expect_close(c.to_vector<double>(), full.cT.to_vector<double>(), kAtol, kRtol, "c after T steps");
}

TEST(Inference, EqualsTrainingForwardAndSteps) {
  check_inference({});
  check_inference({Device::cpu(), DType::f64, MemoryMode::recompute, CellActivation::identity});
}

TEST(Inference, BidirectionalEqualsForwardAndRejectsStep) {
  const RunSetup s{Device::cpu(), DType::f64, MemoryMode::store_all, CellActivation::tanh, true};
  Lstm m(config_for(s, 3, 4, 2));
  std::mt19937_64 rng(13);
  const Tensor x = tensor({5, 2, 3}, random_values(30, rng), s);
  ForwardResult f = m.forward(x, Tensor(), Tensor(), {5, 3});
  InferenceResult r = m.infer(x, Tensor(), Tensor(), {5, 3});
  EXPECT_EQ(r.y.to_vector<double>(), f.y.to_vector<double>());
  EXPECT_EQ(r.hT.to_vector<double>(), f.hT.to_vector<double>());
  Tensor h = Tensor::zeros({4, 2, 4}, DType::f64), c = Tensor::zeros({4, 2, 4}, DType::f64);
  EXPECT_THROW(m.step(Tensor::zeros({2, 3}, DType::f64), h, c), ValueError);
}

TEST(Inference, CudaEqualsTrainingForwardAndSteps) {
  FUSELSTM_REQUIRE_GPU();
  check_inference({Device::cuda(0), DType::f64});
}

TEST(Inference, UsesLessMemoryThanTraining) {
  // T well above a projection block (P = 256 steps at B = 4), where inference's O(P·B·H) gates
  // are a fraction of training's O(T·B·H) saved gates and states.
  const std::int64_t T = 2000, B = 4, X = 8, H = 16, L = 2;
  Lstm m(config_for({}, X, H, L));
  const Tensor x = Tensor::zeros({T, B, X}, DType::f64);
  reset_peak_memory(Device::cpu());
  std::int64_t start = memory_stats(Device::cpu()).current_bytes;
  { ForwardResult f = m.forward(x); }
  const std::int64_t training = memory_stats(Device::cpu()).peak_bytes - start;
  reset_peak_memory(Device::cpu());
  start = memory_stats(Device::cpu()).current_bytes;
  { InferenceResult r = m.infer(x); }
  const std::int64_t inference = memory_stats(Device::cpu()).peak_bytes - start;
  std::printf("  forward %lld bytes, infer %lld bytes\n", static_cast<long long>(training),
              static_cast<long long>(inference));
  EXPECT_LT(inference * 2, training);
}

// Truncated BPTT: windows with carried (h, c) reproduce one long forward; passing each window's
// dh0, dc0 back as the previous window's dhT, dcT reproduces the full gradient.
TEST(TruncatedBptt, CarriedStateEqualsOneLongSequence) {
  const RunSetup s;
  const std::int64_t T = 12, window = 5, B = 2, X = 3, H = 4, L = 2;
  std::mt19937_64 rng(30);
  const auto xv = random_values(T * B * X, rng), dyv = random_values(T * B * H, rng);
  Lstm m(config_for(s, X, H, L));
  m.init_pytorch_default(2);
  ForwardResult full = m.forward(tensor({T, B, X}, xv, s));
  m.zero_grad();
  m.backward(full.context, tensor({T, B, H}, dyv, s));
  std::vector<std::vector<double>> full_grads;
  for (const auto& name : m.parameter_names()) full_grads.push_back(m.gradient(name).to_vector<double>());

  std::vector<ForwardResult> windows;
  Tensor h, c;
  std::vector<double> y;
  for (std::int64_t t0 = 0; t0 < T; t0 += window) {
    const std::int64_t n = std::min(window, T - t0);
    const std::vector<double> xw(xv.begin() + t0 * B * X, xv.begin() + (t0 + n) * B * X);
    windows.push_back(m.forward(tensor({n, B, X}, xw, s), h, c));
    h = windows.back().hT.clone();
    c = windows.back().cT.clone();
    const auto yw = windows.back().y.to_vector<double>();
    y.insert(y.end(), yw.begin(), yw.end());
  }
  expect_close(y, full.y.to_vector<double>(), kAtol, kRtol, "y over windows");
  expect_close(h.to_vector<double>(), full.hT.to_vector<double>(), kAtol, kRtol, "final h");

  m.zero_grad();
  Tensor dh, dc;  // the gradient crossing a window boundary, last window first
  for (std::int64_t w = static_cast<std::int64_t>(windows.size()) - 1; w >= 0; --w) {
    const std::int64_t t0 = w * window, n = windows[w].context.steps();
    const std::vector<double> dyw(dyv.begin() + t0 * B * H, dyv.begin() + (t0 + n) * B * H);
    BackwardResult g = m.backward(windows[w].context, tensor({n, B, H}, dyw, s), dh, dc);
    dh = std::move(g.dh0);
    dc = std::move(g.dc0);
  }
  for (std::size_t k = 0; k < full_grads.size(); ++k) {
    expect_close(m.gradient(m.parameter_names()[k]).to_vector<double>(), full_grads[k], kAtol,
                 kRtol, "d" + m.parameter_names()[k] + " over windows");
  }
}

TEST(Config, RejectsProjections) {
  LstmConfig cfg = config_for({}, 3, 4, 1);
  cfg.proj_size = 2;
  try {
    Lstm m(cfg);
    ADD_FAILURE() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("proj_size"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("weight_hr_l"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fuselstm::testing
