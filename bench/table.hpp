#pragma once
// The readable, fixed-width table of a run's JSON rows (bench/report.py prints the same columns
// for a suite's merged rows, with the PyTorch peer).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fuselstm::bench {

std::string format_table(const std::vector<nlohmann::json>& rows);

}  // namespace fuselstm::bench
