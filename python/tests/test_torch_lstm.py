"""fuselstm.torch.LSTM against torch.nn.LSTM with the same state_dict: every output and gradient,
gradcheck, packed sequences, training with AdamW, module conversions, zero-copy parameters."""

import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import fuselstm.torch as ft

try:
    from torch.func import functional_call
except ImportError:  # torch < 2.0
    from torch.nn.utils.stateless import functional_call

CONFIGS = [  # (num_layers, bidirectional, batch_first)
    (1, False, False), (2, True, False), (3, False, True), (2, True, True)]


def pair(num_layers, bidirectional, batch_first, dtype, X=3, H=5, seed=0):
    torch.manual_seed(seed)
    ref = nn.LSTM(X, H, num_layers=num_layers, bidirectional=bidirectional,
                  batch_first=batch_first).to(dtype)
    ours = ft.LSTM(X, H, num_layers=num_layers, bidirectional=bidirectional,
                   batch_first=batch_first).to(dtype)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def run(module, x, h0, c0, wy, wh, wc):
    """J = sum(y*wy) + sum(hT*wh) + sum(cT*wc) and its gradients."""
    for p in module.parameters():
        p.grad = None
    xs = [t.detach().clone().requires_grad_() for t in (x, h0, c0)]
    y, (hT, cT) = module(xs[0], (xs[1], xs[2]))
    J = (y * wy).sum() + (hT * wh).sum() + (cT * wc).sum()
    J.backward()
    return [y, hT, cT] + [t.grad for t in xs] + [p.grad for p in module.parameters()]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_matches_nn_lstm(config, dtype, tol):
    num_layers, bidirectional, batch_first = config
    ref, ours = pair(num_layers, bidirectional, batch_first, dtype)
    D, T, B = 2 if bidirectional else 1, 6, 3
    g = torch.Generator().manual_seed(1)
    shape = (B, T, 3) if batch_first else (T, B, 3)
    x = torch.rand(shape, generator=g, dtype=dtype) * 2 - 1
    h0, c0 = (torch.rand(num_layers * D, B, 5, generator=g, dtype=dtype) for _ in range(2))
    yshape = (B, T, D * 5) if batch_first else (T, B, D * 5)
    wy = torch.rand(yshape, generator=g, dtype=dtype)
    wh, wc = (torch.rand(num_layers * D, B, 5, generator=g, dtype=dtype) for _ in range(2))
    got = run(ours, x, h0, c0, wy, wh, wc)
    want = run(ref, x, h0, c0, wy, wh, wc)
    names = ["y", "hT", "cT", "dx", "dh0", "dc0"] + [n for n, _ in ref.named_parameters()]
    for name, a, b in zip(names, got, want):
        assert a.shape == b.shape, name
        err = (a - b).abs().max().item()
        assert err <= tol, f"{name}: max |diff| {err}"


@pytest.mark.parametrize("num_layers,bidirectional,batch_first",
                         [(1, False, False), (2, True, False), (1, True, True), (3, False, False)])
def test_gradcheck(num_layers, bidirectional, batch_first):
    torch.manual_seed(3)
    lstm = ft.LSTM(2, 3, num_layers=num_layers, bidirectional=bidirectional,
                   batch_first=batch_first).double()
    D = 2 if bidirectional else 1
    x = torch.rand((2, 4, 2) if batch_first else (4, 2, 2), dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(num_layers * D, 2, 3, dtype=torch.float64, requires_grad=True)
    c0 = torch.rand(num_layers * D, 2, 3, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in lstm.named_parameters()]
    values = [p.detach().clone().requires_grad_() for p in lstm.parameters()]

    def f(x, h0, c0, *params):  # every output as a function of every input and parameter
        y, (h, c) = functional_call(lstm, dict(zip(names, params)), (x, (h0, c0)))
        return y, h, c

    assert torch.autograd.gradcheck(f, (x, h0, c0, *values))


def test_gradcheck_packed_sequence():
    torch.manual_seed(4)
    lstm = ft.LSTM(2, 3, num_layers=2, bidirectional=True).double()
    names = [n for n, _ in lstm.named_parameters()]
    values = [p.detach().clone().requires_grad_() for p in lstm.parameters()]
    x = torch.rand(5, 3, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([3, 5, 2])

    def f(x, *params):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, (h, c) = functional_call(lstm, dict(zip(names, params)), (packed,))
        return out.data, h, c

    assert torch.autograd.gradcheck(f, (x, *values))


def test_packed_sequence_matches_nn_lstm():
    for bidirectional, batch_first in itertools.product((False, True), (False, True)):
        ref, ours = pair(2, bidirectional, batch_first, torch.float64, seed=5)
        lengths = torch.tensor([4, 6, 1, 3])
        g = torch.Generator().manual_seed(6)
        x = torch.rand((4, 6, 3) if batch_first else (6, 4, 3), generator=g, dtype=torch.float64)
        results = []
        for module in (ours, ref):
            xi = x.clone().requires_grad_()
            packed = pack_padded_sequence(xi, lengths, batch_first=batch_first,
                                          enforce_sorted=False)
            out, (h, c) = module(packed)
            assert isinstance(out, type(packed))
            (out.data.sum() + (h * 1.5).sum() + (c * 0.5).sum()).backward()
            results.append((out.data, out.batch_sizes, out.sorted_indices, h, c, xi.grad,
                            [p.grad.clone() for p in module.parameters()]))
            for p in module.parameters():
                p.grad = None
        a, b = results
        assert torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])
        for k in (0, 3, 4, 5):
            assert (a[k] - b[k]).abs().max().item() < 1e-12, (bidirectional, batch_first, k)
        for ga, gb in zip(a[6], b[6]):
            assert (ga - gb).abs().max().item() < 1e-12


