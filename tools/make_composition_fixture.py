#!/usr/bin/python3
"""A golden file for the composition of fuselstm's training pieces, computed by PyTorch in float64:

    ids [B, T] (padded with padding_idx 0) -> nn.Embedding(V, E, padding_idx=0)
      -> nn.LSTM(E, H, num_layers=2, batch_first=True, bidirectional=True) on a PackedSequence
         (pack_padded_sequence with the lengths, unsorted)
      -> each sequence's output at its last real step, y[b, lengths[b] - 1]
      -> nn.Sequential(nn.Linear(2H, M), nn.Tanh(), nn.Linear(M, K))
      -> nn.CrossEntropyLoss() (mean over the B sequences)

The file holds the parameters under the modules' names (embedding.weight, lstm.weight_ih_l0, ...,
head.0.weight, ...), the inputs (ids, lengths, targets as float64 values), the loss and every
parameter's gradient, then the loss before each of 10 torch.optim.AdamW steps (lr 0.01, weight
decay 0.01) and the parameters after them.

    /usr/bin/python3 tools/make_composition_fixture.py [--out tests/fixtures]
"""

import argparse
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_lite  # noqa: E402

FIXTURE_FORMAT = "fuselstm-pytorch-fixture"
FIXTURE_FORMAT_VERSION = 1
V, E, H, L, M, K = 7, 4, 5, 2, 6, 3
B, T = 5, 6
LENGTHS = [6, 3, 1, 5, 2]  # unsorted; sequence 2 has one step, sequence 0 fills the batch
TARGETS = [2, 0, 1, 1, 2]
ADAMW_STEPS = 10


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(V, E, padding_idx=0)
        self.lstm = nn.LSTM(E, H, num_layers=L, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Linear(2 * H, M), nn.Tanh(), nn.Linear(M, K))

    def forward(self, ids, lengths):
        x = self.embedding(ids)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=ids.shape[1])
        last = y[torch.arange(ids.shape[0]), lengths - 1]
        return self.head(last)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                      "fixtures"))
    args = parser.parse_args()
    torch.manual_seed(2026)
    model = Classifier().double()
    g = torch.Generator().manual_seed(7)
    lengths = torch.tensor(LENGTHS)
    ids = torch.randint(1, V, (B, T), generator=g)
    for b, n in enumerate(LENGTHS):
        ids[b, n:] = 0  # padding_idx
    ids[1, 1] = 0  # padding_idx also inside a sequence: looked up (a zero row), never trained
    targets = torch.tensor(TARGETS)
    loss_fn = nn.CrossEntropyLoss()

    tensors = {"init." + k: v.detach().clone() for k, v in model.state_dict().items()}
    loss = loss_fn(model(ids, lengths), targets)
    loss.backward()
    for k, p in model.named_parameters():
        tensors["grad." + k] = p.grad.detach().clone()
    tensors["output.loss"] = loss.detach().reshape(1)

    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.01)
    losses = []
    for _ in range(ADAMW_STEPS):
        optimizer.zero_grad()
        loss = loss_fn(model(ids, lengths), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    tensors["adamw.losses"] = torch.tensor(losses, dtype=torch.float64)
    for k, v in model.state_dict().items():
        tensors["adamw." + k] = v.detach().clone()
    tensors["input.ids"] = ids.double()
    tensors["input.lengths"] = lengths.double()
    tensors["input.targets"] = targets.double()

    metadata = {"fixture.format": FIXTURE_FORMAT,
                "fixture.format_version": str(FIXTURE_FORMAT_VERSION),
                "fixture.case": "composition",
                "fixture.dims": f"V={V} E={E} H={H} L={L} M={M} K={K} B={B} T={T}",
                "fixture.dtype": "float64",
                "torch.version": torch.__version__, "numpy.version": np.__version__}
    path = os.path.join(args.out, "composition.safetensors")
    safetensors_lite.save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata)
    print(f"wrote {path}: loss {tensors['output.loss'].item():.12f}, "
          f"after {ADAMW_STEPS} AdamW steps {losses[-1]:.12f}")


if __name__ == "__main__":
    main()
