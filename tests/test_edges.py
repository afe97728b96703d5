"""Edges an attack on the trust claims found: empty axes, too many dimensions, var's gradient next to large values."""

import re
from fractions import Fraction

import numpy as np
import pytest

import tinygraph as tg

EMPTY_CASES = [((0, 3), 1), ((0, 3), 0), ((3, 0), 1), ((3, 0), 0), ((2, 0, 4), 1), ((2, 0, 4), (0, 2))]


@pytest.mark.parametrize("shape, axis", EMPTY_CASES)
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_over_empty_axes_do_what_numpy_does(shape, axis, name):
    a = np.zeros(shape)
    x = tg.tensor(a, requires_grad=True)
    try:
        expected = getattr(np, name)(a, axis=axis)
    except ValueError:  # numpy: "zero-size array to reduction operation ... which has no identity"
        with pytest.raises(ValueError, match=f"^{name}: cannot reduce a tensor of shape {re.escape(str(shape))} over"):
            getattr(tg, name)(x, axis=axis)
        return
    y = getattr(tg, name)(x, axis=axis)
    assert y.shape == expected.shape and y.size == 0
    y.sum().backward()
    assert x.grad.shape == shape


def test_the_empty_result_cases_are_the_ones_numpy_defines():
    # (0, 3) over axis 1 is empty but defined; over axis 0 there are no values
    assert tg.max(tg.tensor(np.zeros((0, 3))), axis=1).shape == (0,)
    with pytest.raises(ValueError, match=r"max: cannot reduce a tensor of shape \(0, 3\) over axis 0"):
        tg.max(tg.tensor(np.zeros((0, 3))), axis=0)
    with pytest.raises(ValueError, match=r"min: cannot reduce a tensor of shape \(0,\) over all axes"):
        tg.min(tg.tensor(np.zeros(0)))


@pytest.mark.parametrize("shape, axis", [c for c in EMPTY_CASES if isinstance(c[1], int)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_over_an_empty_axis_is_numpys_empty_result(shape, axis, name, recwarn):
    a = np.zeros(shape)
    x = tg.tensor(a, requires_grad=True)
    y = getattr(tg, name)(x, axis=axis)
    assert y.shape == shape and y.size == 0  # numpy's exp(a) / sum(exp(a), axis) is empty too
    (y * 1.0).sum().backward()
    assert x.grad.shape == shape
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # no divide-by-zero noise


@pytest.mark.parametrize("shape, axis", EMPTY_CASES)
def test_logsumexp_over_empty_axes_is_minus_infinity_as_numpys_formula(shape, axis, recwarn):
    a = np.zeros(shape)
    with np.errstate(divide="ignore"):
        expected = np.log(np.sum(np.exp(a), axis=axis))
    x = tg.tensor(a, requires_grad=True)
    y = tg.logsumexp(x, axis=axis)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.data, expected)  # -inf where no values, empty where the result is empty
    y.sum().backward() if y.size else None
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_softmax_of_a_normal_input_is_unchanged():
    a = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    e = np.exp(a - a.max(axis=1, keepdims=True))
    np.testing.assert_allclose(tg.softmax(tg.tensor(a), axis=1).data, e / e.sum(axis=1, keepdims=True), rtol=1e-15)
    np.testing.assert_allclose(tg.logsumexp(tg.tensor(a), axis=1).data, np.log(np.exp(a).sum(axis=1)), rtol=1e-15)


def test_more_than_numpys_dimensions_is_reported_by_the_op_that_was_called():
    x = tg.tensor(np.ones((1,) * 63))
    with pytest.raises(ValueError, match=r"^expand_dims: a tensor of shape \(1, 1, .*\) would become 65-dimensional"):
        tg.expand_dims(x, (0, 1))
    with pytest.raises(ValueError, match=r"^reshape: a tensor of shape \(1, .*\) would become 65-dimensional"):
        tg.reshape(x, (1,) * 65)
    assert tg.expand_dims(x, 0).shape == (1,) * 64  # the limit itself is fine


def _exact_var_grad(values):
    xs = [Fraction(float(v)) for v in values]
    m = sum(xs) / len(xs)
    return [2 * (v - m) / len(xs) for v in xs]


def test_var_gradient_next_to_large_values_float32():
    a = np.array([1e4, -1e4, 0.5], np.float32)
    x = tg.tensor(a, requires_grad=True)
    tg.var(x).backward()
    assert x.grad.dtype == np.float32
    exact = _exact_var_grad(a)
    assert float(exact[2]) == pytest.approx(2 / 9)
    np.testing.assert_allclose(x.grad.data, [float(e) for e in exact], rtol=2e-7)  # was 0.22237 for 0.22222


def test_var_gradient_next_to_huge_values_float64():
    a = np.array([1e300, -1e300, 0.5])
    x = tg.tensor(a, requires_grad=True)
    with np.errstate(over="ignore"):  # the variance itself overflows to inf, as np.var's does
        v = tg.var(x)
    assert v.item() == np.inf
    v.backward()
    exact = [float(e) for e in _exact_var_grad(a)]
    np.testing.assert_allclose(x.grad.data, exact, rtol=4e-16)  # was 0.148 for 0.222
    ld = np.longdouble
    if np.finfo(ld).nmant > np.finfo(np.float64).nmant:  # an extended-precision long double on this machine
        xl = a.astype(ld)
        ref = 2 * (xl - xl.sum() / 3) / 3
        np.testing.assert_allclose(x.grad.data, ref.astype(np.float64), rtol=4e-16)


def test_var_gradient_with_axes_keepdims_and_ddof_matches_finite_differences_and_by_hand():
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    for axis, keepdims, ddof in ((None, False, 0), (0, True, 1), (1, False, 1), ((0, 1), True, 0)):

        def f(t, axis=axis, keepdims=keepdims, ddof=ddof):
            return tg.var(t, axis=axis, keepdims=keepdims, ddof=ddof)

        assert tg.gradcheck(f, [x]) and tg.gradgradcheck(f, [x])
    y = tg.tensor([1.0, 2.0, 6.0], requires_grad=True)  # mean 3: gradient 2 (x - 3) / (3 - 1)
    tg.var(y, ddof=1).backward()
    assert y.grad.tolist() == [-2.0, -1.0, 3.0]


# ----- pow where the exponent is 0: a ** 0 is 1, also at a = 0 ------------------------------------


def test_the_gradient_of_x_to_the_0_is_0_also_at_0():
    x = tg.tensor(np.array([0.0, -0.0, 1.0, -2.0], np.float32), requires_grad=True)
    with np.errstate(all="raise"):  # no 0 * inf on the way
        (x**0).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [0.0, 0.0, 0.0, 0.0]
    e = tg.tensor([0.0, 0.0], requires_grad=True)
    a = tg.tensor([0.0, 3.0], requires_grad=True)
    (a**e).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0] and e.grad.tolist() == [0.0, np.log(3.0)]


