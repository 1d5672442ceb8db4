#!/usr/bin/python3
"""Golden files from PyTorch itself, and the check that fuselstm's files load into PyTorch.

Write the fixtures (committed under tests/fixtures/, so the C++ tests need no PyTorch):
    /usr/bin/python3 tools/make_pytorch_fixtures.py [--out tests/fixtures]
Each lstm_*.safetensors holds a small nn.LSTM's parameters (under its module prefix; one model is
bidirectional, with PyTorch's *_reverse parameters and [2L, B, H] states), fixed inputs
(x, h0, c0 and the loss weights Ry, Rh, Rc), the outputs (y, hT, cT) and every gradient of
    J = sum(y * Ry) + sum(hT * Rh) + sum(cT * Rc)
(dx, dh0, dc0 and one per parameter), all computed by PyTorch in float64 on the CPU.
state_dict_f32.safetensors is a plain `lstm.state_dict()` in float32, as users save it;
halves.safetensors holds values PyTorch rounded to bfloat16 and float16, with their exact float32
values, so the reader's conversions are checked against PyTorch's.

Check the other direction (a file fuselstm writes loads into nn.LSTM with load_state_dict as it
is, and computes what fuselstm computed):
    /usr/bin/python3 tools/make_pytorch_fixtures.py --verify build/tests/fuselstm_export_for_pytorch
The program writes model files and the outputs fuselstm computed; this script loads each model
with strict load_state_dict, runs it, and compares. Exit status 0 only when everything agrees.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402

FIXTURE_FORMAT = "fuselstm-pytorch-fixture"
FIXTURE_FORMAT_VERSION = 1

# name, T, B, X, H, L, bias, module prefix of the LSTM's parameters, bidirectional
CASES = [
    ("lstm_1layer", 5, 3, 3, 5, 1, True, "", False),
    ("lstm_2layer", 4, 2, 5, 3, 2, True, "lstm.", False),
    ("lstm_2layer_nobias_size1", 3, 1, 1, 1, 2, False, "", False),
    # Layer 1 reads [forward h, reverse h], 2H wide; states are [2L, B, H].
    ("lstm_2layer_bidirectional", 5, 2, 3, 5, 2, True, "rnn.", True),
]


def uniform(generator, *shape):
    """Seeded values in [-1, 1): never all zeros, never special."""
    return torch.rand(*shape, generator=generator, dtype=torch.float64) * 2 - 1


def base_metadata():
    return {"fixture.format": FIXTURE_FORMAT,
            "fixture.format_version": str(FIXTURE_FORMAT_VERSION),
            "torch.version": torch.__version__,
            "numpy.version": np.__version__}


def make_case(out_dir, name, T, B, X, H, L, bias, prefix, bidirectional, seed):
    torch.manual_seed(seed)  # nn.LSTM's own initialisation: uniform(-1/sqrt(H), 1/sqrt(H))
    lstm = torch.nn.LSTM(X, H, num_layers=L, bias=bias, bidirectional=bidirectional).double()
    D = 2 if bidirectional else 1
    g = torch.Generator().manual_seed(seed + 1000)
    x = uniform(g, T, B, X).requires_grad_()
    h0 = uniform(g, D * L, B, H).requires_grad_()
    c0 = uniform(g, D * L, B, H).requires_grad_()
    Ry, Rh, Rc = uniform(g, T, B, D * H), uniform(g, D * L, B, H), uniform(g, D * L, B, H)
    y, (hT, cT) = lstm(x, (h0, c0))
    J = (y * Ry).sum() + (hT * Rh).sum() + (cT * Rc).sum()
    J.backward()

    tensors = {prefix + k: v.detach().clone() for k, v in lstm.state_dict().items()}
    tensors.update({"input.x": x.detach(), "input.h0": h0.detach(), "input.c0": c0.detach(),
                    "input.Ry": Ry, "input.Rh": Rh, "input.Rc": Rc,
                    "output.y": y.detach(), "output.hT": hT.detach(), "output.cT": cT.detach(),
                    "grad.x": x.grad, "grad.h0": h0.grad, "grad.c0": c0.grad})
    for k, p in lstm.named_parameters():
        tensors["grad." + k] = p.grad
    metadata = base_metadata()
    dims = f"T={T} B={B} X={X} H={H} L={L} bias={bias}"
    if bidirectional:
        dims += " bidirectional=True"
    metadata.update({"fixture.case": name, "fixture.prefix": prefix, "fixture.dims": dims,
                     "fixture.loss": "J = sum(y*Ry) + sum(hT*Rh) + sum(cT*Rc)",
                     "fixture.dtype": "float64"})
    path = os.path.join(out_dir, name + ".safetensors")
    safetensors_lite.save_file(tensors, path, metadata)
    return lstm, path


def make_halves(out_dir):
    g = torch.Generator().manual_seed(7)
    special = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.14159265, 1e-3, 6e-5, 1e-6, 1e-8, 1e-40,
                            65504.0, 65520.0, 70000.0, 3e38, float("inf"), float("-inf"),
                            float("nan")], dtype=torch.float32)
    values = torch.cat([special, torch.randn(31, generator=g, dtype=torch.float32) * 10])
    tensors = {"values.f32": values,
               "values.bf16": values.to(torch.bfloat16),
               "values.f16": values.to(torch.float16),
               "expect.bf16": values.to(torch.bfloat16).to(torch.float32),
               "expect.f16": values.to(torch.float16).to(torch.float32)}
    metadata = base_metadata()
    metadata["fixture.case"] = "halves"
    path = os.path.join(out_dir, "halves.safetensors")
    safetensors_lite.save_file(tensors, path, metadata)
    return path


def write_fixtures(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for k, case in enumerate(CASES):
        lstm, path = make_case(out_dir, *case, seed=100 + k)
        paths.append(path)
        if k == 0:
            # What a user saves: safetensors.torch.save_file(lstm.float().state_dict(), path).
            state = {n: t.float() for n, t in lstm.state_dict().items()}
            path = os.path.join(out_dir, "state_dict_f32.safetensors")
            safetensors_lite.save_file(state, path)
            paths.append(path)
    paths.append(make_halves(out_dir))
    for p in paths:
        print(f"wrote {p} ({os.path.getsize(p)} bytes)")


def verify(program):
    """Runs fuselstm's exporter, then loads every model it wrote into nn.LSTM and compares."""
    try:
        import safetensors.torch as reference_reader
    except ImportError:
        reference_reader = None
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([program, tmp], check=True)
        models = sorted(f for f in os.listdir(tmp) if f.endswith(".model.safetensors"))
        if not models:
            print(f"FAIL: {program} wrote no *.model.safetensors into {tmp}")
            return 1
        for model_file in models:
            path = os.path.join(tmp, model_file)
            tensors, metadata = safetensors_lite.load_file(path)
            if reference_reader is not None:  # the official reader, where it is installed
                official = reference_reader.load_file(path)
                assert official.keys() == tensors.keys()
                assert all(torch.equal(official[k], tensors[k]) for k in tensors)
            if metadata.get("fuselstm.cell") != "tanh":
                print(f"SKIP {model_file}: cell {metadata.get('fuselstm.cell')} has no nn.LSTM")
                continue
            # Every constructor argument from the file's metadata, so the metadata is checked too.
            lstm = torch.nn.LSTM(int(metadata["fuselstm.input_size"]),
                                 int(metadata["fuselstm.hidden_size"]),
                                 num_layers=int(metadata["fuselstm.num_layers"]),
                                 bias=metadata["fuselstm.bias"] == "true",
                                 bidirectional=metadata["fuselstm.bidirectional"] == "true",
                                 batch_first=metadata["fuselstm.batch_first"] == "true",
                                 dropout=float(metadata["fuselstm.dropout"]))
            dtype = tensors["weight_ih_l0"].dtype
            lstm = lstm.to(dtype).eval()  # evaluation mode: no dropout, as fuselstm's check run
            lstm.load_state_dict(tensors, strict=True)  # the file's tensors as they are

            check, _ = safetensors_lite.load_file(path.replace(".model.", ".check."))
            with torch.no_grad():
                y, (hT, cT) = lstm(check["x"], (check["h0"], check["c0"]))
            # fuselstm and PyTorch sum in different orders; over T <= 6 steps of O(1) values the
            # rounding differences stay within a few hundred ulps of the dtype.
            tol = 1e-12 if dtype == torch.float64 else 2e-5
            for name, got in (("y", y), ("hT", hT), ("cT", cT)):
                err = (got - check[name]).abs().max().item()
                ok = err <= tol
                failures += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {model_file} {name}: max |torch - fuselstm| "
                      f"= {err:.3g} (tolerance {tol:g}, {dtype})")
    print("verify:", "PASS" if failures == 0 else f"FAIL ({failures})")
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                      "fixtures"))
    parser.add_argument("--verify", metavar="PROGRAM",
                        help="fuselstm_export_for_pytorch: check its files load into nn.LSTM")
    args = parser.parse_args()
    torch.set_num_threads(1)  # one summation order, so regenerated fixtures are identical
    if args.verify:
        sys.exit(verify(args.verify))
    write_fixtures(os.path.normpath(args.out))


if __name__ == "__main__":
    main()
