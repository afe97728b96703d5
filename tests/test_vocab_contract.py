"""Contractions (tinygraph.ops.contract): einsum in all its forms, dot, vdot, inner, outer, tensordot,
kron and cross, against numpy (forward, float64 and float32), finite differences (first and second
order) and PyTorch (vector-Jacobian and Hessian-vector products); then values known by hand,
size-0 axes and the errors."""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygraph as tg

sys.path.insert(0, str(Path(__file__).parent))  # the checks shared by the vocabulary tables
from vocab_cases import Case, check_against_torch, check_forward, check_gradients, ids  # noqa: E402


def ein(spec, *shapes, torch=True):
    return Case(
        f"einsum {spec} {shapes}",
        lambda *xs: tg.einsum(spec, *xs),
        lambda *xs: np.einsum(spec, *xs),
        shapes,
        (lambda t, *xs: t.einsum(spec, *xs)) if torch else None,
    )


def case(name, fn, np_fn, shapes, torch_fn=None):
    return Case(f"{name} {shapes}", fn, np_fn, shapes, torch_fn)


def _np_cross(**kw):
    def f(a, b):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy 2 deprecates 2-vectors
            return np.cross(a, b, **kw)

    return f


CASES = [
    ein("ij,jk->ik", (3, 4), (4, 2)),
    ein("ij,jk", (3, 4), (4, 2)),
    ein("ii->i", (3, 3)),
    ein("ii", (3, 3)),
    ein("iij->ji", (2, 2, 3)),
    ein("ij->", (2, 3)),
    ein("ji", (2, 3)),
    ein("i,i", (4,), (4,)),
    ein("i,j->ij", (3,), (2,)),
    ein("ii,i->i", (3, 3), (3,)),
    ein("...ij,...jk->...ik", (2, 3, 4), (2, 4, 2)),
    ein("...ij,jk", (2, 2, 3), (3, 4)),
    ein("i...->...", (3, 2)),
    ein("...,...", (2, 1), (3,)),
    ein("ij,ij->ij", (2, 1), (2, 3), torch=False),  # numpy broadcasts a named axis of length 1
    ein("ba,Ab->aA", (3, 2), (4, 3)),
    ein("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),
    ein("i,ij,j", (3,), (3, 2), (2,)),
    ein("bij,bjk->bik", (2, 3, 4), (2, 4, 1)),
    ein(",i->i", (), (3,)),
    case("dot", tg.dot, np.dot, ((3, 4), (4, 2)), lambda t, a, b: a @ b),
    case("dot", tg.dot, np.dot, ((4,), (4,)), lambda t, a, b: a @ b),
    case("dot", tg.dot, np.dot, ((2, 3, 4), (4,)), lambda t, a, b: a @ b),
    case("dot", tg.dot, np.dot, ((2, 3, 4), (2, 4, 5)), lambda t, a, b: t.tensordot(a, b, ([2], [1]))),
    case("dot", tg.dot, np.dot, ((), (3,)), lambda t, a, b: a * b),
    case("dot", tg.dot, np.dot, ((4,), (3, 4, 2)), lambda t, a, b: t.tensordot(a, b, ([0], [1]))),
    case("vdot", tg.vdot, np.vdot, ((2, 3), (3, 2)), lambda t, a, b: t.dot(a.reshape(-1), b.reshape(-1))),
    case("inner", tg.inner, np.inner, ((3, 4), (2, 4)), lambda t, a, b: t.inner(a, b)),
    case("inner", tg.inner, np.inner, ((2, 3, 4), (4,)), lambda t, a, b: t.inner(a, b)),
    case("inner", tg.inner, np.inner, ((), (3,)), lambda t, a, b: t.inner(a, b)),
    case("outer", tg.outer, np.outer, ((3,), (4,)), lambda t, a, b: t.outer(a, b)),
    case("outer", tg.outer, np.outer, ((2, 2), (3,)), lambda t, a, b: t.outer(a.reshape(-1), b)),
    case("tensordot", tg.tensordot, np.tensordot, ((2, 3, 4), (3, 4, 2)), lambda t, a, b: t.tensordot(a, b)),
    *(
        case(
            f"tensordot axes={axes}",
            lambda a, b, axes=axes: tg.tensordot(a, b, axes),
            lambda a, b, axes=axes: np.tensordot(a, b, axes),
            shapes,
            lambda t, a, b, d=dims: t.tensordot(a, b, d),
        )
        for axes, dims, shapes in [
            (([1, 0], [0, 1]), ([1, 0], [0, 1]), ((3, 2, 4), (2, 3, 5))),
            ((1, 0), ([1], [0]), ((3, 4), (4, 2))),
            (0, 0, ((2,), (3,))),
            (([-1], [-2]), ([1], [1]), ((2, 3), (4, 3, 2))),
            (1, 1, ((2, 3), (3,))),
        ]
    ),
    case("kron", tg.kron, np.kron, ((2, 2), (2, 3)), lambda t, a, b: t.kron(a, b)),
    case("kron", tg.kron, np.kron, ((3,), (2,)), lambda t, a, b: t.kron(a, b)),
    case("kron", tg.kron, np.kron, ((2, 3), (2,)), lambda t, a, b: t.kron(a, b)),
    case("kron", tg.kron, np.kron, ((2,), (2, 1, 2)), lambda t, a, b: t.kron(a, b)),
    case("cross", tg.cross, np.cross, ((3,), (3,)), lambda t, a, b: t.linalg.cross(a, b)),
    case("cross", tg.cross, np.cross, ((4, 3), (3,)), lambda t, a, b: t.linalg.cross(a, b.expand(4, 3))),
    case(
        "cross axisa=0 axisb=1",
        lambda a, b: tg.cross(a, b, axisa=0, axisb=1),
        lambda a, b: np.cross(a, b, axisa=0, axisb=1),
        ((3, 2), (2, 3)),
        lambda t, a, b: t.linalg.cross(a.T, b),
    ),
    case(
        "cross axis=0",
        lambda a, b: tg.cross(a, b, axis=0),
        lambda a, b: np.cross(a, b, axis=0),
        ((3, 2), (3, 2)),
        lambda t, a, b: t.linalg.cross(a, b, dim=0),
    ),
    case(
        "cross axisc=0",
        lambda a, b: tg.cross(a, b, axisc=0),
        lambda a, b: np.cross(a, b, axisc=0),
        ((4, 3), (4, 3)),
        lambda t, a, b: t.linalg.cross(a, b).T,
    ),
    case("cross 2x2", tg.cross, _np_cross(), ((4, 2), (2,))),
    case("cross 2x3", tg.cross, _np_cross(), ((2,), (3,))),
    case("cross 3x2", tg.cross, _np_cross(), ((2, 3), (2, 2))),
]


@pytest.mark.parametrize("c", CASES, ids=ids(CASES))
def test_forward_matches_numpy_in_float64_and_float32(c):
    check_forward(c)


@pytest.mark.parametrize("c", CASES, ids=ids(CASES))
def test_gradients_match_finite_differences(c):
    check_gradients(c)


@pytest.mark.parametrize("c", [c for c in CASES if c.torch], ids=ids([c for c in CASES if c.torch]))
def test_first_and_second_derivatives_match_pytorch(c):
    check_against_torch(c)


def test_einsum_of_repeated_indices_accumulates_on_the_diagonal():
    a = tg.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    d = tg.einsum("ii->i", a)
    assert d.tolist() == [0.0, 4.0, 8.0]
    (d * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [[1, 0, 0], [0, 2, 0], [0, 0, 3]]
    a.grad = None
    tg.einsum("ii", a).backward()  # the trace
    assert a.grad.tolist() == np.eye(3).tolist()
    # x used twice in one einsum: both uses add up, d/dx sum_i x_i^2 y_i = 2 x y
    x, y = tg.tensor([1.0, 2.0], requires_grad=True), tg.tensor([3.0, 5.0])
    tg.einsum("i,i,i", x, x, y).backward()
    assert x.grad.tolist() == [6.0, 20.0]


def test_einsum_gradient_is_an_einsum():
    a, b = tg.tensor(np.ones((2, 3)), requires_grad=True), tg.tensor(np.ones((3, 4)), requires_grad=True)
    out = tg.einsum("ij,jk->ik", a, b)
    assert out.op == "einsum"
    (ga,) = tg.grad(out.sum(), [a], create_graph=True)
    assert ga.op == "einsum" and ga.tolist() == [[4.0] * 3] * 2


def test_size_zero_axes():
    a, b = tg.tensor(np.ones((3, 0)), requires_grad=True), tg.tensor(np.ones((0, 2)), requires_grad=True)
    for out in (tg.einsum("ij,jk", a, b), tg.dot(a, b), tg.tensordot(a, b, 1)):
        assert out.tolist() == [[0.0, 0.0]] * 3
        out.sum().backward()
        assert a.grad.shape == (3, 0) and b.grad.shape == (0, 2)
    e = tg.tensor(np.ones((0, 3)), requires_grad=True)
    assert tg.einsum("ij->j", e).tolist() == [0.0] * 3
    assert tg.outer(e, tg.tensor([1.0])).shape == (0, 1)
    assert tg.kron(e, tg.tensor(np.ones((2, 2)))).shape == (0, 6)
    assert tg.inner(e, tg.tensor(np.ones(3))).shape == (0,)


def test_dot_known_values_and_method():
    a = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert tg.dot(a, [1.0, 1.0]).tolist() == [3.0, 7.0]
    assert a.dot(a).tolist() == [[7.0, 10.0], [15.0, 22.0]]
    assert tg.vdot(a, a).item() == 30.0
    assert tg.cross([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]).tolist() == [0.0, 0.0, 1.0]
    assert tg.kron([1.0, 2.0], [1.0, 10.0]).tolist() == [1.0, 10.0, 2.0, 20.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: tg.einsum("ij,jk", np.ones((2, 3)), np.ones((4, 2))), r"einsum: 'ij,jk' .*\(2, 3\), \(4, 2\).*'j'"),
        (lambda: tg.einsum("ij", np.ones(3)), r"einsum: 'ij' with operands of shapes \(3,\): term 'ij' names 2"),
        (lambda: tg.einsum("ij,j", np.ones((2, 2))), "2 subscript terms for 1 operands"),
        (lambda: tg.einsum("ii->i", np.ones((2, 3))), "'i' is repeated in one operand with lengths 2 and 3"),
        (lambda: tg.einsum("i->j", np.ones(2)), "output subscript 'j' is in no operand"),
        (lambda: tg.einsum("i->ii", np.ones(2)), "output subscript 'i' repeated"),
        (lambda: tg.einsum("...i->i", np.ones((2, 3))), "the output has no '...'"),
        (lambda: tg.einsum("i1", np.ones((2, 3))), "invalid subscript term"),
        (lambda: tg.dot(np.ones((2, 3)), np.ones((2, 3))), r"dot: shapes \(2, 3\) and \(2, 3\) not aligned"),
        (lambda: tg.vdot(np.ones(2), np.ones(3)), r"vdot: shapes \(2,\) and \(3,\)"),
        (lambda: tg.inner(np.ones(2), np.ones(3)), r"inner: shapes \(2,\) and \(3,\)"),
        (lambda: tg.tensordot(np.ones((2, 3)), np.ones((2, 3)), 1), r"tensordot: shapes \(2, 3\) and \(2, 3\): axis 1"),
        (lambda: tg.tensordot(np.ones(2), np.ones(2), 2), r"tensordot: axes=2 for operands of shapes \(2,\)"),
        (lambda: tg.cross(np.ones(4), np.ones(3)), r"cross: shapes \(4,\) and \(3,\): vectors need 2 or 3"),
    ],
)
def test_bad_input_names_the_op_and_the_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_third_derivative_through_einsum_is_known_by_hand():
    # f(x) = sum_i x_i^3 as one einsum: f' = 3x^2, f'' = 6x, f''' = 6 (along each coordinate)
    x = tg.tensor([1.0, -2.0, 0.5], requires_grad=True)
    (g1,) = tg.grad(tg.einsum("i,i,i->", x, x, x), [x], create_graph=True)
    assert g1.tolist() == [3.0, 12.0, 0.75]
    (g2,) = tg.grad(g1.sum(), [x], create_graph=True)
    assert g2.tolist() == [6.0, -12.0, 3.0]
    (g3,) = tg.grad(g2.sum(), [x])
    assert g3.tolist() == [6.0, 6.0, 6.0]
    # and through a contraction of a matrix with itself: d/dA sum((A A)_ij) = 1 A^T + A^T 1
    a = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (ga,) = tg.grad(tg.tensordot(a, a, 1).sum(), [a])
    ones = np.ones((2, 2))
    assert ga.tolist() == (ones @ a.data.T + a.data.T @ ones).tolist()
