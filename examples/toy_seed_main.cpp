// The seed's toy experiment: prints one line per iteration in the seed's format.
//   toy_seed [--device cpu|cuda:N] [--dtype f64|f32] [--cell identity|tanh] [--init seed|uniform]
//            [--iterations N] [--full-precision]

#include <exception>
#include <CLI/CLI.hpp>
#include <cstdio>

#include "toy_seed.hpp"

int main(int argc, char** argv) {
  using namespace fuselstm;
  CLI::App app{"fuselstm: the Simple LSTM seed's toy example"};
  std::string device = default_device().str(), dtype = "f64", cell = "identity", init = "seed";
  examples::ToyOptions o;
  bool full = false;
  app.add_option("--device", device, "cpu or cuda:N (default: cuda:0 when present)");
  app.add_option("--dtype", dtype, "f64 or f32")->check(CLI::IsMember({"f64", "f32"}));
  app.add_option("--cell", cell, "identity (the seed's h = o*c) or tanh (h = o*tanh(c))")
      ->check(CLI::IsMember({"identity", "tanh"}));
  app.add_option("--init", init, "seed (numpy-exact start) or uniform (mt19937_64 --seed)")
      ->check(CLI::IsMember({"seed", "uniform"}));
  app.add_option("--seed", o.seed, "seed of --init uniform");
  app.add_option("--iterations", o.iterations, "SGD iterations")->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "SGD learning rate");
  app.add_flag("--full-precision", full, "print losses with 17 significant digits");
  CLI11_PARSE(app, argc, argv);
  try {
    o.device = Device::parse(device);
    o.dtype = dtype == "f64" ? DType::f64 : DType::f32;
    o.cell = cell == "tanh" ? CellActivation::tanh : CellActivation::identity;
    o.init = init == "seed" ? examples::ToyInit::seed : examples::ToyInit::uniform;
    std::printf("# toy example on %s (%s), %s, %s cell\n", o.device.str().c_str(),
                device_name(o.device).c_str(), dtype.c_str(), cell.c_str());
    examples::train_toy(o, [&](const examples::ToyIteration& r) {
      std::printf("iter %2d: y_pred = [%8.5f, %8.5f, %8.5f, %8.5f], loss: ", r.iteration,
                  r.prediction[0], r.prediction[1], r.prediction[2], r.prediction[3]);
      std::printf(full ? "%.17g\n" : "%.3e\n", r.loss);
    });
  } catch (const std::exception& e) {  // the library's errors and any other: one line, exit 1
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
