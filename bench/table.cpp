#include "table.hpp"

#include <cstdio>

namespace fuselstm::bench {

namespace {

std::string fmt(const char* format, double v) {
  char text[64];
  std::snprintf(text, sizeof(text), format, v);
  return text;
}

// A number from the row at `path`, or "-" when absent or null.
std::string field(const nlohmann::json& j, const std::vector<const char*>& path, const char* format,
                  double scale = 1) {
  const nlohmann::json* at = &j;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return "-";
    at = &(*at)[key];
  }
  if (!at->is_number()) return "-";
  return fmt(format, at->get<double>() * scale);
}

}  // namespace

std::string format_table(const std::vector<nlohmann::json>& rows) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof(line), "%-34s %-8s %10s %9s %11s %9s %7s %9s %8s  %-24s %9s %6s\n",
                "config", "status", "ms/call", "us/step", "tokens/s", "GFLOP/s", "%peak",
                "floor us", "mem MiB", "peer (algo)", "peer us", "ratio");
  out += line;
  for (const auto& r : rows) {
    const auto& c = r["config"];
    char config[128];
    std::snprintf(config, sizeof(config), "T%-6lld B%-4lld H%-5lld L%lld %s %s %s",
                  (long long)c["T"].get<std::int64_t>(), (long long)c["B"].get<std::int64_t>(),
                  (long long)c["H"].get<std::int64_t>(), (long long)c["L"].get<std::int64_t>(),
                  c["cell"].get<std::string>().substr(0, 4).c_str(),
                  c["precision"].get<std::string>().c_str(),
                  c["mode"].get<std::string>() == "fwd" ? "F" : "FB");
    std::string peer = "-", peer_us = "-";
    if (r.contains("cudnn") && r["cudnn"].contains("best_algo")) {
      peer = "cuDNN " + r["cudnn"]["best_algo"].get<std::string>();
      if (r["cudnn"].contains("agrees") && !r["cudnn"]["agrees"].get<bool>()) peer += " DISAGREE";
      peer_us = field(r, {"cudnn", "figures", "us_per_step"}, "%.2f");
    }
    const auto& f = r.contains("fuselstm") ? r["fuselstm"] : nlohmann::json::object();
    std::snprintf(
        line, sizeof(line), "%-34s %-8s %10s %9s %11s %9s %7s %9s %8s  %-24s %9s %6s\n", config,
        r["status"].get<std::string>().substr(0, 8).c_str(),
        field(f, {"time_ms", "median"}, "%.3f").c_str(), field(f, {"us_per_step"}, "%.2f").c_str(),
        field(f, {"tokens_per_s"}, "%.3g").c_str(), field(f, {"gflop_per_s"}, "%.1f").c_str(),
        field(f, {"fraction_of_peak"}, "%.1f", 100).c_str(),
        field(f, {"floor_us_per_step"}, "%.2f").c_str(),
        field(f, {"peak_memory_bytes"}, "%.0f", 1.0 / (1 << 20)).c_str(),
        peer.substr(0, 24).c_str(), peer_us.c_str(), field(r, {"ratio_to_peer"}, "%.2f").c_str());
    out += line;
    if (r["status"] != "ok") out += "    reason: " + r["reason"].get<std::string>() + "\n";
  }
  return out;
}

}  // namespace fuselstm::bench
