"""SGD's plain step (no momentum, no weight decay): in place, through one kept scratch array, or for a large
parameter through BLAS's axpy (its own tests are in tests/test_optim.py)."""

import tracemalloc

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.optim import SGD


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_are_the_formula_bit_for_bit_and_the_arrays_stay(dtype):
    rng = np.random.default_rng(0)
    a = tg.tensor(rng.standard_normal((4, 3)).astype(dtype), requires_grad=True)
    b = tg.tensor(rng.standard_normal(7).astype(dtype), requires_grad=True)
    c = tg.tensor(rng.standard_normal(2).astype(dtype), requires_grad=True)  # no gradient: untouched
    opt = SGD([{"params": [a, c]}, {"params": [b], "lr": 0.25}], lr=0.1)
    arrays = [a.data, b.data]
    expected = [a.data.copy(), b.data.copy()]
    before_c = c.data.copy()
    for _ in range(3):
        ga, gb = (rng.standard_normal(p.shape).astype(dtype) for p in (a, b))
        a.grad, b.grad = tg.tensor(ga), tg.tensor(gb)
        kept = ga.copy()
        opt.step()
        expected[0] = expected[0] - 0.1 * ga  # θ ← θ − lr·g, as numpy computes it
        expected[1] = expected[1] - 0.25 * gb
        np.testing.assert_array_equal(a.data, expected[0])
        np.testing.assert_array_equal(b.data, expected[1])
        np.testing.assert_array_equal(a.grad.data, kept)  # the gradient is not written
    assert a.data is arrays[0] and b.data is arrays[1]  # the parameters' own arrays, updated in place
    assert a.dtype == dtype and b.dtype == dtype
    np.testing.assert_array_equal(c.data, before_c)
    assert c not in opt.state and a in opt.state  # the state as the general step leaves it


def test_a_pending_backward_that_saved_the_parameter_raises():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="optimizer step"):
        y.backward()
    step = tg.compile(lambda x: (tg.tanh(x * w) * w).sum())  # through a compiled call too (its backward reads w)
    loss = step(tg.tensor([1.0, 3.0]))
    w.grad = tg.tensor([1.0, 1.0])
    opt.step()
    with pytest.raises(RuntimeError, match="optimizer step"):
        loss.backward()


@pytest.mark.parametrize("fused", [True, False])
def test_no_temporary_the_size_of_the_parameter(fused, monkeypatch):
    from tinygraph.optim import _axpy

    if not fused:
        monkeypatch.setattr(_axpy, "_found", {})  # numpy's two calls through the scratch array
    w = tg.tensor(np.ones(250_000, dtype=np.float32), requires_grad=True)
    w.grad = tg.tensor(np.full(250_000, 0.5, dtype=np.float32))
    opt = SGD([w], lr=0.01)
    opt.step()  # the first step makes the scratch array (or finds the axpy)
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * w.data.nbytes, peak
    np.testing.assert_array_equal(w.data, np.float32(1) - np.float32(0.01 * 0.5) - np.float32(0.01 * 0.5))


def test_one_scratch_array_grows_for_a_larger_parameter_and_follows_new_shapes():
    small = tg.tensor(np.ones(3), requires_grad=True)
    big = tg.tensor(np.ones((5, 4)), requires_grad=True)
    opt = SGD([small, big], lr=0.5)
    small.grad, big.grad = tg.tensor(np.full(3, 2.0)), tg.tensor(np.full((5, 4), 4.0))
    opt.step()
    np.testing.assert_array_equal(small.data, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(big.data, np.full((5, 4), -1.0))
    small.data = np.arange(30.0).reshape(6, 5)  # a new shape, larger than the scratch array
    small.grad = tg.tensor(np.ones((6, 5)))
    opt.step()
    np.testing.assert_array_equal(small.data, np.arange(30.0).reshape(6, 5) - 0.5)
    np.testing.assert_array_equal(big.data, np.full((5, 4), -3.0))


def test_mismatched_gradients_take_the_general_step():
    w = tg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = SGD([w], lr=0.1)
    w.grad = tg.tensor(np.array([1.0, -2.0, 3.0]))  # float64 on float32: computed in float32
    opt.step()
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w.data, np.float32(1) - np.float32(0.1) * np.array([1, -2, 3], np.float32))
    w.grad = tg.tensor(np.ones(4, dtype=np.float32))
    with pytest.raises(ValueError, match=r"SGD.step: gradient of shape \(4,\) does not match"):
        opt.step()


def test_a_parameter_array_reshaped_in_place_steps_at_its_new_shape():
    w = tg.tensor(np.arange(6.0), requires_grad=True)
    opt = SGD([w], lr=0.5)
    w.grad = tg.tensor(np.ones(6))
    opt.step()
    w.data.shape = (2, 3)  # the same array, a new shape
    w.grad = tg.tensor(np.full((2, 3), 2.0))
    opt.step()
    np.testing.assert_array_equal(w.data, np.arange(6.0).reshape(2, 3) - 1.5)
    w.grad = tg.tensor(np.ones(6))  # the old shape no longer fits
    with pytest.raises(ValueError, match="does not match"):
        opt.step()
