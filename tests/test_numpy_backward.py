"""Built-in ops give their vjp twice, side by side: `backward` in tinygraph ops (the definition,
differentiable) and `numpy_backward` on raw arrays (the fast path the engine takes without
create_graph). Here the two must agree, node by node, on random programs covering every op."""

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.function import _topo_order
from tinygraph.testing import OP_NAMES, random_program


def _both_vjps(node, out, g):
    node.output = out
    try:
        with tg.no_grad():
            slow = node.fn.backward(node, tg.tensor(g))
        fast = node.fn.numpy_backward(node, g)
    finally:
        node.output = None
    slow = slow if isinstance(slow, tuple) else (slow,)
    fast = fast if isinstance(fast, tuple) else (fast,)
    return slow, fast


@pytest.mark.parametrize("seed", range(60))
def test_numpy_backward_matches_backward_on_random_programs(seed):
    program = random_program(seed, n_ops=8)
    xs = [tg.tensor(x, requires_grad=True) for x in program.inputs]
    out = program(*xs)
    rng = np.random.default_rng(seed)
    checked = 0
    for t in _topo_order([out]):
        node = t._node
        if node.fn.numpy_backward is None:
            continue
        slow, fast = _both_vjps(node, t, rng.standard_normal(t.shape))
        assert len(slow) == len(fast), node.name
        for need, s, f in zip(node.needs_input_grad, slow, fast):
            if not need:
                continue
            assert f.shape == s.shape, node.name
            np.testing.assert_allclose(f, s.data, rtol=1e-12, atol=1e-12, err_msg=node.name)
            checked += 1
    assert checked > 0


def test_every_builtin_op_has_a_numpy_backward_and_the_programs_reach_it():
    from tinygraph.ops import activation, elementwise, linalg, reduce, shape

    ops = [
        cls
        for module in (activation, elementwise, linalg, reduce, shape)
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, tg.Function)
        and not cls.__name__.startswith("_")
        and cls.__module__ == module.__name__
    ]
    assert [c.name for c in ops if c.numpy_backward is None] == []
    seen = set()
    for seed in range(60):
        program = random_program(seed, n_ops=8)
        out = program(*[tg.tensor(x, requires_grad=True) for x in program.inputs])
        seen |= {t._node.name for t in _topo_order([out])}
    # every forward op appears; the gradient-only ops (tanh_grad, sigmoid_grad, index_add, sum_to)
    # only appear in graphs of gradients, which test_op_table's second-order checks exercise
    forward_ops = {c.name for c in ops} - {"tanh_grad", "sigmoid_grad", "index_add", "sum_to"}
    assert forward_ops <= seen | {"astype"}, forward_ops - seen
    assert len(OP_NAMES) > 0


def test_gradient_only_ops_agree_too():
    x = tg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    for make in (
        lambda x: tg.tanh(x),
        lambda x: tg.sigmoid(x),
        lambda x: x[[0, 0, 2], 1:3] * 1.0,
        lambda x: x + tg.tensor(np.ones((2, 3, 4))),
    ):
        y = make(x)
        (g,) = tg.grad(y, [x], grad_outputs=np.ones(y.shape) * 0.5, create_graph=True)
        for t in _topo_order([g]):
            node = t._node
            if node.fn.numpy_backward is None:
                continue
            slow, fast = _both_vjps(node, t, np.full(t.shape, 0.3))
            for need, s, f in zip(node.needs_input_grad, slow, fast):
                if need:
                    np.testing.assert_allclose(f, s.data, rtol=1e-12, atol=1e-12, err_msg=node.name)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_activations_keep_the_dtype_and_match_the_textbook_formulas(dtype):
    # the hot activations use 0-d constants of the operand's dtype instead of Python numbers
    # (faster in numpy); the results must stay in the dtype and equal the formulas exactly
    x = np.array([-30.0, -2.5, -0.0, 0.0, 0.7, 4.0, 30.0], dtype=dtype)
    g = np.linspace(-1.0, 2.0, x.size).astype(dtype)
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    expected = {
        "sigmoid": (np.where(x >= 0, r, e * r), None),
        "tanh": (np.tanh(x), None),
        "relu": (np.maximum(x, 0), g * (x > 0)),
    }
    for name, (value, grad) in expected.items():
        t = tg.tensor(x, requires_grad=True)
        y = getattr(tg, name)(t)
        (y * tg.tensor(g)).sum().backward()
        yd = y.data
        if grad is None:  # sigmoid and tanh: the vjp from the output, as the course writes it
            grad = g * (yd * (1 - yd)) if name == "sigmoid" else g * (1 - yd * yd)
        assert y.dtype == dtype and t.grad.dtype == dtype, name
        np.testing.assert_array_equal(yd, value, err_msg=name)
        np.testing.assert_array_equal(t.grad.data, grad, err_msg=name)
    # known values at 0: sigmoid 1/2 with slope 1/4, tanh 0 with slope 1, relu 0 with slope 0
    for name, value, slope in (("sigmoid", 0.5, 0.25), ("tanh", 0.0, 1.0), ("relu", 0.0, 0.0)):
        t = tg.tensor(np.zeros(1, dtype), requires_grad=True)
        y = getattr(tg, name)(t)
        y.sum().backward()
        assert (y.item(), t.grad.item()) == (value, slope), name
