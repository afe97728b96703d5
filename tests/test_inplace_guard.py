"""The in-place guard: kinds of write to data that a pending backward needs, and writes that must pass.

A table of TARGETS (what backward needs: a leaf, an intermediate, an op's saved output, a
view, a layer's weight) and ROUTES (how it gets written); each route lists the targets it makes
sense for. Every combination must make backward raise, naming the op, rather than return a
wrong gradient; the routes tinygraph cannot see are caught under ``detect_anomaly()``.
"""

import contextlib

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.nn import init


def _leaf(shape=(3,)):
    return tg.tensor(np.arange(1.0, 4.0).reshape(shape), requires_grad=True)


def poke(a):
    """Write 9 into the last element of array `a` (in place)."""
    a[(-1,) * a.ndim] = 9.0


# ----- targets: (op that saves the data, shape of the leaf x, make w, forward) ----------------------
# x is the leaf whose gradient is checked; w the tensor whose data backward needs (an op's
# output is made by the forward); base what w views; lin the layer whose weight is saved.
LEAF, INTER, EXP, TANH = "leaf", "intermediate", "exp-output", "tanh-output"
RESHAPE, SLICE, TRANSPOSE, LINEAR = "reshape-view", "slice-view", "transpose-view", "linear-weight"
VIEWS = (RESHAPE, SLICE, TRANSPOSE)


def _mul(c, other):
    return (c.w * other).sum()


def _output_of(f):
    def forward(c, other):
        c.w = f(c.x)
        return c.w.sum()

    return forward


def _linear_weight(c):
    c.lin = nn.Linear(3, 2)
    return c.lin.weight  # matmul saves weight.T, a view of it


TARGETS = {
    LEAF: ("mul", (3,), lambda c: c.x, _mul),
    INTER: ("mul", (3,), lambda c: c.x + 1, _mul),  # add saves nothing: mul saves h = x + 1
    EXP: ("exp", (3,), lambda c: None, _output_of(tg.exp)),
    TANH: ("tanh", (3,), lambda c: None, _output_of(tg.tanh)),
    RESHAPE: ("mul", (3,), lambda c: c.x.reshape(1, 3), _mul),
    SLICE: ("mul", (3,), lambda c: c.x[1:], _mul),
    TRANSPOSE: ("mul", (1, 3), lambda c: c.x.T, _mul),
    LINEAR: ("matmul", (3,), _linear_weight, lambda c, other: c.lin(c.x).sum()),
}


class Case:
    def __init__(self, target):
        self.op, shape, make, self._forward = TARGETS[target]
        self.x = _leaf(shape)
        self.base = self.x if target in VIEWS else None
        self.lin = self.operand = None
        self.w = make(self)

    def forward(self):
        self.y = self._forward(self, self.w if self.operand is None else self.operand)

    def params(self):
        return [self.x] + ([] if self.lin is None else list(self.lin.parameters()))


# ----- routes: (caught by default, the text naming the write, targets, before the forward, write) ----


def _step(optimizer):
    def write(c):
        p = c.x if c.lin is None else c.lin.weight  # the leaf whose memory the saved data is (or views)
        p.grad = tg.tensor(np.ones(p.shape))
        optimizer([p], lr=0.1).step()

    return write


def _view_before(c):
    c.view = c.w.reshape(-1)


def _array_before(c):
    c.arr = c.w.data


def _numpy_operand(c):
    c.operand = np.ones(c.w.shape)


def _minus_equals(c):
    with tg.no_grad():  # the training loop's in-place update (tinygraph/ops/inplace.py)
        c.w -= 1.0


