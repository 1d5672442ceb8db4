#!/usr/bin/python3
"""The figures of a peer's row (µs per step, tokens/s, GFLOP/s, fraction of peak, the per-step
floor) from its per-call times: one definition for every peer, the same as fuselstm_bench's own
(bench/runner.cpp figures_json). Python standard library only.

As a module: figures(config, times_ms, reps_requested, ceilings) (bench/pytorch_peer.py).
As a program: bench/peer_figures.py IMPL FILE completes, in place, every row of FILE (JSON lines)
whose IMPL object holds "times_ms" (bench/onednn_peer.cpp writes only the times): the figures are
added beside the times.
"""

import json
import os
import statistics
import sys


def figures(config, times_ms, reps_requested, ceilings):
    """The same figures fuselstm_bench reports (see bench/runner.cpp figures_json)."""
    T, B, X, H, L = (config[k] for k in ("T", "B", "X", "H", "L"))
    per_mac = 8.0 if config["mode"] == "fwd" else 24.0
    flops = sum(per_mac * B * H * ((X if k == 0 else H) + H) * T for k in range(L))
    median = statistics.median(times_ms)
    seconds = median * 1e-3
    peak = (ceilings.get("fp32_gflop_per_s") or 0) * 1e9
    bandwidth = (ceilings.get("gbyte_per_s") or 0) * 1e9
    passes = 1.0 if config["mode"] == "fwd" else 2.0
    floor_flop = flops / T / peak if peak else 0
    floor_byte = 16.0 * H * H * passes * L / bandwidth if bandwidth else 0
    floor = max(floor_flop, floor_byte)
    us_per_step = seconds / T * 1e6
    return {
        "time_ms": {"median": median, "min": min(times_ms), "max": max(times_ms)},
        "reps": len(times_ms),
        "reps_requested": reps_requested,
        "us_per_step": us_per_step,
        "tokens_per_s": T * B / seconds,
        "flops_per_call": flops,
        "gflop_per_s": flops / seconds * 1e-9,
        "peak_gflop_per_s": peak * 1e-9 if peak else None,
        "fraction_of_peak": flops / seconds / peak if peak else None,
        "floor_us_per_step": floor * 1e6 if floor else None,
        "gap_to_floor": us_per_step / (floor * 1e6) if floor else None,
    }


def complete(impl, path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            timed = row.get(impl)
            if isinstance(timed, dict) and timed.get("times_ms"):
                timed.update(figures(row["config"], timed["times_ms"],
                                     timed.get("reps_requested", len(timed["times_ms"])),
                                     row.get("ceilings", {})))
            rows.append(row)
    with open(path + ".tmp", "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    os.replace(path + ".tmp", path)
    return len(rows)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 64
    complete(sys.argv[1], sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
