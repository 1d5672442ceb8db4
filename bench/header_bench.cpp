// fuselstm_header_bench: how long a safetensors header of many tiny entries takes to load, and how
// much memory the load takes at its peak, relative to the header's size.
//
//   fuselstm_header_bench [--entries N] [--elements E] [--reps R] [--dir PATH]
//                         [--only header|memory|file]
//
// Writes a file whose header lists N tensors t0..t{N-1}, each {"dtype":"F32","shape":[E],
// "data_offsets":[4E·k, 4E·(k+1)]}, then times (wall and CPU time), best of R: the header alone
// (the internal parser that read_safetensors runs before it allocates a tensor),
// parse_safetensors on the bytes in memory, and read_safetensors on the file. Peak memory: the
// process's peak resident set during the step (VmHWM, reset before it through
// /proc/self/clear_refs), and its growth over what the process held before the step (the header
// text and the file image the bench keeps: "resident").
// --only runs one step, so that the allocator's and the tensor arena's caches from an earlier
// step do not hide its peak. Release builds only give meaningful numbers.

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "fuselstm/io.hpp"
#include "io/safetensors_header.hpp"

namespace {

// The process's resident set now (VmRSS) or at its peak (VmHWM), in bytes.
long long status_bytes(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0) return std::atoll(line.c_str() + n + 1) * 1024;
  }
  return -1;
}

// Resets VmHWM to the current resident set (Linux >= 4.0); false where that is refused. It resets
// getrusage's ru_maxrss too, so /usr/bin/time's "maximum resident set" covers only the last step.
bool reset_peak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// CPU time of the calling thread: on a machine shared with other work, wall time also counts the
// time other processes held the core.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Measure {
  double seconds = 1e30;       // best wall time
  double cpu = 1e30;           // best CPU time of the thread
  long long peak = -1;         // the process's peak resident set during the first call
  long long peak_growth = -1;  // that peak minus what the process held before the call
};

// Best time of `reps` calls of `step`, each after an untimed `reset`; peak growth over the first.
Measure measure(
    int reps, const std::function<void()>& step, const std::function<void()>& reset = [] {}) {
  Measure m;
  for (int r = 0; r < reps; ++r) {
    reset();
    const bool peak_ok = r == 0 && reset_peak();
    const long long before = status_bytes("VmRSS:");
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    step();
    m.cpu = std::min(m.cpu, cpu_seconds() - cpu_start);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (peak_ok) {
      m.peak = status_bytes("VmHWM:");
      m.peak_growth = m.peak - before;
    }
    if (s < m.seconds) m.seconds = s;
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  long long entries = 1'000'000, elements = 1;
  int reps = 3;
  std::string dir = "/tmp", only;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    const char* v = k + 1 < argc ? argv[k + 1] : nullptr;
    if (a == "--entries" && v)
      entries = std::atoll(v), ++k;
    else if (a == "--elements" && v)
      elements = std::atoll(v), ++k;
    else if (a == "--reps" && v)
      reps = std::atoi(v), ++k;
    else if (a == "--dir" && v)
      dir = v, ++k;
    else if (a == "--only" && v)
      only = v, ++k;
    else {
      std::fprintf(stderr,
                   "usage: %s [--entries N] [--elements E] [--reps R] [--dir PATH] "
                   "[--only header|memory|file]\n",
                   argv[0]);
      return 2;
    }
  }

  std::string header = "{";
  header.reserve(static_cast<std::size_t>(entries) * 64);
  const long long bytes_each = 4 * elements;
  for (long long k = 0; k < entries; ++k) {
    header += (k ? ",\"t" : "\"t") + std::to_string(k) + R"(":{"dtype":"F32","shape":[)" +
              std::to_string(elements) + R"(],"data_offsets":[)" + std::to_string(k * bytes_each) +
              "," + std::to_string((k + 1) * bytes_each) + "]}";
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::uint64_t data_bytes = static_cast<std::uint64_t>(entries * bytes_each);
  std::vector<char> file(8 + header.size() + data_bytes, '\0');
  std::uint64_t n = header.size();
  for (int k = 0; k < 8; ++k, n >>= 8)
    file[static_cast<std::size_t>(k)] = static_cast<char>(n & 0xFF);
  std::memcpy(file.data() + 8, header.data(), header.size());
  const std::string path =
      dir + "/fuselstm_header_bench_" + std::to_string(::getpid()) + ".safetensors";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }

  std::printf("entries %lld, elements each %lld, header %.1f MB, data %.1f MB, resident %.1f MB\n",
              entries, elements, header.size() / 1e6, data_bytes / 1e6,
              status_bytes("VmRSS:") / 1e6);
  auto row = [&](const char* what, const Measure& m) {
    std::printf("%-40s %6.3f s (CPU %6.3f s)  max RSS %6.1f MB = +%6.1f MB (%.2f x header)\n", what,
                m.seconds, m.cpu, m.peak / 1e6, m.peak_growth / 1e6,
                static_cast<double>(m.peak_growth) / header.size());
  };
  const auto expect_entries = [&](std::size_t count, const char* what) {
    if (count == static_cast<std::size_t>(entries)) return true;
    std::fprintf(stderr, "%s found %zu entries, not %lld\n", what, count, entries);
    return false;
  };
  int status = 0;
  if (only.empty() || only == "header") {
    std::size_t count = 0;
    const Measure m = measure(reps, [&] {
      count = fuselstm::detail::check_safetensors_header(header, data_bytes, "bench");
    });
    row("header only (check_safetensors_header)", m);
    if (!expect_entries(count, "the header parser")) status = 1;
  }
  // The loads keep their result until the next repetition: its destruction is timed apart.
  fuselstm::TensorFile loaded;
  const auto release = [&] { loaded = fuselstm::TensorFile{}; };
  if (only.empty() || only == "memory") {
    const Measure m = measure(
        reps, [&] { loaded = fuselstm::parse_safetensors(file.data(), file.size(), "bench"); },
        release);
    row("parse_safetensors (bytes in memory)", m);
    if (!expect_entries(loaded.tensors.size(), "parse_safetensors")) status = 1;
    row("  destroying its TensorFile", measure(1, release));
  }
  if (only.empty() || only == "file") {
    const Measure m = measure(
        reps, [&] { loaded = fuselstm::read_safetensors(path); }, release);
    row("read_safetensors (file)", m);
    if (!expect_entries(loaded.tensors.size(), "read_safetensors")) status = 1;
    row("  destroying its TensorFile", measure(1, release));
  }
  std::remove(path.c_str());
  return status;
}
