"""Repros for the rebuilt engine: what dropped graphs, no-grad ops and create_graph leave behind,
lists of tensors given to ops, and one fresh graph node per recorded op."""

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.nn import functional as F
from tinygraph.tensor import Handle


def _traced_memory():
    return tracemalloc.get_traced_memory()  # (current, peak) since tracemalloc.start()


# ----- nothing is kept by a graph that is gone ------------------------------------------------------


def test_reading_data_after_dropped_graphs_copies_and_checksums_nothing():
    w = tg.tensor(np.ones((500, 500)), requires_grad=True)  # 2 MB
    probe = (w * w).sum()
    assert w._mem.pending()  # the check below is not vacuous: a live graph shows as pending
    del probe
    for _ in range(3):
        for make, value in (
            (lambda: (w**2).sum(), 250_000),
            (lambda: (w * w).sum(), 250_000),
            (lambda: (w @ w).sum(), 500 * 250_000),
        ):
            y = make()
            assert y.item() == value and y.requires_grad
            del y
    assert w._mem is None or not w._mem.pending()
    tracemalloc.start()
    try:
        arrays = [w.data for _ in range(5)]
        peak = _traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000, f"five .data reads allocated {peak} bytes at the peak"
    assert all(a is arrays[0] for a in arrays) and arrays[0].shape == (500, 500)
    assert w._mem is None or not w._mem.handed  # no checksum was taken
    assert w._version == 0


@pytest.mark.parametrize(
    "requires_grad, under_no_grad", [(True, True), (False, False)], ids=["no_grad", "no-grad-input"]
)
def test_dropout_without_a_graph_keeps_nothing_alive(requires_grad, under_no_grad):
    tg.manual_seed(0)
    x = tg.tensor(np.ones(1_000_000), requires_grad=requires_grad)  # 8 MB
    gc.collect()
    tracemalloc.start()
    try:
        before = _traced_memory()[0]
        if under_no_grad:
            with tg.no_grad():
                y = F.dropout(x, 0.5)
        else:
            y = F.dropout(x, 0.5)
        held = _traced_memory()[0] - before
        assert y.grad_fn is None and not y.requires_grad
        # counted, not np.unique: its first call imports numpy.ma, a megabyte that would count as held here
        kept, dropped = int((y.data == 2.0).sum()), int((y.data == 0.0).sum())
        del y
        gc.collect()
        left = _traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept + dropped == 1_000_000 and 400_000 < kept < 600_000
    assert held >= 8_000_000  # tracemalloc sees numpy's arrays: y alone is 8 MB
    assert left < 1_000_000, f"{left} bytes still held after the no-grad dropout's output was dropped"


@pytest.mark.parametrize("finish", ["backward", "del"])
def test_dropout_mask_lives_with_its_graph_and_goes_with_it(finish):
    tg.manual_seed(0)
    x = tg.tensor(np.ones(10_000), requires_grad=True)
    y = F.dropout(x, 0.5)
    loss = y.sum()
    mask = weakref.ref(y.grad_fn.saved_tensors[0])
    gc.collect()
    assert mask() is not None, "the graph needs the mask for backward"
    np.testing.assert_array_equal(mask(), y.data)  # y = 1 * mask
    if finish == "backward":
        loss.backward()
        assert mask() is None, "backward released the graph: the mask must go (y itself is still alive)"
        np.testing.assert_array_equal(x.grad.data, y.data)  # d sum(x * mask) / dx = mask
        assert set(np.unique(x.grad.data)) == {0.0, 2.0}
    else:
        del loss, y
        assert mask() is None, "a dropped graph must leave nothing behind"


# ----- lists holding tensors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "f, value, grad",
    [
        (lambda x: tg.mean([x, x + 2]) * x, 2.0, 3.0),  # (x + 1) * x at 1: 2, d/dx = 2x + 1 = 3
        (lambda x: tg.sum([x, x]), 2.0, 2.0),
        (lambda x: tg.sum((x, 3 * x)), 4.0, 4.0),
        (lambda x: tg.max([x, 3 * x]), 3.0, 3.0),
        (lambda x: tg.exp([x, x]).sum(), 2 * np.e, 2 * np.e),
    ],
    ids=["mean", "sum", "sum-tuple", "max", "exp"],
)
def test_a_list_holding_tensors_is_stacked_into_the_graph(f, value, grad):
    x = tg.tensor(1.0, requires_grad=True)
    y = f(x)
    assert isinstance(y, tg.Tensor) and y.requires_grad and y.grad_fn is not None
    assert y.item() == pytest.approx(value, rel=1e-15)
    y.backward()
    assert x.grad.item() == pytest.approx(grad, rel=1e-15)


