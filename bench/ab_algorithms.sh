#!/usr/bin/env bash
# The recurrent algorithms side by side on the host (what RecurrentAlgorithm::automatic's choice
# rests on): each shape timed with --algorithm standard and --algorithm persistent, interleaved in
# rounds, the median round per (shape, algorithm) printed with their ratio.
#
# Usage: bench/ab_algorithms.sh [--build DIR] [--rounds N] [--reps N] [SHAPE ...]
#   SHAPE  "T,B,H[,L]" with X = H (default: the cpu suite's shapes)
# Environment passes through (OPENBLAS_CORETYPE, FUSELSTM_NUM_THREADS, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
build=build rounds=3 reps=5
shapes=()
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) shapes+=("$1"); shift ;;
  esac
done
if ((${#shapes[@]} == 0)); then
  shapes=("1000,16,256" "1000,64,256" "1000,16,512" "1000,64,512" "200,32,512,2" "10000,1,128"
          "1000,1,64" "200,256,512")
fi
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for ((r = 1; r <= rounds; r++)); do
  for shape in "${shapes[@]}"; do
    IFS=, read -r T B H L <<<"$shape"
    for algorithm in standard persistent; do
      us=$("$build/bench/fuselstm_bench" --device cpu -T "$T" -B "$B" -X "$H" -H "$H" -L "${L:-1}" \
             --algorithm "$algorithm" --reps "$reps" --no-peer 2>&1 |
           grep -oE '[0-9.]+ us/step' | head -1 | cut -d' ' -f1)
      echo "$shape $algorithm ${us:-nan}" | tee -a "$results" >&2
    done
  done
done
python3 - "$results" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    shape, algorithm, us = line.split()
    runs[shape, algorithm].append(float(us))
shapes = list(dict.fromkeys(s for s, _ in runs))
print(f"{'T,B,H[,L]':>14} {'standard':>10} {'persistent':>11} {'ratio':>6}   (us per fwd+bwd step, median round)")
for s in shapes:
    a, b = statistics.median(runs[s, "standard"]), statistics.median(runs[s, "persistent"])
    print(f"{s:>14} {a:10.1f} {b:11.1f} {b / a:6.2f}")
PY
