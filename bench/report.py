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
    """One record per key: the latest fuselstm row, the PyTorch row, the best peer's figures."""
    merged = {}
    for row in read_rows(os.path.join(outdir, "fuselstm.jsonl")):
        merged[row["key"]] = {"fuselstm_row": row}
    for row in read_rows(os.path.join(outdir, "pytorch.jsonl")):
        merged.setdefault(row["key"], {})["pytorch_row"] = row
    for record in merged.values():
        ours = record.get("fuselstm_row", {})
        torch_row = record.get("pytorch_row", {})
        peer = None
        if get(ours, "cudnn", "figures"):
            algo = ours["cudnn"].get("best_algo", "?")
            disagree = ours["cudnn"].get("agrees") is False
            peer = ("cuDNN " + algo + (" DISAGREE" if disagree else ""), ours["cudnn"]["figures"])
        elif torch_row.get("status") == "ok":
            peer = ("PyTorch " + torch_row.get("torch_version", ""), torch_row["pytorch"])
        record["peer_name"] = peer[0] if peer else None
        record["peer_figures"] = peer[1] if peer else None
        ours_ms = get(ours, "fuselstm", "time_ms", "median")
        record["ratio_to_peer"] = (ours_ms / peer[1]["time_ms"]["median"]
                                   if peer and ours_ms else None)
    return merged


def table(merged):
    header = (f"{'config':<38} {'status':<8} {'us/step':>9} {'tokens/s':>10} {'GFLOP/s':>9} "
              f"{'%peak':>6} {'floor us':>9} {'mem MiB':>8}  {'peer':<26} {'peer us':>9} "
              f"{'peer GF/s':>9} {'ratio':>6}")
    lines = [header, "-" * len(header)]
    def order(item):
        c = get(item[1], "fuselstm_row", "config") or get(item[1], "pytorch_row", "config") or {}
        return (c.get("precision", ""), c.get("T", 0), c.get("L", 0), c.get("H", 0), c.get("B", 0))
    for key, r in sorted(merged.items(), key=order):
        ours = r.get("fuselstm_row", {})
        c = ours.get("config") or get(r, "pytorch_row", "config")
        f = ours.get("fuselstm", {})
        config = (f"T{c['T']:<6} B{c['B']:<4} X{c['X']:<5} H{c['H']:<5} L{c['L']} "
                  f"{c['cell'][:4]} {c['precision']} {'F' if c['mode'] == 'fwd' else 'FB'}")
        peer = r.get("peer_figures") or {}
        lines.append(
            f"{config:<38} {ours.get('status', '-')[:8]:<8} {num(f.get('us_per_step'), '.2f'):>9} "
            f"{num(f.get('tokens_per_s'), '.3g'):>10} {num(f.get('gflop_per_s'), '.1f'):>9} "
            f"{num(f.get('fraction_of_peak'), '.1f', 100):>6} "
            f"{num(f.get('floor_us_per_step'), '.2f'):>9} "
            f"{num(f.get('peak_memory_bytes'), '.0f', 1 / 2**20):>8}  "
            f"{(r.get('peer_name') or '-')[:26]:<26} {num(peer.get('us_per_step'), '.2f'):>9} "
            f"{num(peer.get('gflop_per_s'), '.1f'):>9} {num(r.get('ratio_to_peer'), '.2f'):>6}")
        if ours.get("status") not in (None, "ok"):
            lines.append(f"    {ours['status']}: {ours.get('reason', '')}")
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
