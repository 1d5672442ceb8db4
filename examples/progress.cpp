#include "progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace fuselstm::examples {

ProgressLine::ProgressLine(std::int64_t first_step, std::int64_t total_steps,
                           std::int64_t tokens_per_step, std::int64_t every_lines)
    : first_(first_step),
      total_(total_steps),
      tokens_per_step_(tokens_per_step),
      every_(every_lines < 1 ? 1 : every_lines),
      terminal_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()) {}

double ProgressLine::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressLine::update(std::int64_t step, double loss) {
  const bool last = step + 1 == total_;
  if (!terminal_ && !last && (step + 1 - first_) % every_ != 0) return;
  const double seconds = elapsed_seconds();
  const auto done = static_cast<double>(step + 1 - first_);
  const double rate = done * static_cast<double>(tokens_per_step_) / seconds;
  const double eta = seconds / done * static_cast<double>(total_ - step - 1);
  std::fprintf(stderr, "%sstep %lld/%lld  loss %.4f  %.1fk tok/s  %s %s%s", terminal_ ? "\r" : "",
               static_cast<long long>(step + 1), static_cast<long long>(total_), loss,
               rate / 1000.0, last ? "took" : "ETA", format_duration(last ? seconds : eta).c_str(),
               terminal_ ? (last ? "\033[K\n" : "\033[K") : "\n");
  std::fflush(stderr);
}

void ProgressLine::clear() {
  if (terminal_) std::fprintf(stderr, "\r\033[K");
}

std::string format_duration(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  return text;
}

std::string gnuplot_quoted(const std::string& path) {
  std::string out = "'";
  for (const char ch : path) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

bool gnuplot_available() {
  return std::system("command -v gnuplot >/dev/null 2>&1") == 0;
}

bool run_gnuplot(const std::string& script, const std::string& output) {
  if (!gnuplot_available()) {
    std::fprintf(stderr,
                 "note: gnuplot is not installed, so %s was not drawn (Debian: apt-get install "
                 "gnuplot-nox, or tools/install_deps.sh)\n",
                 output.c_str());
    return false;
  }
  FILE* pipe = popen("gnuplot", "w");
  if (pipe) std::fputs(script.c_str(), pipe);
  if (!pipe || pclose(pipe) != 0) {
    std::fprintf(stderr, "note: gnuplot failed, so %s was not drawn\n", output.c_str());
    return false;
  }
  return true;
}

}  // namespace fuselstm::examples
