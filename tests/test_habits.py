"""What PyTorch and numpy users type by habit works, or fails loudly naming tinygraph's spelling (issue 19, items 2-8).

Item 1 (the in-place operators) is tests/test_inplace_ops.py.
"""

import subprocess
import sys
import threading
import types

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph import numpy_dispatch as nd
from tinygraph.nn import functional as F

# ----- item 2: tg.viz, lazily ------------------------------------------------------------------


def test_viz_is_an_attribute_imported_on_first_use():
    code = (
        "import sys, tinygraph as tg\n"
        "assert 'tinygraph.viz' not in sys.modules and 'graphviz' not in sys.modules, sorted(sys.modules)\n"
        "draw = tg.viz.draw\n"
        "assert 'tinygraph.viz' in sys.modules and draw.__module__.startswith('tinygraph.viz')\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# ----- item 3: factories, and Tensor(2, 3) --------------------------------------------------------


def test_factories_take_a_shape_as_ints_or_a_tuple():
    for make, fill in ((tg.zeros, 0.0), (tg.ones, 1.0)):
        for t in (make(2, 3), make((2, 3)), make([2, 3])):
            assert t.shape == (2, 3) and t.dtype == np.float64 and np.all(t.data == fill) and not t.requires_grad
    assert tg.zeros(()).shape == () and tg.empty(4, 1).shape == (4, 1)
    assert tg.zeros(3, dtype=np.float32).dtype == np.float32 and tg.ones(2, dtype=np.int64).tolist() == [1, 1]
    assert tg.full((2,), 7).tolist() == [7, 7] and tg.full((2,), 7).dtype == np.int64
    assert tg.full(2, 0.5).dtype == np.float64 and tg.full((1, 2), True).dtype == bool
    like = tg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    z, o, f = tg.zeros_like(like), tg.ones_like(like), tg.full_like(like, 2.5)
    assert [x.shape for x in (z, o, f)] == [(2, 3)] * 3 and {x.dtype for x in (z, o, f)} == {np.dtype(np.float32)}
    assert np.all(f.data == 2.5) and not any(x.requires_grad for x in (z, o, f))
    assert tg.ones_like(np.zeros((2, 2), dtype=np.int32)).dtype == np.int32


def test_ranges_and_eye_have_numpys_values():
    assert tg.arange(4).tolist() == [0, 1, 2, 3] and tg.arange(4).dtype == np.int64
    assert tg.arange(1, 7, 2).tolist() == [1, 3, 5] and tg.arange(0.0, 1.0, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert tg.arange(3, dtype=np.float32).dtype == np.float32
    assert tg.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert tg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]] and tg.eye(2, 3).shape == (2, 3)


