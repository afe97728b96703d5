"""Numerical stability at ±1e4: finite, exact to float precision, finite gradients, float32 and float64."""

import math

import numpy as np
import pytest

import tinygraph as tg

DTYPES = [np.float32, np.float64]
X = [-1e4, -30.0, -1.0, 0.0, 1.0, 30.0, 1e4]


def _exact(fn, values):
    return np.array([fn(v) for v in values])


def _sigmoid(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def _softplus(v):
    return v + math.log1p(math.exp(-v)) if v > 0 else math.log1p(math.exp(v))


def _check(out, expected, dtype):
    assert out.dtype == dtype
    assert np.isfinite(out.data).all()
    np.testing.assert_allclose(out.data, expected.astype(dtype), rtol=4 * np.finfo(dtype).eps, atol=0)


def _grad(fn, x):
    x = tg.tensor(x, requires_grad=True)
    fn(x).sum().backward()
    assert x.grad.dtype == x.dtype and np.isfinite(x.grad.data).all()
    return x.grad.data


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_softplus_at_large_inputs(dtype):
    x = np.array(X, dtype=dtype)
    _check(tg.sigmoid(tg.tensor(x)), _exact(_sigmoid, x.astype(float)), dtype)
    _check(tg.softplus(tg.tensor(x)), _exact(_softplus, x.astype(float)), dtype)
    s = _exact(_sigmoid, x.astype(float))
    # s(1 - s) underflows to 0 where s rounds to 1 (x = 30 in float32): exact up to one ulp of 1
    np.testing.assert_allclose(
        _grad(tg.sigmoid, x), s * (1 - s), rtol=8 * np.finfo(dtype).eps, atol=np.finfo(dtype).eps
    )
    np.testing.assert_allclose(_grad(tg.softplus, x), s, rtol=4 * np.finfo(dtype).eps, atol=0)


LARGE = np.array([[1e4, 1e4, -1e4], [-1e4, -1e4, -1e4], [1e4, 0.0, -1e4]])
SOFTMAX = np.array([[0.5, 0.5, 0.0], [1 / 3] * 3, [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_and_softmax_at_large_inputs(dtype):
    x = LARGE.astype(dtype)
    lse = tg.logsumexp(tg.tensor(x), axis=1)
    _check(lse, np.array([1e4 + math.log(2), -1e4 + math.log(3), 1e4]), dtype)
    g = _grad(lambda t: tg.logsumexp(t, axis=1), x)
    np.testing.assert_allclose(g, SOFTMAX, rtol=4 * np.finfo(dtype).eps, atol=1e-30)
    _check(tg.softmax(tg.tensor(x), axis=1), SOFTMAX, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_is_finite_with_finite_gradients_at_large_inputs(dtype):
    x = LARGE.astype(dtype)
    logp = tg.log_softmax(tg.tensor(x), axis=1)
    assert logp.dtype == dtype and np.isfinite(logp.data).all()
    # d/dx sum(log_softmax(x) * w) = w - softmax * sum(w), finite everywhere
    w = np.eye(3, dtype=dtype)
    g = _grad(lambda t: tg.log_softmax(t, axis=1) * tg.tensor(w), x)
    np.testing.assert_allclose(g, w - SOFTMAX, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_is_exact_at_large_inputs(dtype):
    logp = tg.log_softmax(tg.tensor(LARGE.astype(dtype)), axis=1)
    expected = np.array([[-math.log(2), -math.log(2), -2e4 - math.log(2)], [-math.log(3)] * 3, [0.0, -1e4, -2e4]])
    _check(logp, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_at_large_logits(dtype):
    F = pytest.importorskip("tinygraph.nn.functional")
    if not hasattr(F, "binary_cross_entropy_with_logits"):
        pytest.skip("tinygraph.nn.functional.binary_cross_entropy_with_logits is not written yet")
    z = np.array([1e4, 1e4, -1e4, -1e4, 0.0], dtype=dtype)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0], dtype=dtype)
    loss = F.binary_cross_entropy_with_logits(tg.tensor(z), tg.tensor(y), reduction="none")
    _check(loss, np.array([0.0, 1e4, 1e4, 0.0, math.log(2)]), dtype)
    zt = tg.tensor(z, requires_grad=True)
    F.binary_cross_entropy_with_logits(zt, tg.tensor(y), reduction="sum").backward()
    np.testing.assert_allclose(zt.grad.data, [0.0, 1.0, -1.0, 0.0, -0.5], atol=0)  # sigmoid(z) - y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_on_saturated_probabilities(dtype):
    F = pytest.importorskip("tinygraph.nn.functional")
    # probabilities that saturated to exactly 0 and 1: large but finite loss, finite gradients
    p = tg.tensor(np.array([1.0, 0.0, 0.5], dtype=dtype), requires_grad=True)
    loss = F.binary_cross_entropy(p, tg.tensor(np.array([0.0, 1.0, 1.0], dtype=dtype)))
    assert np.isfinite(loss.item()) and loss.item() > 50
    loss.backward()
    assert np.isfinite(p.grad.data).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_at_large_logits(dtype):
    F = pytest.importorskip("tinygraph.nn.functional")
    if not hasattr(F, "cross_entropy"):
        pytest.skip("tinygraph.nn.functional.cross_entropy is not written yet")
    z = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    target = np.array([0, 1, 2])
    loss = F.cross_entropy(tg.tensor(z), target, reduction="none")
    assert np.isfinite(loss.data).all()
    np.testing.assert_allclose(loss.data, [0.0, 2e4, math.log(3)], rtol=1e-3)  # exactness: see below
    zt = tg.tensor(z, requires_grad=True)
    F.cross_entropy(zt, target, reduction="sum").backward()
    expected = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.0], [1 / 3, 1 / 3, -2 / 3]])  # softmax - onehot
    np.testing.assert_allclose(zt.grad.data, expected, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_is_exact_at_large_logits(dtype):
    F = pytest.importorskip("tinygraph.nn.functional")
    z = np.array([[1e4, 1e4, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    loss = F.cross_entropy(tg.tensor(z), np.array([0, 2]), reduction="none")
    _check(loss, np.array([math.log(2), math.log(3)]), dtype)