HANDED = "a write into the array handed out by .data"
UNSEEN = "a write tinygraph did not see"
ROUTES = {
    "assign .data": (
        True,
        "an assignment to .data",
        (LEAF, INTER, EXP, RESHAPE),
        None,
        lambda c: setattr(c.w, "data", np.full(c.w.shape, 9.0)),
    ),
    "write into .data": (True, HANDED, (LEAF, INTER, TANH, SLICE, TRANSPOSE, LINEAR), None, lambda c: poke(c.w.data)),
    "write into np.asarray": (True, HANDED, (LEAF, EXP, SLICE), None, lambda c: poke(np.asarray(c.w))),
    "write into .numpy()": (True, HANDED, (INTER, TANH, TRANSPOSE), None, lambda c: poke(c.w.numpy())),
    "write through detach().data": (True, HANDED, (LEAF, INTER, EXP), None, lambda c: poke(c.w.detach().data)),
    "view made after the forward": (True, HANDED, (TANH, LINEAR), None, lambda c: poke(c.w.reshape(-1).data)),
    "view made before the forward": (True, HANDED, (INTER, SLICE), _view_before, lambda c: poke(c.view.data)),
    "through the base into the view": (True, HANDED, (RESHAPE, SLICE, TRANSPOSE), None, lambda c: poke(c.base.data)),
    "SGD step": (True, "an optimizer step", (LEAF, RESHAPE), None, _step(tg.optim.SGD)),
    "Adam step": (True, "an optimizer step", (LINEAR, TRANSPOSE), None, _step(tg.optim.Adam)),
    "load_state_dict": (
        True,
        "load_state_dict",
        (LINEAR,),
        None,
        lambda c: c.lin.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(2)}),
    ),
    "init.normal_": (
        True,
        "init.normal_",
        (LEAF, LINEAR),
        None,
        lambda c: init.normal_(c.lin.weight if c.lin else c.x),
    ),
    "in-place -= under no_grad": (True, "an in-place `-=`", tuple(TARGETS), None, _minus_equals),
    "array taken before the forward": (False, UNSEEN, (LEAF, INTER, SLICE), _array_before, lambda c: poke(c.arr)),
    "numpy operand": (False, UNSEEN, (LEAF, INTER, RESHAPE), _numpy_operand, lambda c: poke(c.operand)),
}
RUNS = [
    pytest.param(target, route, anomaly, id=f"{target}|{route}|{'anomaly' if anomaly else 'default'}")
    for route, (default, _, targets, _, _) in ROUTES.items()
    for target in targets
    for anomaly in ((False, True) if default else (True,))
]


@pytest.mark.parametrize("target, route, anomaly", RUNS)
def test_a_write_to_data_a_pending_backward_needs_makes_it_raise(target, route, anomaly):
    default, how, _, before, write = ROUTES[route]
    c = Case(target)
    with tg.detect_anomaly() if anomaly else contextlib.nullcontext():
        if before is not None:
            before(c)
        c.forward()
        write(c)
        grads = [p.grad for p in c.params()]  # None, or what an optimizer step was given
        with pytest.raises(RuntimeError, match=rf"op '{c.op}' saved its (input \d|output) .*modified in place") as info:
            c.y.backward()
    msg = str(info.value)
    assert f"by {how}" in msg
    if anomaly:
        assert f"op '{c.op}' was created at {__file__}:" in msg
    else:
        assert "run the forward pass and the write under tg.detect_anomaly()" in msg
    assert all(p.grad is g for p, g in zip(c.params(), grads)), "no gradient may come out of a failed backward"


WRITES_TO_A_CONSTANT = {  # how the one tensor a node saves (its other operand needs no gradient) gets written
    "through .data": (lambda b: poke(b.data), "a write into the array handed out by .data"),
    "through detach()": (lambda b: poke(b.detach().data), "a write into the array handed out by .data"),
    "by .data =": (lambda b: setattr(b, "data", np.zeros(3)), "an assignment to .data"),
    "by mark_written": (lambda b: b.mark_written("a test's write"), "a test's write"),
}


@pytest.mark.parametrize("route", sorted(WRITES_TO_A_CONSTANT))
def test_a_node_that_saves_one_constant_operand_catches_its_writes(route):
    # x * b with only x requiring grad saves b alone: apply and vjp take their one-saved-input path
    write, how = WRITES_TO_A_CONSTANT[route]
    x, b = tg.tensor([1.0, 2.0, 3.0], requires_grad=True), tg.tensor([4.0, 5.0, 6.0])
    m = x * b
    assert m._node.saved == (b,)  # b alone: x's gradient reads only b
    y = m.sum()
    write(b)
    with pytest.raises(RuntimeError, match=rf"op 'mul' saved its input 1 \(shape \(3,\), float64\).*by {how}"):
        y.backward()
    assert x.grad is None


