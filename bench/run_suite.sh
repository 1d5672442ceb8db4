#!/usr/bin/env bash
# Runs a named suite and writes everything into one folder:
#   OUTDIR/fuselstm.jsonl   fuselstm_bench's rows (cuDNN's figures inside, on the GPU)
#   OUTDIR/pytorch.jsonl    PyTorch nn.LSTM on the same shapes (CPU suites; GPU with --pytorch)
#   OUTDIR/table.txt        the readable table with the ratio to the peer (bench/report.py)
#   OUTDIR/merged.json      rows merged by configuration
#   OUTDIR/plots/*.png      gnuplot plots (bench/plot.py; data and scripts only without gnuplot)
#   OUTDIR/*.log            each program's stderr
#
# Usage: bench/run_suite.sh SUITE OUTDIR [options] [-- extra fuselstm_bench arguments]
#   SUITE       smoke | cpu | long-cpu | gpu-quick | gpu | long-gpu
#   --build DIR     the build folder holding bench/fuselstm_bench (default: build)
#   --device DEV    cuda:N for the GPU suites (default cuda:0)
#   --threads N     BLAS and PyTorch threads on the CPU (default: nproc)
#   --resume        keep OUTDIR/fuselstm.jsonl and skip the configurations it already has
#   --budget-s N    start no configuration after N seconds (a later --resume continues)
#   --pytorch       also run the PyTorch peer on a GPU suite or long-cpu (it runs on smoke and cpu)
#   --no-pytorch    never run the PyTorch peer
# Environment: PYTHON, the interpreter with torch for the peer (default: /usr/bin/python3, or the
# python3 on PATH, whichever imports torch).
# Exit status: the bench's (0 ok, 1 error rows, 2 validation failed, 3 cuDNN disagreed), or the
# PyTorch peer's when the bench succeeded.
set -uo pipefail

usage() { sed -n '2,24p' "$0" >&2; exit 64; }
[[ $# -ge 2 ]] || usage
suite=$1 outdir=$2
shift 2
build=build device=cuda:0 threads=$(nproc) resume=() budget=() pytorch=auto extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --resume) resume=(--resume); shift ;;
    --budget-s) budget=(--budget-s "$2"); shift 2 ;;
    --pytorch) pytorch=yes; shift ;;
    --no-pytorch) pytorch=no; shift ;;
    --) shift; extra=("$@"); break ;;
    *) usage ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
bench=$build/bench/fuselstm_bench
[[ -x $bench ]] || { echo "run_suite: no $bench (build with -DFUSELSTM_BUILD_BENCH=ON)" >&2; exit 64; }
case $suite in
  smoke | cpu) device=cpu; [[ $pytorch == auto ]] && pytorch=yes ;;
  # long-cpu: PyTorch 1.13's CPU nn.LSTM had not finished its first T=100k call after 12 minutes
  # here (2 cores, loaded): ask for it with --pytorch. It times store_all rows only.
  long-cpu) device=cpu; [[ $pytorch == auto ]] && pytorch=no ;;
  gpu-quick | gpu | long-gpu) [[ $pytorch == auto ]] && pytorch=no ;;
  *) usage ;;
esac
mkdir -p "$outdir"
# Both sides get the same thread count; OpenBLAS reads it when it loads.
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads

# The suites' repetitions: the GPU ones must fit a 10-minute command (each row is written as soon
# as it is measured, so a cut-off run keeps what it finished).
case $suite in
  smoke) reps=(--warmup 1 --reps 3) ;;
  cpu) reps=(--warmup 1 --reps 5 --max-seconds 20) ;;
  gpu-quick) reps=(--warmup 2 --reps 10 --max-seconds 5) ;;
  gpu) reps=(--warmup 1 --reps 5 --max-seconds 10) ;;
  # One call of T=1M takes tens of seconds: 3 repetitions after one warm-up (use --budget-s so
  # that a GPU command starts no row it cannot finish in its 10 minutes; --resume continues).
  long-cpu) reps=(--warmup 1 --reps 3 --max-seconds 60) ;;
  long-gpu) reps=(--warmup 1 --reps 3 --max-seconds 10) ;;
esac

echo "== fuselstm_bench --suite $suite on $device -> $outdir" >&2
"$bench" --suite "$suite" --device "$device" --json "$outdir/fuselstm.jsonl" "${reps[@]}" \
  "${resume[@]}" "${budget[@]}" "${extra[@]}" 2> >(tee "$outdir/fuselstm.log" >&2)
status=$?

# The PyTorch peer's interpreter: $PYTHON, else the first of Debian's /usr/bin/python3 and the
# python3 on PATH that can import torch.
torch_python=${PYTHON:-}
if [[ -z $torch_python ]]; then
  for candidate in /usr/bin/python3 "$(command -v python3)"; do
    if [[ -x $candidate ]] && "$candidate" -c 'import torch' 2>/dev/null; then
      torch_python=$candidate
      break
    fi
  done
fi
if [[ $pytorch == yes ]]; then
  if [[ -n $torch_python ]]; then
    echo "== PyTorch nn.LSTM peer on the same shapes ($threads threads)" >&2
    "$torch_python" "$here/pytorch_peer.py" --from "$outdir/fuselstm.jsonl" --json "$outdir/pytorch.jsonl" \
      --threads "$threads" "${reps[@]}" 2> >(tee "$outdir/pytorch.log" >&2)
    peer_status=$?
    [[ $status -eq 0 ]] && status=$peer_status
  else
    echo "== PyTorch peer skipped: no python3 here can import torch (set PYTHON=...)" | tee "$outdir/pytorch.log" >&2
  fi
fi

python3 "$here/report.py" "$outdir" || status=${status:-1}
python3 "$here/plot.py" "$outdir" 2> >(tee "$outdir/plot.log" >&2) || true
exit "$status"
