#!/usr/bin/env bash
# Builds the libFuzzer targets over the loaders (clang, ASan + UBSan, CPU-only) and runs them for a
# bounded time in all from the seed corpus (fuzz/corpus/ and the PyTorch fixtures): load_model
# (fuzz_safetensors) half of it, load_weights, load_checkpoint and load_optimizer_state (fuzz_weights,
# fuzz_checkpoint, fuzz_optimizer_state) a sixth each. Fails on any
# finding: a crash, a sanitizer report, a leak, an exception other than FormatError, an input
# slower than 10 s, a single allocation over 512 MB or a process over 2 GB.
# Usage: tools/run_fuzz.sh [SECONDS]   (default 60: the total over the four targets)
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (build parallelism, default 2).
# Findings are left in $FUZZ_BUILD_DIR/fuzz-work/artifacts/; reproduce one with
#   $FUZZ_BUILD_DIR/fuzz/<target> <artifact>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DFUSELSTM_CUDA=OFF -DFUSELSTM_FUZZ=ON -DFUSELSTM_BUILD_TESTS=OFF \
  -DFUSELSTM_BUILD_EXAMPLES=OFF -DFUSELSTM_BUILD_BENCH=OFF >/dev/null
targets=(fuzz_safetensors fuzz_weights fuzz_checkpoint fuzz_optimizer_state)
cmake --build "$build" --target "${targets[@]}" -j "${FUZZ_JOBS:-2}"

failed=0
for target in "${targets[@]}"; do
  if [[ $target == fuzz_safetensors ]]; then time_for=$(( (seconds + 1) / 2 )); else time_for=$(( (seconds + 5) / 6 )); fi
  # The fuzzer adds inputs to its first corpus folder: a scratch copy, never the repository.
  work="$build/fuzz-work/$target"
  rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
  cp fuzz/corpus/*.safetensors tests/fixtures/*.safetensors "$work/corpus/"
  set +e
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  OPENBLAS_NUM_THREADS=1 \
    "$build/fuzz/$target" "$work/corpus" \
    -max_total_time="$time_for" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -max_len=16384 -dict=fuzz/safetensors.dict -artifact_prefix="$work/artifacts/" \
    -print_final_stats=1 >"$work/fuzz.log" 2>&1
  status=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/fuzz.log" | grep -o '[0-9]*$' || true)
  findings=$(find "$work/artifacts" -type f | wc -l)
  echo "$target: ${time_for} s, ${execs:-?} executions, exit status $status, $findings finding(s)"
  if [[ $status -ne 0 || $findings -ne 0 ]]; then
    tail -n 60 "$work/fuzz.log"
    echo "FAIL: see $work/fuzz.log and $work/artifacts/" >&2
    failed=1
  fi
done
[[ $failed -eq 0 ]] || exit 1
echo "PASS"
