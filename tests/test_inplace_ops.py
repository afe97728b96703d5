"""In-place operators (issue 19, item 1): ``p -= lr * p.grad`` under no_grad trains, and what must raise does.

Today's engine had no in-place operators: ``p -= x`` rebound the name to a new tensor, so the
course's update loop left the weights unchanged.
"""

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.ops.inplace import LEAF


def _blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.float64)
    X = rng.normal(0, 1, (n, 2)) + 2.0 * (2 * y[:, None] - 1)
    return X, y.reshape(-1, 1)


def test_the_course_update_loop_trains_a_model():
    tg.manual_seed(0)
    X, y = _blobs()
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    params = list(model.parameters())
    ids = [id(p) for p in params]
    first = None
    for _ in range(150):
        loss = nn.functional.binary_cross_entropy_with_logits(model(tg.tensor(X)), tg.tensor(y))
        first = loss.item() if first is None else first
        model.zero_grad()
        loss.backward()
        with tg.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    pred = model(tg.tensor(X)).data > 0
    accuracy = np.mean(pred == (y > 0.5))
    assert accuracy >= 0.97
    assert loss.item() < 0.25 * first
    assert [id(p) for p in model.parameters()] == ids and all(p.requires_grad and p.is_leaf for p in params)


def test_the_update_writes_into_the_parameter_by_hand():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    view = w.reshape(2, 1)  # shares w's memory: it sees the write
    (w * w).sum().backward()  # grad 2w = [2, 4]
    with tg.no_grad():
        w -= 0.25 * w.grad
    assert w.tolist() == [0.5, 1.0] and view.tolist() == [[0.5], [1.0]]
    assert w.requires_grad and w.is_leaf and w.grad.tolist() == [2.0, 4.0]


@pytest.mark.parametrize(
    "update, expected",
    [
        (lambda t: t.__iadd__(2), [3.0, 4.0]),
        (lambda t: t.__isub__(tg.tensor([1.0, 1.0])), [0.0, 1.0]),
        (lambda t: t.__imul__(np.array([2.0, 3.0])), [2.0, 6.0]),
        (lambda t: t.__itruediv__(4), [0.25, 0.5]),
        (lambda t: t.__ipow__(2), [1.0, 4.0]),
        (lambda t: t.add_(tg.tensor([1.0, 1.0]), alpha=-2), [-1.0, 0.0]),
        (lambda t: t.sub_([1.0, 1.0]), [0.0, 1.0]),
        (lambda t: t.mul_(-1), [-1.0, -2.0]),
        (lambda t: t.div_(2), [0.5, 1.0]),
        (lambda t: t.zero_(), [0.0, 0.0]),
        (lambda t: t.fill_(7), [7.0, 7.0]),
        (lambda t: t.copy_(np.array([5.0, 6.0])), [5.0, 6.0]),
        (lambda t: t.copy_(3.0), [3.0, 3.0]),
    ],
)
def test_each_in_place_op_writes_into_the_same_memory(update, expected):
    for grad_mode in (True, False):  # no graph involved: allowed in both
        t = tg.tensor([1.0, 2.0])
        arr = t.data
        with tg.set_grad_enabled(grad_mode):
            out = update(t)
        assert out is t and t.data is arr and t.tolist() == expected


def test_matmul_in_place_keeps_the_shape():
    m = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    m @= tg.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert m.tolist() == [[2.0, 1.0], [4.0, 3.0]]
    with pytest.raises(ValueError, match=r"@=: \(2, 2\) @ \(2, 3\) gives shape \(2, 3\)"):
        m @= np.ones((2, 3))
    assert m.tolist() == [[2.0, 1.0], [4.0, 3.0]]


def test_a_leaf_that_requires_grad_raises_outside_no_grad():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    w.grad = tg.tensor([1.0, 1.0])
    for write in (lambda: w.__isub__(0.1 * w.grad), lambda: w.zero_(), lambda: w.copy_([0.0, 0.0])):
        with pytest.raises(RuntimeError) as info:
            write()
        assert LEAF in str(info.value) and "p -= lr * p.grad" in str(info.value)
    assert w.tolist() == [1.0, 2.0]


def test_a_tensor_in_a_graph_raises_in_grad_mode_and_names_the_out_of_place_form():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    with pytest.raises(RuntimeError, match=r"`\+=` on a tensor of shape \(2,\) made by op 'mul'.*h = h \+ x"):
        h += 1
    c = tg.zeros(2)
    with pytest.raises(RuntimeError, match=r"the operand requires grad.*would drop its gradient"):
        c += x
    assert h.tolist() == [2.0, 4.0] and c.tolist() == [0.0, 0.0]
    total = tg.tensor(0.0)
    for term in (x.sum(), (x * x).sum()):
        total = total + term  # the out-of-place form the message names records as usual
    total.backward()
    assert x.grad.tolist() == [3.0, 5.0]  # 1 + 2x


def test_the_guard_catches_an_in_place_write_to_a_saved_tensor_at_backward():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()  # mul saves x
    with tg.no_grad():
        x -= 1
    with pytest.raises(RuntimeError, match=r"op 'mul' saved its input 0 .*modified in place.*by an in-place `-=`"):
        y.backward()
    assert x.grad is None


def test_the_guard_catches_an_in_place_write_to_a_saved_output_and_through_a_view():
    x = tg.tensor([0.5, -0.5], requires_grad=True)
    h = tg.tanh(x)  # tanh's gradient reads its output h
    loss = h.sum()
    with tg.no_grad():
        h.mul_(2)
    with pytest.raises(RuntimeError, match=r"op 'tanh' saved its output .*by an in-place `mul_`"):
        loss.backward()
    v = x.reshape(2, 1)
    loss = (v * v).sum()  # mul saves the view v of x's memory
    with tg.no_grad():
        x.fill_(0.0)
    with pytest.raises(RuntimeError, match=r"op 'mul' saved its input 0 \(shape \(2, 1\).*by an in-place `fill_`"):
        loss.backward()


def test_a_write_nobody_waits_on_passes_and_the_gradient_is_right():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    with tg.no_grad():
        x += 1  # the graph has run: no node waits on x
    x.grad.zero_()
    (x * x).sum().backward()
    assert x.grad.tolist() == [4.0, 6.0]


def test_bad_in_place_writes_leave_the_data_untouched():
    t = tg.tensor(np.arange(3))  # int64
    with pytest.raises(TypeError, match=r"\*=: a float64 result cannot be written into the tensor's int64 data"):
        t *= 0.5
    with pytest.raises(TypeError, match=r"/=.*int64"):
        t /= 2
    with pytest.raises(ValueError, match=r"\+=: the result would have shape \(2, 3\).*tensor of shape \(3,\)"):
        t += np.ones((2, 3))
    with pytest.raises(ValueError, match=r"-=: the operand of shape \(4,\) does not broadcast"):
        t -= np.ones(4)
    with pytest.raises(ValueError, match=r"fill_: expected one number"):
        t.fill_([1, 2, 3])
    assert t.tolist() == [0, 1, 2]
    t += 2
    assert t.tolist() == [2, 3, 4] and t.dtype == np.int64
    b = tg.broadcast_to(tg.tensor([1.0]), (5000,))  # a read-only numpy view (small ones are copies)
    with pytest.raises(ValueError, match=r"read-only"):
        b += 1


def test_p_data_minus_equals_a_tensor_works():
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    arr = p.data
    p.data -= 0.5 * p.grad  # an ndarray on the left, a Tensor on the right
    assert p.data is arr and p.tolist() == [0.0, 0.0]
    assert isinstance(p, tg.Tensor) and p.requires_grad
