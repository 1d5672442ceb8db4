#include "timing.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

#include "gpu_helper.hpp"

namespace fuselstm::bench {

Stats summarize(std::vector<double> ms) {
  Stats s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  const std::size_t n = ms.size();
  s.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  s.min_ms = ms.front();
  s.max_ms = ms.back();
  s.reps = int(n);
  return s;
}

Stats time_calls(const Device& device, void* stream, const TimingOptions& o,
                 const std::function<void()>& fn) {
  std::unique_ptr<gpu::EventTimer> events;
  if (device.is_cuda()) events = std::make_unique<gpu::EventTimer>(device.index, stream);
  auto timed = [&] {
    if (events) {
      events->start();
      fn();
      return events->stop_ms();
    }
    const auto start = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  double last_ms = 0;
  for (int k = 0; k < std::max(1, o.warmup); ++k) last_ms = timed();
  int reps = std::max(1, o.reps);
  if (o.max_seconds > 0 && last_ms * reps > o.max_seconds * 1e3) {
    reps = std::min(reps, std::max(3, int(o.max_seconds * 1e3 / std::max(last_ms, 1e-6))));
  }
  std::vector<double> ms;
  for (int k = 0; k < reps; ++k) ms.push_back(timed());
  Stats s = summarize(ms);
  s.reps_requested = o.reps;
  return s;
}

}  // namespace fuselstm::bench
