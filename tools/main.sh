#!/usr/bin/env bash
# The main job: installs what is missing, builds, runs the seed's toy example and a short bench,
# on the GPU when one is usable, else on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh
build/examples/toy_seed "$@"
if [[ -x build/bench/fuselstm_bench ]]; then
  build/bench/fuselstm_bench --suite short
fi
