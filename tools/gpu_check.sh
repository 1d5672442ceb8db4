#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, the CUDA toolkit, CMake, ninja and PyTorch but no
# package registry, configure (Release, this GPU's architecture), build, run every test, run
# compute-sanitizer, then the benchmark; logs, JSON and a summary table go into OUTDIR.
#
# Usage: tools/gpu_check.sh quick|full OUTDIR [--archive FILE.tar.gz]
#   quick  configure, build the tests and the bench only, every test (one process; the CPU ones
#          take about 30 s), memcheck on a small filter of the CUDA tests, racecheck on small
#          cases (the persistent kernel's shared memory included), the gpu-quick bench suite with
#          the standard algorithm, then with --algorithm persistent and --algorithm graphs (each
#          at most QUICK_PERSISTENT_BUDGET_S, default 60 s); on an H200 with 16 cores (2026-11-29):
#          configure 16 s, build 36 s, tests 37 s, memcheck 2 s, racecheck 20 s, benches 60+46+41 s
#   full   build everything, every test, the same sanitizers and gpu-quick benches, then the gpu
#          bench suite until the time budget (FULL_BUDGET_S, default: what is left of
#          DEADLINE_S = 560 s since the start); rows are written as measured; continue later with
#            bench/run_suite.sh gpu OUTDIR/bench-gpu --build BUILD_DIR --resume
#   --archive FILE  also pack OUTDIR into FILE (one file: the device tool returns few files)
#
# Dependencies from source, for a machine without a registry: run tools/pack_gpu_deps.sh on a
# machine with Debian's packages first; it fills .deps/ (googletest, nlohmann-json, CLI11), which
# this script passes as -DFUSELSTM_DEPS_DIR when present (carry .deps to the GPU machine).
# cuDNN: taken from the toolkit when cudnn.h is there, else from PyTorch's wheel (nvidia.cudnn);
# FUSELSTM_CUDNN_ROOT=... overrides.
# Environment: BUILD_DIR (default build-gpu), CUDA_ARCH (default native, falling back to 90),
#   TESTS_FILTER, MEMCHECK_FILTER, RACECHECK_FILTER (gtest filters; racecheck instruments cuBLAS's
#   kernels slowly: GraphsCuda.* alone ran past 150 s on an H200), FULL_BUDGET_S,
#   QUICK_PERSISTENT_BUDGET_S, QUICK_BENCHES=0 (skip the gpu-quick benches), DEADLINE_S,
#   RESUME_FROM (a bench-gpu/fuselstm.jsonl of an earlier run: full mode continues after its
#   rows), STEP_LIMIT_S (default 240: no step runs longer; a hung kernel or a slow sanitizer then
#   FAILs its step instead of eating the lease).
# Each step is PASS, FAIL or SKIPPED (with the reason); a sanitizer that is missing or cannot
# start (no gtest output, or compute-sanitizer's own start-up error) is SKIPPED, never PASS and
# never FAIL; one that started and then saw the tests crash or fail is FAIL. With a GPU visible
# (nvidia-smi lists one), the step cuda-tests-ran FAILs when any test that names CUDA (in its name
# or its skip message) skipped, when no CUDA test passed, or when the test run did not finish.
# Only cuDNN's wheel directory goes ahead of the toolkit's libraries on LD_LIBRARY_PATH; every
# other Python wheel directory (site-packages, dist-packages) goes after them, also one that was
# already on LD_LIBRARY_PATH. Exit status: 0 when no step failed.
set -uo pipefail

