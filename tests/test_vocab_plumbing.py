"""Array plumbing (tinygraph.ops.plumbing) against numpy (forward, float64 and float32), finite
differences (first and second order) and PyTorch (vector-Jacobian and Hessian-vector products);
then gathers with repeated positions by hand, size-0 axes, the split family, put_along_axis,
clip's rule for a_min > a_max, the methods and the errors."""

import sys
from pathlib import Path

import numpy as np
import pytest

import tinygraph as tg

sys.path.insert(0, str(Path(__file__).parent))  # the checks shared by the vocabulary tables
from vocab_cases import Case, check_against_torch, check_forward, check_gradients, ids  # noqa: E402


def case(name, fn, np_fn, shapes, torch_fn=None):
    return Case(f"{name} {shapes}", fn, np_fn, shapes, torch_fn)


def same(name, shapes, torch_fn=None, **kw):
    """tg.<name>(x, **kw) against np.<name>(x, **kw)."""
    label = name + "".join(f" {k}={v}" for k, v in kw.items())
    return case(label, lambda *x: getattr(tg, name)(*x, **kw), lambda *x: getattr(np, name)(*x, **kw), shapes, torch_fn)


IDX = np.array([[0, 2], [2, -1]])
ALONG = np.array([[0, 0, 2], [1, 1, 1]])
PUT = np.array([[0], [2]])

