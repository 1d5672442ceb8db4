#!/usr/bin/python3
"""PyTorch's nn.LSTM as the peer, on the shapes of a fuselstm_bench JSON file.

For every row of --from (one JSON object per line, as fuselstm_bench --json writes), times the same
work with torch.nn.LSTM in float32: forward, then backward of the same scalar J (gradients dy, dhT,
dcT given; dx, dh0, dc0 and every parameter gradient computed), gradients cleared first, and writes
one row per configuration with the same fields (impl --impl, "pytorch" by default, the figures
under the same name; the same "key"). The standard tanh cell only (PyTorch has no identity cell
variant); other rows are recorded as skipped.

Run it with Debian's /usr/bin/python3 (python3-torch 1.13, impl "pytorch"), or with PyPI's torch 2.x
in bench/peers_env.sh's venv (impl "pytorch2": bench/run_suite.sh cpu runs both). Each row records
torch_version, the BLAS, whether oneDNN (mkldnn) is available and which path nn.LSTM took (torch
2.x's CPU nn.LSTM calls oneDNN's RNN primitive layer by layer; 1.13's loops over steps in ATen).
Thread count: --threads, applied to torch.set_num_threads and, before torch loads, to
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS.
"""

import argparse
import datetime
import json
import os
import re
import socket
import sys
import time

from peer_figures import figures


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--from", dest="source", required=True, help="fuselstm_bench JSON lines")
    p.add_argument("--json", required=True, help="output: one JSON object per configuration")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--max-seconds", type=float, default=30.0,
                   help="fewer reps (at least 3) when one configuration would time longer")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--impl", default="pytorch",
                   help="the rows' impl and the name of their figures (pytorch2 for torch 2.x)")
    return p.parse_args()


ARGS = parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(ARGS.threads))

import torch  # noqa: E402  (after the thread variables, which the BLAS reads when it loads)


def blas_in_use():
    """The BLAS torch's CPU products call. PyPI's torch links MKL into libtorch_cpu.so (its build
    settings say BLAS_INFO=mkl); Debian's calls libblas.so.3 (BLAS_INFO=generic), which this
    process's mapped files resolve (CUDA's cuBLAS and numpy's own OpenBLAS are not torch's)."""
    config = torch.__config__.show()
    info = re.search(r"BLAS_INFO=(\w+)", config)
    if info and info.group(1) == "mkl":
        mkl = re.search(r"Intel\(R\) oneAPI Math Kernel Library Version (\S+)", config)
        return f"MKL {mkl.group(1) if mkl else '?'} (BLAS_INFO=mkl, linked into libtorch_cpu.so)"
    torch.randn(64, 64) @ torch.randn(64, 64)
    found = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(path)
            if ("blas" in name or "mkl" in name) and "cublas" not in name and "numpy" not in path:
                found.add(os.path.realpath(path))
    return ", ".join(sorted(found)) or f"BLAS_INFO={info.group(1) if info else 'unknown'}"


def lstm_path():
    """Which implementation nn.LSTM's CPU training step uses: the autograd node it records."""
    lstm = torch.nn.LSTM(8, 8)
    y, _ = lstm(torch.randn(3, 2, 8, requires_grad=True))
    name = type(y.grad_fn).__name__
    if name.startswith("Mkldnn"):
        return f"{name}: oneDNN's RNN primitive, one call per layer"
    return f"{name}: ATen's loop over steps"


