#!/usr/bin/python3
"""Merges the rounds of an interleaved suite into one file per implementation.

bench/run_suite.sh --rounds N runs every implementation over the suite's configurations once per
round (OUTDIR/rounds/1/fuselstm.jsonl, OUTDIR/rounds/1/onednn.jsonl, ... OUTDIR/rounds/N/...). For
each file name and configuration key this keeps the row of the median round (the lower median for
an even count), judged by that row's median time, and adds under its figures object
"rounds": {"count": n, "median_ms": [each round's median, in round order], "chosen": round}; rows
that did not run (error, skipped) are kept only when no round ran. Writes OUTDIR/NAME.jsonl for
every NAME found, which bench/report.py reads.

Usage: bench/merge_rounds.py OUTDIR. Python standard library only.
"""

import glob
import json
import os
import sys


def figures_of(row):
    """The object holding a row's times: under its impl's name (fuselstm's under "fuselstm")."""
    for name in (row.get("impl"), "fuselstm"):
        if isinstance(row.get(name), dict) and row[name].get("time_ms"):
            return row[name]
    return None


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    outdir = sys.argv[1]
    rounds = sorted(glob.glob(os.path.join(outdir, "rounds", "*")),
                    key=lambda p: int(os.path.basename(p)) if os.path.basename(p).isdigit() else 0)
    names = sorted({os.path.basename(f) for r in rounds for f in glob.glob(os.path.join(r, "*.jsonl"))})
    for name in names:
        by_key = {}  # key -> [(round, row)]
        order = []
        for r in rounds:
            path = os.path.join(r, name)
            if not os.path.exists(path):
                continue
            with open(path) as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a cut-off line
                    if row["key"] not in by_key:
                        order.append(row["key"])
                    by_key.setdefault(row["key"], []).append((os.path.basename(r), row))
        with open(os.path.join(outdir, name), "w") as out:
            for key in order:
                runs = by_key[key]
                timed = [(figures_of(row)["time_ms"]["median"], rnd, row) for rnd, row in runs
                         if row.get("status") == "ok" and figures_of(row)]
                if not timed:
                    out.write(json.dumps(runs[-1][1]) + "\n")
                    continue
                ranked = sorted(timed, key=lambda t: t[0])
                median_ms, chosen, row = ranked[(len(ranked) - 1) // 2]
                figures_of(row)["rounds"] = {"count": len(timed), "median_ms": [t[0] for t in timed],
                                             "chosen": chosen}
                out.write(json.dumps(row) + "\n")
    print(f"merged {len(rounds)} rounds: {', '.join(names)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
