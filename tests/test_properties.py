"""Property-based tests: random shapes and broadcasts through the elementwise and reduction ops."""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygraph as tg

ELEMENTWISE = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1),
    "maximum": tg.maximum,
    "tanh_mix": lambda a, b: tg.tanh(a) * tg.sigmoid(b),
}
REDUCTIONS = ["sum", "mean", "max", "min", "var", "logsumexp"]

floats = st.floats(-3, 3, allow_nan=False, width=64)


@settings(max_examples=40, deadline=None)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    name=st.sampled_from(sorted(ELEMENTWISE)),
    data=st.data(),
)
def test_elementwise_broadcasting_matches_numpy_and_finite_differences(shapes, name, data):
    a = data.draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=floats))
    b = data.draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=floats))
    if name == "maximum" and np.any(np.abs(np.subtract(a, b)) < 1e-3):
        return  # the derivative is undefined at ties
    fn = ELEMENTWISE[name]
    out = fn(tg.tensor(a), tg.tensor(b))
    assert out.shape == shapes.result_shape
    report = tg.gradcheck(fn, [a, b])
    assert report.difference < 1e-6, str(report)


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), elements=floats, unique=True),
    name=st.sampled_from(REDUCTIONS),
    keepdims=st.booleans(),
    data=st.data(),
)
def test_reductions_match_numpy_and_finite_differences(x, name, keepdims, data):
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1))
    if name == "var" and x.size < 2:
        return
    if name == "var":
        # var's gradient scales with the spread of x; below ~1e-3 finite differences cannot resolve it
        assume(np.ptp(x) > 1e-3)
    if name in ("max", "min"):
        assume(x.size < 2 or np.diff(np.sort(x.ravel())).min() > 1e-3)  # a kink lies between near-ties
    fn = (
        (lambda t: tg.logsumexp(t, axis=axis, keepdims=keepdims))
        if name == "logsumexp"
        else (lambda t: getattr(t, name)(axis=axis, keepdims=keepdims))
    )
    out = fn(tg.tensor(x))
    if name == "logsumexp":
        m = x.max(axis=axis, keepdims=True)
        expected = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
        expected = expected if keepdims else np.squeeze(expected, axis=axis)
    else:
        expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    assert np.allclose(out.data, expected)
    report = tg.gradcheck(fn, [x])
    assert report.difference < 1e-6, str(report)
