"""Every op, over scalar, vector, matrix and broadcast shapes: gradients against finite differences
in float64 at first order, and at second order for the smooth ops."""

import numpy as np
import pytest

import tinygraph as tg

SHAPES = [(), (4,), (3, 4), (1, 4), (3, 1), (2, 3, 4)]
PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (1, 4)),
    ((3, 4), (3, 1)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((), (3, 4)),
    ((4,), (2, 3, 4)),
]


def normal(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def positive(shape, seed):
    return np.abs(normal(shape, seed)) + 0.5


def away_from_zero(shape, seed):
    x = normal(shape, seed)
    return np.sign(x) * (np.abs(x) + 0.5)


# name -> (fn, input generator, smooth?)
UNARY = {
    "neg": (lambda x: -x, normal, True),
    "exp": (tg.exp, normal, True),
    "log": (tg.log, positive, True),
    "sqrt": (tg.sqrt, positive, True),
    "abs": (tg.abs, away_from_zero, True),
    "pow_const": (lambda x: x**3, normal, True),
    "rpow": (lambda x: 2.0**x, normal, True),
    "sigmoid": (tg.sigmoid, normal, True),
    "tanh": (tg.tanh, normal, True),
    "relu": (tg.relu, away_from_zero, True),
    "leaky_relu": (lambda x: tg.leaky_relu(x, 0.1), away_from_zero, True),
    "softplus": (tg.softplus, normal, True),
    "clip": (lambda x: tg.clip(x * 3, -1.0, 1.0), away_from_zero, True),
    "scalar_ops": (lambda x: (1 - x) / 2 + 3 * x - x / 4, normal, True),
    "sum": (lambda x: x.sum(), normal, True),
    "mean": (lambda x: x.mean(), normal, True),
    "max": (lambda x: x.max(), normal, True),
    "min": (lambda x: x.min(), normal, True),
    "var": (lambda x: x.var(), normal, True),
    "logsumexp": (lambda x: tg.logsumexp(x), normal, True),
    "reshape": (lambda x: x.reshape(-1) * tg.tensor(np.arange(x.size, dtype=float)), normal, True),
    "flatten": (lambda x: x.flatten() ** 2, normal, True),
    "transpose": (lambda x: x.T * normal(x.shape[::-1], 9), normal, True),
    "expand_dims": (lambda x: tg.expand_dims(x, 0) ** 2, normal, True),
    "broadcast_to": (lambda x: tg.broadcast_to(x, (2, *x.shape)) * normal((2, *x.shape), 8), normal, True),
}

AXIS_OPS = {
    "sum": lambda x, ax, kd: x.sum(axis=ax, keepdims=kd),
    "mean": lambda x, ax, kd: x.mean(axis=ax, keepdims=kd),
    "max": lambda x, ax, kd: x.max(axis=ax, keepdims=kd),
    "min": lambda x, ax, kd: x.min(axis=ax, keepdims=kd),
    "var": lambda x, ax, kd: x.var(axis=ax, keepdims=kd),
    "logsumexp": lambda x, ax, kd: tg.logsumexp(x, axis=ax, keepdims=kd),
}

BINARY = {
    "add": (lambda a, b: a + b, normal, normal),
    "sub": (lambda a, b: a - b, normal, normal),
    "mul": (lambda a, b: a * b, normal, normal),
    "div": (lambda a, b: a / b, normal, away_from_zero),
    "pow": (lambda a, b: a**b, positive, normal),
    "maximum": (tg.maximum, normal, normal),
    "minimum": (tg.minimum, normal, normal),
    "where": (lambda a, b: tg.where(a > 0, a * b, b - a), away_from_zero, normal),
}


def check(fn, inputs, second_order):
    first = tg.gradcheck(fn, inputs)
    assert first.passed, str(first)
    assert first.difference < 1e-7
    if second_order:
        second = tg.gradgradcheck(fn, inputs)
        assert second.passed, str(second)
        assert second.difference < 1e-6


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name, shape):
    fn, gen, smooth = UNARY[name]
    check(fn, [tg.tensor(gen(shape, 1))], smooth)


@pytest.mark.parametrize("axis", [0, -1, (0, 1), None], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", list(AXIS_OPS))
def test_reductions_with_axis(name, axis, keepdims):
    fn = AXIS_OPS[name]
    check(lambda x: fn(x, axis, keepdims), [tg.tensor(normal((2, 3, 4), 2))], True)


@pytest.mark.parametrize("shapes", PAIRS, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_broadcasting(name, shapes):
    fn, gen_a, gen_b = BINARY[name]
    a, b = tg.tensor(gen_a(shapes[0], 3)), tg.tensor(gen_b(shapes[1], 4))
    check(fn, [a, b], True)


@pytest.mark.parametrize(
    "shapes",
    [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2))],
    ids=str,
)
def test_matmul(shapes):
    a, b = tg.tensor(normal(shapes[0], 5)), tg.tensor(normal(shapes[1], 6))
    check(tg.matmul, [a, b], True)
    assert np.allclose(tg.matmul(a, b).data, a.data @ b.data)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family(axis):
    x = tg.tensor(normal((3, 4), 7))
    check(lambda x: tg.softmax(x, axis=axis) * normal((3, 4), 1), [x], True)
    check(lambda x: tg.log_softmax(x, axis=axis) * normal((3, 4), 1), [x], True)


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
def test_getitem(index):
    x = tg.tensor(normal((3, 4), 8))
    check(lambda x: x[index] * 2, [x], True)


def test_getitem_boolean_mask():
    x = tg.tensor(normal((3, 4), 8))
    mask = x.data > 0
    check(lambda x: x[mask] ** 2, [x], True)


def test_concatenate_and_stack():
    a, b = tg.tensor(normal((2, 3), 1)), tg.tensor(normal((4, 3), 2))
    check(lambda a, b: tg.concatenate([a, b * b, a], axis=0) * normal((8, 3), 3), [a, b], True)
    c = tg.tensor(normal((2, 3), 4))
    check(lambda a, c: tg.stack([a, c * a], axis=1) * normal((2, 2, 3), 5), [a, c], True)


def test_squeeze():
    x = tg.tensor(normal((3, 1, 4, 1), 1))
    check(lambda x: tg.squeeze(x) ** 2, [x], True)
    check(lambda x: tg.squeeze(x, axis=1) ** 2, [x], True)


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
