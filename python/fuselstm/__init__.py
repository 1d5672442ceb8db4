"""fuselstm: LSTM training with backpropagation through time on CUDA GPUs and the CPU.

Two front ends over the same C++ library (no math of their own):

- :class:`fuselstm.LSTM` — numpy level: ``forward(x) -> (y, hT, cT, context)`` and
  ``backward(context, dy) -> (dx, dh0, dc0)``; on the CPU its parameters and gradients are numpy
  arrays the model reads and writes in place (``lstm.params[name]``, ``lstm.grads[name]``, PyTorch's
  names).
- :class:`fuselstm.torch.LSTM` — a drop-in replacement for ``torch.nn.LSTM`` with autograd
  (``import fuselstm.torch``).

Inputs that are C-contiguous and already of the model's dtype and device are read in place (no
copy); anything else is converted once (``numpy.ascontiguousarray``) before the call.
"""

import numpy as np

from . import _fuselstm
from ._fuselstm import ForwardContext

__version__ = _fuselstm.__version__
__all__ = ["LSTM", "ForwardContext", "cuda_device_count", "__version__"]


def cuda_device_count():
    """Usable CUDA devices (0 without a driver or without CUDA in this build)."""
    return _fuselstm.cuda_device_count()


def _dtype_name(dtype):
    name = np.dtype(dtype).name
    if name not in ("float32", "float64"):
        raise ValueError(f"fuselstm: dtype must be float32 or float64, got {name}")
    return name


class LSTM:
    """An LSTM of PyTorch's nn.LSTM shapes and names, trained by explicit forward and backward.

    Sequences are [T, B, F] ([B, T, F] with batch_first), states [L*D, B, H]. ``cell='identity'``
    is the "Simple LSTM" seed's h = o*c; the default ``'tanh'`` is PyTorch's h = o*tanh(c).
    Parameters start as PyTorch's default initialisation (uniform in ±1/sqrt(H), from ``seed``).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, cell="tanh", dtype=np.float32, device="cpu",
                 seed=0):
        self._dtype = np.dtype(_dtype_name(dtype))
        self._model = _fuselstm.Model(input_size, hidden_size, num_layers, bias, batch_first,
                                      dropout, bidirectional, cell, self._dtype.name, device)
        self.batch_first = batch_first
        self.device = device
        self.params = {}
        self.grads = {}
        rng = np.random.RandomState(seed)
        bound = 1.0 / np.sqrt(hidden_size)
        for name in self._model.parameter_names():
            shape = tuple(self._model.parameter_shape(name))
            value = rng.uniform(-bound, bound, size=shape).astype(self._dtype)
            if device == "cpu":  # the model works on these arrays in place
                self.params[name] = value
                self.grads[name] = np.zeros(shape, self._dtype)
                self._model.bind(name, self.params[name], self.grads[name])
            else:
                self._model.set_parameter(name, value)

    @property
    def parameter_names(self):
        return list(self._model.parameter_names())

    def parameter(self, name):
        """A copy of the parameter `name` (PyTorch's names: weight_ih_l0, ...)."""
        return np.array(self.params[name]) if name in self.params else self._model.parameter(name)

    def gradient(self, name):
        """A copy of the accumulated gradient of `name`."""
        return np.array(self.grads[name]) if name in self.grads else self._model.gradient(name)

    def set_parameter(self, name, value):
        value = np.asarray(value, dtype=self._dtype)
        if name in self.params:
            self.params[name][...] = value
        else:
            self._model.set_parameter(name, np.ascontiguousarray(value))

    def _array(self, a):
        return None if a is None else np.ascontiguousarray(a, dtype=self._dtype)

    def forward(self, x, h0=None, c0=None, lengths=None):
        """-> (y, hT, cT, context); lengths: one per sequence (a padded batch)."""
        lengths = [] if lengths is None else [int(n) for n in lengths]
        return self._model.forward(self._array(x), self._array(h0), self._array(c0), lengths)

    def infer(self, x, h0=None, c0=None, lengths=None):
        """Forward without keeping anything for backward -> (y, hT, cT)."""
        lengths = [] if lengths is None else [int(n) for n in lengths]
        return self._model.infer(self._array(x), self._array(h0), self._array(c0), lengths)

    def backward(self, context, dy=None, dhT=None, dcT=None):
        """Adds dJ/dθ to the gradients and returns (dx, dh0, dc0); None means zero."""
        return self._model.backward(context, self._array(dy), self._array(dhT), self._array(dcT))

    def zero_grad(self):
        self._model.zero_grad()

    @property
    def training(self):
        return self._model.training

    @training.setter
    def training(self, value):
        self._model.training = bool(value)
