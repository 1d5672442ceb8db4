// Links the installed shared library and runs one forward/backward: proves the package works.
#include <cstdio>
#include <fuselstm/fuselstm.hpp>

int main() {
  fuselstm::LstmConfig cfg;
  cfg.input_size = 3;
  cfg.hidden_size = 5;
  fuselstm::Lstm model(cfg);
  const auto x = fuselstm::Tensor::from_vector<double>({2, 1, 3}, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6},
                                                       fuselstm::DType::f32);
  auto out = model.forward(x);
  auto grads = model.backward(out.context, fuselstm::Tensor::zeros({2, 1, 5}, fuselstm::DType::f32));
  std::printf("fuselstm %s: y[0] = %g, dx numel = %lld\n", FUSELSTM_VERSION_STRING,
              out.y.to_vector<double>()[0], static_cast<long long>(grads.dx.numel()));
  return 0;
}