CASES = [
    same("ravel", ((2, 3),), lambda t, a: a.reshape(-1)),
    same("swapaxes", ((2, 3, 4),), lambda t, a: a.swapaxes(0, 2), axis1=0, axis2=2),
    same("moveaxis", ((2, 3, 4),), lambda t, a: a.movedim(0, -1), source=0, destination=-1),
    same("moveaxis", ((2, 3, 4),), lambda t, a: a.movedim((0, 1), (-1, -2)), source=[0, 1], destination=[-1, -2]),
    same("flip", ((2, 3, 4),), lambda t, a: a.flip((0, 1, 2))),
    same("flip", ((2, 3, 4),), lambda t, a: a.flip((1,)), axis=1),
    same("flip", ((2, 3, 4),), lambda t, a: a.flip((0, 2)), axis=(0, -1)),
    same("fliplr", ((3, 4),), lambda t, a: a.fliplr()),
    same("flipud", ((3, 4),), lambda t, a: a.flipud()),
    *(
        same("rot90", ((2, 3, 4),), lambda t, a, k=k, ax=ax: t.rot90(a, k, ax), k=k, axes=ax)
        for k in (1, 2, 3, -1)
        for ax in ((0, 1), (2, 1))
    ),
    same("repeat", ((2, 3),), lambda t, a: a.reshape(-1).repeat_interleave(2), repeats=2),
    same("repeat", ((3, 2),), lambda t, a: a.repeat_interleave(t.tensor([1, 0, 2]), dim=0), repeats=[1, 0, 2], axis=0),
    same("tile", ((2, 3),), lambda t, a: a.tile((2,)), reps=(2,)),
    same("tile", ((3,),), lambda t, a: a.tile((2, 1, 2)), reps=(2, 1, 2)),
    same("tile", ((2, 1, 2),), lambda t, a: a.tile((3, 2)), reps=(3, 2)),
    same("roll", ((2, 3),), lambda t, a: a.roll(1), shift=1),
    same("roll", ((2, 3),), lambda t, a: a.roll(-2, 1), shift=-2, axis=1),
    same("roll", ((2, 3),), lambda t, a: a.roll((1, 2), (0, 1)), shift=(1, 2), axis=(0, 1)),
    same("roll", ((2, 3),), lambda t, a: a.roll(2, 1), shift=(1, 1), axis=(1, 1)),
    *(same("diag", ((3,),), lambda t, a, k=k: t.diag(a, k), k=k) for k in (0, 1, -2)),
    *(same("diag", ((3, 4),), lambda t, a, k=k: t.diag(a, k), k=k) for k in (1, -1)),
    same("diagonal", ((3, 4),), lambda t, a: a.diagonal(1), offset=1),
    same("diagonal", ((2, 3, 4),), lambda t, a: a.diagonal(-1, 2, 0), offset=-1, axis1=2, axis2=0),
    *(
        same(n, ((3, 4),), lambda t, a, n=n, k=k: getattr(t, n)(a, k), k=k)
        for n in ("triu", "tril")
        for k in (0, 1, -1)
    ),
    same("triu", ((3,),), lambda t, a: t.triu(a.expand(3, 3))),
    same("tril", ((2, 3, 4),), lambda t, a: t.tril(a)),
    case("split", lambda a: tg.split(a, 3)[1], lambda a: np.split(a, 3)[1], ((6, 2),), lambda t, a: a.split(2)[1]),
    case(
        "split at",
        lambda a: tg.split(a, [1, 3], axis=1)[2],
        lambda a: np.split(a, [1, 3], axis=1)[2],
        ((2, 5),),
        lambda t, a: a[:, 3:],
    ),
    case(
        "array_split",
        lambda a: tg.array_split(a, 3)[0] * tg.array_split(a, 3)[1][:1],
        lambda a: np.array_split(a, 3)[0] * np.array_split(a, 3)[1][:1],
        ((5,),),
        lambda t, a: a.tensor_split(3)[0] * a.tensor_split(3)[1][:1],
    ),
    case("hsplit", lambda a: tg.hsplit(a, 2)[1], lambda a: np.hsplit(a, 2)[1], ((3, 4),), lambda t, a: a.hsplit(2)[1]),
    case("vsplit", lambda a: tg.vsplit(a, [1])[1], lambda a: np.vsplit(a, [1])[1], ((3, 4),), lambda t, a: a[1:]),
    case(
        "dsplit", lambda a: tg.dsplit(a, 2)[0], lambda a: np.dsplit(a, 2)[0], ((2, 1, 4),), lambda t, a: a.dsplit(2)[0]
    ),
    *(
        case(n, lambda a, b, n=n: getattr(tg, n)([a, b, a]), lambda a, b, n=n: getattr(np, n)([a, b, a]), s, t_fn)
        for n, s, t_fn in [
            ("hstack", ((3,), (2,)), lambda t, a, b: t.hstack([a, b, a])),
            ("hstack", ((2, 3), (2, 1)), lambda t, a, b: t.hstack([a, b, a])),
            ("vstack", ((3,), (2, 3)), lambda t, a, b: t.vstack([a, b, a])),
            ("dstack", ((2, 3), (2, 3)), lambda t, a, b: t.dstack([a, b, a])),
            ("dstack", ((), ()), lambda t, a, b: t.dstack([a, b, a])),
            ("column_stack", ((3,), (3, 2)), lambda t, a, b: t.column_stack([a, b, a])),
        ]
    ),
    *(
        same(f"atleast_{n}d", (s,), lambda t, a, n=n: getattr(t, f"atleast_{n}d")(a))
        for n in (1, 2, 3)
        for s in ((), (3,), (2, 3))
    ),
    same("pad", ((2, 3),), lambda t, a: t.nn.functional.pad(a, (1, 1, 1, 1)), pad_width=1),
    same(
        "pad",
        ((2, 3),),
        lambda t, a: t.nn.functional.pad(a, (0, 1, 1, 2), value=1.5),
        pad_width=((1, 2), (0, 1)),
        constant_values=1.5,
    ),
    *(
        same("pad", (s,), None, pad_width=w, mode=m)
        for m in ("edge", "reflect", "symmetric", "wrap")
        for s, w in (((2, 3), ((1, 2), (2, 1))), ((2,), 3), ((1, 3), ((2, 0), (0, 4))))
    ),
    same("take", ((2, 3),), lambda t, a: a.reshape(-1)[[0, 0, 2]], indices=[0, 0, 2]),
    same("take", ((2, 3),), lambda t, a: a[:, t.tensor(IDX)], indices=IDX, axis=1),
    same("take", ((3, 2),), lambda t, a: a[1], indices=1, axis=0),
    same("take", ((3,),), lambda t, a: a[[2, 0, 2, 1, 0]], indices=[5, -3, 2, 4, 3], mode="wrap"),
    same("take", ((3,),), lambda t, a: a[[2, 0, 0]], indices=[7, 0, -1], mode="clip"),
    case(
        "take_along_axis",
        lambda a: tg.take_along_axis(a, ALONG, 1),
        lambda a: np.take_along_axis(a, ALONG, 1),
        ((2, 4),),
        lambda t, a: t.take_along_dim(a, t.tensor(ALONG), 1),
    ),
    case(
        "take_along_axis broadcast",
        lambda a: tg.take_along_axis(a, ALONG[:1].T, 0),
        lambda a: np.take_along_axis(a, ALONG[:1].T, 0),
        ((3, 4),),
        lambda t, a: t.take_along_dim(a, t.tensor(ALONG[:1].T), 0),
    ),
    case(
        "take_along_axis None",
        lambda a: tg.take_along_axis(a, np.array([5, 0, 5]), None),
        lambda a: np.take_along_axis(a, np.array([5, 0, 5]), None),
        ((2, 3),),
    ),
    case(
        "put_along_axis",
        lambda a, v: tg.put_along_axis(a, PUT, v, 1),
        lambda a, v: _put(a, PUT, v, 1),
        ((2, 3), (2, 1)),
        lambda t, a, v: a.scatter(1, t.tensor(PUT), v),
    ),
    case(
        "put_along_axis repeated",
        lambda a, v: tg.put_along_axis(a, np.array([[1, 1, 0]]), v, 0),
        lambda a, v: _put(a, np.array([[1, 1, 0]]), v, 0),
        ((2, 3), (1, 3)),
    ),
    case(
        "put_along_axis None",
        lambda a, v: tg.put_along_axis(a, np.array([4, 0]), v, None),
        lambda a, v: _put(a, np.array([4, 0]), v, None),
        ((2, 3), (2,)),
    ),
    same("append", ((2, 3), (2,)), lambda t, a, b: t.cat([a.reshape(-1), b])),
    same("append", ((2, 3), (1, 3)), lambda t, a, b: t.cat([a, b]), axis=0),
    case("clip a_min > a_max", lambda a: tg.clip(a, 0.5, -0.5), lambda a: np.clip(a, 0.5, -0.5), ((3, 4),)),
]


