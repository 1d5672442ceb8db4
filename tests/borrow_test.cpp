// Borrowed memory: Tensor::borrow views and Lstm::bind_parameter, the zero-copy bridge to other
// frameworks (the Python package binds PyTorch's parameters this way).

#include "test_util.hpp"

namespace fuselstm::testing {
namespace {

// A model whose parameters and gradients live in the caller's vectors computes the same bits as
// the model that owns them, and its backward writes the caller's gradient memory.
TEST(Borrow, BoundParametersAreReadAndGradientsWrittenInPlace) {
  LstmConfig c;
  c.input_size = 3, c.hidden_size = 4, c.num_layers = 2, c.dtype = DType::f64;
  Lstm own(c), bound(c);
  own.init_uniform(5, -0.5, 0.5);
  std::vector<std::vector<double>> values, grads;
  for (const std::string& name : own.parameter_names()) {
    values.push_back(own.parameter(name).to_vector<double>());
    grads.emplace_back(values.back().size(), 0.0);
  }
  const ExecutionContext ctx = bound.context();
  for (std::size_t k = 0; k < values.size(); ++k) {
    const std::string& name = own.parameter_names()[k];
    const Shape shape = own.parameter(name).shape();
    bound.bind_parameter(name, Tensor::borrow(values[k].data(), shape, DType::f64, ctx),
                         Tensor::borrow(grads[k].data(), shape, DType::f64, ctx));
    EXPECT_TRUE(bound.parameter(name).borrowed());
    EXPECT_EQ(bound.parameter(name).data(), values[k].data());
  }
  std::mt19937_64 rng(1);
  const std::vector<double> x = random_values(5 * 2 * 3, rng);
  const std::vector<double> dy = random_values(5 * 2 * 4, rng);
  ForwardResult a = own.forward(Tensor::from_vector({5, 2, 3}, x, DType::f64));
  ForwardResult b = bound.forward(Tensor::from_vector({5, 2, 3}, x, DType::f64));
  EXPECT_EQ(a.y.to_vector<double>(), b.y.to_vector<double>());
  own.zero_grad();
  bound.zero_grad();
  own.backward(a.context, Tensor::from_vector({5, 2, 4}, dy, DType::f64));
  bound.backward(b.context, Tensor::from_vector({5, 2, 4}, dy, DType::f64));
  for (std::size_t k = 0; k < values.size(); ++k) {
    EXPECT_EQ(grads[k], own.gradient(own.parameter_names()[k]).to_vector<double>())
        << own.parameter_names()[k];
  }
  // A change of the caller's memory is what the next call reads.
  values[0][0] += 0.25;
  ForwardResult changed = bound.forward(Tensor::from_vector({5, 2, 3}, x, DType::f64));
  EXPECT_NE(changed.y.to_vector<double>(), b.y.to_vector<double>());
}

TEST(Borrow, MismatchesAreNamedAndChangeNothing) {
  LstmConfig c;
  c.input_size = 3, c.hidden_size = 4;
  Lstm model(c);
  std::vector<float> memory(64);
  const Tensor before = model.parameter("weight_ih_l0").clone();
  try {
    model.bind_parameter("weight_ih_l0", Tensor::borrow(memory.data(), {4, 3}, DType::f32, model.context()));
    FAIL() << "a [4, 3] view bound to a [16, 3] parameter";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("weight_ih_l0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model.bind_parameter("weight_ih_l0",
                                    Tensor::borrow(memory.data(), {16, 3}, DType::f64, model.context())),
               ShapeError);
  EXPECT_THROW(model.bind_parameter("no_such", Tensor()), ValueError);
  EXPECT_FALSE(model.parameter("weight_ih_l0").borrowed());
  EXPECT_EQ(model.parameter("weight_ih_l0").to_vector<double>(), before.to_vector<double>());
  EXPECT_THROW(Tensor::borrow(nullptr, {2}, DType::f32, model.context()), ValueError);
  EXPECT_THROW(Tensor::borrow(reinterpret_cast<char*>(memory.data()) + 1, {2}, DType::f32,
                              model.context()),
               ValueError);
}

}  // namespace
}  // namespace fuselstm::testing
