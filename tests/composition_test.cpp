// The training pieces composed as a PyTorch user composes them, against PyTorch itself
// (tools/make_composition_fixture.py, float64): token ids → Embedding(padding_idx 0) → a
// bidirectional 2-layer batch-first LSTM on a padded batch with lengths → each sequence's last
// real step → Mlp(Linear, Tanh, Linear) → cross-entropy. The loss and every parameter's gradient,
// then 10 AdamW steps. PyTorch's parameter names load as they are (load_parameters).

#include <cmath>
#include <limits>
#include <sstream>

#include "io_test_util.hpp"

#ifndef FUSELSTM_FIXTURE_DIR
#error "tests/CMakeLists.txt defines FUSELSTM_FIXTURE_DIR"
#endif

namespace fuselstm::testing {
namespace {

std::vector<std::int64_t> as_ints(const Tensor& t) {
  std::vector<std::int64_t> out;
  for (double v : t.to_vector<double>()) out.push_back(static_cast<std::int64_t>(v));
  return out;
}

// The fixture's "<group>.<name>" tensors under their names without the group.
TensorMap group(const TensorMap& all, const std::string& prefix) {
  TensorMap out;
  for (const auto& [name, t] : all) {
    if (name.rfind(prefix, 0) == 0) out.emplace(name.substr(prefix.size()), t.clone());
  }
  return out;
}

struct Fixture {
  TensorMap tensors;
  std::vector<std::int64_t> ids, lengths, targets;
  std::int64_t B = 0, T = 0;
};

Fixture read_fixture() {
  const std::string path = std::string(FUSELSTM_FIXTURE_DIR) + "/composition.safetensors";
  TensorFile file = read_safetensors(path);
  EXPECT_EQ(file.metadata.at("fixture.format_version"), "1")
      << "regenerate with /usr/bin/python3 tools/make_composition_fixture.py";
  ::testing::Test::RecordProperty("torch_version", file.metadata.at("torch.version"));
  Fixture f;
  f.ids = as_ints(file.tensors.at("input.ids"));
  f.lengths = as_ints(file.tensors.at("input.lengths"));
  f.targets = as_ints(file.tensors.at("input.targets"));
  f.B = file.tensors.at("input.ids").dim(0);
  f.T = file.tensors.at("input.ids").dim(1);
  f.tensors = std::move(file.tensors);
  return f;
}

// The PyTorch model of the fixture, piece by piece, under PyTorch's names.
struct Classifier {
  Embedding embedding;
  Lstm lstm;
  Mlp head;

  static LstmConfig config(DType dtype) {
    LstmConfig c;
    c.input_size = 4;
    c.hidden_size = 5;
    c.num_layers = 2;
    c.bidirectional = true;
    c.batch_first = true;
    c.dtype = dtype;
    return c;
  }
  explicit Classifier(DType dtype)
      : embedding(7, 4, dtype, ExecutionContext::default_for(Device::cpu()), 0, 0, "embedding"),
        lstm(config(dtype)),
        head({10, 6, 3}, Activation::tanh, dtype, ExecutionContext::default_for(Device::cpu()), 0,
             true, "head") {}

  ParameterList parameters() {
    ParameterList lstm_params = parameters_of(lstm);
    for (ParameterRef& p : lstm_params) p.name = "lstm." + p.name;  // its name in the PyTorch model
    return concat({parameters_of(embedding), std::move(lstm_params), parameters_of(head)});
  }
  void zero_grad() {
    embedding.zero_grad();
    lstm.zero_grad();
    head.zero_grad();
  }

