#!/usr/bin/env bash
# Runs a named suite and writes everything into one folder:
#   OUTDIR/fuselstm.jsonl   fuselstm_bench's rows (cuDNN's figures inside, on the GPU)
#   OUTDIR/pytorch.jsonl    PyTorch nn.LSTM on the same shapes (CPU suites; GPU with --pytorch):
#                           Debian's python3-torch 1.13
#   OUTDIR/onednn.jsonl     oneDNN's LSTM primitive (bench/onednn_peer.cpp)      } the CPU peers of
#   OUTDIR/pytorch2.jsonl   PyPI's torch 2.x nn.LSTM (bench/pytorch_peer.py)     } .venv-peers
#   OUTDIR/fuselstm-variant.jsonl  fuselstm again under --variant-env's environment (if given)
#   OUTDIR/rounds/R/*.jsonl each round's rows when --rounds > 1 (the files above are then the
#                           median rounds, bench/merge_rounds.py)
#   OUTDIR/table.txt        the readable table with the ratio to the peer(s) (bench/report.py)
#   OUTDIR/merged.json      rows merged by configuration
#   OUTDIR/plots/*.png      gnuplot plots (bench/plot.py; data and scripts only without gnuplot)
#   OUTDIR/*.log            each program's stderr
#
# Usage: bench/run_suite.sh SUITE OUTDIR [options] [-- extra fuselstm_bench arguments]
#   SUITE       smoke | cpu | cpu-quick | long-cpu | gpu-quick | gpu | long-gpu
#               (cpu-quick: 4 of cpu's 8 shapes, the cheapest, for a loaded machine)
#   --build DIR     the build folder holding bench/fuselstm_bench (default: build)
#   --device DEV    cuda:N for the GPU suites (default cuda:0)
#   --threads N     BLAS, oneDNN and PyTorch threads on the CPU (default: nproc)
#   --rounds N      run every implementation over the suite N times, interleaved (round r starts
#                   with the r-th implementation), and keep each configuration's median round
#                   (default: 3 for cpu and cpu-quick, 1 otherwise)
#   --resume        keep OUTDIR/fuselstm.jsonl and skip the configurations it already has
#                   (one round only)
#   --budget-s N    start no configuration after N seconds (a later --resume continues)
#   --pytorch       also run the PyTorch 1.13 peer on a GPU suite or long-cpu (it runs on smoke, cpu)
#   --no-pytorch    never run the PyTorch 1.13 peer
#   --peers         run oneDNN and torch 2.x (.venv-peers) on any CPU suite (default: cpu, cpu-quick,
#                   when .venv-peers/peers.env exists)
#   --no-peers      never run them
#   --variant-env VAR=VALUE  also run fuselstm with this in its environment, e.g.
#                   OPENBLAS_CORETYPE=SkylakeX (OpenBLAS 0.3.21 takes Prescott kernels on this VM)
# Environment: PYTHON, the interpreter with torch 1.13 for the peer (default: /usr/bin/python3, or
# the python3 on PATH, whichever imports torch); PEERS_VENV (default: .venv-peers).
#
# The CPU peers (oneDNN 3.x's LSTM primitive and PyTorch 2.x from PyPI) live in a virtual
# environment; install them once with
#   bench/peers_env.sh          # ~4 GB: onednn-devel, onednn, torch --no-deps; builds onednn_peer
# which writes .venv-peers/peers.env (OCL_ICD_FILENAMES for PyPI's SYCL oneDNN, the stand-ins that
# let PyPI's CUDA torch load without the nvidia-* wheels): see that script's header.
#
# Exit status: the first failure, the bench's (1 error rows, 2 validation failed, 3 cuDNN
# disagreed) or a peer's; 0 when everything succeeded.
set -uo pipefail