@pytest.mark.parametrize("x0", [0.0, -0.0, 0.5, -1.5])
def test_a_polynomial_in_powers_of_x_and_its_derivatives_at_and_around_0(x0):
    c = [1.0, 2.0, 3.0, 4.0]  # p(x) = 1 + 2x + 3x² + 4x³, written as the course's features x**k
    x = tg.tensor(x0, requires_grad=True)
    p = sum(ck * x**k for k, ck in enumerate(c))
    (d1,) = tg.grad(p, [x], create_graph=True)
    (d2,) = tg.grad(d1, [x], create_graph=True)
    (d3,) = tg.grad(d2, [x])
    assert d1.item() == pytest.approx(2 + 6 * x0 + 12 * x0**2, rel=1e-15)
    assert d2.item() == pytest.approx(6 + 24 * x0, rel=1e-15)
    assert d3.item() == pytest.approx(24.0, rel=1e-15)
    h = 1e-5  # and the first derivative by finite differences
    fd = (sum(ck * (x0 + h) ** k for k, ck in enumerate(c)) - sum(ck * (x0 - h) ** k for k, ck in enumerate(c))) / (
        2 * h
    )
    assert d1.item() == pytest.approx(fd, rel=1e-9)


def test_pow_at_exponent_0_against_pytorch_where_both_are_right():
    torch = pytest.importorskip("torch")
    a0 = np.array([[0.0, 1.5], [2.0, 0.0]])
    b0 = np.array([0.0, 2.0])
    a, b = tg.tensor(a0, requires_grad=True), tg.tensor(b0, requires_grad=True)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    (a**b).sum().backward()
    (ta**tb).sum().backward()
    np.testing.assert_array_equal(a.grad.data, ta.grad.numpy())  # PyTorch masks b = 0 to 0 too
    np.testing.assert_allclose(b.grad.data, tb.grad.numpy(), rtol=1e-15)  # both take 0 where a = 0