def test_adamw_training_with_a_linear_head_matches_nn_lstm():
    losses = []
    for cls in (ft.LSTM, nn.LSTM):
        torch.manual_seed(7)
        model = nn.Sequential()
        lstm = nn.LSTM(4, 6, num_layers=2).double()
        head = nn.Linear(6, 3).double()
        if cls is ft.LSTM:
            ours = ft.LSTM(4, 6, num_layers=2).double()
            ours.load_state_dict(lstm.state_dict(), strict=True)
            lstm = ours
        opt = torch.optim.AdamW(list(lstm.parameters()) + list(head.parameters()), lr=0.01)
        g = torch.Generator().manual_seed(8)
        x = torch.rand(7, 5, 4, generator=g, dtype=torch.float64)
        target = torch.randint(0, 3, (7 * 5,), generator=g)
        run = []
        for _ in range(20):
            opt.zero_grad()
            y, _ = lstm(x)
            loss = nn.functional.cross_entropy(head(y).reshape(-1, 3), target)
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses.append(run)
    ours, theirs = losses
    assert max(abs(a - b) for a, b in zip(ours, theirs)) < 1e-10
    assert theirs[-1] < theirs[0]


def test_state_dict_round_trip_and_names():
    ref = nn.LSTM(3, 4, num_layers=2, bidirectional=True, bias=False)
    ours = ft.LSTM(3, 4, num_layers=2, bidirectional=True, bias=False)
    assert list(ours.state_dict().keys()) == list(ref.state_dict().keys())
    ref.load_state_dict(ours.state_dict(), strict=True)
    ours.load_state_dict(ref.state_dict(), strict=True)


def test_parameters_and_input_are_read_in_place():
    lstm = ft.LSTM(3, 4, num_layers=2).double()
    x = torch.rand(5, 2, 3, dtype=torch.float64)
    lstm(x)
    model = next(iter(lstm._models.values()))
    for name, p in lstm.named_parameters():
        assert model.parameter_data_ptr(name) == p.data_ptr(), name
    assert model.last_input_ptr == x.data_ptr()
    # A non-contiguous input is made contiguous once (a copy), then read in place.
    strided = torch.rand(2, 5, 3, dtype=torch.float64).transpose(0, 1)
    y_strided = lstm(strided)[0]
    assert model.last_input_ptr != strided.data_ptr()
    assert torch.equal(y_strided, lstm(strided.contiguous())[0])


def test_conversions_train_eval_and_errors():
    lstm = ft.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = torch.rand(5, 2, 3)
    lstm.eval()
    y1 = lstm(x)[0]
    assert torch.equal(y1, lstm(x)[0])  # eval: no dropout, deterministic
    lstm.train()
    assert not torch.equal(y1, lstm(x)[0])  # train: dropout between the layers
    lstm.eval()
    y64 = lstm.double()(x.double())[0]
    assert y64.dtype == torch.float64
    assert (y64.float() - y1).abs().max().item() < 1e-5
    with pytest.raises(ValueError, match="float64"):
        lstm(x)  # float32 input, float64 parameters
    with pytest.raises(ValueError, match="proj_size"):
        ft.LSTM(3, 4, proj_size=2)
    unbatched_y, (h, c) = lstm(x[:, 0].double())
    assert unbatched_y.shape == (5, 4) and h.shape == (2, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu_on_torchs_stream():
    ref, ours = pair(2, True, False, torch.float64)
    x = torch.rand(6, 3, 3, dtype=torch.float64)
    y_cpu = ours(x)[0]
    ours.cuda()
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        y_gpu = ours(x.cuda())[0]
    stream.synchronize()
    assert (y_gpu.cpu() - y_cpu).abs().max().item() < 1e-12