@pytest.mark.parametrize(
    "data", [lambda x: [x, x], lambda x: (x, 1.0), lambda x: [[x], [x]]], ids=["list", "tuple", "nested"]
)
def test_tensor_of_a_list_holding_tensors_points_to_stack(data):
    x = tg.tensor(1.0, requires_grad=True)
    with pytest.raises(TypeError, match=r"tg\.stack"):
        tg.tensor(data(x))


def test_plain_arrays_in_give_plain_arrays_out_and_numbers_give_tensors():
    out = tg.exp(np.zeros(3))
    assert type(out) is np.ndarray and out.tolist() == [1.0, 1.0, 1.0]
    assert isinstance(tg.exp(0.0), tg.Tensor) and tg.exp(0.0).item() == 1.0
    assert isinstance(tg.exp([0.0, 0.0]), tg.Tensor) and tg.exp([0.0, 0.0]).tolist() == [1.0, 1.0]


# ----- one node per recorded op -----------------------------------------------------------------------


def test_each_recorded_op_gets_a_fresh_node():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a, b = x * x, x * x
    e1, e2 = tg.exp(x), tg.exp(x)
    assert a.grad_fn is not b.grad_fn and e1.grad_fn is not e2.grad_fn
    assert isinstance(a.grad_fn, tg.Context) and a.grad_fn.name == "mul" and e1.grad_fn.name == "exp"
    b.sum().backward()  # releases b's node only
    assert b.grad_fn.released and not a.grad_fn.released
    a.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0, 12.0])  # 2x, twice
    with tg.no_grad():
        c = x * x
    assert c.grad_fn is None and not c.requires_grad and c.is_leaf
    d = tg.tensor([1.0]) * 2  # no input requires grad
    assert d.grad_fn is None and not d.requires_grad


# ----- create_graph ------------------------------------------------------------------------------------


def test_create_graph_backward_leaves_no_reference_cycle():
    refs = []
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(100):
            x = tg.tensor(np.ones(3), requires_grad=True)
            y = (x * x * x).sum()
            y.backward(create_graph=True)
            assert x.grad.requires_grad and x.grad.tolist() == [3.0, 3.0, 3.0]  # 3x^2 at 1, as a graph
            refs += [weakref.ref(x), weakref.ref(x.grad)]
            del x, y
        alive = sum(r() is not None for r in refs)
    finally:
        if enabled:
            gc.enable()
        gc.collect()
    assert alive == 0, f"{alive} of {len(refs)} tensors (x and x.grad) are kept alive by reference cycles"


# ----- handles: what nodes hold in place of a leaf that requires grad ----------------------------------


def test_a_node_shows_its_leaves_and_holds_their_handles():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).sum()
    node = y.grad_fn.inputs[0].grad_fn  # the mul
    assert node.inputs[0] is x  # what the pictures and gradient checks read
    h = node.args[0]
    assert isinstance(h, Handle) and h.leaf() is x and h is x.handle()
    assert h._data is x._data and h._mem is x._mem  # same data, same version counter
    y.backward()
    assert x.grad.tolist() == [3.0, 3.0] and h.grad is None  # the gradient goes to the leaf


def test_a_handle_follows_its_leafs_assignment_and_writes():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()  # x now has a handle
    x.data = np.array([5.0, 7.0])
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [10.0, 14.0]  # 2x at the new values
    y = (x * x).sum()
    x.data = np.array([1.0, 1.0])  # an assignment while a graph waits is still caught
    with pytest.raises(RuntimeError, match="'mul' saved its input .* by an assignment to .data"):
        y.backward()


