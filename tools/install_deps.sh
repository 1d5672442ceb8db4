#!/usr/bin/env bash
# Installs, from Debian's packages, whatever the build, the tests and the examples need and this
# machine lacks. Safe to re-run: it calls apt-get only when something is missing.
#   tools/install_deps.sh            build + tests + examples
#   tools/install_deps.sh --fuzz     also clang and libFuzzer (CI's fuzzing step)
#   tools/install_deps.sh --torch    also PyTorch and numpy (the CPU bench peer, the fixture script)
#   tools/install_deps.sh --python   also what the Python package builds with (headers, venv)
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config googletest libgtest-dev libopenblas-dev
          libdnnl-dev  # oneDNN: the float32 host GEMMs (OpenBLAS 0.3.21 misses recent CPUs)
          nlohmann-json3-dev libcli11-dev gnuplot-nox
          libblas3)  # libblas3: the reference BLAS the bitwise tests also run on
for arg in "$@"; do
  case $arg in
    --fuzz) packages+=(clang libfuzzer-14-dev libclang-rt-14-dev) ;;
    --torch) packages+=(python3-torch python3-numpy) ;;
    --python) packages+=(python3-dev python3-venv python3-torch python3-numpy) ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
