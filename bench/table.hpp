#pragma once
// The readable, fixed-width table of a run's JSON rows (bench/report.py prints the same columns
// for a suite's merged rows, with the PyTorch peer).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fuselstm::bench {

std::string format_table(const std::vector<nlohmann::json>& rows);

/// The row's memory column: "stored", "rec k=317", "auto:rec k=333334" (what automatic chose).
std::string memory_column(const nlohmann::json& row);
/// The recompute overhead vs store_all of the same shape: "+33%", "no fit", or "-".
std::string overhead_column(const nlohmann::json& row);

}  // namespace fuselstm::bench