def test_a_node_that_saves_one_constant_operand_gives_the_gradient_when_nothing_is_written():
    x, b = tg.tensor([1.0, 2.0, 3.0], requires_grad=True), tg.tensor([4.0, 5.0, 6.0])
    y = (x * b).sum()
    b.data.sum()  # a read hands the array out (checksummed) but writes nothing
    y.backward()
    assert x.grad.data.tolist() == [4.0, 5.0, 6.0]  # d(sum(x * b))/dx = b


def test_a_numpy_operand_saved_alone_is_caught_under_anomaly_mode_only():
    def run():
        x, X = tg.tensor([1.0, 2.0, 3.0], requires_grad=True), np.array([4.0, 5.0, 6.0])
        y = (x * X).sum()
        X[0] = 9.0  # a write tinygraph cannot see
        y.backward()
        return x.grad.data.tolist()

    assert run() == [9.0, 5.0, 6.0]  # by default, documented: the gradient reads the written operand
    with tg.detect_anomaly(), pytest.raises(RuntimeError, match=r"op 'mul' saved its input 1 .*did not see"):
        run()


# ----- the repros --------------------------------------------------------------------------


def test_repro_a_write_through_detach_data_is_caught():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    x.detach().data[0] = 9.0
    with pytest.raises(RuntimeError, match=r"op 'mul' saved its input 0 \(shape \(3,\), float64\).*modified in place"):
        y.backward()
    assert x.grad is None


def test_repro_a_write_into_the_base_of_a_saved_view_is_caught():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = x.reshape(1, 3)
    y = (v * v).sum()
    x.data[0] = 9.0
    with pytest.raises(RuntimeError, match=r"op 'mul' saved its input 0 \(shape \(1, 3\), float64\).*version 0 -> 1"):
        y.backward()
    assert x.grad is None


# ----- negative controls: no error, and the hand-known gradient ------------------------------------


def _after_backward():
    x = _leaf()
    (x * x).sum().backward()
    first = x.grad
    x.data[0] = 9.0
    np.asarray(x)[1] = 5.0
    x.grad = None
    (x * x).sum().backward()  # a new graph sees the new values
    return [(first, [2.0, 4.0, 6.0]), (x.grad, [18.0, 10.0, 6.0])]


def _unsaved_tensor():
    x, w = _leaf(), _leaf()
    y = (x + w).sum()  # add saves nothing
    w.data = np.zeros(3)
    w.data[0] = 4.0
    y.backward()
    return [(x.grad, [1.0, 1.0, 1.0]), (w.grad, [1.0, 1.0, 1.0])]


def _reads_only():
    x = _leaf()
    y = (x * x).sum()
    total = x.data.sum() + np.asarray(x).sum() + x.numpy().sum() + x.detach().data.sum() + x.reshape(3).data.sum()
    assert total == 30.0
    y.backward()
    return [(x.grad, [2.0, 4.0, 6.0])]


def _version_not_needed_add():
    x = _leaf()
    y = (x + 1).sum()
    x.data[0] = 7.0
    y.backward()
    return [(x.grad, [1.0, 1.0, 1.0])]


def _version_not_needed_mul_by_constant():
    x, k = _leaf(), tg.tensor([4.0, 5.0, 6.0])
    y = (x * k).sum()  # x's gradient reads k only; x is not saved
    x.data[0] = 7.0
    np.asarray(x)[1] = 8.0
    y.backward()
    return [(x.grad, [4.0, 5.0, 6.0])]


def _input_of_an_output_saving_op():
    x = _leaf()
    y = tg.exp(x).sum()  # exp's gradient reads its output, not x
    x.data[0] = 7.0
    y.backward()
    return [(x.grad, np.exp([1.0, 2.0, 3.0]))]


@pytest.mark.parametrize(
    "control",
    [
        _after_backward,
        _unsaved_tensor,
        _reads_only,
        _version_not_needed_add,
        _version_not_needed_mul_by_constant,
        _input_of_an_output_saving_op,
    ],
)
def test_writes_nothing_pending_needs_raise_nothing(control):
    for grad, expected in control():
        np.testing.assert_allclose(grad.data, expected, rtol=1e-15)


