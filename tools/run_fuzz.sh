#!/usr/bin/env bash
# Builds the libFuzzer target over the weight-file loader (clang, ASan + UBSan, CPU-only) and runs
# it for a bounded time from the seed corpus (fuzz/corpus/ and the PyTorch fixtures). Fails on any
# finding: a crash, a sanitizer report, a leak, an exception other than FormatError, an input
# slower than 10 s, a single allocation over 512 MB or a process over 2 GB.
# Usage: tools/run_fuzz.sh [SECONDS]   (default 60)
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (build parallelism, default 2).
# Findings are left in $FUZZ_BUILD_DIR/fuzz-work/artifacts/; reproduce one with
#   $FUZZ_BUILD_DIR/fuzz/fuzz_safetensors <artifact>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DFUSELSTM_CUDA=OFF -DFUSELSTM_FUZZ=ON -DFUSELSTM_BUILD_TESTS=OFF \
  -DFUSELSTM_BUILD_EXAMPLES=OFF -DFUSELSTM_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target fuzz_safetensors -j "${FUZZ_JOBS:-2}"

# The fuzzer adds inputs to its first corpus folder: a scratch copy, never the repository.
work="$build/fuzz-work"
rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
cp fuzz/corpus/*.safetensors tests/fixtures/*.safetensors "$work/corpus/"

set +e
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
OPENBLAS_NUM_THREADS=1 \
  "$build/fuzz/fuzz_safetensors" "$work/corpus" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
  -max_len=16384 -dict=fuzz/safetensors.dict -artifact_prefix="$work/artifacts/" \
  -print_final_stats=1 >"$work/fuzz.log" 2>&1
status=$?
set -e

execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/fuzz.log" | grep -o '[0-9]*$' || true)
findings=$(find "$work/artifacts" -type f | wc -l)
echo "fuzz_safetensors: ${seconds} s, ${execs:-?} executions, exit status $status, $findings finding(s)"
if [[ $status -ne 0 || $findings -ne 0 ]]; then
  tail -n 60 "$work/fuzz.log"
  echo "FAIL: see $work/fuzz.log and $work/artifacts/" >&2
  exit 1
fi
grep -E '^#[0-9]+[[:space:]]+DONE|^stat::' "$work/fuzz.log" || true
echo "PASS"
