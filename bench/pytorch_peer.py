#!/usr/bin/python3
"""PyTorch's nn.LSTM as the peer, on the shapes of a fuselstm_bench JSON file.

For every row of --from (one JSON object per line, as fuselstm_bench --json writes), times the same
work with torch.nn.LSTM in float32: forward, then backward of the same scalar J (gradients dy, dhT,
dcT given; dx, dh0, dc0 and every parameter gradient computed), gradients cleared first, and writes
one row per configuration with the same fields (impl "pytorch", the same "key"). The standard tanh
cell only (PyTorch has no identity cell variant); other rows are recorded as skipped.

Run it with Debian's /usr/bin/python3 (python3-torch). Thread count: --threads, applied to
torch.set_num_threads and, before torch loads, to OPENBLAS_NUM_THREADS / OMP_NUM_THREADS.
"""

import argparse
import datetime
import json
import os
import socket
import statistics
import sys
import time


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
    return p.parse_args()


ARGS = parse_args()
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(var, str(ARGS.threads))

import torch  # noqa: E402  (after the thread variables, which the BLAS reads when it loads)


def blas_in_use():
    """The BLAS library this process really mapped (Debian's torch calls libblas.so.3)."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    found = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(path)
            if "blas" in name or "mkl" in name:
                found.add(os.path.realpath(path))
    return ", ".join(sorted(found)) or "unknown (BLAS_INFO: see torch.__config__.show())"


def figures(config, times_ms, reps_requested, ceilings):
    """The same figures fuselstm_bench reports (see bench/runner.cpp figures_json)."""
    T, B, X, H, L = (config[k] for k in ("T", "B", "X", "H", "L"))
    per_mac = 8.0 if config["mode"] == "fwd" else 24.0
    flops = sum(per_mac * B * H * ((X if k == 0 else H) + H) * T for k in range(L))
    median = statistics.median(times_ms)
    seconds = median * 1e-3
    peak = (ceilings.get("fp32_gflop_per_s") or 0) * 1e9
    bandwidth = (ceilings.get("gbyte_per_s") or 0) * 1e9
    passes = 1.0 if config["mode"] == "fwd" else 2.0
    floor_flop = flops / T / peak if peak else 0
    floor_byte = 16.0 * H * H * passes * L / bandwidth if bandwidth else 0
    floor = max(floor_flop, floor_byte)
    us_per_step = seconds / T * 1e6
    return {
        "time_ms": {"median": median, "min": min(times_ms), "max": max(times_ms)},
        "reps": len(times_ms),
        "reps_requested": reps_requested,
        "us_per_step": us_per_step,
        "tokens_per_s": T * B / seconds,
        "flops_per_call": flops,
        "gflop_per_s": flops / seconds * 1e-9,
        "peak_gflop_per_s": peak * 1e-9 if peak else None,
        "fraction_of_peak": flops / seconds / peak if peak else None,
        "floor_us_per_step": floor * 1e6 if floor else None,
        "gap_to_floor": us_per_step / (floor * 1e6) if floor else None,
    }


def run_one(row, blas):
    config = row["config"]
    out = {
        "schema": "fuselstm-bench/1", "impl": "pytorch", "suite": row.get("suite"),
        "key": row["key"], "date": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": socket.gethostname(), "device": row["device"], "device_name": row.get("device_name"),
        "torch_version": torch.__version__, "blas": blas, "threads": torch.get_num_threads(),
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
    out["pytorch"] = figures(config, [timed() for _ in range(reps)], ARGS.reps,
                             row.get("ceilings", {}))
    return out


def main():
    torch.set_num_threads(ARGS.threads)
    blas = blas_in_use()
    print(f"# PyTorch {torch.__version__} peer, {torch.get_num_threads()} threads, BLAS: {blas}",
          file=sys.stderr)
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
                result = run_one(row, blas)
            except Exception as e:  # recorded, and the run goes on
                result = {"schema": "fuselstm-bench/1", "impl": "pytorch", "key": row["key"],
                          "config": row["config"], "device": row["device"], "status": "error",
                          "reason": f"{type(e).__name__}: {e}"}
                status = 1
            if result["status"] == "ok":
                print(f"    {result['pytorch']['us_per_step']:.2f} us/step, "
                      f"{result['pytorch']['gflop_per_s']:.1f} GFLOP/s", file=sys.stderr)
            else:
                print(f"    {result['status']}: {result['reason']}", file=sys.stderr)
            out.write(json.dumps(result) + "\n")
            out.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