usage() { sed -n '2,45p' "$0" >&2; exit 64; }
[[ $# -ge 2 ]] || usage
suite=$1 outdir=$2
shift 2
build=build device=cuda:0 threads=$(nproc) resume=() budget=() pytorch=auto peers=auto rounds=
variant='' extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --resume) resume=(--resume); shift ;;
    --budget-s) budget=(--budget-s "$2"); shift 2 ;;
    --pytorch) pytorch=yes; shift ;;
    --no-pytorch) pytorch=no; shift ;;
    --peers) peers=yes; shift ;;
    --no-peers) peers=no; shift ;;
    --rounds) rounds=$2; shift 2 ;;
    --variant-env) variant=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) usage ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
bench=$build/bench/fuselstm_bench
[[ -x $bench ]] || { echo "run_suite: no $bench (build with -DFUSELSTM_BUILD_BENCH=ON)" >&2; exit 64; }
case $suite in
  smoke | cpu | cpu-quick) device=cpu; [[ $pytorch == auto ]] && pytorch=yes ;;
  # long-cpu: PyTorch 1.13's CPU nn.LSTM had not finished its first T=100k call after 12 minutes
  # here (2 cores, loaded): ask for it with --pytorch. It times store_all rows only.
  long-cpu) device=cpu; [[ $pytorch == auto ]] && pytorch=no ;;
  gpu-quick | gpu | long-gpu) [[ $pytorch == auto ]] && pytorch=no; [[ $peers == auto ]] && peers=no ;;
  *) usage ;;
esac
[[ -z $rounds ]] && { [[ $suite == cpu* ]] && rounds=3 || rounds=1; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || usage
if [[ $rounds -gt 1 && ${#resume[@]} -gt 0 ]]; then
  echo "run_suite: --resume works on one round only" >&2
  exit 64
fi
mkdir -p "$outdir"
# Every implementation gets the same thread count; OpenBLAS and MKL read it when they load.
export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads

# The suites' repetitions: the GPU ones must fit a 10-minute command (each row is written as soon
# as it is measured, so a cut-off run keeps what it finished). cpu runs 3 interleaved rounds of 3.
case $suite in
  smoke) reps=(--warmup 1 --reps 3) ;;
  cpu | cpu-quick) reps=(--warmup 1 --reps 3 --max-seconds 10) ;;
  gpu-quick) reps=(--warmup 2 --reps 10 --max-seconds 5) ;;
  gpu) reps=(--warmup 1 --reps 5 --max-seconds 10) ;;
  # One call of T=1M takes tens of seconds: 3 repetitions after one warm-up (use --budget-s so
  # that a GPU command starts no row it cannot finish in its 10 minutes; --resume continues).
  long-cpu) reps=(--warmup 1 --reps 3 --max-seconds 60) ;;
  long-gpu) reps=(--warmup 1 --reps 3 --max-seconds 10) ;;
esac

# The PyTorch 1.13 peer's interpreter: $PYTHON, else the first of Debian's /usr/bin/python3 and
# the python3 on PATH that can import torch.
torch_python=${PYTHON:-}
if [[ $pytorch == yes && -z $torch_python ]]; then
  for candidate in /usr/bin/python3 "$(command -v python3)"; do
    if [[ -x $candidate ]] && "$candidate" -c 'import torch' 2>/dev/null; then
      torch_python=$candidate
      break
    fi
  done
  [[ -n $torch_python ]] ||
    echo "== PyTorch 1.13 peer skipped: no python3 here can import torch (set PYTHON=...)" | tee "$outdir/pytorch.log" >&2
fi
# oneDNN and torch 2.x: bench/peers_env.sh's venv.
peers_env=${PEERS_VENV:-$here/../.venv-peers}/peers.env
if [[ $peers == auto ]]; then
  if [[ $suite != cpu && $suite != cpu-quick ]]; then
    peers=no
  elif [[ -f $peers_env ]]; then
    peers=yes
  else
    echo "== oneDNN and PyTorch 2.x peers skipped: no $peers_env (run bench/peers_env.sh)" >&2
    peers=no
  fi
fi
if [[ $peers == yes ]]; then
  [[ -f $peers_env ]] || { echo "run_suite: no $peers_env: run bench/peers_env.sh first" >&2; exit 64; }
  # shellcheck disable=SC1090
  source "$peers_env"