@pytest.mark.parametrize("finish", ["backward", "del"])
@pytest.mark.parametrize("older_graph", [False, True])
def test_an_array_handed_out_to_a_finished_graph_gives_no_false_alarm(finish, older_graph):
    x = _leaf()
    older = (x * x).sum() if older_graph else None  # saw x = [1, 2, 3], still pending
    a = (x * x).sum()
    arr = x.data  # checksummed: graph a (and older) need x
    if finish == "backward":
        a.backward()
        np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 6.0])
        x.grad = None
    del a
    arr[0] = 9.0  # a stale hand-out, written
    b = (x * x).sum()
    assert x.data is arr  # read again while b is pending (no copy)
    b.backward()
    np.testing.assert_array_equal(x.grad.data, [18.0, 4.0, 6.0])
    if older_graph:  # the write happened after the older graph's forward: that one must raise
        with pytest.raises(RuntimeError, match="op 'mul' saved its input 0 .*modified in place"):
            older.backward()
        np.testing.assert_array_equal(x.grad.data, [18.0, 4.0, 6.0])
    # the guard still works for the next graph
    x.grad = None
    c = (x * x).sum()
    x.data[1] = 5.0
    with pytest.raises(RuntimeError, match="op 'mul' saved its input 0 .*handed out by .data"):
        c.backward()
    assert x.grad is None


# ----- the non-differentiable arrays an op's gradient reads: indices, masks, bounds, levels -----------------


@pytest.mark.parametrize("anomaly", [False, True], ids=["default", "detect_anomaly"])
@pytest.mark.parametrize("op", ["where", "getitem", "take", "take_along_axis", "clip", "quantile"])
def test_a_write_to_an_index_mask_or_bound_after_the_forward_changes_no_gradient(op, anomaly):
    # each op keeps its own copy of the array when it records: the caller's later write reaches neither
    # the result nor the gradient (they were wrong, with no error, in both modes)
    x = tg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    cases = {  # op -> (the array argument as the caller holds it, the loss, the gradient by hand)
        "where": (np.array([True, False, True, False]), lambda a: (tg.where(a, x, 0.0) * w).sum(), [1, 0, 3, 0]),
        "getitem": (np.array([0, 1, 1]), lambda a: (x[a] * w[:3]).sum(), [1, 5, 0, 0]),
        "take": (np.array([3, 3, 0]), lambda a: (tg.take(x, a) * w[:3]).sum(), [3, 0, 0, 3]),
        "take_along_axis": (np.array([2, 2]), lambda a: (tg.take_along_axis(x, a, 0) * w[:2]).sum(), [0, 0, 3, 0]),
        "clip": (np.array([1.5, 1.5, 1.5, 1.5]), lambda a: (tg.clip(x, a, 3.5) * w).sum(), [0, 2, 3, 0]),
        "quantile": (np.array([0.0, 1.0]), lambda a: tg.quantile(x, a).sum(), [1, 0, 0, 1]),
    }
    held, loss_of, by_hand = cases[op]
    with tg.detect_anomaly() if anomaly else contextlib.nullcontext():
        loss = loss_of(held)
        expected = loss.item()
        held[...] = {"where": True, "getitem": 3, "take": 1, "take_along_axis": [0, 1], "clip": -5.0, "quantile": 0.5}[
            op
        ]  # the caller writes its own array after the forward
        loss.backward()
    assert loss.item() == expected
    np.testing.assert_array_equal(x.grad.data, by_hand)


def test_a_tensor_index_written_through_data_after_the_forward_changes_no_gradient():
    x = tg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    idx = tg.tensor(np.array([0, 1, 1]))
    y = (x[idx] * np.array([1.0, 2.0, 3.0])).sum()
    idx.data[1] = 3
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 5.0, 0.0, 0.0])


def test_a_write_to_a_wide_matrix_after_its_qr_raises_at_backward():
    a = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]], requires_grad=True)  # M < N: the gradient reads A
    q, r = tg.linalg.qr(a)
    loss = (q * 1.3).sum() + r.sum()
    a.data[0, 2] += 10.0
    with pytest.raises(RuntimeError, match=r"op 'qr' saved its input 0 \(shape \(2, 3\), float64\)"):
        loss.backward()
