"""Every described op, over scalar, vector, matrix and broadcast shapes: gradients against finite
differences in float64 at first order, and at second order for the smooth ops.

The ops, their input shapes, and their inputs and parameters come from the ops' descriptions
(`tinygraph.ops.describe`); the tests after the table check what the samplers do not draw
(more kinds of index, Python numbers beside operators) and known values.
"""

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.ops import described_ops

DRAWS = 2  # samples of inputs and parameters per op and input shapes
CASES = [
    (d, i, shapes, k)
    for d in described_ops()
    if d.call is not None  # internal ops are checked through the ops that use them
    and d.differentiable  # (argmax, any: integer and boolean results, compared with numpy in test_describe)
    for i, shapes in enumerate(d.case_shapes)
    for k in range(DRAWS)
]


def normal(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def close(report, rtol):
    # where the derivative is zero (sqrt(x) squared is linear) the relative difference is noise over noise
    return report.passed and (report.difference < rtol or report.max_abs_error <= 1e-8)


def check(fn, inputs, second_order):
    first = tg.gradcheck(fn, inputs)
    assert close(first, 1e-7), str(first)
    if second_order:
        # of the output squared, so that a linear op's second derivative is not zero whatever its
        # backward does: this checks that the backward is itself differentiable
        second = tg.gradgradcheck(lambda *xs: fn(*xs) ** 2, inputs)
        assert close(second, 1e-6), str(second)


@pytest.mark.parametrize(("d", "i", "shapes", "k"), CASES, ids=[f"{c[0].name}-{c[2]}-{c[3]}" for c in CASES])
def test_op(d, i, shapes, k):
    arrays, params = d.sample(np.random.default_rng([1 + k, i, *d.name.encode()]), shapes)
    check(lambda *xs: d.call(*xs, **params), [tg.tensor(a) for a in arrays], d.smooth)


def test_the_table_has_every_shape_kind():
    kinds = {len(s) for c in CASES for s in c[2]}
    assert {0, 1, 2, 3} <= kinds
    assert any(len(shapes) == 2 and shapes[0] != shapes[1] for _, _, shapes, _ in CASES)  # broadcasting


def test_operators_with_python_numbers():
    x = tg.tensor(normal((3, 4), 1))
    check(lambda x: 2.0**x, [x], True)
    check(lambda x: (1 - x) / 2 + 3 * x - x / 4, [x], True)


INDICES = [
    (1,),
    (slice(1, 3),),
    (Ellipsis, 0),
    (slice(None), [0, 0, 3]),
    ([2, 0, 2], slice(None)),
    (np.array([[0, 1], [2, 2]]),),
    (None, 1, slice(None, None, -2)),
]


@pytest.mark.parametrize("index", INDICES, ids=str)
def test_getitem_index_kinds(index):
    x = tg.tensor(normal((3, 4), 8))
    check(lambda x: x[index] * 2, [x], True)


def test_concatenate_and_stack_of_more_than_two_with_repeats():
    a, b = tg.tensor(normal((2, 3), 1)), tg.tensor(normal((4, 3), 2))
    check(lambda a, b: tg.concatenate([a, b * b, a], axis=0) * normal((8, 3), 3), [a, b], True)
    c = tg.tensor(normal((2, 3), 4))
    check(lambda a, c: tg.stack([a, c * a], axis=1) * normal((2, 2, 3), 5), [a, c], True)


def test_known_values_of_the_course_graph():
    a, b, c = (tg.tensor(v, requires_grad=True) for v in (5.0, 3.0, 2.0))
    J = 3 * (a + b * c)
    J.backward()
    assert J.item() == 33.0
    assert (a.grad.item(), b.grad.item(), c.grad.item()) == (3.0, 6.0, 9.0)


def test_known_values_of_single_ops():
    x = tg.tensor([0.0, 1.0, -2.0], requires_grad=True)
    (tg.sigmoid(x).sum()).backward()
    s = 1 / (1 + np.exp(-x.data))
    assert np.allclose(x.grad.data, s * (1 - s))
    assert x.grad.data[0] == 0.25
    x.grad = None
    tg.tanh(x).sum().backward()
    assert np.allclose(x.grad.data, 1 - np.tanh(x.data) ** 2)
    x.grad = None
    tg.relu(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    y = tg.tensor([[1.0, 5.0, 5.0]], requires_grad=True)
    y.max().backward()
    assert y.grad.tolist() == [[0.0, 0.5, 0.5]]
    m = tg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    (m @ m).sum().backward()
    # d/dM sum(M @ M) = 1 M^T + M^T 1 (1 = ones)
    ones = np.ones((2, 2))
    assert np.allclose(m.grad.data, ones @ m.data.T + m.data.T @ ones)


def test_astype_gradient_comes_back_in_the_input_dtype():
    x = tg.tensor(np.array([1.5, -2.0]), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float64
    assert x.grad.tolist() == [3.0, 3.0]


def test_log_softmax_is_one_node_with_the_known_gradient():
    x = tg.tensor([[0.0, 0.0], [0.0, np.log(3.0)]], requires_grad=True)
    out = tg.log_softmax(x, axis=1)
    assert out.op == "log_softmax" and out.grad_fn.inputs[0] is x
    np.testing.assert_allclose(out.data, [[-np.log(2), -np.log(2)], [-np.log(4), np.log(3 / 4)]], rtol=1e-15)
    # d/dx sum(w * log_softmax(x)) = w - softmax(x) * sum(w)
    (out * tg.tensor([[1.0, 0.0], [0.0, 2.0]])).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0.5, -0.5], [-0.5, 0.5]], rtol=1e-15, atol=1e-15)
