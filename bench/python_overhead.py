#!/usr/bin/env python3
"""The Python package's row of the CPU bench: fuselstm.torch.LSTM beside torch.nn.LSTM on the same
shape and threads, and the Python layer's overhead against the C++ bench on the same work.

Each round times, in turn, the C++ bench (build/bench/fuselstm_bench, its median), fuselstm.torch.LSTM
and torch.nn.LSTM: forward then backward of sum(y*dy) + sum(hT*dhT) + sum(cT*dcT) in float32 with
dx, dh0, dc0 and every parameter gradient, gradients cleared first. Rounds are interleaved; the
medians of the rounds' medians are reported as microseconds per time step.

    OPENBLAS_NUM_THREADS=2 PYTHONPATH=build/python .venv/bin/python bench/python_overhead.py \
        [-T 1000 -B 16 -X 256 -H 256 --rounds 3 --reps 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("-T", type=int, default=1000)
p.add_argument("-B", type=int, default=16)
p.add_argument("-X", type=int, default=256)
p.add_argument("-H", type=int, default=256)
p.add_argument("-L", type=int, default=1)
p.add_argument("--rounds", type=int, default=3)
p.add_argument("--reps", type=int, default=5)
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--bench", default=os.path.join(os.path.dirname(__file__), "..", "build", "bench",
                                               "fuselstm_bench"))
ARGS = p.parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(var, str(ARGS.threads))

import torch  # noqa: E402  (after the thread variables)

import fuselstm.torch as ft  # noqa: E402


def time_module(cls):
    torch.manual_seed(1)
    lstm = cls(ARGS.X, ARGS.H, num_layers=ARGS.L)
    T, B, H, L = ARGS.T, ARGS.B, ARGS.H, ARGS.L
    x = (torch.rand(T, B, ARGS.X) * 2 - 1).requires_grad_()
    h0 = (torch.rand(L, B, H) - 0.5).requires_grad_()
    c0 = (torch.rand(L, B, H) - 0.5).requires_grad_()
    dy, dhT, dcT = torch.rand(T, B, H), torch.rand(L, B, H), torch.rand(L, B, H)

    def call():
        lstm.zero_grad(set_to_none=False)
        x.grad = h0.grad = c0.grad = None
        y, (hT, cT) = lstm(x, (h0, c0))
        torch.autograd.backward([y, hT, cT], [dy, dhT, dcT])

    call()  # warm-up
    times = []
    for _ in range(ARGS.reps):
        begin = time.perf_counter()
        call()
        times.append((time.perf_counter() - begin) / T * 1e6)
    return statistics.median(times)


def time_cpp():
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as f:
        subprocess.run([ARGS.bench, "--device", "cpu", "-T", str(ARGS.T), "-B", str(ARGS.B),
                        "-X", str(ARGS.X), "-H", str(ARGS.H), "-L", str(ARGS.L),
                        "--reps", str(ARGS.reps), "--json", f.name],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        row = json.loads(open(f.name).readline())
        return row["fuselstm"]["us_per_step"]


def main():
    torch.set_num_threads(ARGS.threads)
    rounds = {"C++ bench": [], "fuselstm.torch.LSTM": [], "torch.nn.LSTM": []}
    for r in range(ARGS.rounds):
        rounds["C++ bench"].append(time_cpp())
        rounds["fuselstm.torch.LSTM"].append(time_module(ft.LSTM))
        rounds["torch.nn.LSTM"].append(time_module(torch.nn.LSTM))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in rounds.items()),
              file=sys.stderr)
    med = {k: statistics.median(v) for k, v in rounds.items()}
    print(f"T={ARGS.T} B={ARGS.B} X={ARGS.X} H={ARGS.H} L={ARGS.L}, {ARGS.threads} threads, "
          f"torch {torch.__version__}; us per step (forward + backward), median of "
          f"{ARGS.rounds} rounds:")
    for k, v in med.items():
        print(f"  {k:22s} {v:9.1f}")
    print(f"  Python layer overhead vs C++: {100 * (med['fuselstm.torch.LSTM'] / med['C++ bench'] - 1):+.1f}%")
    print(f"  fuselstm.torch.LSTM / torch.nn.LSTM: {med['fuselstm.torch.LSTM'] / med['torch.nn.LSTM']:.2f}")


if __name__ == "__main__":
    main()
