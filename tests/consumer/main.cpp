// Links the installed shared library and runs one forward/backward on a context of its own, the
// way README.md shows: proves the package and its public headers work.
#include <cstdio>
#include <fuselstm/fuselstm.hpp>

int main() {
  using namespace fuselstm;
  const ExecutionContext ctx(default_device());
  LstmSpec spec;
  spec.input_size = 3, spec.hidden_size = 5;
  RunOptions run;
  run.device = ctx.device(), run.context = ctx;
  Lstm model(spec, run);
  const Tensor x = Tensor::from_vector<double>({2, 1, 3}, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6},
                                               DType::f32, ctx);
  ForwardResult out = model.forward(x);
  BackwardResult grads = model.backward(out.context, Tensor::zeros({2, 1, 5}, DType::f32, ctx));
  ctx.synchronize();
  std::printf("fuselstm %s on %s: y[0] = %g, dx numel = %lld, %lld system allocations\n",
              FUSELSTM_VERSION_STRING, ctx.device().str().c_str(), out.y.to_vector<double>()[0],
              static_cast<long long>(grads.dx.numel()),
              static_cast<long long>(ctx.memory_stats().system_allocations));
  return 0;
}
