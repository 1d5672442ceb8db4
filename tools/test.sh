#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (GPU tests skip with the reason when no
# CUDA device is usable).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh "$@"
ctest --test-dir build --output-on-failure -j2
