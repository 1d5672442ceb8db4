#!/usr/bin/python3
"""PNG plots of a suite's results with gnuplot (Debian: gnuplot-nox).

Usage: bench/plot.py OUTDIR   (reads OUTDIR/merged.json from bench/report.py; writes
OUTDIR/plots/*.dat, *.gp and *.png). Plots, each drawn only when it has two or more points:
  throughput_vs_T.png   fuselstm tokens/s against T, one line per (B, H, memory mode), L = 1, fp32
  throughput_vs_B.png   fuselstm (solid) and the peer (dashed) tokens/s against B, one line per H,
                        at the shortest T, L = 1, fp32
  ratio_vs_B.png        fuselstm time / peer time against B, one line per H (same slice)
Without gnuplot it writes the data and scripts and says so (run them where gnuplot exists).
"""

import json
import os
import shutil
import subprocess
import sys


def series(merged, x_key, group_keys, where, value):
    """{group: [(x, y), ...]} over records whose config satisfies `where`."""
    out = {}
    for r in merged.values():
        row = r.get("fuselstm_row") or {}
        c = row.get("config")
        if not c or row.get("status") != "ok" or not where(c):
            continue
        y = value(r)
        if y is None:
            continue
        group = tuple(c.get(k, "store_all" if k == "memory_mode" else None) for k in group_keys)
        out.setdefault(group, []).append((c[x_key], y))
    return {g: sorted(points) for g, points in sorted(out.items()) if len(points) >= 2}


def write_plot(plotdir, name, title, xlabel, ylabel, lines, logy=True):
    """lines: [(label, points, dashed)]. Returns the .gp path, or None when there is nothing."""
    lines = [line for line in lines if len(line[1]) >= 2]
    if not lines:
        return None
    plots = []
    for k, (label, points, dashed) in enumerate(lines):
        dat = os.path.join(plotdir, f"{name}_{k}.dat")
        with open(dat, "w") as f:
            for x, y in points:
                f.write(f"{x} {y}\n")
        style = "linespoints dt 2" if dashed else "linespoints"
        plots.append(f"'{os.path.basename(dat)}' using 1:2 with {style} lw 2 title '{label}'")
    gp = os.path.join(plotdir, f"{name}.gp")
    with open(gp, "w") as f:
        f.write("set terminal pngcairo size 1000,650 noenhanced\n")
        f.write(f"set output '{name}.png'\n")
        f.write(f"set title '{title}'\nset xlabel '{xlabel}'\nset ylabel '{ylabel}'\n")
        f.write("set logscale x\nset grid\nset key outside right\n")
        if logy:
            f.write("set logscale y\n")
        f.write("plot " + ", \\\n     ".join(plots) + "\n")
    return gp


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    outdir = sys.argv[1]
    with open(os.path.join(outdir, "merged.json")) as f:
        merged = json.load(f)
    plotdir = os.path.join(outdir, "plots")
    os.makedirs(plotdir, exist_ok=True)

    def ours(r):
        return (r["fuselstm_row"].get("fuselstm") or {}).get("tokens_per_s")

    def peer(r):
        return (r.get("peer_figures") or {}).get("tokens_per_s")

    configs = [r["fuselstm_row"]["config"] for r in merged.values()
               if r.get("fuselstm_row", {}).get("status") == "ok"]
    if not configs:
        print("plot.py: no measured rows", file=sys.stderr)
        return 1
    device = next(r["fuselstm_row"].get("device_name") for r in merged.values()
                  if "fuselstm_row" in r)
    shortest = min(c["T"] for c in configs)
    base = lambda c: c["L"] == 1 and c["precision"] == "fp32" and c["mode"] == "fwdbwd"  # noqa
    stored = lambda c: c.get("memory_mode", "store_all") == "store_all"  # noqa: E731
    slice_b = lambda c: base(c) and stored(c) and c["T"] == shortest  # noqa: E731
    peer_name = next((r["peer_name"] for r in merged.values() if r.get("peer_name")), "peer")
    peer_name = peer_name.replace(" DISAGREE", "")

    scripts = []
    by_t = series(merged, "T", ["B", "H", "memory_mode"], base, ours)
    scripts.append(write_plot(plotdir, "throughput_vs_T",
                              f"fuselstm forward+backward on {device}, L=1, fp32",
                              "T (time steps)", "tokens/s",
                              [(f"B={b} H={h} {m}", p, m != "store_all")
                               for (b, h, m), p in by_t.items()]))
    ours_b = series(merged, "B", ["H"], slice_b, ours)
    peer_b = series(merged, "B", ["H"], slice_b, peer)
    scripts.append(write_plot(
        plotdir, "throughput_vs_B", f"forward+backward on {device}, T={shortest}, L=1, fp32",
        "B (batch)", "tokens/s",
        [(f"fuselstm H={h}", p, False) for (h,), p in ours_b.items()] +
        [(f"{peer_name} H={h}", p, True) for (h,), p in peer_b.items()]))
    ratio_b = series(merged, "B", ["H"], slice_b, lambda r: r.get("ratio_to_peer"))
    scripts.append(write_plot(
        plotdir, "ratio_vs_B", f"fuselstm time / {peer_name} time on {device}, T={shortest}",
        "B (batch)", "ratio (> 1: fuselstm slower)",
        [(f"H={h}", p, False) for (h,), p in ratio_b.items()], logy=False))
    scripts = [s for s in scripts if s]
    if not scripts:
        print("plot.py: fewer than two points per line: nothing to plot", file=sys.stderr)
        return 0
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print(f"plot.py: no gnuplot here; data and scripts are in {plotdir} "
              f"(run: cd {plotdir} && gnuplot *.gp)", file=sys.stderr)
        return 0
    for gp in scripts:
        subprocess.run([gnuplot, os.path.basename(gp)], cwd=plotdir, check=True)
        print(f"plot: {gp[:-3]}.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
