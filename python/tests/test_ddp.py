"""DistributedDataParallel over a model holding fuselstm.torch.LSTM: two processes with half of a
batch each end with the gradients of one process on the whole batch (Gloo on the CPU; NCCL when
two GPUs are present)."""

import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import fuselstm.torch as ft


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = ft.LSTM(4, 6, num_layers=2, bidirectional=True)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        return self.head(self.lstm(x)[0])


def batch():
    g = torch.Generator().manual_seed(9)
    x = torch.rand(7, 8, 4, generator=g, dtype=torch.float64)   # [T, B = 8, X]
    target = torch.randint(0, 3, (7, 8), generator=g)
    return x, target


def loss_of(model, x, target, total_batch):
    logits = model(x)
    # Summed over the local rows, divided by the global batch: DDP averages over 2 processes.
    return nn.functional.cross_entropy(logits.reshape(-1, 3), target.reshape(-1),
                                       reduction="sum") / (7 * total_batch)


def single_process_gradients():
    torch.manual_seed(1)
    model = Tagger().double()
    x, target = batch()
    loss_of(model, x, target, 8).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


def worker(rank, world, init_file, backend, out_dir):
    dist.init_process_group(backend, init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    device = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
    torch.manual_seed(1)
    model = Tagger().double().to(device)
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[rank] if backend == "nccl" else None)
    x, target = batch()
    half = slice(4 * rank, 4 * rank + 4)
    # DDP averages gradients over the processes: each scales its sum by 1/(T·B_local) = 2/(T·B).
    loss = loss_of(ddp, x[:, half].to(device), target[:, half].to(device), 4)
    loss.backward()
    torch.save({n: p.grad.cpu() for n, p in model.named_parameters()},
               os.path.join(out_dir, f"grads{rank}.pt"))
    dist.destroy_process_group()


def run_ddp(backend):
    with tempfile.TemporaryDirectory() as out_dir:
        init_file = os.path.join(out_dir, "init")
        mp.spawn(worker, args=(2, init_file, backend, out_dir), nprocs=2, join=True)
        return [torch.load(os.path.join(out_dir, f"grads{r}.pt")) for r in range(2)]


def check(grads):
    want = single_process_gradients()
    for rank_grads in grads:
        assert set(rank_grads) == set(want)
        for name, g in rank_grads.items():
            err = (g - want[name]).abs().max().item()
            assert err < 1e-12, f"{name}: max |diff| {err}"
    assert any(n.startswith("lstm.") for n in want)


def test_ddp_gloo_two_processes_equal_one_process_on_the_whole_batch():
    check(run_ddp("gloo"))


@pytest.mark.skipif(torch.cuda.device_count() < 2 or not dist.is_nccl_available(),
                    reason="NCCL needs two CUDA devices")
def test_ddp_nccl_two_gpus():
    check(run_ddp("nccl"))
