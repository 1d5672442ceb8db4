"""fuselstm.torch.LSTM: a drop-in replacement for torch.nn.LSTM that trains with fuselstm.

The same constructor arguments, parameter names (a state_dict loads into nn.LSTM and back with
strict=True), forward signature and results (a tensor or a PackedSequence in, the same kind out;
optional (h0, c0)), autograd through fuselstm's backward. Parameters and gradients stay in torch's
memory: fuselstm reads the nn.Parameters in place (borrowed views, no copy per call) and writes
the gradients into tensors torch allocates. On CUDA, fuselstm runs on torch's current stream of the
input's device. ``train()`` / ``eval()`` switch the inter-layer dropout; ``.to()``, ``.double()``,
``.cuda()`` work as for any module. ``proj_size > 0`` is not supported (ValueError).

Dropout masks come from fuselstm's counter-based generator (seeded from torch's generator when the
module is built), not from torch's: the same seed gives the same masks on every device, but not
the masks nn.LSTM would draw.
"""

import math

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import _fuselstm

__all__ = ["LSTM"]


def _parameter_names(num_layers, bias, bidirectional):
    """nn.LSTM's registration order: per layer, per direction, weight_ih, weight_hh, biases."""
    names = []
    for layer in range(num_layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            kinds = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if bias else ())
            names += [f"{kind}_l{layer}{suffix}" for kind in kinds]
    return names


def _to_torch(array, device):
    """A result of the extension as a torch tensor sharing its memory (None stays None)."""
    if array is None:
        return None
    if device.type == "cpu":
        return torch.from_numpy(array)
    return torch.utils.dlpack.from_dlpack(array)


def _detached(t):
    return None if t is None else t.detach().contiguous()


class _LstmFunction(torch.autograd.Function):
    """y, hT, cT = LSTM(x, h0, c0; params) with fuselstm's forward and backward."""

    @staticmethod
    def forward(ctx, module, model, x, h0, c0, lengths, *params):
        for name, p in zip(module._names, params):
            model.bind(name, p.detach())
        y, hT, cT, context = model.forward(x.detach().contiguous(), _detached(h0),
                                           _detached(c0), lengths)
        ctx.names, ctx.model, ctx.context = module._names, model, context
        ctx.given_states = (h0 is not None, c0 is not None)
        ctx.device = x.device
        ctx.save_for_backward(*params)
        return _to_torch(y, x.device), _to_torch(hT, x.device), _to_torch(cT, x.device)

    @staticmethod
    def backward(ctx, dy, dhT, dcT):
        params = ctx.saved_tensors
        model = ctx.model
        grads = [torch.zeros_like(p) for p in params]
        for name, p, g in zip(ctx.names, params, grads):
            model.bind(name, p.detach(), g)
        dx, dh0, dc0 = model.backward(ctx.context, _detached(dy), _detached(dhT), _detached(dcT),
                                      ctx.needs_input_grad[2])
        dx = _to_torch(dx, ctx.device)
        dh0 = _to_torch(dh0, ctx.device) if ctx.given_states[0] else None
        dc0 = _to_torch(dc0, ctx.device) if ctx.given_states[1] else None
        return (None, None, dx, dh0, dc0, None, *grads)


class LSTM(nn.Module):
    """torch.nn.LSTM's interface, computed by fuselstm (see the module docstring)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if proj_size:
            raise ValueError("fuselstm.torch.LSTM: proj_size > 0 (LSTM with projections) is not "
                             "supported")
        if not 0 <= dropout < 1:
            raise ValueError(f"fuselstm.torch.LSTM: dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, 0
        directions = 2 if bidirectional else 1
        self._names = _parameter_names(num_layers, bias, bidirectional)
        factory = {"device": device, "dtype": dtype}
        for name in self._names:
            layer = int(name.split("_l")[1].split("_")[0])
            width = input_size if layer == 0 else hidden_size * directions
            shape = {"weight_ih": (4 * hidden_size, width),
                     "weight_hh": (4 * hidden_size, hidden_size)}.get(name[:9], (4 * hidden_size,))
            self.register_parameter(name, nn.Parameter(torch.empty(shape, **factory)))
        self._dropout_seed = int(torch.randint(0, 2**62, (1,)).item())
        self._models = {}  # (dtype, device, stream) -> the extension's Model
        self.reset_parameters()

    def reset_parameters(self):
        """nn.LSTM's initialisation: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)]."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for key, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                             ("bidirectional", False)):
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)}"
        return s

    def _model_for(self, x):
        dtype = {torch.float32: "float32", torch.float64: "float64"}.get(x.dtype)
        if dtype is None:
            raise ValueError(f"fuselstm.torch.LSTM: input must be float32 or float64, got {x.dtype}")
        for name in self._names:
            p = getattr(self, name)
            if p.dtype != x.dtype or p.device != x.device:
                raise ValueError(f"fuselstm.torch.LSTM: input is {x.dtype} on {x.device} but "
                                 f"{name} is {p.dtype} on {p.device}; move one of them")
        if x.device.type == "cuda":
            device = f"cuda:{x.device.index if x.device.index is not None else 0}"
            stream = torch.cuda.current_stream(x.device).cuda_stream
        elif x.device.type == "cpu":
            device, stream = "cpu", 0
        else:
            raise ValueError(f"fuselstm.torch.LSTM: device {x.device} is not supported")
        key = (dtype, device, stream)
        model = self._models.get(key)
        if model is None:
            model = _fuselstm.Model(self.input_size, self.hidden_size, self.num_layers, self.bias,
                                    self.batch_first, self.dropout, self.bidirectional, "tanh",
                                    dtype, device, stream, self._dropout_seed)
            self._models[key] = model
        model.training = self.training
        return model

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        lengths = []
        if packed:
            x, length_tensor = pad_packed_sequence(input, batch_first=self.batch_first)
            lengths = [int(n) for n in length_tensor]
        else:
            x = input
        unbatched = not packed and x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1)
        if x.dim() != 3:
            raise ValueError(f"fuselstm.torch.LSTM: input must be 2-D or 3-D, got {x.dim()}-D")
        h0, c0 = (None, None) if hx is None else hx
        if unbatched:
            h0 = None if h0 is None else h0.unsqueeze(1)
            c0 = None if c0 is None else c0.unsqueeze(1)
        model = self._model_for(x)
        params = [getattr(self, name) for name in self._names]
        y, hT, cT = _LstmFunction.apply(self, model, x, h0, c0, lengths, *params)
        if unbatched:
            return y.squeeze(1), (hT.squeeze(1), cT.squeeze(1))
        if packed:
            y = self._repack(y, length_tensor, input)
        return y, (hT, cT)

    def _repack(self, y, lengths, like):
        """y (padded, original batch order) as a PackedSequence ordered like `like`."""
        batch_dim = 0 if self.batch_first else 1
        if like.sorted_indices is not None:
            y = y.index_select(batch_dim, like.sorted_indices)
            lengths = lengths[like.sorted_indices.cpu()]
        data = pack_padded_sequence(y, lengths, batch_first=self.batch_first,
                                    enforce_sorted=True).data
        return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)

    def _apply(self, fn, *args, **kwargs):
        # .to() / .double() / .cuda(): the models of the old dtype or device are dropped.
        self._models = {}
        return super()._apply(fn, *args, **kwargs)