def test_factories_requires_grad_makes_a_leaf_that_learns():
    x = tg.ones(3, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    (x * tg.arange(3.0)).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        tg.arange(3, requires_grad=True)


def test_rand_and_randn_are_seeded_by_manual_seed():
    tg.manual_seed(3)
    a, b = tg.randn(2, 3), tg.rand((4,))
    tg.manual_seed(3)
    assert np.array_equal(tg.randn(2, 3).data, a.data) and np.array_equal(tg.rand(4).data, b.data)
    tg.manual_seed(4)
    assert not np.array_equal(tg.randn(2, 3).data, a.data)
    assert np.all((b.data >= 0) & (b.data < 1)) and tg.randn(5, dtype=np.float32).dtype == np.float32
    tg.manual_seed(0)
    big = tg.randn(20000).data
    assert abs(big.mean()) < 0.03 and abs(big.std() - 1) < 0.03
    with pytest.raises(TypeError, match="randn: draws floating-point numbers"):
        tg.randn(2, dtype=np.int64)


def test_factories_reject_bad_shapes_clearly():
    with pytest.raises(TypeError, match=r"zeros: a shape holds integers, got 2.5"):
        tg.zeros(2.5)
    with pytest.raises(ValueError, match=r"ones: a shape cannot have a negative size"):
        tg.ones(2, -1)
    with pytest.raises(TypeError, match=r"zeros: give a shape"):
        tg.zeros()


def test_tensor_2_3_is_an_error_not_a_0d_tensor_that_requires_grad():
    with pytest.raises(TypeError):
        tg.Tensor(2, 3)
    with pytest.raises(TypeError):
        tg.tensor(2.0, True)
    assert tg.Tensor(2.0, requires_grad=True).requires_grad


# ----- item 4: PyTorch spellings ------------------------------------------------------------------

A = tg.tensor(np.arange(6.0).reshape(2, 3))
HABITS = [  # (what a PyTorch user types, the error, what the message must name)
    (lambda: A.sum(dim=0), TypeError, "write axis= (numpy's name) for PyTorch's dim="),
    (lambda: A.mean(dim=1, keepdim=True), TypeError, "keepdims= (numpy's name) for PyTorch's keepdim="),
    (lambda: A.max(dim=1), TypeError, "axis="),
    (lambda: tg.sum(A, dim=0), TypeError, "axis="),
    (lambda: F.softmax(A, dim=0), TypeError, "softmax: write axis="),
    (lambda: F.log_softmax(A, dim=1), TypeError, "log_softmax: write axis="),
    (lambda: A.float(), AttributeError, "t.astype(np.float32)"),
    (lambda: A.double(), AttributeError, "t.astype(np.float64)"),
    (lambda: A.to(np.float32), TypeError, "astype"),
    (lambda: A.to(dtype=np.float64), TypeError, "astype"),
    (lambda: A.view(3, 2), AttributeError, "t.reshape(shape)"),
    (lambda: A.unsqueeze(0), AttributeError, "expand_dims"),
    (lambda: A.permute(1, 0), AttributeError, "t.transpose(*axes)"),
    (lambda: A.clone(), AttributeError, "t.copy()"),
    (lambda: tg.cat([A, A]), AttributeError, "tg.concatenate"),
    (lambda: A.size(), TypeError, "t.shape"),
    (lambda: A.size(0), TypeError, "t.shape[d]"),
    (lambda: A.numel(), AttributeError, "t.size"),
    (lambda: A.dim(), AttributeError, "t.ndim"),
    (lambda: A.t(), AttributeError, "t.T"),
    (lambda: A.norm(), AttributeError, "tg.linalg.norm(t)"),
    (lambda: tg.norm(A), AttributeError, "tg.linalg.norm(t)"),
    (lambda: A.register_hook(print), AttributeError, "t.retain_grad()"),
    (lambda: tg.optim.StepLR, AttributeError, "StepDecay(opt, step_size, gamma)"),
    (lambda: tg.optim.lr_scheduler.StepLR, AttributeError, "StepDecay(opt, step_size, gamma)"),
    (lambda: tg.optim.lr_scheduler.CosineAnnealingLR, AttributeError, "CosineDecay(opt, total_steps=T_max"),
    (lambda: tg.optim.LambdaLR, AttributeError, "LambdaDecay(opt, fn)"),
    (lambda: tg.optim.ReduceLROnPlateau, AttributeError, "set opt.lr yourself"),
    (lambda: A.cuda(), RuntimeError, "CPU only"),
    (lambda: A.to("cuda"), RuntimeError, "CPU only"),
    (lambda: A.searchsorted(1.0), AttributeError, "t.numpy().searchsorted(...)"),
    (lambda: tg.float32, AttributeError, "np.float32"),
    (lambda: tg.from_numpy(np.ones(2)), AttributeError, "tg.tensor(array)"),
    (lambda: nn.Linear(2, 1).to(np.float32), TypeError, "set_default_dtype"),
    (lambda: nn.Linear(2, 1).double(), AttributeError, "a Module keeps its parameters' dtype"),
    (lambda: nn.MLP([2, 1]).float(), AttributeError, "set_default_dtype"),
]


@pytest.mark.parametrize("habit, error, names", HABITS, ids=[h[2] for h in HABITS])
def test_a_pytorch_spelling_raises_naming_tinygraphs(habit, error, names):
    with pytest.raises(error) as info:
        habit()
    assert names in str(info.value)


def test_the_pytorch_spellings_that_work():
    assert A.to("cpu") is A and A.cpu() is A and A.to(device="cpu") is A
    model = nn.Linear(2, 1)
    assert model.to("cpu") is model and model.cpu() is model
    assert A.size == 6 and isinstance(A.size, int) and A.shape == (2, 3)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    c = x.copy()  # numpy's copy (PyTorch's clone): own memory, in the graph
    assert c.tolist() == [1.0, 2.0] and not np.shares_memory(c.data, x.data) and c.requires_grad
    (c * c).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_an_unknown_attribute_is_a_plain_attribute_error_and_hints_are_not_attributes():
    with pytest.raises(AttributeError, match=r"^'Tensor' object has no attribute 'foo'$"):
        A.foo  # noqa: B018
    assert not hasattr(A, "view") and not hasattr(A, "float") and "view" not in dir(A) and "reshape" in dir(A)
    with pytest.raises(AttributeError, match=r"^module 'tinygraph' has no attribute 'nosuch'$"):
        tg.nosuch  # noqa: B018
    with pytest.raises(AttributeError, match=r"^module 'tinygraph.optim' has no attribute 'nosuch'$"):
        tg.optim.nosuch  # noqa: B018
    p = nn.Parameter([1.0])
    with pytest.raises(AttributeError, match=r"'Parameter' object has no attribute 'view'; .*reshape"):
        p.view(1)


# ----- item 5: set_grad_enabled as a function and a context manager -------------------------------


def test_set_grad_enabled_works_as_a_function_a_context_manager_and_a_decorator():
    x = tg.tensor(1.0, requires_grad=True)
    try:
        tg.set_grad_enabled(False)
        assert not tg.is_grad_enabled() and not (x * 2).requires_grad
        tg.set_grad_enabled(True)
        assert tg.is_grad_enabled() and (x * 2).requires_grad
        with tg.set_grad_enabled(False):
            assert not tg.is_grad_enabled() and not (x * 2).requires_grad
            with tg.set_grad_enabled(True):
                assert (x * 2).requires_grad
            assert not tg.is_grad_enabled()
        assert tg.is_grad_enabled()

        @tg.set_grad_enabled(False)
        def f():
            return tg.is_grad_enabled(), (x * 2).requires_grad

        assert tg.is_grad_enabled()  # the decorator does not switch at decoration
        assert f() == (False, False) and tg.is_grad_enabled()
        seen = []
        tg.set_grad_enabled(False)  # per thread: another thread still records
        t = threading.Thread(target=lambda: seen.append((x * 2).requires_grad))
        t.start()
        t.join()
        assert seen == [True] and not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()


# ----- item 6: numpy's functions on Tensors ---------------------------------------------------------


def test_np_sum_of_np_exp_is_tracked_and_its_gradient_is_exp():
    v = np.array([0.0, 1.0, -2.0])
    t = tg.tensor(v, requires_grad=True)
    s = np.sum(np.exp(t))
    assert isinstance(s, tg.Tensor) and s.op == "sum"
    s.backward()
    np.testing.assert_allclose(t.grad.data, np.exp(v), rtol=1e-15)
    assert t.grad.data[0] == 1.0  # e ** 0, by hand
    report = tg.gradcheck(lambda x: np.sum(np.exp(x) * np.tanh(x)), [tg.tensor(v, requires_grad=True)])
    assert report.passed and report.difference < 1e-7


def test_numpy_arrays_on_the_left_of_an_operator_give_tensors():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([3.0, 4.0])
    outs = [a + w, a - w, a * w, a / w, a**w, a @ w, np.float64(2.0) * w]
    assert all(isinstance(o, tg.Tensor) and o.requires_grad for o in outs)
    assert (a * w).tolist() == [3.0, 8.0] and (a @ w).item() == 11.0
    (a * w).sum().backward()
    assert w.grad.tolist() == [3.0, 4.0]
    eq, lt = a == w, a < w
    assert isinstance(eq, tg.Tensor) and eq.tolist() == [False, False] and lt.tolist() == [False, False]


def test_numpy_functions_map_to_tinygraphs_with_numpys_keywords():
    x = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert np.mean(x, axis=0, keepdims=True).tolist() == [[1.5, 2.5, 3.5]]
    assert np.sum(x, 0, out=None).tolist() == [3.0, 5.0, 7.0]
    assert np.sum(x, dtype=np.float32).dtype == np.float32
    assert np.max(x).item() == 5.0 and np.transpose(x).shape == (3, 2) and np.reshape(x, (3, 2)).shape == (3, 2)
    assert np.var(x, ddof=1).item() == pytest.approx(3.5)
    y = np.concatenate([x, np.ones((1, 3))], axis=0)
    z = np.where(np.array([[True, False, True]]), np.clip(y, 1.0, 4.0), 0.0)
    assert isinstance(z, tg.Tensor) and z.shape == (3, 3)
    np.sum(np.maximum(z, 2.0)).backward()
    # d/dx of max(clip(x, 1, 4), 2) where the mask is on: 1 for 2 < x <= 4, 0.5 at the tie x = 2, else 0
    assert x.grad.tolist() == [[0.0, 0.0, 0.5], [1.0, 0.0, 0.0]]
    assert np.allclose(x, x.data) and np.argmax(x) == 5 and np.shape(x) == (2, 3)


def test_numpy_functions_tinygraph_lacks_raise_naming_them():
    t = tg.tensor([1.0, 2.0])
    cases = [
        (lambda: np.fft.fft(t), r"np\.fft\.fft on a Tensor: tinygraph has no fft.*np\.fft\.fft\(t\.numpy\(\)\)"),
        (lambda: np.gcd(t, t), r"np\.gcd on a Tensor: tinygraph has no gcd"),
        (lambda: np.add.reduce(t), r"np\.add\.reduce on a Tensor: .*use tg\.sum\(t, axis\)"),
        (lambda: np.multiply.accumulate(t), r"np\.multiply\.accumulate on a Tensor: .*no equivalent"),
        (lambda: np.add(t, 1, out=t), r"np\.add\(\.\.\., out=<a Tensor>\).*t \+= \.\.\."),
        (lambda: np.sum(t, out=np.zeros(())), r"np\.sum\(\.\.\., out=\.\.\.\)"),
        (lambda: np.sum(t, where=np.array([True, False])), r"np\.sum\(\.\.\., where=\.\.\.\).*tg\.sum\(x, axis=None"),
        (lambda: np.where(t), r"np\.where on a Tensor calls tg\.where\(cond, a, b\)"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError, match=message):
            call()


def test_out_an_ndarray_takes_the_plain_result_but_not_a_graph():
    t = tg.tensor([1.0, 2.0])
    arr = np.zeros(2)
    assert np.add(t, 1, out=arr) is arr and arr.tolist() == [2.0, 3.0]
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"out=<an ndarray>.*keeps no graph.*\.detach\(\)"):
        arr += w
    assert arr.tolist() == [2.0, 3.0]
    with tg.no_grad():
        arr += w
    assert arr.tolist() == [3.0, 5.0]


def test_new_tinygraph_functions_are_reached_by_name(monkeypatch):
    monkeypatch.setattr(tg, "cbrt", lambda x: x * 10.0, raising=False)  # a stand-in for an op that lands later
    monkeypatch.setattr(tg, "linalg", types.SimpleNamespace(norm=lambda x: tg.sqrt(tg.sum(x * x))), raising=False)
    try:
        t = tg.tensor([3.0, 4.0], requires_grad=True)
        assert np.cbrt(t).tolist() == [30.0, 40.0]
        n = np.linalg.norm(t)
        assert isinstance(n, tg.Tensor) and n.item() == 5.0
        n.backward()
        np.testing.assert_allclose(t.grad.data, [0.6, 0.8], rtol=1e-15)  # x / |x|, by hand
    finally:
        nd._ufuncs.pop(np.cbrt, None)


def test_np_asarray_and_numpy_still_hand_out_the_array_through_the_guard():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert np.asarray(x) is x.data and x.numpy() is x.data
    y = (x * x).sum()
    np.asarray(x)[0] = 5.0
    with pytest.raises(RuntimeError, match=r"op 'mul' saved its input 0.*handed out by \.data"):
        y.backward()


# ----- item 7: oddities -----------------------------------------------------------------------------


def test_requires_grad_set_on_integer_data_raises_as_the_constructor_does():
    t = tg.tensor(np.arange(3))
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients") as ctor:
        tg.tensor(np.arange(3), requires_grad=True)
    t.requires_grad = True  # a plain slot: checked where a graph would first hold it
    with pytest.raises(TypeError) as info:
        t * 2.0
    assert str(info.value) == str(ctor.value)
    with tg.no_grad():
        assert (t * 2).tolist() == [0, 2, 4]  # no graph, nothing to refuse


@pytest.mark.parametrize(
    "data, where", [(None, ""), ([1.0, None], r" at index \[1\]"), ([[1.0], [None]], r" at index \[1, 0\]")]
)
def test_none_in_the_data_is_an_error_not_nan(data, where):
    with pytest.raises(TypeError, match=rf"Tensor: the data holds None{where}; a tensor holds numbers"):
        tg.tensor(data)


def test_a_number_too_large_is_the_same_clear_error_as_other_bad_data():
    with pytest.raises(TypeError, match=r"^Tensor: cannot convert int to a numeric array: "):
        tg.tensor(10**400)
    with pytest.raises(TypeError, match=r"^Tensor: cannot convert str to a numeric array: "):
        tg.tensor("abc")
    assert np.isnan(tg.tensor([1.0, float("nan")]).data[1])  # a nan the user wrote stays


# ----- item 8: strict_shapes ------------------------------------------------------------------------


def _course_cost(Y, A):
    m = 400
    return -(Y * tg.log(A) + (1 - Y) * tg.log(1 - A)).sum() / m  # the course's cost, written by hand


def test_strict_shapes_catches_the_courses_outer_product_cost():
    rng = np.random.default_rng(0)
    Y_right = (rng.random((1, 400)) > 0.5).astype(np.float64)
    A = tg.sigmoid(tg.tensor(rng.normal(size=(1, 400)), requires_grad=True))
    Y = Y_right.T  # (400, 1): the classic bug
    wrong, right = _course_cost(Y, A), _course_cost(Y_right, A)
    assert abs(wrong.item() - right.item()) > 1e-3  # without the switch it passes unseen, and J is wrong
    with tg.strict_shapes():
        with pytest.raises(ValueError) as info:
            _course_cost(Y, A)
        msg = str(info.value)
        assert msg.startswith("mul: strict_shapes: (400, 1) and (1, 400) broadcast to (400, 400)")
        assert f"{__file__}:" in msg and "in _course_cost: return -(Y * tg.log(A)" in msg
        assert _course_cost(Y_right, A).item() == right.item()  # the right shapes pass
    assert _course_cost(Y, A).item() == wrong.item()  # off again after the block


def test_strict_shapes_catches_a_rank_1_array_meeting_a_matrix_and_lets_one_sided_broadcasts_pass():
    W, b = tg.tensor(np.ones((3, 4))), tg.tensor(np.ones((3, 1)))
    with tg.strict_shapes():
        with pytest.raises(
            ValueError, match=r"^add: strict_shapes: \(3, 4\) and \(4,\) a rank-1 array of shape \(4,\)"
        ):
            W + np.ones(4)
        assert (W + b).shape == (3, 4) and (2.0 * W).shape == (3, 4) and (W - W).shape == (3, 4)
        assert (W * np.ones((1, 4))).shape == (3, 4)
        lin = nn.Linear(4, 2)  # its bias (2,) meets (batch, 2) inside tinygraph: the layer checks its shapes
        assert lin(tg.tensor(np.ones((5, 4)))).shape == (5, 2)


def test_strict_shapes_is_per_thread_and_works_as_a_decorator():
    seen = []

    def other():
        seen.append((tg.tensor(np.ones((2, 1))) * np.ones((1, 2))).shape)

    @tg.strict_shapes()
    def mine():
        with pytest.raises(ValueError, match="strict_shapes"):
            tg.tensor(np.ones((2, 1))) * np.ones((1, 2))
        t = threading.Thread(target=other)
        t.start()
        t.join()

    mine()
    assert seen == [(2, 2)]


def test_floor_division_names_tinygraphs_spelling():
    x = tg.tensor([3.0, -4.0], requires_grad=True)
    for f in (lambda: x // 2, lambda: 2 // x, lambda: divmod(x, 2)):
        with pytest.raises(TypeError, match=r"`//` and divmod\(\) on a Tensor: .* tg\.floor\(a / b\)"):
            f()
    np.testing.assert_array_equal(tg.floor(x / 2).data, np.floor_divide([3.0, -4.0], 2))  # what it suggests