def run_one(row, blas, path):
    config = row["config"]
    out = {
        "schema": "fuselstm-bench/1", "impl": ARGS.impl, "suite": row.get("suite"),
        "key": row["key"], "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": socket.gethostname(), "device": row["device"], "device_name": row.get("device_name"),
        "torch_version": torch.__version__, "blas": blas, "threads": torch.get_num_threads(),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "mkldnn_enabled": torch.backends.mkldnn.enabled, "lstm_path": path,
        "ceilings": row.get("ceilings", {}), "config": config, "status": "ok", "reason": "",
        "timing": {"warmup": ARGS.warmup, "reps": ARGS.reps, "max_seconds": ARGS.max_seconds,
                   "clock": "time.perf_counter" if row["device"] == "cpu" else "CUDA events"},
    }
    if config["cell"] != "tanh":
        out.update(status="skipped", reason="PyTorch has only the standard tanh cell")
        return out
    if config["precision"] != "fp32":
        out.update(status="skipped", reason="the PyTorch peer runs fp32 only")
        return out
    T, B, X, H, L = (config[k] for k in ("T", "B", "X", "H", "L"))
    device = torch.device(row["device"])
    torch.manual_seed(ARGS.seed)
    lstm = torch.nn.LSTM(X, H, num_layers=L).to(device)

    def uniform(*shape, scale=1.0, grad=False):
        t = (torch.rand(*shape, device=device) * 2 - 1) * scale
        return t.requires_grad_(grad)

    x = uniform(T, B, X, grad=True)
    h0 = uniform(L, B, H, scale=0.5, grad=True)
    c0 = uniform(L, B, H, scale=0.5, grad=True)
    dy, dhT, dcT = uniform(T, B, H), uniform(L, B, H), uniform(L, B, H)
    forward_only = config["mode"] == "fwd"

    def call():
        if forward_only:
            with torch.no_grad():
                lstm(x, (h0, c0))
            return
        lstm.zero_grad(set_to_none=False)
        x.grad = h0.grad = c0.grad = None
        y, (hT, cT) = lstm(x, (h0, c0))
        torch.autograd.backward([y, hT, cT], [dy, dhT, dcT])

    def timed():
        if device.type == "cuda":
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop)
        begin = time.perf_counter()
        call()
        return (time.perf_counter() - begin) * 1e3

    last = 0.0
    for _ in range(max(1, ARGS.warmup)):
        last = timed()
    reps = ARGS.reps
    if ARGS.max_seconds > 0 and last * reps > ARGS.max_seconds * 1e3:
        reps = min(reps, max(3, int(ARGS.max_seconds * 1e3 / max(last, 1e-6))))
    out[ARGS.impl] = figures(config, [timed() for _ in range(reps)], ARGS.reps,
                             row.get("ceilings", {}))
    return out


def main():
    torch.set_num_threads(ARGS.threads)
    blas = blas_in_use()
    path = lstm_path()
    print(f"# PyTorch {torch.__version__} peer ({ARGS.impl}), {torch.get_num_threads()} threads, "
          f"BLAS: {blas}; nn.LSTM: {path}", file=sys.stderr)
    rows = []
    with open(ARGS.source) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    status = 0
    with open(ARGS.json, "w") as out:
        for k, row in enumerate(rows):
            if row.get("status") != "ok":
                continue  # fuselstm did not run it: nothing to compare with
            if row.get("config", {}).get("memory_mode", "store_all") != "store_all":
                continue  # PyTorch runs once per shape; report.py pairs it with every memory mode
            print(f"[{k + 1}/{len(rows)}] PyTorch {row['key']} ...", file=sys.stderr)
            try:
                result = run_one(row, blas, path)
            except Exception as e:  # recorded, and the run goes on
                result = {"schema": "fuselstm-bench/1", "impl": ARGS.impl, "key": row["key"],
                          "config": row["config"], "device": row["device"], "status": "error",
                          "reason": f"{type(e).__name__}: {e}"}
                status = 1
            if result["status"] == "ok":
                print(f"    {result[ARGS.impl]['us_per_step']:.2f} us/step, "
                      f"{result[ARGS.impl]['gflop_per_s']:.1f} GFLOP/s", file=sys.stderr)
            else:
                print(f"    {result['status']}: {result['reason']}", file=sys.stderr)
            out.write(json.dumps(result) + "\n")
            out.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
