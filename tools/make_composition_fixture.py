#!/usr/bin/python3
"""Golden files for the composition of fuselstm's training pieces, computed by PyTorch in float64:

    ids [B, T] (padded with padding_idx 0) -> nn.Embedding(V, E, padding_idx=0)
      -> nn.LSTM(E, H, num_layers=2, batch_first=True, bidirectional=True) on a PackedSequence
         (pack_padded_sequence with the lengths, unsorted)
      -> each sequence's output at its last real step, y[b, lengths[b] - 1]
      -> nn.Sequential(nn.Linear(2H, M), nn.Tanh(), nn.Linear(M, K))
      -> nn.CrossEntropyLoss() (mean over the B sequences)

The file holds the parameters under the modules' names (embedding.weight, lstm.weight_ih_l0, ...,
head.0.weight, ...), the inputs (ids, lengths, targets as float64 values), the loss and every
parameter's gradient, then the loss before each of 10 torch.optim.AdamW steps (lr 0.01, weight
decay 0.01) and the parameters after them. batch_first_last.safetensors: the layouts and lengths
that losses must read right (see batch_first_last below).

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


def batch_first_last(out_dir):
    """nn.LSTM(batch_first=True) with B = T = 4 and a Linear head, scored on each sequence's last
    step: cross-entropy without lengths (where reading [T, B, K] instead of [B, T, K] gives another
    number and no error) and MSE with lengths (where step T - 1 is padding)."""
    torch.manual_seed(11)
    lstm = nn.LSTM(3, 5, batch_first=True).double()
    head = nn.Linear(5, 4).double()
    g = torch.Generator().manual_seed(12)
    x = torch.rand(4, 4, 3, generator=g, dtype=torch.float64) * 2 - 1
    targets = torch.tensor([1, 3, 0, 2])
    y, _ = lstm(x)
    ce = nn.CrossEntropyLoss()(head(y[:, -1]), targets)
    ce.backward()
    tensors = {"lstm." + k: v.detach().clone() for k, v in lstm.state_dict().items()}
    tensors.update({"head." + k: v.detach().clone() for k, v in head.state_dict().items()})
    for k, p in list(lstm.named_parameters()):
        tensors["grad.ce.lstm." + k] = p.grad.detach().clone()
    for k, p in head.named_parameters():
        tensors["grad.ce.head." + k] = p.grad.detach().clone()
    lengths = torch.tensor([4, 2, 3, 1])
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    yp, _ = lstm(packed)
    yp, _ = pad_packed_sequence(yp, batch_first=True, total_length=4)
    mse_target = torch.rand(4, 4, generator=g, dtype=torch.float64)
    mse = nn.MSELoss()(head(yp[torch.arange(4), lengths - 1]), mse_target)
    tensors.update({"input.x": x, "input.targets": targets.double(),
                    "input.lengths": lengths.double(), "input.mse_target": mse_target,
                    "output.ce_last": ce.detach().reshape(1),
                    "output.mse_last_lengths": mse.detach().reshape(1)})
    metadata = {"fixture.format": FIXTURE_FORMAT,
                "fixture.format_version": str(FIXTURE_FORMAT_VERSION),
                "fixture.case": "batch_first_last", "fixture.dims": "B=T=4 X=3 H=5 K=4",
                "fixture.dtype": "float64", "torch.version": torch.__version__}
    path = os.path.join(out_dir, "batch_first_last.safetensors")
    safetensors_lite.save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata)
    print(f"wrote {path}: cross-entropy on the last step {ce.item():.12f}, "
          f"MSE on the last real step {mse.item():.12f}")


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
    batch_first_last(args.out)


if __name__ == "__main__":
    main()