usage() { sed -n '2,38p' "$0" >&2; exit 64; }
[[ $# -ge 2 ]] || usage
mode=$1 outdir=$2
shift 2
archive=
while [[ $# -gt 0 ]]; do
  case $1 in
    --archive) archive=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $mode == quick || $mode == full ]] || usage
[[ -f CMakeLists.txt && -d bench ]] || { echo "gpu_check: run this from the project's root" >&2; exit 64; }

start_all=$(date +%s)
build=${BUILD_DIR:-build-gpu}
memcheck_filter=${MEMCHECK_FILTER:-'DTypes/CudaAgreement.MatchesReference/f32:CudaAgreementTf32.*:SeedRun.CudaMatchesTheSeedInDouble:CudaPersistentPlan.*:DTypes/CudaPersistent.VariableLengthsMatchReference/f32:GraphsCuda.SteadyTrainingLoopReplaysWithoutUpdates'}
racecheck_filter=${RACECHECK_FILTER:-'CudaAgreementTf32.*:DTypes/CudaPersistent.VariableLengthsMatchReference/*'}
tests_filter=${TESTS_FILTER:-'*'}
build_targets=()
[[ $mode == quick ]] && build_targets=(--target fuselstm_tests fuselstm_bench)
quick_persistent_budget=${QUICK_PERSISTENT_BUDGET_S:-60}
deadline=${DEADLINE_S:-560}
step_limit=${STEP_LIMIT_S:-240}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
summary=$outdir/summary.txt
declare -a rows=()
failed=0

# step NAME COMMAND...: runs it with its output in OUTDIR/NAME.log and records PASS/FAIL.
step() {
  local name=$1 t0 rc status
  shift
  t0=$(date +%s)
  echo "== $name: $*" | tee "$outdir/$name.log" >&2
  if declare -F "$1" >/dev/null; then  # a shell function (configure): timeout cannot run it
    "$@" >>"$outdir/$name.log" 2>&1
  else
    timeout --kill-after=10 "$step_limit" "$@" >>"$outdir/$name.log" 2>&1
  fi
  rc=$?
  status=PASS
  if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    status="FAIL (timed out after ${step_limit}s)"; failed=1
  elif [[ $rc -ne 0 ]]; then
    status="FAIL (exit $rc)"; failed=1
  fi
  rows+=("$(printf '%-18s %-46s %6ss' "$name" "$status" "$(($(date +%s) - t0))")")
  echo "   $status; log: $outdir/$name.log" >&2
  return $rc
}
skip() {
  rows+=("$(printf '%-18s %-46s %6ss' "$1" "SKIPPED: $2" 0)")
  echo "== $1: SKIPPED: $2" | tee "$outdir/$1.log" >&2
}
record() {  # record NAME STATUS SECONDS (for steps judged from their log)
  rows+=("$(printf '%-18s %-46s %6ss' "$1" "$2" "$3")")
  [[ $2 == FAIL* ]] && failed=1
  echo "   $2" >&2
}

# --- the machine ------------------------------------------------------------------------------
{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git describe --always --dirty --abbrev=12 2>/dev/null || echo "${FUSELSTM_COMMIT:-unknown (no .git)}")"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || echo "no nvidia-smi"
  command -v nvcc >/dev/null && nvcc --version | tail -2
  cmake --version | head -1
  ninja --version 2>/dev/null | sed 's/^/ninja /'
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
} >"$outdir/machine.log"
cat "$outdir/machine.log" >&2
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)

# --- configure --------------------------------------------------------------------------------
# The CUDA toolkit's nvcc even when it is not on PATH.
if ! command -v nvcc >/dev/null; then
  for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do [[ -x $d/nvcc ]] && PATH=$d:$PATH && break; done
fi
cuda_root=$(dirname "$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")")
cudnn_root=${FUSELSTM_CUDNN_ROOT:-}
if [[ -z $cudnn_root ]] && ! ls "$cuda_root"/include/cudnn.h "$cuda_root"/targets/*/include/cudnn.h >/dev/null 2>&1; then
  # PyTorch's wheel: site-packages/nvidia/cudnn/{include,lib} (a namespace package: no __file__).
  cudnn_root=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)
fi
# Wheel directories already on LD_LIBRARY_PATH (PyTorch's torch/lib, nvidia/*/lib) go after the
# toolkit's libraries; everything else keeps its place ahead of them.
inherited_libs="" inherited_wheel_libs=""
IFS=: read -r -a inherited <<<"${LD_LIBRARY_PATH:-}"
for lib in "${inherited[@]}"; do
  [[ -z $lib ]] && continue
  case $lib in
    */site-packages/* | */dist-packages/*) inherited_wheel_libs+=":$lib" ;;
    *) inherited_libs+=":$lib" ;;
  esac
done
toolkit_libs=""
for lib in "$cuda_root"/lib64 "$cuda_root"/lib "$cuda_root"/targets/*/lib; do
  [[ -d $lib ]] && toolkit_libs+=":$lib"
