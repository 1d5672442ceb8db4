"""fuselstm.LSTM, the numpy API: the seed's run, zero-copy parameters and inputs, errors."""

import numpy as np
import pytest

import fuselstm
import toy_seed

# DESIGN.md "The seed, exactly": the seed's losses in double.
SEED_LOSSES = {0: 0.7534838862531601, 1: 0.5990650839532333, 2: 0.4450955656992025,
               39: 0.0007172100492300906, 46: 0.3050136070282608, 99: 2.6107635548313486e-06}


def seed_reference_losses(iterations=100, lr=0.1):
    """The seed's algorithm written out in numpy from its derivation (h = o*c, one bias per gate):
    an independent computation of every one of the 100 losses."""
    H, X, T = toy_seed.H, toy_seed.X, toy_seed.T
    W = {g: np.random.RandomState(0).random_sample((H, X + H)) * 0.2 - 0.1 for g in "gifo"}
    b = {}
    for g in "gifo":
        rng = np.random.RandomState(0)
        b[g] = rng.random_sample(H) * 0.2 - 0.1
    x = rng.random_sample(T * X).reshape(T, X)
    sig = lambda v: 1 / (1 + np.exp(-v))
    losses = []
    for _ in range(iterations):
        h, c, cache = np.zeros(H), np.zeros(H), []
        for t in range(T):
            xc = np.concatenate([x[t], h])
            g_, i_, f_, o_ = (np.tanh(W["g"] @ xc + b["g"]), sig(W["i"] @ xc + b["i"]),
                              sig(W["f"] @ xc + b["f"]), sig(W["o"] @ xc + b["o"]))
            c_prev, c = c, g_ * i_ + c * f_
            h = c * o_
            cache.append((xc, g_, i_, f_, o_, c_prev, c, h))
        losses.append(sum((cache[t][7][0] - toy_seed.TARGETS[t]) ** 2 for t in range(T)))
        dW = {k: np.zeros_like(v) for k, v in W.items()}
        db = {k: np.zeros_like(v) for k, v in b.items()}
        dh_next, dc_next = np.zeros(H), np.zeros(H)
        for t in reversed(range(T)):
            xc, g_, i_, f_, o_, c_prev, c, h = cache[t]
            dh = dh_next.copy()
            dh[0] += 2 * (h[0] - toy_seed.TARGETS[t])
            dc = dh * o_ + dc_next
            da = {"o": dh * c * o_ * (1 - o_), "i": dc * g_ * i_ * (1 - i_),
                  "g": dc * i_ * (1 - g_ ** 2), "f": dc * c_prev * f_ * (1 - f_)}
            dxc = np.zeros(X + H)
            for k in "gifo":
                dW[k] += np.outer(da[k], xc)
                db[k] += da[k]
                dxc += W[k].T @ da[k]
            dh_next, dc_next = dxc[X:], dc * f_
        for k in "gifo":
            W[k] -= lr * dW[k]
            b[k] -= lr * db[k]
    return losses


def test_seed_losses_match_the_seed_in_double():
    losses = toy_seed.train()
    reference = seed_reference_losses()
    assert len(losses) == 100
    np.testing.assert_allclose(losses, reference, rtol=1e-6, atol=0)
    for iteration, want in SEED_LOSSES.items():
        assert losses[iteration] == pytest.approx(want, rel=1e-6), iteration
    assert losses[46] > 100 * losses[39]  # the spike: the loss does not fall at every step


def test_parameters_are_the_models_memory():
    lstm = fuselstm.LSTM(3, 4, num_layers=2, dtype=np.float64)
    for name in lstm.parameter_names:
        assert lstm._model.parameter_data_ptr(name) == lstm.params[name].ctypes.data
        assert lstm._model.gradient_data_ptr(name) == lstm.grads[name].ctypes.data
    x = np.random.RandomState(1).rand(5, 2, 3)
    y0, _, _, _ = lstm.forward(x)
    lstm.params["weight_ih_l0"][0, 0] += 0.5  # an in-place change is what the next call reads
    y1, _, _, _ = lstm.forward(x)
    assert not np.array_equal(y0, y1)


def test_non_contiguous_input_is_converted_once_and_gives_the_same_result():
    lstm = fuselstm.LSTM(3, 4, dtype=np.float64)
    x = np.random.RandomState(2).rand(2, 5, 3)
    strided = x.transpose(1, 0, 2)  # [T, B, X], not C-contiguous
    assert not strided.flags.c_contiguous
    y_strided = lstm.forward(strided)[0]
    y = lstm.forward(np.ascontiguousarray(strided))[0]
    np.testing.assert_array_equal(y_strided, y)


def test_backward_matches_finite_differences():
    lstm = fuselstm.LSTM(2, 3, bidirectional=True, dtype=np.float64, seed=4)
    rng = np.random.RandomState(5)
    x = rng.rand(4, 2, 2)
    w = rng.rand(4, 2, 6)
    y, _, _, context = lstm.forward(x, lengths=[4, 2])
    lstm.zero_grad()
    dx, _, _ = lstm.backward(context, w)
    eps = 1e-6
    for index in [(0, 0, 0), (1, 1, 1), (3, 0, 1)]:
        plus, minus = x.copy(), x.copy()
        plus[index] += eps
        minus[index] -= eps
        fd = (np.sum(lstm.forward(plus, lengths=[4, 2])[0] * w)
              - np.sum(lstm.forward(minus, lengths=[4, 2])[0] * w)) / (2 * eps)
        assert dx[index] == pytest.approx(fd, abs=1e-8)
    assert np.all(dx[2:, 1] == 0)  # padding of sequence 1 gets exactly no gradient


def test_errors_name_what_is_wrong():
    lstm = fuselstm.LSTM(3, 4)
    with pytest.raises(ValueError, match="X = 3"):
        lstm.forward(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(ValueError, match="lengths"):
        lstm.forward(np.zeros((5, 2, 3), np.float32), lengths=[5, 9])
    with pytest.raises(ValueError, match="float32 or float64"):
        fuselstm.LSTM(3, 4, dtype=np.int32)