  // One forward and backward of the batch; the gradients accumulate into the parameters'.
  // poison_padding: NaN in the embedded input's padded steps (what the LSTM must never read).
  double loss_and_gradients(const Fixture& f, bool poison_padding = false) {
    Tensor x = embedding.forward(f.ids, {f.B, f.T});  // [B, T, E]
    if (poison_padding) {
      std::vector<double> v = x.to_vector<double>();
      const std::int64_t E = x.dim(2);
      for (std::int64_t b = 0; b < f.B; ++b) {
        for (std::int64_t t = f.lengths[b]; t < f.T; ++t) {
          for (std::int64_t e = 0; e < E; ++e) v[(b * f.T + t) * E + e] = std::nan("");
        }
      }
      x.assign(v);
    }
    const ForwardResult y = lstm.forward(x, Tensor(), Tensor(), f.lengths);
    const Tensor last = gather_last_steps(y.y, f.lengths, /*batch_first=*/true);  // [B, 2H]
    const MlpResult logits = head.forward(last);                                 // [B, K]
    CrossEntropyLoss loss;
    const LossResult l = loss(logits.output, f.targets);
    const Tensor dlast = head.backward(last, logits, l.grad);
    const Tensor dy = scatter_last_steps(dlast, f.T, f.lengths, /*batch_first=*/true);
    const BackwardResult back = lstm.backward(y.context, dy);
    embedding.backward(f.ids, back.dx);
    return l.value;
  }
};

struct Tolerance {
  double loss, gradient, adamw;
};

void check_against_pytorch(DType dtype, Tolerance tol) {
  const Fixture f = read_fixture();
  Classifier model(dtype);
  const ParameterList params = model.parameters();
  load_parameters(params, group(f.tensors, "init."), "the fixture");  // PyTorch's names as they are

  model.zero_grad();
  const double loss = model.loss_and_gradients(f);
  EXPECT_NEAR(loss, f.tensors.at("output.loss").to_vector<double>()[0], tol.loss) << dtype_name(dtype);
  ASSERT_EQ(params.size(), 1u + 16u + 4u);  // embedding, 2 layers × 2 directions × 4, head
  for (const ParameterRef& p : params) {
    const std::vector<double> want = f.tensors.at("grad." + p.name).to_vector<double>();
    const Comparison c = expect_close(p.gradient->to_vector<double>(), want, tol.gradient, 0,
                                      p.name + " gradient, " + dtype_name(dtype));
    std::ostringstream err;
    err << std::scientific << c.max_abs_error;
    ::testing::Test::RecordProperty("max_abs_error_grad_" + p.name, err.str());
  }
  // Padding: the embedding's padding row got no gradient although padding_idx occurs.
  const std::vector<double> demb = model.embedding.weight_grad().to_vector<double>();
  for (int e = 0; e < 4; ++e) EXPECT_EQ(demb[e], 0.0);

  // 10 AdamW steps on the same batch: the loss before each step, then every parameter.
  load_parameters(params, group(f.tensors, "init."), "the fixture");
  AdamOptions o;
  o.lr = 0.01;
  o.weight_decay = 0.01;
  AdamW adamw(params, o);
  const std::vector<double> want_losses = f.tensors.at("adamw.losses").to_vector<double>();
  for (std::size_t step = 0; step < want_losses.size(); ++step) {
    model.zero_grad();
    EXPECT_NEAR(model.loss_and_gradients(f), want_losses[step], tol.adamw)
        << "AdamW step " << step << ", " << dtype_name(dtype);
    adamw.step();
  }
  for (const ParameterRef& p : params) {
    expect_close(p.value->to_vector<double>(), f.tensors.at("adamw." + p.name).to_vector<double>(),
                 tol.adamw, 0, p.name + " after 10 AdamW steps, " + dtype_name(dtype));
  }
}

// Double: the same arithmetic as PyTorch up to summation order.
TEST(Composition, EmbeddingBidirectionalLstmLastStepMlpCrossEntropyMatchPytorchInDouble) {
  check_against_pytorch(DType::f64, {1e-12, 1e-12, 1e-10});
}

// Float: fp32 rounding through 2 layers, both directions and the head (~1e-7 relative per op).
TEST(Composition, EmbeddingBidirectionalLstmLastStepMlpCrossEntropyMatchPytorchInFloat) {
  check_against_pytorch(DType::f32, {1e-5, 1e-5, 1e-5});
}

// Padding is never read: NaN in the padded steps of the embedded input changes no bit of the loss
// or of any gradient (the embedding's included: the LSTM's dx there is exactly 0).
TEST(Composition, NanInPaddingChangesNothing) {
  const Fixture f = read_fixture();
  Classifier a(DType::f64), b(DType::f64);
  load_parameters(a.parameters(), group(f.tensors, "init."));
  load_parameters(b.parameters(), group(f.tensors, "init."));
  a.zero_grad();
  b.zero_grad();
  EXPECT_EQ(a.loss_and_gradients(f), b.loss_and_gradients(f, /*poison_padding=*/true));
  const ParameterList pa = a.parameters(), pb = b.parameters();
  for (std::size_t k = 0; k < pa.size(); ++k) {
    EXPECT_EQ(pa[k].gradient->to_vector<double>(), pb[k].gradient->to_vector<double>()) << pa[k].name;
  }
}

// The layouts losses must read right, against PyTorch (batch_first_last.safetensors): B = T = 4,
// batch-first, a Linear head on each sequence's last step. Reading the batch-first logits as
// [T, B, K] gives another number without an error (printed: the bug this guards against).
TEST(Composition, BatchFirstLastStepLossesMatchPytorch) {
  const std::string path = std::string(FUSELSTM_FIXTURE_DIR) + "/batch_first_last.safetensors";
  TensorFile file = read_safetensors(path);
  const TensorMap& t = file.tensors;
  LstmConfig c;
  c.input_size = 3, c.hidden_size = 5, c.batch_first = true, c.dtype = DType::f64;
  Lstm lstm(c);
  Linear head(5, 4, DType::f64, lstm.context());
  ParameterList lstm_params = parameters_of(lstm);
  for (ParameterRef& p : lstm_params) p.name = "lstm." + p.name;
  const ParameterList params = concat({std::move(lstm_params), parameters_of(head)});
  load_parameters(params, t, path);
  const Tensor& x = t.at("input.x");
  const std::vector<std::int64_t> targets = as_ints(t.at("input.targets"));
  const std::vector<std::int64_t> lengths = as_ints(t.at("input.lengths"));

  LossOptions o;
  o.steps = LossSteps::last;
  o.batch_first = true;
  const ForwardResult f = lstm.forward(x);
  const Tensor logits = head.forward(f.y);
  const LossResult ce = CrossEntropyLoss(o)(logits, targets);
  const double want_ce = t.at("output.ce_last").to_vector<double>()[0];
  EXPECT_NEAR(ce.value, want_ce, 1e-14);
  lstm.zero_grad(), head.zero_grad();
  lstm.backward(f.context, head.backward(f.y, ce.grad));
  for (const ParameterRef& p : params) {
    expect_close(p.gradient->to_vector<double>(), t.at("grad.ce." + p.name).to_vector<double>(),
                 1e-14, 0, p.name + " gradient of the last-step cross-entropy");
  }
  LossOptions time_major = o;
  time_major.batch_first = false;
  const double misread = CrossEntropyLoss(time_major)(logits, targets).value;
  std::printf("cross-entropy on each sequence's last step: %.6f (PyTorch %.6f); read as [T, B, K]: "
              "%.6f\n", ce.value, want_ce, misread);
  EXPECT_GT(std::fabs(misread - want_ce), 1e-3) << "the fixture cannot tell the layouts apart";

  // MSE on each sequence's last real step of a padded batch.
  const ForwardResult fp = lstm.forward(x, Tensor(), Tensor(), lengths);
  const LossResult mse = MseLoss(o)(head.forward(fp.y), t.at("input.mse_target"), lengths);
  const double want_mse = t.at("output.mse_last_lengths").to_vector<double>()[0];
  EXPECT_NEAR(mse.value, want_mse, 1e-14);
  // Without the lengths the loss scores step T − 1, padding for three of the four sequences.
  const double on_padding = MseLoss(o)(head.forward(fp.y), t.at("input.mse_target")).value;
  std::printf("MSE on each sequence's last real step: %.6f (PyTorch %.6f); on step T - 1: %.6f\n",
              mse.value, want_mse, on_padding);
  EXPECT_GT(std::fabs(on_padding - want_mse), 1e-3);
}

}  // namespace
}  // namespace fuselstm::testing