fi

# The implementations, in the order round 1 runs them (round r starts with the r-th).
impls=(fuselstm)
[[ -n $variant ]] && impls+=(fuselstm-variant)
[[ $peers == yes ]] && impls+=(onednn pytorch2)
[[ $pytorch == yes && -n $torch_python ]] && impls+=(pytorch)
[[ -n $variant ]] && echo "$variant" > "$outdir/variant.txt"

status=
# The exit status: the first failure (0 when none).
note() { if [[ -z $status || $status -eq 0 ]]; then status=$1; fi; }
shapes=  # the fuselstm rows the peers read (ceilings included): the latest round's

run_impl() {  # run_impl IMPL DIR
  local impl=$1 dir=$2
  case $impl in
    fuselstm | fuselstm-variant)
      local env=() name=fuselstm
      [[ $impl == fuselstm-variant ]] && env=("$variant") name=fuselstm-variant
      echo "== fuselstm_bench --suite $suite on $device ${env[*]} -> $dir/$name.jsonl" >&2
      env "${env[@]}" "$bench" --suite "$suite" --device "$device" --json "$dir/$name.jsonl" "${reps[@]}" \
        "${resume[@]}" "${budget[@]}" "${extra[@]}" 2> >(tee "$dir/$name.log" >&2)
      note $?
      [[ $impl == fuselstm ]] && shapes=$dir/fuselstm.jsonl
      ;;
    onednn)
      echo "== oneDNN LSTM primitive peer ($threads threads) -> $dir/onednn.jsonl" >&2
      "$ONEDNN_PEER" --from "$shapes" --json "$dir/onednn.jsonl" --threads "$threads" "${reps[@]}" \
        2> >(tee "$dir/onednn.log" >&2)
      note $?
      python3 "$here/peer_figures.py" onednn "$dir/onednn.jsonl" || note 1
      ;;
    pytorch2)
      echo "== PyTorch 2.x nn.LSTM peer ($threads threads) -> $dir/pytorch2.jsonl" >&2
      LD_LIBRARY_PATH=$TORCH2_LD_LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$TORCH2_PYTHON" \
        "$here/pytorch_peer.py" --impl pytorch2 --from "$shapes" --json "$dir/pytorch2.jsonl" \
        --threads "$threads" "${reps[@]}" 2> >(tee "$dir/pytorch2.log" >&2)
      note $?
      ;;
    pytorch)
      echo "== PyTorch $("$torch_python" -c 'import torch; print(torch.__version__)' 2>/dev/null) nn.LSTM peer" \
        "($threads threads) -> $dir/pytorch.jsonl" >&2
      "$torch_python" "$here/pytorch_peer.py" --from "$shapes" --json "$dir/pytorch.jsonl" \
        --threads "$threads" "${reps[@]}" 2> >(tee "$dir/pytorch.log" >&2)
      note $?
      ;;
  esac
}

if [[ $rounds -eq 1 ]]; then
  for impl in "${impls[@]}"; do run_impl "$impl" "$outdir"; done
else
  rm -rf "$outdir/rounds"
  n=${#impls[@]}
  for ((r = 1; r <= rounds; r++)); do
    dir=$outdir/rounds/$r
    mkdir -p "$dir"
    echo "== round $r of $rounds" >&2
    for ((k = 0; k < n; k++)); do
      impl=${impls[$(((k + r - 1) % n))]}
      # The peers read the shapes from a fuselstm run: this round's, or the last one's.
      [[ -z $shapes && $impl != fuselstm ]] && run_impl fuselstm "$dir"
      run_impl "$impl" "$dir"
    done
  done
  python3 "$here/merge_rounds.py" "$outdir" || note 1
fi

python3 "$here/report.py" "$outdir" || note 1
python3 "$here/plot.py" "$outdir" 2> >(tee "$outdir/plot.log" >&2) || true
exit "${status:-0}"
