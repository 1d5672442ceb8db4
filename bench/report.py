#!/usr/bin/python3
"""Merges a suite's JSON rows (fuselstm_bench's, with cuDNN inside; the CPU peers', if any) by
configuration and prints the readable fixed-width table: µs per step, tokens/s, GFLOP/s, % of
peak, the per-step floor, memory, and the ratio of fuselstm's time to the peer's (> 1: slower):
cuDNN's on the GPU, else the fastest CPU peer's. When oneDNN, PyTorch 2.x or a fuselstm variant
ran too, a second table gives every implementation's µs per step and each ratio fuselstm / peer,
and a third each round's medians.

Usage: bench/report.py OUTDIR   (reads OUTDIR/fuselstm.jsonl, OUTDIR/pytorch.jsonl (PyTorch 1.13),
OUTDIR/pytorch2.jsonl, OUTDIR/onednn.jsonl, OUTDIR/fuselstm-variant.jsonl (label in
OUTDIR/variant.txt), whichever exist; writes OUTDIR/table.txt and OUTDIR/merged.json, prints the
tables). Python standard library only.
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


# The CPU peers: file (and impl) name, the name in the tables. Each row's figures are under its impl.
CPU_PEERS = (("onednn", "oneDNN"), ("pytorch2", "PyTorch"), ("pytorch", "PyTorch"))


def peer_label(impl, row):
    if impl == "onednn":
        return "oneDNN " + (row.get("onednn_version") or "").split(" ")[0]
    return "PyTorch " + (row.get("torch_version") or "").split("+")[0]


def merge(outdir):
    """One record per key: the latest fuselstm row, each peer's row, the best peer's figures.
    Rows of the recompute and automatic memory modes share the peers' rows of their shape's
    store_all key (the peers run once per shape)."""
    merged = {}
    for row in read_rows(os.path.join(outdir, "fuselstm.jsonl")):
        merged[row["key"]] = {"fuselstm_row": row}
    for row in read_rows(os.path.join(outdir, "fuselstm-variant.jsonl")):
        merged.setdefault(row["key"], {})["variant_row"] = row
    peer_rows = {impl: {row["key"]: row for row in read_rows(os.path.join(outdir, impl + ".jsonl"))}
                 for impl, _ in CPU_PEERS}
    for impl, rows in peer_rows.items():
        for key, row in rows.items():
            merged.setdefault(key, {})[impl + "_row"] = row
    for record in merged.values():
        ours = record.get("fuselstm_row", {})
        baseline = get(ours, "recompute_overhead", "baseline_key")
        for impl, rows in peer_rows.items():
            if baseline in rows:
                record[impl + "_row"] = rows[baseline]
        peer = None
        if get(ours, "cudnn", "figures"):
            algo = ours["cudnn"].get("best_algo", "?")
            disagree = ours["cudnn"].get("agrees") is False
            peer = ("cuDNN " + algo + (" DISAGREE" if disagree else ""), ours["cudnn"]["figures"])
        elif get(ours, "cudnn", "status") == "fails":
            peer = ("cuDNN fails (T>65535)", {})
        else:
            for impl, _ in CPU_PEERS:  # the fastest CPU peer
                row = record.get(impl + "_row", {})
                if row.get("status") == "ok" and get(row, impl, "time_ms", "median"):
                    if peer is None or row[impl]["time_ms"]["median"] < peer[1]["time_ms"]["median"]:
                        peer = (peer_label(impl, row), row[impl])
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


def config_of(record):
    for name in ("fuselstm_row", "variant_row") + tuple(impl + "_row" for impl, _ in CPU_PEERS):
        if get(record, name, "config"):
            return record[name]["config"]
    return None


def config_text(c):
    return (f"T{c['T']:<7} B{c['B']:<4} X{c['X']:<5} H{c['H']:<5} L{c['L']} "
            f"{c['cell'][:4]} {c['precision']} {'F' if c['mode'] == 'fwd' else 'FB'}")


def order(item):
    c = config_of(item[1]) or {}
    return (c.get("precision", ""), c.get("T", 0), c.get("L", 0), c.get("H", 0), c.get("B", 0),
            ["store_all", "recompute", "automatic"].index(c.get("memory_mode", "store_all")))


def peer_versions(merged):
    """One line per CPU peer that ran: version, BLAS, how nn.LSTM ran, threads."""
    lines = []
    for impl, _ in CPU_PEERS:
        row = next((r[impl + "_row"] for r in merged.values()
                    if get(r, impl + "_row", "status") == "ok"), None)
        if not row:
            continue
        if impl == "onednn":
            lines.append(f"{peer_label(impl, row)} ({row.get('onednn_version')}): "
                         f"{row.get('onednn_cpu_runtime')}; weights {row.get('weights_layout')}; "
                         f"threads {row.get('threads')}")
        else:
            lines.append(f"PyTorch {row.get('torch_version')} ({impl}) BLAS: {row.get('blas')}; "
                         f"nn.LSTM: {row.get('lstm_path', '?')}; threads {row.get('threads')}")
    return lines


def peers_table(merged, variant):
    """µs per step of every implementation and each ratio fuselstm / peer (> 1: fuselstm slower),
    then each round's medians."""
    # (label, short name for the ratio headers, row field, figures field)
    ours = [("fuselstm", "fl", "fuselstm_row", "fuselstm")]
    if any("variant_row" in r for r in merged.values()):
        ours.append(("fuselstm'", "fl'", "variant_row", "fuselstm"))
    peers = []
    for impl, _ in CPU_PEERS:
        row = next((r[impl + "_row"] for r in merged.values()
                    if get(r, impl + "_row", "status") == "ok"), None)
        if row:
            name, version = peer_label(impl, row).split(" ", 1)
            label = name + " " + ".".join(version.split(".")[:2])  # oneDNN 3.13, PyTorch 2.15
            abbr = "dnnl" if impl == "onednn" else "pt" + version.split(".")[0]
            peers.append((label, abbr, impl + "_row", impl))
    columns = ours + peers
    width = max(len(c[0]) for c in columns) + 1
    pairs = [(o, p) for o in ours for p in peers]
    header = (f"{'config':<39} " + " ".join(f"{c[0]:>{width}}" for c in columns) + "  " +
              " ".join(f"{o[1] + '/' + p[1]:>8}" for o, p in pairs))
    lines = ["CPU peers: µs per step (median; the median round's when several rounds ran); "
             "ratio = fuselstm / peer (> 1: fuselstm is slower)" +
             (f"; fuselstm' = fuselstm with {variant}" if len(ours) > 1 else ""),
             header, "-" * len(header)]
    rounds_lines = []
    for key, r in sorted(merged.items(), key=order):
        c = config_of(r)
        if not c or c.get("memory_mode", "store_all") != "store_all":
            continue
        ms = {col[2]: get(r, col[2], col[3], "time_ms", "median")
              if get(r, col[2], "status") == "ok" else None for col in columns}
        us = lambda v: v * 1e3 / c["T"] if v else None  # noqa: E731
        lines.append(f"{config_text(c):<39} " +
                     " ".join(f"{num(us(ms[col[2]]), '.2f'):>{width}}" for col in columns) + "  " +
                     " ".join(f"{num(ms[o[2]] / ms[p[2]] if ms[o[2]] and ms[p[2]] else None, '.2f'):>8}"
                              for o, p in pairs))
        parts = []
        for col in columns:
            rounds = get(r, col[2], col[3], "rounds", "median_ms")
            if rounds:
                parts.append(f"{col[0]} " + " ".join(f"{us(v):.0f}" for v in rounds))
        if parts:
            rounds_lines.append(f"  {config_text(c)}  " + "; ".join(parts))
    if rounds_lines:
        lines += ["", "each round's median, µs per step, in round order:"] + rounds_lines
    return "\n".join(lines) + "\n"


def table(merged):
    header = (f"{'config':<39} {'status':<8} {'memory':<18} {'us/step':>9} {'tokens/s':>10} "
              f"{'GFLOP/s':>9} {'%peak':>6} {'floor us':>9} {'plan MiB':>9} {'call MiB':>9} "
              f"{'peak MiB':>9} {'ovh':>6}  {'peer':<26} {'peer us':>9} {'peer GF/s':>9} "
              f"{'ratio':>6}")
    lines = [header, "-" * len(header)]
    for key, r in sorted(merged.items(), key=order):
        ours = r.get("fuselstm_row", {})
        c = config_of(r)
        f = ours.get("fuselstm", {})
        config = config_text(c)
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
        lines.extend(peer_versions(merged))
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
    if any(k in r for r in merged.values() for k in ("onednn_row", "pytorch2_row", "variant_row")):
        variant_path = os.path.join(outdir, "variant.txt")
        variant = open(variant_path).read().strip() if os.path.exists(variant_path) else ""
        text += "\n" + peers_table(merged, variant)
    with open(os.path.join(outdir, "table.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "merged.json"), "w") as f:
        json.dump(merged, f, indent=1)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
