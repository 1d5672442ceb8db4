#!/usr/bin/env python3
"""The "Simple LSTM" seed's toy experiment on fuselstm's numpy API, printing its 100 losses.

100 memory cells, 50 inputs, 4 time steps; hidden unit 0 of h(t) is fit to y = [-0.5, 0.2, 0.1,
-0.5] with loss sum_t (h_0(t) - y(t))^2 and plain SGD (lr 0.1), cell h = o*c (cell='identity').
The start is the seed's own (DESIGN.md "The seed, exactly"): each of W_g, W_i, W_f, W_o and each
bias drawn from numpy's generator re-seeded with 0, the inputs continuing b_o's stream.

    PYTHONPATH=build/python .venv/bin/python python/examples/toy_seed.py
"""

import numpy as np

import fuselstm

H, X, T = 100, 50, 4
TARGETS = np.array([-0.5, 0.2, 0.1, -0.5])
SEED_GATE_BLOCKS = (2, 0, 1, 3)  # W_g, W_i, W_f, W_o -> PyTorch's blocks i, f, g, o


def seed_start(lstm):
    """Sets the seed's weights in `lstm` and returns its inputs x [T, 1, X]."""
    w_ih = np.zeros((4 * H, X))
    w_hh = np.zeros((4 * H, H))
    b_ih = np.zeros(4 * H)
    for block in SEED_GATE_BLOCKS:
        w = np.random.RandomState(0).random_sample((H, X + H)) * 0.2 - 0.1
        w_ih[block * H:(block + 1) * H] = w[:, :X]
        w_hh[block * H:(block + 1) * H] = w[:, X:]
    for block in SEED_GATE_BLOCKS:
        rng = np.random.RandomState(0)
        b_ih[block * H:(block + 1) * H] = rng.random_sample(H) * 0.2 - 0.1
        if block == 3:  # b_o is drawn last: the inputs continue its stream
            x = rng.random_sample(T * X).reshape(T, 1, X)
    lstm.set_parameter("weight_ih_l0", w_ih)
    lstm.set_parameter("weight_hh_l0", w_hh)
    lstm.set_parameter("bias_ih_l0", b_ih)
    lstm.set_parameter("bias_hh_l0", np.zeros(4 * H))  # one bias per gate: bias_hh stays zero
    return x


def train(iterations=100, lr=0.1, dtype=np.float64):
    """The seed's losses, one per iteration (before that iteration's update)."""
    lstm = fuselstm.LSTM(X, H, cell="identity", dtype=dtype)
    x = seed_start(lstm)
    losses = []
    for _ in range(iterations):
        y, _, _, context = lstm.forward(x)
        prediction = y[:, 0, 0]
        losses.append(float(np.sum((prediction - TARGETS) ** 2)))
        dy = np.zeros_like(y)
        dy[:, 0, 0] = 2 * (prediction - TARGETS)
        lstm.zero_grad()
        lstm.backward(context, dy)
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0"):  # plain SGD, in place
            lstm.params[name] -= lr * lstm.grads[name]
    return losses


if __name__ == "__main__":
    for iteration, loss in enumerate(train()):
        print(f"iter {iteration}: loss {loss:.10g}")
