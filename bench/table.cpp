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

std::string memory_column(const nlohmann::json& row) {
  if (!row.contains("fuselstm")) {
    const auto& c = row["config"];
    return c.contains("memory_mode") ? c["memory_mode"].get<std::string>() : "store_all";
  }
  const auto& f = row["fuselstm"];
  const std::string mode = f["memory_mode"];
  const std::string asked = row["config"].value("memory_mode", "store_all");
  std::string text = asked == "automatic" ? "auto:" : "";
  text += mode == "store_all" ? "stored" : "rec k=" + std::to_string(f["segment_steps"].get<long long>());
  return text;
}

std::string overhead_column(const nlohmann::json& row) {
  if (!row.contains("recompute_overhead")) return "-";
  const auto& o = row["recompute_overhead"];
  if (o.contains("percent")) return fmt("%+.0f%%", o["percent"].get<double>());
  if (o.value("status", "") == "store_all does not fit") return "no fit";
  return "-";
}

std::string format_table(const std::vector<nlohmann::json>& rows) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof(line),
                "%-34s %-8s %-18s %10s %9s %11s %9s %7s %9s %9s %9s %9s %6s  %-24s %9s %6s\n",
                "config", "status", "memory", "ms/call", "us/step", "tokens/s", "GFLOP/s", "%peak",
                "floor us", "plan MiB", "call MiB", "peak MiB", "ovh", "peer (algo)", "peer us",
                "ratio");
  out += line;
  for (const auto& r : rows) {
    const auto& c = r["config"];
    char config[128];
    std::snprintf(config, sizeof(config), "T%-7lld B%-4lld H%-5lld L%lld %s %s %s",
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
    } else if (r.contains("cudnn") && r["cudnn"].value("status", "") == "fails") {
      peer = "cuDNN fails (T>65535)";
    }
    const auto& f = r.contains("fuselstm") ? r["fuselstm"] : nlohmann::json::object();
    const double to_mib = 1.0 / (1 << 20);
    std::snprintf(
        line, sizeof(line),
        "%-34s %-8s %-18s %10s %9s %11s %9s %7s %9s %9s %9s %9s %6s  %-24s %9s %6s\n", config,
        r["status"].get<std::string>().substr(0, 8).c_str(), memory_column(r).substr(0, 18).c_str(),
        field(f, {"time_ms", "median"}, "%.3f").c_str(), field(f, {"us_per_step"}, "%.2f").c_str(),
        field(f, {"tokens_per_s"}, "%.3g").c_str(), field(f, {"gflop_per_s"}, "%.1f").c_str(),
        field(f, {"fraction_of_peak"}, "%.1f", 100).c_str(),
        field(f, {"floor_us_per_step"}, "%.2f").c_str(),
        field(f, {"planned_call_bytes"}, "%.1f", to_mib).c_str(),
        field(f, {"call_memory_bytes"}, "%.1f", to_mib).c_str(),
        field(f, {"peak_memory_bytes"}, "%.1f", to_mib).c_str(), overhead_column(r).c_str(),
        peer.substr(0, 24).c_str(), peer_us.c_str(), field(r, {"ratio_to_peer"}, "%.2f").c_str());
    out += line;
    if (r["status"] != "ok") out += "    reason: " + r["reason"].get<std::string>() + "\n";
    if (r.contains("notes")) {
      for (const auto& note : r["notes"]) out += "    note: " + note.get<std::string>() + "\n";
    }
  }
  return out;
}

}  // namespace fuselstm::bench
