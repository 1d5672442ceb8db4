#!/usr/bin/env bash
# Configures and builds fuselstm into build/ (Release). CUDA is compiled when the toolkit is
# found (nvcc on PATH or under /usr/local/cuda); extra arguments go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build
