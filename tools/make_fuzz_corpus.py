#!/usr/bin/python3
"""Writes the fuzzer's seed corpus (fuzz/corpus/): tiny valid files, one per path through the
loader. tools/run_fuzz.sh adds the PyTorch fixtures (tests/fixtures/) as further seeds.
    /usr/bin/python3 tools/make_fuzz_corpus.py [--out fuzz/corpus]
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402


def lstm_state(X, H, L, bias, dtype, prefix="", bidirectional=False):
    g = torch.Generator().manual_seed(X * 100 + H * 10 + L)
    D = 2 if bidirectional else 1
    state = {}
    for k in range(L):
        x = X if k == 0 else D * H
        for suffix in ["", "_reverse"][:D]:
            s = f"_l{k}{suffix}"
            state[f"{prefix}weight_ih{s}"] = torch.rand(4 * H, x, generator=g).to(dtype)
            state[f"{prefix}weight_hh{s}"] = torch.rand(4 * H, H, generator=g).to(dtype)
            if bias:
                state[f"{prefix}bias_ih{s}"] = torch.rand(4 * H, generator=g).to(dtype)
                state[f"{prefix}bias_hh{s}"] = torch.rand(4 * H, generator=g).to(dtype)
    return state


def config(X, H, L, bias, cell, fmt="lstm-model"):
    return {"fuselstm.format": fmt, "fuselstm.format_version": "1",
            "fuselstm.input_size": str(X), "fuselstm.hidden_size": str(H),
            "fuselstm.num_layers": str(L), "fuselstm.bias": "true" if bias else "false",
            "fuselstm.cell": cell}


def config_v2(X, H, L, bias, cell, bidirectional, batch_first, dropout, fmt="lstm-model"):
    meta = config(X, H, L, bias, cell, fmt)
    meta.update({"fuselstm.format_version": "2",
                 "fuselstm.bidirectional": "true" if bidirectional else "false",
                 "fuselstm.batch_first": "true" if batch_first else "false",
                 "fuselstm.dropout": dropout, "fuselstm.dropout_seed": "7"})
    return meta


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fuzz",
                                                      "corpus"))
    out = os.path.normpath(parser.parse_args().out)
    os.makedirs(out, exist_ok=True)
    seeds = {
        "empty": ({}, None),
        "metadata_only": ({}, {"note": "no tensors"}),
        "plain_f32_l1": (lstm_state(1, 1, 1, True, torch.float32), None),
        "plain_bf16_nobias": (lstm_state(2, 1, 1, False, torch.bfloat16), None),
        "prefixed_f16_head": (dict(lstm_state(1, 1, 1, True, torch.float16, "lstm."),
                                   **{"head.weight": torch.ones(1, 1)}), {"format": "pt"}),
        "model_f64_l2": (lstm_state(2, 1, 2, True, torch.float64), config(2, 1, 2, True, "identity")),
        "checkpoint_f32": (dict(lstm_state(1, 2, 1, False, torch.float32),
                                **{"optim.exp_avg.weight_ih_l0": torch.zeros(8, 1)}),
                           dict(config(1, 2, 1, False, "tanh", "lstm-checkpoint"),
                                **{"fuselstm.step": "3", "optim.type": "sgd", "optim.lr": "0.1"})),
        "plain_bidirectional_f64_l2": (lstm_state(1, 2, 2, True, torch.float64, "", True), None),
        "model_v2_bidirectional_f32_l2": (
            lstm_state(2, 1, 2, False, torch.float32, "", True),
            config_v2(2, 1, 2, False, "tanh", True, True, "0.25")),
        "checkpoint_v2_adamw": (
            dict(lstm_state(1, 1, 1, True, torch.float32),
                 **{"optim.exp_avg.weight_ih_l0": torch.zeros(4, 1),
                    "head.weight": torch.ones(2, 1)}),
            dict(config_v2(1, 1, 1, True, "tanh", False, False, "0", "lstm-checkpoint"),
                 **{"fuselstm.step": "3", "fuselstm.dropout_offset": "12", "optim.type": "adamw",
                    "optim.lr": "0.001", "optim.step": "3"})),
    }
    for name, (tensors, metadata) in seeds.items():
        path = os.path.join(out, name + ".safetensors")
        safetensors_lite.save_file(tensors, path, metadata)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
