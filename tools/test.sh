#!/usr/bin/env bash
# Installs what is missing, builds (the library, its tests and the Python package), and runs every
# test: GoogleTest and the Python package's pytest suite, both through CTest (GPU tests skip with
# the reason when no CUDA device is usable).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh --python
tools/python_env.sh
tools/build.sh -DFUSELSTM_PYTHON=ON -DPython_EXECUTABLE="$PWD/.venv/bin/python" "$@"
ctest --test-dir build --output-on-failure -j2
