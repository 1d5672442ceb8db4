#!/usr/bin/env bash
# Installs the benchmark's CPU peers in a virtual environment, .venv-peers at the repository root
# (gitignored; another folder with PEERS_VENV=...), and writes .venv-peers/peers.env, the one place
# that says how to run them; bench/run_suite.sh sources it. Idempotent: a second run checks and
# rebuilds only what changed. About 4 GB of disk; needs PyPI, g++ and the nlohmann-json headers.
#
#   oneDNN   PyPI's onednn-devel (headers, libdnnl.so) and onednn: bench/onednn_peer.cpp is built
#            against it with g++ into .venv-peers/bin/onednn_peer (never part of the CMake build).
#   torch    PyPI's torch 2.x, in the same venv, made WITHOUT system site packages so that it, and
#            not Debian's python3-torch 1.13, is the one imported.
#
# Two traps, measured here (2-core Xeon VM, no GPU):
#  1. PyPI's oneDNN is a SYCL build (CPU engine = an OpenCL CPU device, threads from TBB) whose
#     OpenCL configuration (etc/OpenCL/vendors/intel-cpu.icd) names a placeholder path
#     (/opt/anaconda1anaconda2anaconda3/...): creating a CPU engine fails ("could not create an
#     engine", "SYCL cpu devices queried but not found") unless OCL_ICD_FILENAMES names the venv's
#     lib/libintelocl.so. peers.env exports it.
#  2. PyPI's Linux torch is one CUDA build: libtorch.so needs libtorch_cuda.so, which needs the
#     CUDA libraries (the nvidia-* wheels, gigabytes). Installed with --no-deps (plus the small
#     pure-Python packages it imports), `import torch` fails on the CUDA libraries this machine
#     lacks (here libcufile.so.0, libcusparseLt.so.0, libnvshmem_host.so.3; the CUDA 13 toolkit in
#     /usr/local/cuda-13.0 provides the rest). bench/torch_cpu_stubs.py writes a stand-in for each
#     missing one (every symbol torch wants from it aborts if called; none is on the CPU), and
#     peers.env puts them on torch 2.x's LD_LIBRARY_PATH (TORCH2_LD_LIBRARY_PATH: only the peer's
#     process gets it). torch.cuda.is_available() stays False; nn.LSTM runs on the CPU.
#
# Usage: bench/peers_env.sh        (then: source .venv-peers/peers.env)
# Environment: PEERS_VENV, ONEDNN_VERSION (2026.1.0), TORCH_VERSION (2.15.0), CXX (g++).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${PEERS_VENV:-$root/.venv-peers}
onednn_version=${ONEDNN_VERSION:-2026.1.0}
torch_version=${TORCH_VERSION:-2.15.0}
cxx=${CXX:-g++}

if [[ ! -x $venv/bin/python ]]; then
  echo "== venv $venv (no system site packages)" >&2
  /usr/bin/python3 -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)

echo "== oneDNN $onednn_version" >&2
"${pip[@]}" "onednn-devel==$onednn_version" "onednn==$onednn_version"

echo "== torch $torch_version without its CUDA dependencies" >&2
"${pip[@]}" --no-deps "torch==$torch_version"
# What torch imports (its requirements less the nvidia-*, cuda-* and triton packages); numpy
# only to silence its warning.
"${pip[@]}" typing-extensions sympy networkx jinja2 fsspec filelock setuptools numpy

site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
stubs=$venv/torch-cpu-stubs
if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  if ! LD_LIBRARY_PATH=$stubs "$venv/bin/python" -c 'import torch' 2>/dev/null; then
    echo "== stand-ins for the CUDA libraries torch links (bench/torch_cpu_stubs.py)" >&2
    rm -rf "$stubs"
    /usr/bin/python3 "$root/bench/torch_cpu_stubs.py" "$site" "$stubs" >&2
  fi
  torch_libs=$stubs
else
  torch_libs=
fi

peer=$venv/bin/onednn_peer
if [[ ! -x $peer || $root/bench/onednn_peer.cpp -nt $peer ]]; then
  echo "== building $peer" >&2
  "$cxx" -std=c++17 -O2 -Wall -Wextra "$root/bench/onednn_peer.cpp" -I"$venv/include" -L"$venv/lib" -ldnnl \
    -Wl,--disable-new-dtags,-rpath,"$venv/lib" -o "$peer"
fi

env_file=$venv/peers.env
cat > "$env_file" <<EOF
# Written by bench/peers_env.sh: how to run the benchmark's CPU peers (source it).
# oneDNN $onednn_version (PyPI, SYCL build): the CPU engine is the OpenCL CPU device of this file.
export OCL_ICD_FILENAMES=$venv/lib/libintelocl.so
ONEDNN_PEER=$peer
# torch $torch_version (PyPI, CUDA build without the nvidia-* wheels): run as
#   LD_LIBRARY_PATH=\$TORCH2_LD_LIBRARY_PATH \$TORCH2_PYTHON bench/pytorch_peer.py --impl pytorch2 ...
TORCH2_PYTHON=$venv/bin/python
TORCH2_LD_LIBRARY_PATH=$torch_libs
EOF

# Check both before saying so.
# shellcheck disable=SC1090
source "$env_file"
LD_LIBRARY_PATH=$TORCH2_LD_LIBRARY_PATH "$TORCH2_PYTHON" - <<'EOF' >&2
import torch
lstm = torch.nn.LSTM(8, 8)
x = torch.randn(5, 2, 8, requires_grad=True)
y, _ = lstm(x)
y.sum().backward()
assert torch.isfinite(x.grad).all()
print(f"== torch {torch.__version__}: nn.LSTM forward+backward on the CPU ok "
      f"(mkldnn available: {torch.backends.mkldnn.is_available()}, CUDA available: {torch.cuda.is_available()})")
EOF
# No rows: it creates the engine and runs its checks on small shapes.
"$ONEDNN_PEER" --from /dev/null --json /dev/null
echo "== ready: source $env_file" >&2