def _put(a, idx, v, axis):
    out = a.copy()
    np.put_along_axis(out, idx, v, axis)
    return out


@pytest.mark.parametrize("c", CASES, ids=ids(CASES))
def test_forward_matches_numpy_in_float64_and_float32(c):
    check_forward(c)


@pytest.mark.parametrize("c", CASES, ids=ids(CASES))
def test_gradients_match_finite_differences(c):
    check_gradients(c)


@pytest.mark.parametrize("c", [c for c in CASES if c.torch], ids=ids([c for c in CASES if c.torch]))
def test_first_and_second_derivatives_match_pytorch(c):
    check_against_torch(c)


def test_repeated_positions_sum_their_gradients():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tg.tensor([1.0, 10.0, 100.0, 1000.0])
    (tg.take(x, [2, 0, 2, 2]) * w).sum().backward()
    assert x.grad.tolist() == [10.0, 0.0, 1101.0]
    x.grad = None
    tg.repeat(x, [3, 0, 1]).sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]
    m = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = tg.take_along_axis(m, np.array([[1, 1, 1], [0, 1, 0]]), axis=1)
    assert y.tolist() == [[2.0, 2.0, 2.0], [3.0, 4.0, 3.0]]
    (y * tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    assert m.grad.tolist() == [[0.0, 6.0], [10.0, 5.0]]
    v = tg.tensor([1.0, 2.0], requires_grad=True)
    tg.pad(v, 2, mode="edge").sum().backward()  # [1 1 1 2 2 2]
    assert v.grad.tolist() == [3.0, 3.0]
    v.grad = None
    tg.tile(v, 3).sum().backward()
    assert v.grad.tolist() == [3.0, 3.0]


def test_put_along_axis_keeps_the_last_value_written_and_its_gradient():
    a = tg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    v = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = tg.put_along_axis(a, np.array([2, 0, 2]), v, axis=0)
    ref = a.data.copy()
    np.put_along_axis(ref, np.array([2, 0, 2]), v.data, 0)
    assert out.tolist() == ref.tolist() == [2.0, 20.0, 3.0]
    (out * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [0.0, 2.0, 0.0]  # written over at 0 and 2
    assert v.grad.tolist() == [0.0, 1.0, 3.0]  # v[0] was overwritten by v[2]
    assert a.data.tolist() == [10.0, 20.0, 30.0]  # a new tensor: the input is untouched


def test_split_gives_views_each_differentiable():
    x = tg.tensor(np.arange(6.0), requires_grad=True)
    pieces = tg.split(x, [2, 5])
    assert [p.tolist() for p in pieces] == [[0.0, 1.0], [2.0, 3.0, 4.0], [5.0]]
    assert all(p.op == "getitem" for p in pieces)
    (pieces[0].sum() * 2 + (pieces[2] * 3).sum()).backward()
    assert x.grad.tolist() == [2.0, 2.0, 0.0, 0.0, 0.0, 3.0]
    assert [p.shape for p in tg.array_split(np.ones((7, 2)), 3)] == [(3, 2), (2, 2), (2, 2)]
    assert [p.shape for p in tg.hsplit(np.ones(4), 2)] == [(2,), (2,)]


def test_size_zero_and_size_one_axes():
    e = tg.tensor(np.ones((0, 3)), requires_grad=True)
    outs = [
        tg.flip(e),
        tg.roll(e, 2, 0),
        tg.roll(e, 1, 1),
        tg.repeat(e, 2, 1),
        tg.tile(e, (2, 1)),
        tg.triu(e),
        tg.pad(e, 1),
        tg.take(e, [0, 2], 1),
        tg.diagonal(e),
        tg.hstack([e, e]),
        tg.split(e, 3, axis=1)[0],
        tg.rot90(e),
        tg.append(e, e, 0),
    ]
    for out in outs:
        ref_shape = out.shape
        (out * 2).sum().backward()
        assert e.grad.shape == (0, 3), ref_shape
        e.grad = None
    assert tg.pad(e, 1).tolist() == np.pad(np.ones((0, 3)), 1).tolist()
    assert tg.diag(np.ones(0), 1).shape == (1, 1)
    assert tg.repeat(np.ones((1, 2)), 0, axis=0).shape == (0, 2)
    one = tg.tensor([[5.0]], requires_grad=True)
    tg.pad(one, 2, mode="reflect").sum().backward()  # a length-1 axis reflects to copies of itself
    assert tg.pad(one, 2, mode="reflect").tolist() == np.pad([[5.0]], 2, mode="reflect").tolist()
    assert one.grad.item() == 25.0


def test_clip_with_a_min_above_a_max_is_a_max_everywhere_with_zero_gradient():
    x = tg.tensor([-1.0, 0.5, 3.0], requires_grad=True)
    y = x.clip(2.0, 1.0)
    assert y.tolist() == np.clip(x.data, 2.0, 1.0).tolist() == [1.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    assert tg.clip(x, None, None).tolist() == np.clip(x.data, None, None).tolist()


def test_methods_match_numpys():
    a = np.arange(12.0).reshape(3, 4)
    t = tg.tensor(a)
    assert t.ravel().tolist() == a.ravel().tolist()
    assert t.repeat(2, axis=1).tolist() == a.repeat(2, axis=1).tolist()
    assert t.swapaxes(0, 1).tolist() == a.swapaxes(0, 1).tolist()
    assert t.diagonal(1).tolist() == a.diagonal(1).tolist()
    assert t.take([1, 1], axis=0).tolist() == a.take([1, 1], axis=0).tolist()
    assert t.dot(a.T).tolist() == a.dot(a.T).tolist()
    assert [x.shape for x in tg.atleast_2d(1.0, [1.0, 2.0])] == [(1, 1), (1, 2)]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: tg.split(np.ones((5, 2)), 2), ValueError, r"split: axis 0 of shape \(5, 2\) does not split into 2"),
        (
            lambda: tg.take(np.ones((2, 3)), [3], axis=1),
            IndexError,
            r"take: index 3 is out of bounds for axis 1 with size 3",
        ),
        (
            lambda: tg.take_along_axis(np.ones((2, 3)), np.zeros(2, int), 1),
            ValueError,
            r"take_along_axis: indices of shape \(2,\)",
        ),
        (
            lambda: tg.pad(np.ones((2, 3)), ((1, 2, 3),)),
            ValueError,
            r"pad: pad_width .* does not fit a tensor of shape \(2, 3\)",
        ),
        (
            lambda: tg.pad(np.ones((0, 3)), 1, mode="edge"),
            ValueError,
            r"pad: cannot extend the empty axis 0 of shape \(0, 3\)",
        ),
        (lambda: tg.pad(np.ones(3), 1, mode="mean"), ValueError, "pad: mode 'mean' is not supported"),
        (lambda: tg.diag(np.ones((2, 2, 2))), ValueError, r"diag: input must be 1-D or 2-D, got shape \(2, 2, 2\)"),
        (lambda: tg.diagonal(np.ones(3)), ValueError, r"diagonal: needs at least 2 axes, got shape \(3,\)"),
        (
            lambda: tg.vstack([np.ones(2), np.ones(3)]),
            ValueError,
            r"vstack: shapes \(1, 2\), \(1, 3\) cannot be joined",
        ),
        (lambda: tg.repeat(np.ones(3), [1, 2]), ValueError, r"repeat: repeats \[1, 2\] for axis 0 of shape \(3,\)"),
        (lambda: tg.rot90(np.ones((2, 2)), axes=(1, 1)), ValueError, r"rot90: axes \(1, 1\) must be different"),
        (lambda: tg.moveaxis(np.ones((2, 2)), [0], [0, 1]), ValueError, "moveaxis: 1 source axes but 2 destinations"),
        (
            lambda: tg.put_along_axis(np.ones((2, 3)), np.zeros((2, 1), int), np.ones((2, 2)), 1),
            ValueError,
            r"put_along_axis: values of shape \(2, 2\) do not broadcast to the indices' shape \(2, 1\)",
        ),
    ],
)
def test_bad_input_names_the_op_and_the_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_concatenate_with_axis_none_flattens_first_as_numpy():
    a = tg.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    b = tg.tensor(np.ones((2, 1)), requires_grad=True)
    c = tg.concatenate([a, b], axis=None)
    np.testing.assert_array_equal(c.data, np.concatenate([a.data, b.data], axis=None))
    (c * np.arange(14.0)).sum().backward()
    np.testing.assert_array_equal(a.grad.data, np.arange(12.0).reshape(3, 4))  # each element's own weight
    np.testing.assert_array_equal(b.grad.data, [[12.0], [13.0]])