def test_a_leaf_nobody_holds_is_not_kept_by_its_graph():
    y = tg.tensor([2.0, 4.0], requires_grad=True) * 3
    leaf = y.grad_fn.inputs[0]
    assert isinstance(leaf, Handle) and leaf.leaf() is None and leaf.tolist() == [2.0, 4.0]
    y.sum().backward()  # its gradient has nowhere to go, and nothing fails
    assert y.tolist() == [6.0, 12.0]


def test_gradcheck_module_leaves_the_parameters_handles_as_they_were():
    tg.manual_seed(0)
    lin = tg.nn.Linear(3, 2)
    X = np.arange(12.0).reshape(4, 3) / 10
    (lin(tg.tensor(X)) ** 2).sum()  # records: the parameters get handles
    handles = [p.handle() for p in lin.parameters()]
    assert tg.gradcheck_module(lin, lambda m: (m(tg.tensor(X)) ** 2).sum()).passed
    assert all(p.handle() is h for p, h in zip(lin.parameters(), handles))  # the same objects, on the same arrays
    assert all(h._data is p._data for h, p in zip(handles, lin.parameters()))
    (lin(tg.tensor(X)) ** 2).sum().backward()
    Z = X @ lin.weight.data.T + lin.bias.data
    np.testing.assert_allclose(lin.weight.grad.data, 2 * Z.T @ X, rtol=1e-12)  # d/dW of sum(Z^2)


def test_set_grad_enabled_works_as_a_call_a_block_and_a_decorator():
    from tinygraph import mode

    x = tg.tensor(2.0, requires_grad=True)
    try:
        tg.set_grad_enabled(False)  # a call switches at once and stays, as PyTorch's does
        assert not tg.is_grad_enabled()
        assert not (x * x).requires_grad
        tg.set_grad_enabled(False)  # a second call: the thread is counted once
        assert len(mode.switches) == 1
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled() and (x * x).requires_grad
    assert len(mode.switches) == 0  # back at the defaults: ops skip the thread-local read again
    with tg.set_grad_enabled(False):
        assert not (x * x).requires_grad
    assert (x * x).requires_grad

    @tg.set_grad_enabled(False)
    def square(t):
        return t * t

    assert tg.is_grad_enabled()  # decorating switches nothing
    assert not square(x).requires_grad
    assert tg.is_grad_enabled() and (x * x).requires_grad
    assert len(mode.switches) == 0


def test_a_block_ending_inside_a_call_made_switch_keeps_it_counted():
    from tinygraph import mode

    try:
        tg.set_grad_enabled(False)
        with tg.enable_grad():
            tg.set_grad_enabled(True)  # back at the default inside the block...
        # ...but the block's end puts False back: the thread must still be counted
        assert not tg.is_grad_enabled() and len(mode.switches) == 1
        assert not (tg.tensor(1.0, requires_grad=True) * 2).requires_grad
        with tg.no_grad():
            tg.set_grad_enabled(False)
        assert tg.is_grad_enabled() is False and len(mode.switches) == 1
    finally:
        tg.set_grad_enabled(True)
    assert len(mode.switches) == 0


# ----- the core stays small enough to read in an afternoon ------------------------------------------


def test_the_core_is_at_most_a_thousand_lines_and_imports_no_op():
    """Tensor, Function/Context/apply, the walk, grad mode and anomaly mode: at most 1,000 lines (issue 17),
    and none of those modules imports an op module (operators reach Tensor from ops/methods.py)."""
    import ast
    import pathlib

    root = pathlib.Path(tg.__file__).parent
    core = [root / f"{name}.py" for name in ("tensor", "function", "autograd", "mode", "anomaly")]
    lengths = {p.name: len(p.read_text().splitlines()) for p in core}
    assert sum(lengths.values()) <= 1000, lengths
    imports = {}
    for p in core:
        nodes = list(ast.walk(ast.parse(p.read_text())))
        imports[p.name] = {n.module for n in nodes if isinstance(n, ast.ImportFrom)}
        imports[p.name] |= {a.name for n in nodes if isinstance(n, ast.Import) for a in n.names}
        assert not [m for m in imports[p.name] if m and m.startswith("tinygraph.ops")], (p.name, imports[p.name])
    assert "tinygraph.tensor" in imports["function.py"]  # (the imports are seen: function.py's own)
