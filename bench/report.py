#!/usr/bin/python3
"""Merges a suite's JSON rows (fuselstm_bench's, with cuDNN inside; PyTorch's, if any) by
configuration and prints the readable fixed-width table: µs per step, tokens/s, GFLOP/s, % of
peak, the per-step floor, memory, and the ratio of fuselstm's time to the peer's (> 1: slower).

Usage: bench/report.py OUTDIR   (reads OUTDIR/fuselstm.jsonl and OUTDIR/pytorch.jsonl, writes
OUTDIR/table.txt and OUTDIR/merged.json, prints the table). Python standard library only.
"""

import json
import os
import sys


def read_rows(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    print(f"{path}:{n}: not JSON ({e}); a cut-off run? skipped", file=sys.stderr)
    return rows


def get(d, *path):
    for key in path:
        if not isinstance(d, dict) or d.get(key) is None:
            return None
        d = d[key]
    return d


def num(value, fmt, scale=1.0):
    return "-" if value is None else format(value * scale, fmt)


def merge(outdir):
    """One record per key: the latest fuselstm row, the PyTorch row, the best peer's figures.
    Rows of the recompute and automatic memory modes share the PyTorch row of their shape's
    store_all key (PyTorch runs once per shape)."""
    merged = {}
    for row in read_rows(os.path.join(outdir, "fuselstm.jsonl")):
        merged[row["key"]] = {"fuselstm_row": row}
    torch_rows = {row["key"]: row for row in read_rows(os.path.join(outdir, "pytorch.jsonl"))}
    for key, row in torch_rows.items():
        merged.setdefault(key, {})["pytorch_row"] = row
    for record in merged.values():
        ours = record.get("fuselstm_row", {})
        baseline = get(ours, "recompute_overhead", "baseline_key")
        if baseline in torch_rows:
            record["pytorch_row"] = torch_rows[baseline]
        torch_row = record.get("pytorch_row", {})
        peer = None
        if get(ours, "cudnn", "figures"):
            algo = ours["cudnn"].get("best_algo", "?")
            disagree = ours["cudnn"].get("agrees") is False
            peer = ("cuDNN " + algo + (" DISAGREE" if disagree else ""), ours["cudnn"]["figures"])
        elif get(ours, "cudnn", "status") == "fails":
            peer = ("cuDNN fails (T>65535)", {})
        elif torch_row.get("status") == "ok":
            peer = ("PyTorch " + torch_row.get("torch_version", ""), torch_row["pytorch"])
        record["peer_name"] = peer[0] if peer else None
        record["peer_figures"] = peer[1] if peer else None
        ours_ms = get(ours, "fuselstm", "time_ms", "median")
        record["ratio_to_peer"] = (ours_ms / peer[1]["time_ms"]["median"]
                                   if peer and peer[1] and ours_ms else None)
    return merged


def memory_column(row):
    """stored / rec k=317 / auto:rec k=333334 (what automatic chose), as table.cpp prints it."""
    f = row.get("fuselstm")
    asked = get(row, "config", "memory_mode") or "store_all"
    if not f or "memory_mode" not in f:
        return asked
    text = "auto:" if asked == "automatic" else ""
    return text + ("stored" if f["memory_mode"] == "store_all" else f"rec k={f['segment_steps']}")


def overhead_column(row):
    o = row.get("recompute_overhead")
    if not o:
        return "-"
    if o.get("percent") is not None:
        return f"{o['percent']:+.0f}%"
    return "no fit" if o.get("status") == "store_all does not fit" else "-"


def table(merged):
    header = (f"{'config':<39} {'status':<8} {'memory':<18} {'us/step':>9} {'tokens/s':>10} "
              f"{'GFLOP/s':>9} {'%peak':>6} {'floor us':>9} {'plan MiB':>9} {'call MiB':>9} "
              f"{'peak MiB':>9} {'ovh':>6}  {'peer':<26} {'peer us':>9} {'peer GF/s':>9} "
              f"{'ratio':>6}")
    lines = [header, "-" * len(header)]
    def order(item):
        c = get(item[1], "fuselstm_row", "config") or get(item[1], "pytorch_row", "config") or {}
        return (c.get("precision", ""), c.get("T", 0), c.get("L", 0), c.get("H", 0), c.get("B", 0),
                ["store_all", "recompute", "automatic"].index(c.get("memory_mode", "store_all")))
    for key, r in sorted(merged.items(), key=order):
        ours = r.get("fuselstm_row", {})
        c = ours.get("config") or get(r, "pytorch_row", "config")
        f = ours.get("fuselstm", {})
        config = (f"T{c['T']:<7} B{c['B']:<4} X{c['X']:<5} H{c['H']:<5} L{c['L']} "
                  f"{c['cell'][:4]} {c['precision']} {'F' if c['mode'] == 'fwd' else 'FB'}")
        peer = r.get("peer_figures") or {}
        mib = 1 / 2**20
        lines.append(
            f"{config:<39} {ours.get('status', '-')[:8]:<8} {memory_column(ours)[:18]:<18} "
            f"{num(f.get('us_per_step'), '.2f'):>9} "
            f"{num(f.get('tokens_per_s'), '.3g'):>10} {num(f.get('gflop_per_s'), '.1f'):>9} "
            f"{num(f.get('fraction_of_peak'), '.1f', 100):>6} "
            f"{num(f.get('floor_us_per_step'), '.2f'):>9} "
            f"{num(f.get('planned_call_bytes'), '.1f', mib):>9} "
            f"{num(f.get('call_memory_bytes'), '.1f', mib):>9} "
            f"{num(f.get('peak_memory_bytes'), '.1f', mib):>9} {overhead_column(ours):>6}  "
            f"{(r.get('peer_name') or '-')[:26]:<26} {num(peer.get('us_per_step'), '.2f'):>9} "
            f"{num(peer.get('gflop_per_s'), '.1f'):>9} {num(r.get('ratio_to_peer'), '.2f'):>6}")
        if ours.get("status") not in (None, "ok"):
            lines.append(f"    {ours['status']}: {ours.get('reason', '')}")
        for note in ours.get("notes") or []:
            lines.append(f"    note: {note}")
    first = next((r["fuselstm_row"] for r in merged.values() if "fuselstm_row" in r), None)
    if first:
        lines.append("")
        lines.append(f"device {first.get('device_name')} ({first.get('device')}), commit "
                     f"{first.get('commit')}, {first.get('date')}; peak: "
                     f"{get(first, 'ceilings', 'source')}")
        lines.append(f"fuselstm BLAS: {first.get('blas')}; threads {first.get('threads')}")
        torch_row = next((r["pytorch_row"] for r in merged.values()
                          if get(r, "pytorch_row", "status") == "ok"), None)
        if torch_row:
            lines.append(f"PyTorch {torch_row.get('torch_version')} BLAS: {torch_row.get('blas')}; "
                         f"threads {torch_row.get('threads')}")
        lines.append("ratio = fuselstm time / peer time (> 1: fuselstm is slower); "
                     "floor = max(W_hh bytes / bandwidth, FLOPs / peak) per step")
        lines.append("memory: what forward kept (stored, or recomputed in segments of k steps; "
                     "auto: = chosen by automatic); plan = Lstm::plan_memory of one call; call = "
                     "measured peak added by the calls; peak = the library's peak, inputs "
                     "included; ovh = time vs store_all of the same shape in this run")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    outdir = sys.argv[1]
    merged = merge(outdir)
    if not merged:
        print(f"no rows in {outdir}/fuselstm.jsonl", file=sys.stderr)
        return 1
    text = table(merged)
    with open(os.path.join(outdir, "table.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "merged.json"), "w") as f:
        json.dump(merged, f, indent=1)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
