"""tg.compile's closed-form vjps (tinygraph/compiler/patterns.py): sigmoid + binary cross-entropy."""

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.compiler import patterns

CLOSED = "closed form"  # what the program's text says where the pattern was used


def _net(dtype, m=50, seed=0):
    rng = np.random.default_rng(seed)
    X = tg.tensor(rng.standard_normal((2, m)).astype(dtype))
    Y = tg.tensor((rng.random((1, m)) > 0.5).astype(dtype))
    shapes = [(4, 2), (4, 1), (1, 4), (1, 1)]
    params = [tg.tensor((rng.standard_normal(s) * 0.8).astype(dtype), requires_grad=True) for s in shapes]
    return X, Y, params


def _bce(params, last=tg.sigmoid, weight=None, other_y=None):
    """The course's 2-4-1 net and cost; `weight`, `other_y` make near misses of the pattern."""

    def loss_fn(X, Y):
        A = last(params[2] @ tg.tanh(params[0] @ X + params[1]) + params[3])
        Y2 = Y if other_y is None else other_y
        second = (1 - Y2) * tg.log(1 - A)
        if weight is not None:
            second = weight * second
        return -(Y * tg.log(A) + second).sum() / Y.shape[1]

    return loss_fn


def _against_eager(fn, X, Y, params, atol, closed_forms=True):
    """Compiled and eager loss and gradients; returns the program's text."""
    step = tg.compile(fn, closed_forms=closed_forms)
    for p in params:
        p.grad = None
    eager = fn(X, Y)
    eager.backward()
    ge = [p.grad.data.copy() for p in params]
    for p in params:
        p.grad = None
    for _ in range(2):  # the trace, then a replay
        for p in params:
            p.grad = None
        loss = step(X, Y)
        loss.backward()
        assert loss.dtype == eager.dtype and loss.item() == eager.item()  # the forward is untouched: bit for bit
        for p, g in zip(params, ge):
            assert p.grad.dtype == g.dtype
            np.testing.assert_allclose(p.grad.data, g, rtol=0, atol=atol)
    assert step.eager_reason is None
    return step.program(X, Y)


@pytest.mark.parametrize("on", [True, False])
def test_bce_net_float64_matches_eager_with_the_pattern_on_and_off(on):
    X, Y, params = _net(np.float64)
    text = _against_eager(_bce(params), X, Y, params, atol=1e-12, closed_forms=on)
    assert (CLOSED in text) == on


@pytest.mark.parametrize("on", [True, False])
def test_bce_net_float32_matches_eager_within_float32_rounding(on):
    X, Y, params = _net(np.float32)
    text = _against_eager(_bce(params), X, Y, params, atol=2e-6, closed_forms=on)
    assert (CLOSED in text) == on


def test_closed_form_is_the_hand_derived_gradient_and_finite_differences():
    # logistic regression: J = -sum(Y log A + (1-Y) log(1-A)) / m, A = sigmoid(w X + b); dJ/dw = (A - Y) X^T / m
    rng = np.random.default_rng(1)
    X = tg.tensor(rng.standard_normal((3, 20)))
    Y = tg.tensor((rng.random((1, 20)) > 0.5) * 1.0)
    w = tg.tensor(rng.standard_normal((1, 3)), requires_grad=True)
    b = tg.tensor(np.zeros((1, 1)), requires_grad=True)

    def cost(X, Y):
        A = tg.sigmoid(w @ X + b)
        return -(Y * tg.log(A) + (1 - Y) * tg.log(1 - A)).sum() / 20

    step = tg.compile(cost, closed_forms=True)
    step(X, Y).backward()
    assert CLOSED in step.program(X, Y)
    A = 1 / (1 + np.exp(-(w.data @ X.data + b.data)))
    np.testing.assert_allclose(w.grad.data, (A - Y.data) @ X.data.T / 20, rtol=1e-13)
    np.testing.assert_allclose(b.grad.data, (A - Y.data).sum(keepdims=True) / 20, rtol=1e-13)
    eps = 1e-6
    for i in range(3):
        d = np.zeros((1, 3))
        d[0, i] = eps
        f = []
        for s in (1, -1):
            a = 1 / (1 + np.exp(-((w.data + s * d) @ X.data)))
            f.append(-(Y.data * np.log(a) + (1 - Y.data) * np.log(1 - a)).sum() / 20)
        assert abs((f[0] - f[1]) / (2 * eps) - w.grad.data[0, i]) < 1e-8


