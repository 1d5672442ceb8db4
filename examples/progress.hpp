#pragma once
// What the examples show while they run: a live progress line on stderr, and PNG plots drawn by
// gnuplot when it is installed.

#include <chrono>
#include <cstdint>
#include <string>

namespace fuselstm::examples {

/// "step 120/400  loss 2.134  12.3k tok/s  ETA 0:23" on stderr: redrawn in place on a terminal,
/// one line per `every_lines` steps otherwise (a log file gets no carriage returns).
class ProgressLine {
 public:
  /// Steps first_step .. total_steps − 1 will be reported; `tokens_per_step` counts throughput.
  ProgressLine(std::int64_t first_step, std::int64_t total_steps, std::int64_t tokens_per_step,
               std::int64_t every_lines = 25);
  /// After step `step` (0-based) finished with `loss`.
  void update(std::int64_t step, double loss);
  /// Clears the line on a terminal, so other output starts on a clean line.
  void clear();
  double elapsed_seconds() const;

 private:
  std::int64_t first_, total_, tokens_per_step_, every_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
};

/// "1:05" / "1:02:03".
std::string format_duration(double seconds);

/// A path inside a gnuplot single-quoted string ('' is a quote there).
std::string gnuplot_quoted(const std::string& path);
/// True when a gnuplot executable is on PATH.
bool gnuplot_available();
/// Runs a gnuplot script (which sets its own terminal and output). Returns false, after printing a
/// note on stderr that names `output` and how to install gnuplot, when gnuplot is missing or fails.
bool run_gnuplot(const std::string& script, const std::string& output);

}  // namespace fuselstm::examples
