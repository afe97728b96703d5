"""Tensor basics: dtypes follow numpy, errors name the op and the shapes, caller data stays untouched."""

import numpy as np
import pytest

import tinygraph as tg


def test_attributes_and_conversions():
    t = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and len(t) == 2
    assert t.dtype == np.float64
    assert np.asarray(t).sum() == 21.0
    assert t.numpy() is t.data
    assert tg.tensor(2.5).item() == 2.5
    assert [row.tolist() for row in t] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert t.T.shape == (3, 2)
    assert repr(tg.tensor([1.0, 2.0], requires_grad=True)) == "Tensor([1., 2.], requires_grad=True)"
    x = tg.tensor(1.0, requires_grad=True)
    assert repr(x * 2) == "Tensor(2., op='mul')"
    assert x.is_leaf and not (x * 2).is_leaf
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad


def test_dtype_rules_follow_numpy():
    assert tg.tensor([1, 2]).dtype == np.float64  # Python numbers become the default float
    assert tg.tensor(np.array([1, 2])).dtype == np.int64  # arrays keep theirs
    f32 = tg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    assert (f32 * 2.5).dtype == np.float32
    assert (2 - f32).dtype == np.float32
    assert (f32 / 3).dtype == np.float32
    assert (f32**2).dtype == np.float32
    assert tg.tanh(f32).dtype == np.float32
    assert tg.sigmoid(f32).dtype == np.float32
    assert tg.softplus(f32).dtype == np.float32
    assert tg.leaky_relu(f32).dtype == np.float32
    assert f32.mean().dtype == np.float32
    assert tg.log_softmax(f32).dtype == np.float32
    (f32 * 2.0).sum().backward()
    assert f32.grad.dtype == np.float32
    tg.set_default_dtype(np.float32)
    try:
        assert tg.tensor([1.0]).dtype == np.float32
        assert tg.get_default_dtype() == np.float32
    finally:
        tg.set_default_dtype(np.float64)
    with pytest.raises(TypeError):
        tg.set_default_dtype(np.int32)


def test_integer_and_bool_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, got dtype int64"):
        tg.tensor(np.array([1, 2]), requires_grad=True)
    labels = tg.tensor(np.array([0, 1, 1]))
    assert labels.dtype == np.int64 and not labels.requires_grad


def test_bad_data_is_refused_clearly():
    with pytest.raises(TypeError, match="complex"):
        tg.tensor(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="numeric"):
        tg.tensor(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="numeric"):
        tg.tensor(np.array([object()]))
    with pytest.raises(TypeError, match="cannot convert"):
        tg.tensor(["a", 1])


def test_constructor_copies_the_callers_array():
    arr = np.array([1.0, 2.0])
    t = tg.tensor(arr, requires_grad=True)
    t.data[0] = 9.0
    assert arr.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "make, exc, pattern",
    [
        (
            lambda: tg.tensor(np.ones((3, 4))) @ tg.tensor(np.ones((5, 2))),
            ValueError,
            r"matmul: \(3, 4\) @ \(5, 2\): inner dimensions 4 and 5 differ",
        ),
        (lambda: tg.tensor(np.ones((3, 4))) + tg.tensor(np.ones(5)), ValueError, r"add: \(3, 4\) and \(5,\)"),
        (lambda: tg.tensor(np.ones((3, 4))) * tg.tensor(np.ones((2, 4))), ValueError, r"mul: \(3, 4\) and \(2, 4\)"),
        (
            lambda: tg.tensor(np.ones((3, 4))).reshape(5, 2),
            ValueError,
            r"reshape: cannot reshape a tensor of shape \(3, 4\) \(12 elements\) into \(5, 2\)",
        ),
        (
            lambda: tg.tensor(np.ones((3, 4))).sum(axis=2),
            ValueError,
            r"sum: axis 2 is out of range for a tensor of shape \(3, 4\)",
        ),
        (lambda: tg.tensor(np.ones((3, 4)))[3], IndexError, r"getitem: \(3, 4\): index 3 is out of bounds"),
        (lambda: tg.tensor(np.ones((3, 4)))[:, [0, 9]], IndexError, r"getitem: \(3, 4\): index 9 is out of bounds"),
        (
            lambda: tg.concatenate([tg.tensor(np.ones((2, 3))), tg.tensor(np.ones((2, 4)))], axis=0),
            ValueError,
            r"concatenate: shapes \(2, 3\), \(2, 4\) differ outside axis 0",
        ),
        (
            lambda: tg.broadcast_to(tg.tensor(np.ones(3)), (2, 4)),
            ValueError,
            r"broadcast_to: a tensor of shape \(3,\) cannot be broadcast to \(2, 4\)",
        ),
        (
            lambda: tg.squeeze(tg.tensor(np.ones((3, 2))), axis=1),
            ValueError,
            r"squeeze: axis 1 of a tensor of shape \(3, 2\) has length 2",
        ),
        (lambda: tg.transpose(tg.tensor(np.ones((3, 2))), (0, 0)), ValueError, r"transpose: axes \(0, 0\)"),
        (
            lambda: tg.where(np.ones(3, bool), tg.tensor(np.ones((2, 4))), 0.0),
            ValueError,
            r"where: condition \(3,\), x \(2, 4\)",
        ),
    ],
)
def test_shape_errors_name_the_op_and_the_shapes(make, exc, pattern):
    with pytest.raises(exc, match=pattern):
        make()


def test_errors_leave_the_callers_arrays_untouched():
    a = np.arange(12.0).reshape(3, 4)
    b = np.ones((5, 2))
    before = (a.copy(), b.copy())
    ta = tg.tensor(a, requires_grad=True)
    with pytest.raises(ValueError):
        ta @ b
    with pytest.raises(ValueError):
        ta + b[:, :1].T
    assert np.array_equal(a, before[0]) and np.array_equal(b, before[1])
    assert np.array_equal(ta.data, a)


def test_ops_never_write_to_ndarray_operands():
    w = np.ones((2, 2))
    x = tg.tensor(np.eye(2), requires_grad=True)
    y = (x @ w + w * x - w).sum()
    y.backward()
    assert np.array_equal(w, np.ones((2, 2)))


def test_comparisons_give_bool_tensors_outside_the_graph():
    x = tg.tensor([1.0, -1.0], requires_grad=True)
    m = x > 0
    assert m.dtype == bool and not m.requires_grad
    assert m.tolist() == [True, False]
    assert tg.where(m, x, 0.0).tolist() == [1.0, 0.0]


def test_item_assignment_is_refused():
    with pytest.raises(TypeError, match="item assignment"):
        tg.tensor([1.0])[0] = 2.0


def test_numerical_stability_at_extremes():
    for dtype in (np.float32, np.float64):
        x = tg.tensor(np.array([-1e4, 0.0, 1e4], dtype=dtype), requires_grad=True)
        s = tg.sigmoid(x)
        assert s.tolist() == [0.0, 0.5, 1.0]
        sp = tg.softplus(x)
        assert np.all(np.isfinite(sp.data)) and sp.data[2] == np.float32(1e4)
        ls = tg.log_softmax(x)
        assert np.allclose(ls.data, [-2e4, -1e4, 0.0])
        assert np.isclose(tg.logsumexp(x).item(), 1e4)
        sm = tg.softmax(x)
        assert sm.tolist() == [0.0, 0.0, 1.0]
        (ls.sum() + s.sum() + sp.sum()).backward()
        assert np.all(np.isfinite(x.grad.data))
