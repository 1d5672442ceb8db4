// A character-level language model on any text file, trained with truncated BPTT (windows of T
// characters, the LSTM state carried from window to window), Adam and gradient clipping. Shows a
// live progress line, samples text with a temperature through the streaming Lstm::step() API,
// writes a CSV log and a PNG loss curve, saves and resumes checkpoints, and ends with the
// held-out loss beside the unigram baseline.
//
//   build/examples/char_lm                            # the project's own README and headers
//   build/examples/char_lm --text book.txt --steps 3000 --hidden 256 --save book.safetensors
//   build/examples/char_lm --text book.txt --steps 6000 --hidden 256 --resume book.safetensors
//       --save book.safetensors                      # 3000 more steps, saved again

#include <exception>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "char_lm_train.hpp"
#include "progress.hpp"

using namespace fuselstm;
using namespace fuselstm::examples;

namespace {


void plot_losses(const std::string& csv, const std::string& png, double unigram) {
  const std::string script =
      "set terminal png truecolor noenhanced size 900,540\n"
      "set output " +
      gnuplot_quoted(png) +
      "\n"
      "set datafile separator ','\n"
      "set title 'char_lm: cross-entropy (nats/char)'\n"
      "set xlabel 'step'\nset ylabel 'nats/char'\nset grid\nset key top right\n"
      "plot " +
      gnuplot_quoted(csv) +
      " using 1:3 with lines lc rgb '#99aabb' title 'train (window)', "
      "'' using 1:4 with linespoints pt 7 lc rgb '#cc3300' title 'held-out', " +
      std::to_string(unigram) + " with lines dt 2 lc rgb '#333333' title 'held-out unigram'\n";
  if (run_gnuplot(script, png)) std::printf("loss curve: %s\n", png.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fuselstm: a character-level LSTM language model with truncated BPTT"};
  std::vector<std::string> text_files;
  std::string device = default_device().str(), dtype = "f32";
  std::string log_path = "char_lm.csv", plot_path = "char_lm.png", save_path, resume_path;
  std::string prime;
  CharLmOptions o;
  std::int64_t sample_every = 200, eval_every = 50, sample_length = 240;
  double temperature = 0.8;
  std::uint64_t sample_seed = 7;
  app.add_option("--text", text_files,
                 "UTF-8 text file(s) to learn, concatenated (default: the project's README.md "
                 "and include/fuselstm/*.hpp)");
  app.add_option("--device", device, "cpu or cuda[:N] (default: cuda:0 when present, else cpu)");
  app.add_option("--dtype", dtype, "f32 or f64")->check(CLI::IsMember({"f32", "f64"}));
  app.add_option("--embedding", o.embedding_dim, "E, the characters' embedding width")
      ->capture_default_str();
  app.add_option("--hidden", o.hidden_size, "H, LSTM cells per layer")->capture_default_str();
  app.add_option("--layers", o.num_layers, "L, stacked layers")->capture_default_str();
  app.add_option("--window", o.window, "T, characters per truncated-BPTT window")
      ->capture_default_str();
  app.add_option("--batch", o.batch, "B, parallel streams through the text")->capture_default_str();
  app.add_option("--steps", o.steps, "total training steps (windows); a resumed run goes on to it")
      ->capture_default_str();
  app.add_option("--lr", o.lr, "Adam's peak learning rate (warm-up, cosine decay to lr/10)")
      ->capture_default_str();
  app.add_option("--clip", o.clip, "max global gradient norm")->capture_default_str();
  app.add_option("--val-fraction", o.val_fraction, "the text's tail held out")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the weights")->capture_default_str();
  app.add_option("--eval-every", eval_every, "held-out loss every N steps (0: only at the end)")
      ->capture_default_str();
  app.add_option("--sample-every", sample_every,
                 "print a sample every N steps (0: only at the end)")
      ->capture_default_str();
  app.add_option("--sample-length", sample_length, "characters per sample")->capture_default_str();
  app.add_option("--temperature", temperature, "sampling temperature (> 0; lower: safer)")
      ->capture_default_str();
  app.add_option("--prime", prime, "text the samples start from");
  app.add_option("--sample-seed", sample_seed, "seed of the sampling")->capture_default_str();
  app.add_option("--log", log_path, "CSV training log (appended to when resuming)")
      ->capture_default_str();
  app.add_option("--plot", plot_path, "PNG loss curve drawn with gnuplot ('' : none)")
      ->capture_default_str();
  app.add_option("--save", save_path, "checkpoint written at every evaluation and at the end");
  app.add_option("--resume", resume_path, "checkpoint to continue from (same text and sizes)");
  CLI11_PARSE(app, argc, argv);

  try {
    o.device = Device::parse(device);
    o.dtype = dtype == "f64" ? DType::f64 : DType::f32;
    if (text_files.empty()) text_files = default_corpus_files();
    const std::u32string text = decode_utf8(read_text_files(text_files));
    CharLm lm(o, text);
    if (!resume_path.empty()) lm.resume(resume_path);
    std::printf(
        "# char_lm on %s (%s), %s: %zu file(s), %lld characters (%lld train, %lld "
        "held out), vocabulary %lld\n",
        o.device.str().c_str(), device_name(o.device).c_str(), dtype.c_str(), text_files.size(),
        static_cast<long long>(text.size()), static_cast<long long>(lm.train_characters()),
        static_cast<long long>(lm.held_out_characters()),
        static_cast<long long>(lm.vocabulary().size()));
    std::printf(
        "# LSTM %lld x %lld, window %lld, batch %lld, steps %lld%s\n",
        static_cast<long long>(o.num_layers), static_cast<long long>(o.hidden_size),
        static_cast<long long>(o.window), static_cast<long long>(o.batch),
        static_cast<long long>(o.steps),
        resume_path.empty() ? "" : (", resumed at step " + std::to_string(lm.step())).c_str());
    std::fflush(stdout);

    // A resumed run appends to a log that has lines (a killed run may have left an empty one) and
    // goes on from its last line's seconds.
    std::error_code size_error;
    const bool append = !resume_path.empty() && std::filesystem::exists(log_path) &&
                        std::filesystem::file_size(log_path, size_error) > 0 && !size_error;
    double seconds_before = 0;
    if (append) {
      std::ifstream old(log_path);
      std::string line, last;
      while (std::getline(old, line)) {
        if (!line.empty()) last = line;
      }
      const std::size_t comma = last.rfind(',');
      if (comma != std::string::npos) seconds_before = std::atof(last.c_str() + comma + 1);
    }
    std::ofstream log(log_path, append ? std::ios::app : std::ios::trunc);
    if (!log) throw ValueError("fuselstm: char_lm: cannot write the log '" + log_path + "'");
    if (!append) log << "step,tokens,train_loss,val_loss,lr,seconds\n";

    std::mt19937_64 sampling(sample_seed);
    const auto print_sample = [&](const char* when) {
      std::printf(
          "--- sample %s (temperature %g) ---\n%s%s\n---\n", when, temperature, prime.c_str(),
          encode_utf8(lm.sample(decode_utf8(prime), sample_length, temperature, sampling)).c_str());
      std::fflush(stdout);
    };

    ProgressLine progress(lm.step(), o.steps, lm.tokens_per_step());
    double val_loss = -1;
    while (lm.step() < o.steps) {
      const double loss = lm.train_step();
      const double lr = lm.lr();            // the step's, set by the schedule
      const std::int64_t step = lm.step();  // steps done
      const bool last = step == o.steps;
      progress.update(step - 1, loss);
      std::string val_field;
      if (last || (eval_every > 0 && step % eval_every == 0)) {
        val_loss = lm.evaluate();
        val_field = std::to_string(val_loss);
        if (!save_path.empty()) lm.save(save_path);
      }
      log << step << ',' << step * lm.tokens_per_step() << ',' << loss << ',' << val_field << ','
          << lr << ',' << seconds_before + progress.elapsed_seconds() << std::endl;  // per line
      if (!last && sample_every > 0 && step % sample_every == 0) {
        progress.clear();
        std::printf("step %lld: held-out %.4f nats/char\n", static_cast<long long>(step),
                    val_loss >= 0 ? val_loss : lm.evaluate());
        print_sample(("at step " + std::to_string(step)).c_str());
      }
    }
    log.close();
    if (val_loss < 0) val_loss = lm.evaluate();  // resumed at or past --steps

    print_sample("at the end");
    const double unigram = lm.unigram_cross_entropy();
    std::printf(
        "held-out cross-entropy: model %.4f nats/char (%.3f bits), unigram baseline "
        "%.4f nats/char (%.3f bits): ratio %.3f\n",
        val_loss, val_loss / std::log(2.0), unigram, unigram / std::log(2.0), val_loss / unigram);
    std::printf("log: %s\n", log_path.c_str());
    if (!save_path.empty()) std::printf("checkpoint: %s\n", save_path.c_str());
    if (!plot_path.empty()) plot_losses(log_path, plot_path, unigram);
  } catch (const std::exception& e) {  // the library's errors and any other: one line, exit 1
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