def test_terms_in_the_other_order_a_sum_over_one_axis_and_a_leaf_under_the_sigmoid():
    rng = np.random.default_rng(2)
    z = tg.tensor(rng.standard_normal((3, 5)), requires_grad=True)  # the sigmoid's input is a leaf
    Y = tg.tensor((rng.random((3, 5)) > 0.5) * 1.0)

    def loss_fn(Y):
        A = tg.sigmoid(z)
        per_row = (tg.log(1 - A) * (1 - Y) + tg.log(A) * Y).sum(axis=1)  # (3,)
        return -(per_row * tg.tensor([1.0, 2.0, 3.0])).sum()

    step = tg.compile(loss_fn, closed_forms=True)
    eager = loss_fn(Y)
    eager.backward()
    ge, z.grad = z.grad.data.copy(), None
    loss = step(Y)
    loss.backward()
    assert CLOSED in step.program(Y)
    assert loss.item() == eager.item()
    np.testing.assert_allclose(z.grad.data, ge, rtol=0, atol=1e-12)
    A = 1 / (1 + np.exp(-z.data))
    np.testing.assert_allclose(z.grad.data, (A - Y.data) * np.array([[1.0], [2.0], [3.0]]), rtol=1e-12)


def _near_misses():
    X, Y, params = _net(np.float64)
    rng = np.random.default_rng(5)
    other = tg.tensor((rng.random((1, 50)) > 0.5) * 1.0)
    z2 = tg.tensor(rng.standard_normal((1, 50)))

    def a_used_twice(X, Y):  # A also feeds another term: its gradient is not the pattern's alone
        A = tg.sigmoid(params[2] @ tg.tanh(params[0] @ X + params[1]) + params[3])
        return -(Y * tg.log(A) + (1 - Y) * tg.log(1 - A)).sum() / 50 + (A * A).sum()

    def one_minus_another_sigmoid(X, Y):  # log(1 - B) with B not the A of log(A)
        A = tg.sigmoid(params[2] @ tg.tanh(params[0] @ X + params[1]) + params[3])
        B = tg.sigmoid(z2 * params[3])
        return -(Y * tg.log(A) + (1 - Y) * tg.log(1 - B)).sum() / 50

    def y_needs_a_gradient(X, Y):
        A = tg.sigmoid(params[2] @ tg.tanh(params[0] @ X + params[1]) + params[3])
        Yg = Y * params[3]  # a Y that depends on a parameter
        return -(Yg * tg.log(A) + (1 - Yg) * tg.log(1 - A)).sum() / 50

    return (
        X,
        Y,
        params,
        {
            "weight 2 on the second term": _bce(params, weight=2.0),
            "1 - Y of another Y": _bce(params, other_y=other),
            "log(1 - A) with A a tanh": _bce(params, last=lambda z: 0.5 * tg.tanh(z) + 0.5),
            "A used elsewhere": a_used_twice,
            "1 - B for another sigmoid B": one_minus_another_sigmoid,
            "Y needs a gradient": y_needs_a_gradient,
        },
    )


def test_near_misses_are_not_matched_and_match_eager():
    X, Y, params, cases = _near_misses()
    for name, fn in cases.items():
        text = _against_eager(fn, X, Y, params, atol=1e-12)
        assert CLOSED not in text, name


def test_by_default_the_chain_rule_runs_and_gradients_are_eagers_bit_for_bit(monkeypatch):
    """Without closed_forms=True (or with patterns.enabled off) the backward is eager's, op by op."""
    X, Y, params = _net(np.float64)
    fn = _bce(params)
    for p in params:
        p.grad = None
    fn(X, Y).backward()
    ge = [p.grad.data.copy() for p in params]
    for compiled in (tg.compile(fn), tg.compile(fn, closed_forms=True)):
        if compiled.closed_forms:
            monkeypatch.setattr(patterns, "enabled", False)
        for p in params:
            p.grad = None
        compiled(X, Y).backward()
        assert CLOSED not in compiled.program(X, Y)
        assert all(np.array_equal(p.grad.data, g) for p, g in zip(params, ge))
