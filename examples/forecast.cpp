// Sequence regression: an LSTM forecasts a noisy multi-frequency signal that the example generates
// (seeded), trained with MSE and Adam on random windows of the series' first part, and evaluated
// on its held-out tail next to the predict-the-last-value baseline. Writes the held-out forecast
// as CSV and a PNG plot of its start.
//
//   build/examples/forecast
//   build/examples/forecast --horizon 5 --hidden 64 --steps 600 --noise 0.2

#include <exception>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "forecast_train.hpp"
#include "progress.hpp"

using namespace fuselstm;
using namespace fuselstm::examples;

namespace {


}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fuselstm: forecasting a noisy multi-frequency signal with an LSTM (MSE)"};
  std::string device = default_device().str(), dtype = "f32";
  std::string csv_path = "forecast.csv", plot_path = "forecast.png";
  std::int64_t plot_points = 240;
  ForecastOptions o;
  app.add_option("--device", device, "cpu or cuda[:N] (default: cuda:0 when present, else cpu)");
  app.add_option("--dtype", dtype, "f32 or f64")->check(CLI::IsMember({"f32", "f64"}));
  app.add_option("--hidden", o.hidden_size, "H, LSTM cells per layer")->capture_default_str();
  app.add_option("--layers", o.num_layers, "L, stacked layers")->capture_default_str();
  app.add_option("--window", o.window, "T, steps per window")->capture_default_str();
  app.add_option("--batch", o.batch, "B, windows per step")->capture_default_str();
  app.add_option("--steps", o.steps, "Adam steps")->capture_default_str();
  app.add_option("--horizon", o.horizon, "predict s(t + horizon)")->capture_default_str();
  app.add_option("--lr", o.lr, "Adam's peak learning rate")->capture_default_str();
  app.add_option("--clip", o.clip, "max global gradient norm")->capture_default_str();
  app.add_option("--length", o.series_length, "points in the series")->capture_default_str();
  app.add_option("--test-fraction", o.test_fraction, "the series' tail held out")
      ->capture_default_str();
  app.add_option("--noise", o.noise, "standard deviation of the noise")->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the series, weights and windows")
      ->capture_default_str();
  app.add_option("--csv", csv_path, "held-out forecast: t, s(t), target, prediction")
      ->capture_default_str();
  app.add_option("--plot", plot_path, "PNG of the held-out forecast's start ('': none)")
      ->capture_default_str();
  app.add_option("--plot-points", plot_points, "held-out points in the plot")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    o.device = Device::parse(device);
    o.dtype = dtype == "f64" ? DType::f64 : DType::f32;
    Forecaster forecaster(o);
    std::printf(
        "# forecast on %s (%s), %s: %lld points (%lld train, %lld held out), noise %g, "
        "horizon %lld; LSTM %lld x %lld, window %lld, batch %lld, steps %lld\n",
        o.device.str().c_str(), device_name(o.device).c_str(), dtype.c_str(),
        static_cast<long long>(o.series_length), static_cast<long long>(forecaster.train_points()),
        static_cast<long long>(o.series_length - forecaster.train_points()), o.noise,
        static_cast<long long>(o.horizon), static_cast<long long>(o.num_layers),
        static_cast<long long>(o.hidden_size), static_cast<long long>(o.window),
        static_cast<long long>(o.batch), static_cast<long long>(o.steps));
    std::fflush(stdout);
    ProgressLine progress(0, o.steps, forecaster.points_per_step(), 50);
    while (forecaster.step() < o.steps) {
      const double loss = forecaster.train_step();
      progress.update(forecaster.step() - 1, loss);
    }
    const ForecastEvaluation e = forecaster.evaluate();
    std::printf(
        "held-out MSE over %zu forecasts: model %.5f, predict-last-value baseline %.5f "
        "(ratio %.3f); no forecast beats the noise, %.5f\n",
        e.time.size(), e.model_mse, e.baseline_mse, e.model_mse / e.baseline_mse,
        o.noise * o.noise);

    if (!csv_path.empty()) {
      std::ofstream csv(csv_path);
      if (!csv) throw ValueError("fuselstm: forecast: cannot write '" + csv_path + "'");
      csv << "t,input,target,prediction\n";
      for (std::size_t k = 0; k < e.time.size(); ++k) {
        csv << e.time[k] << ',' << e.input[k] << ',' << e.target[k] << ',' << e.prediction[k]
            << '\n';
      }
      std::printf("held-out forecast: %s\n", csv_path.c_str());
      if (!plot_path.empty()) {
        const std::string script =
            "set terminal png truecolor noenhanced size 900,480\nset output " +
            gnuplot_quoted(plot_path) +
            "\nset datafile separator ','\nset key top right\nset grid\n"
            "set title 'held-out forecast, horizon " +
            std::to_string(o.horizon) + "'\nset xlabel 't'\nplot " + gnuplot_quoted(csv_path) +
            " every ::1::" + std::to_string(plot_points) + " using ($1+" +
            std::to_string(o.horizon) +
            "):3 with points pt 7 ps 0.5 lc rgb '#333333' title 'series s(t)', '' every ::1::" +
            std::to_string(plot_points) + " using ($1+" + std::to_string(o.horizon) +
            "):4 with lines lw 2 lc rgb '#cc3300' title 'LSTM forecast'\n";
        if (run_gnuplot(script, plot_path)) std::printf("plot: %s\n", plot_path.c_str());
      }
    }
  } catch (const std::exception& e) {  // the library's errors and any other: one line, exit 1
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