done
if [[ -n $cudnn_root ]]; then
  # cuDNN 9 loads its sub-libraries (libcudnn_adv.so.9, ...) and, from a wheel, the CUDA libraries
  # it was built with (nvidia/cublas/lib, nvidia/cuda_nvrtc/lib, ...) at run time. Only cuDNN goes
  # first; the toolkit's own libraries (cuBLAS, cudart: what fuselstm is built and measured with)
  # come before the wheel's, which only serve what the toolkit lacks (another major version).
  wheel_libs=""
  for lib in "$(dirname "$cudnn_root")"/*/lib; do
    [[ -d $lib && $lib != "$cudnn_root/lib" ]] && wheel_libs+=":$lib"
  done
  LD_LIBRARY_PATH=$cudnn_root/lib$toolkit_libs$inherited_libs$inherited_wheel_libs$wheel_libs
else
  LD_LIBRARY_PATH=${toolkit_libs#:}$inherited_libs$inherited_wheel_libs
fi
LD_LIBRARY_PATH=${LD_LIBRARY_PATH#:}
export LD_LIBRARY_PATH
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>"$outdir/machine.log"
deps=()
[[ -d .deps ]] && deps=(-DFUSELSTM_DEPS_DIR="$PWD/.deps")
arch=${CUDA_ARCH:-native}
# shellcheck disable=SC2317  # called through step
configure() {
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFUSELSTM_CUDA=ON \
    -DFUSELSTM_BUILD_TESTS=ON -DFUSELSTM_BUILD_BENCH=ON -DCMAKE_CUDA_ARCHITECTURES="$1" \
    ${cudnn_root:+-DFUSELSTM_CUDNN_ROOT="$cudnn_root"} "${deps[@]}"
}
if ! step configure configure "$arch"; then
  if [[ $arch == native ]]; then
    # CMake < 3.24 or no visible GPU: Hopper's architecture.
    rows=("${rows[@]:0:${#rows[@]}-1}")
    failed=0
    rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"  # a fresh language check, same sources
    arch=90
    step configure configure 90
  fi
fi
grep -E "fuselstm:" "$outdir/configure.log" >&2

# --- build and tests --------------------------------------------------------------------------
# Skipped tests of a gtest log that concern CUDA: "cuda" or "gpu" (any case) in the test's name
# or in what it printed between its RUN and SKIPPED lines (the skip message).
cuda_skips() {
  awk '/^\[ RUN      \] / { name = $4; body = ""; next }
       /^\[  SKIPPED \] / && $4 == name { if (tolower(name " " body) ~ /cuda|gpu/) print name; name = ""; next }
       name != "" { body = body " " $0 }' "$1" | sort -u
}

if step build cmake --build "$build" -j "$(nproc)" "${build_targets[@]}"; then
  # The gtest binary itself (one process: one CUDA start-up, not one per test).
  step tests "$build/tests/fuselstm_tests" --gtest_filter="$tests_filter" \
    --gtest_output="xml:$outdir/tests.xml"
  skipped=$(grep -c '^\[  SKIPPED \] .*([0-9]* ms)$' "$outdir/tests.log" || true)
  [[ $skipped -gt 0 ]] && echo "   note: $skipped tests skipped (see tests.log)" >&2
  # A visible GPU and a skipped CUDA test means the GPU path did not run: that is a failure, not a
  # pass; so is a run that did not finish or in which no CUDA test passed.
  if [[ -n $gpu_name ]]; then
    cuda_skipped=$(cuda_skips "$outdir/tests.log")
    cuda_passed=$(grep -ciE '^\[       OK \] .*cuda' "$outdir/tests.log" || true)
    if ! grep -q '^\[==========\] .* ran\.' "$outdir/tests.log"; then
      record cuda-tests-ran "FAIL: the test run did not finish" 0
    elif [[ -n $cuda_skipped ]]; then
      echo "$cuda_skipped" > "$outdir/cuda-tests-ran.log"
      record cuda-tests-ran "FAIL: $(echo "$cuda_skipped" | wc -l) CUDA tests skipped on $gpu_name" 0
    elif [[ $cuda_passed -eq 0 ]]; then
      record cuda-tests-ran "FAIL: no CUDA test passed on $gpu_name" 0
    else
      record cuda-tests-ran "PASS ($cuda_passed CUDA tests passed)" 0
    fi
  fi

  # --- compute-sanitizer: SKIPPED (never PASS) when missing or unable to start ---------------
  sanitizer=$(command -v compute-sanitizer || true)
  for candidate in "$cuda_root"/bin/compute-sanitizer "$cuda_root"/compute-sanitizer/compute-sanitizer; do
    [[ -z $sanitizer && -x $candidate ]] && sanitizer=$candidate
  done
  sanitize() {  # sanitize NAME TOOL FILTER
    local name=$1 tool=$2 filter=$3 t0 rc
    if [[ -z $sanitizer ]]; then skip "$name" "compute-sanitizer not found"; return; fi
    if [[ -z $gpu_name ]]; then skip "$name" "no GPU visible (nvidia-smi)"; return; fi
    t0=$(date +%s)
    echo "== $name: $tool on --gtest_filter=$filter" | tee "$outdir/$name.log" >&2
    timeout --kill-after=10 "$step_limit" "$sanitizer" --tool "$tool" --error-exitcode 99 \
      "$build/tests/fuselstm_tests" --gtest_filter="$filter" >>"$outdir/$name.log" 2>&1
    rc=$?
    local seconds=$(($(date +%s) - t0)) log=$outdir/$name.log
    # compute-sanitizer's own start-up failures (its lines start with "========= "): it never
    # instrumented the tests, so it says nothing about them.
    # ("========= Error: Target application terminated before first instrumented API call",
    # "========= Error: No attachable process found", ...; not the errors it finds in the tests,
    # which read "========= Invalid ...", "========= Program hit ...", "========= ERROR SUMMARY").
    local startup='^========= (Error: |Internal Sanitizer Error)'
    # The all-clear line: memcheck (and initcheck, synccheck) end with "ERROR SUMMARY: 0 errors",
    # racecheck with "RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)".
    local clean='^========= (ERROR SUMMARY: 0 errors|RACECHECK SUMMARY: 0 hazards displayed \(0 errors, 0 warnings\))'
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
      record "$name" "FAIL (timed out after ${step_limit}s)" "$seconds"
    elif ! grep -q '^\[==========\] Running' "$log"; then
      record "$name" "SKIPPED: sanitizer could not start" "$seconds"  # see the log's tail
    elif grep -qE "$startup" "$log"; then
      record "$name" "SKIPPED: sanitizer could not instrument the tests" "$seconds"
    elif [[ -n $(cuda_skips "$log") ]]; then
      record "$name" "FAIL: CUDA tests skipped under the sanitizer" "$seconds"
    elif [[ $rc -eq 0 ]] && grep -qE "$clean" "$log" &&
         grep -q '^\[==========\] .* ran\.' "$log" && grep -q '^\[  PASSED  \] [1-9]' "$log"; then
      record "$name" PASS "$seconds"
    else
      record "$name" "FAIL (exit $rc)" "$seconds"  # errors found, a test failed, or the run crashed
    fi
  }
  sanitize memcheck memcheck "$memcheck_filter"
  sanitize racecheck racecheck "$racecheck_filter"

  # --- the benchmark --------------------------------------------------------------------------
  if [[ -z $gpu_name || ${QUICK_BENCHES:-1} == 0 ]]; then
    why="no GPU visible (nvidia-smi)"
    [[ -n $gpu_name ]] && why="QUICK_BENCHES=0"
    skip bench-gpu-quick "$why"
    skip bench-gpu-quick-persistent "$why"
    skip bench-gpu-quick-graphs "$why"
  fi
  if [[ -n $gpu_name && ${QUICK_BENCHES:-1} != 0 ]]; then
    step bench-gpu-quick bench/run_suite.sh gpu-quick "$outdir/bench-quick" --build "$build" \
      -- --algorithm standard
    # The persistent kernel (the bench validates each shape in f64 before it times it). Shapes it
    # is not eligible for (B = 256) time the standard fallback.
    step bench-gpu-quick-persistent bench/run_suite.sh gpu-quick "$outdir/bench-quick-persistent" \
      --build "$build" --budget-s "$quick_persistent_budget" -- --algorithm persistent
    # CUDA graphs of the standard algorithm's time loops.
    step bench-gpu-quick-graphs bench/run_suite.sh gpu-quick "$outdir/bench-quick-graphs" \
      --build "$build" --budget-s "$quick_persistent_budget" -- --algorithm graphs
  fi
  if [[ -n $gpu_name && $mode == full ]]; then
    budget=${FULL_BUDGET_S:-$((deadline - ($(date +%s) - start_all)))}
    resume=()
    if [[ -n ${RESUME_FROM:-} ]]; then  # a previous lease's rows: continue the suite after them
      mkdir -p "$outdir/bench-gpu" && cp "$RESUME_FROM" "$outdir/bench-gpu/fuselstm.jsonl"
      resume=(--resume)
    fi
    if [[ $budget -gt 30 ]]; then
      # run_suite starts no shape after the budget; the limit leaves the last one a minute.
      step_limit=$((budget + 60)) step bench-gpu bench/run_suite.sh gpu "$outdir/bench-gpu" \
        --build "$build" --budget-s "$budget" "${resume[@]}"
      echo "   to continue: bench/run_suite.sh gpu $outdir/bench-gpu --build $build --resume" >&2
    else
      skip bench-gpu "no time left in this command (budget ${budget}s); run it with --resume"
    fi
  fi
else
  skip tests "the build failed"
fi

# --- summary ----------------------------------------------------------------------------------
{
  echo "gpu_check $mode on ${gpu_name:-no GPU} ($(date -u +%FT%TZ)), CUDA arch $arch, cuDNN root ${cudnn_root:-toolkit}"
  head -2 "$outdir/machine.log" | tail -1
  printf '%-18s %-46s %7s\n' step status time
  printf '%s\n' "${rows[@]}"
  echo "total $(($(date +%s) - start_all)) s; logs in $outdir"
  for t in "$outdir"/bench-*/table.txt; do [[ -f $t ]] && { echo; echo "# ${t#"$outdir"/}"; cat "$t"; }; done
} | tee "$summary"
if [[ -n $archive ]]; then
  tar -C "$(dirname "$outdir")" -czf "$archive" "$(basename "$outdir")" && echo "packed: $archive" >&2
fi
exit $failed
