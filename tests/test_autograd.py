"""The engine: graph shapes that trip engines up, the backward API, errors, custom ops."""

import threading

import numpy as np
import pytest

import tinygraph as tg


def leaf(v):
    return tg.tensor(v, requires_grad=True)


def test_diamond_graph_sums_both_paths():
    x = leaf(2.0)
    a = x * 3  # da/dx = 3
    b = x * x  # db/dx = 2x = 4
    y = a * b  # y = 3x^3, dy/dx = 9x^2 = 36
    y.backward()
    assert y.item() == 24.0
    assert x.grad.item() == 36.0


def test_x_times_x_and_reused_intermediate():
    x = leaf(3.0)
    (x * x).backward()
    assert x.grad.item() == 6.0
    x = leaf(3.0)
    h = tg.tanh(x)
    (h * h + h).backward()
    t = np.tanh(3.0)
    assert np.isclose(x.grad.item(), (2 * t + 1) * (1 - t * t))


def test_an_intermediate_given_twice_to_one_op_runs_once_with_both_gradients():
    # the walk runs a chain's next node without the heap, its gradient kept aside: both uses must reach it
    x = leaf(0.5)
    h = tg.tanh(x * 2)
    h.retain_grad()
    y = h * h
    y.backward(retain_graph=True)
    t = np.tanh(1.0)
    assert np.isclose(h.grad.item(), 2 * t) and np.isclose(x.grad.item(), 4 * t * (1 - t * t))
    (dx,) = tg.grad(y, [x], create_graph=True)
    assert np.isclose(dx.item(), 4 * t * (1 - t * t))
    (ddx,) = tg.grad(dx, [x])
    assert np.isclose(ddx.item(), 8 * (1 - t * t) * (1 - 3 * t * t))


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * 10).sum().backward()
    assert x.grad.tolist() == [12.0, 14.0]
    x.grad = None
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_leaf_gradients_never_alias_each_other_or_the_seed():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    seed = tg.tensor([1.0, 1.0])
    (a + b).backward(seed)
    a.grad.data[0] = 100.0
    assert b.grad.tolist() == [1.0, 1.0]
    assert seed.tolist() == [1.0, 1.0]


def test_a_tensor_feeding_many_ops_gets_the_sum_of_all_its_gradients():
    # the gradients of p arrive five times, twice as the very same array (an add hands its incoming
    # gradient to both inputs); the engine sums the later ones in place into an array of its own
    def f(p):
        return (((p + p) + p) * 2.0 + p * 3.0 + tg.tanh(p)).sum()

    v = np.array([0.3, -1.2, 2.0])
    p = leaf(v)
    f(p).backward()
    assert np.allclose(p.grad.data, 9.0 + 1.0 - np.tanh(v) ** 2, rtol=1e-12)  # by hand: 2*3 + 3 + tanh'
    (num,) = tg.numerical_grad(f, [tg.tensor(v)])
    assert np.allclose(p.grad.data, num, rtol=1e-7)
    assert tg.gradcheck(f, [tg.tensor(v)]).passed


def test_an_intermediate_feeding_many_ops_sums_its_gradients_without_touching_captured_ones():
    x = leaf([1.0, -2.0])
    h = x * 1.5
    h.retain_grad()
    z = (h + h + h + h * h).sum()  # dz/dh = 3 + 2h
    (gh,) = tg.grad(z, [h], retain_graph=True)
    z.backward()
    hv = np.array([1.5, -3.0])
    assert np.allclose(gh.data, 3 + 2 * hv)
    assert np.allclose(h.grad.data, 3 + 2 * hv)
    assert np.allclose(x.grad.data, 1.5 * (3 + 2 * hv))


def test_summing_in_place_never_writes_into_an_array_a_vjp_handed_to_several_inputs():
    # the add hands one array to p and to h; p's later gradient (from h = 3p) must not be summed
    # into that array, or h's gradient, captured before, would read 4 instead of 1
    p = leaf([1.0, 2.0])
    h = p * 3.0
    y = (p + h).sum()
    gh, gp = tg.grad(y, [h, p], retain_graph=True)
    assert gh.tolist() == [1.0, 1.0] and gp.tolist() == [4.0, 4.0]
    h.retain_grad()
    (p + h).sum().backward()
    assert h.grad.tolist() == [1.0, 1.0] and p.grad.tolist() == [4.0, 4.0]


def test_sum_to_on_arrays_is_the_ops_forward_and_on_tensors_records_the_op():
    rng = np.random.default_rng(5)
    from tinygraph.ops.shape import SumTo

    for gshape, shape in (((5, 3), (3,)), ((2, 5, 3), (5, 3)), ((5, 3), (1, 3)), ((5, 3), (5, 1)), ((4,), ())):
        g = rng.standard_normal(gshape).astype(np.float32)
        got = tg.sum_to(g, shape)  # (numpy's sum of all axes gives a numpy scalar, with or without the shortcut)
        assert isinstance(got, np.ndarray if shape else np.float32) and got.dtype == np.float32 and got.shape == shape
        np.testing.assert_array_equal(got, SumTo.forward(None, g, shape))  # a bias's shortcut too: the same sums
        t = leaf(g.astype(np.float64))
        out = tg.sum_to(t, shape)
        assert out.op == "sum_to" and tg.gradcheck(lambda t, s=shape: tg.sum_to(t, s), [t]).passed
    g = rng.standard_normal((3,))
    assert tg.sum_to(g, (3,)) is g


def test_gradients_of_0d_tensors_are_arrays():
    # numpy returns scalars, not 0-d arrays, from arithmetic on 0-d arrays
    x0 = tg.tensor(np.float32(0.5), requires_grad=True)
    h = (x0 + tg.tensor(np.float32(0.25))) * tg.tensor(np.float32(2.0))
    h.retain_grad()
    y = tg.tanh(h)
    (gx,) = tg.grad(y, [x0], retain_graph=True)
    y.backward()
    for g in (x0.grad, h.grad, gx):
        assert type(g.data) is np.ndarray and g.shape == () and g.dtype == np.float32
    assert np.isclose(x0.grad.item(), 2 * (1 - np.tanh(1.5) ** 2))
    x0.grad.data[...] = 0.0  # an array can be written in place
    assert x0.grad.item() == 0.0


def test_nonscalar_backward_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*only a scalar"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    assert x.grad.tolist() == [2.0, 20.0]
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_second_backward_through_released_graph_is_an_error():
    x = leaf(2.0)
    y = tg.exp(x) * x
    y.backward()
    with pytest.raises(RuntimeError, match="already released.*retain_graph=True"):
        y.backward()
    x2 = leaf(2.0)
    y2 = tg.exp(x2) * x2
    y2.backward(retain_graph=True)
    y2.backward()
    assert np.isclose(x2.grad.item(), 2 * 3 * np.exp(2.0))


def test_backward_on_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.tensor(1.0).backward()


def test_very_deep_chain_has_no_recursion_limit():
    x = leaf(0.5)
    y = x
    for _ in range(200_000):
        y = y * 1.0
    y = y + 0.0
    y.backward()
    assert x.grad.item() == 1.0


def test_inplace_change_of_saved_input_is_caught():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    x.data[0] = 5.0
    with pytest.raises(RuntimeError, match="'mul' saved.*modified in place"):
        y.backward()
    x2 = leaf([1.0, 2.0])
    z = tg.tanh(x2)
    loss = z.sum()
    z.data *= 2  # the tanh output itself is what its gradient needs
    with pytest.raises(RuntimeError, match="'tanh' saved.*modified in place"):
        loss.backward()


def test_write_through_an_array_handed_out_before_a_later_save_is_caught():
    # .data handed out while x is saved (a snapshot is taken), then a second op saves x too,
    # then the old array is written through: the second op's check must still run
    x = leaf([1.0, 2.0])
    first = (x * x).sum()
    arr = x.data
    second = (x * x).sum()
    arr[1] = 9.0
    with pytest.raises(RuntimeError, match="'mul' saved.*modified in place"):
        second.backward()
    with pytest.raises(RuntimeError, match="'mul' saved.*modified in place"):
        first.backward()


def test_writes_to_other_tensors_only_cost_a_check():
    # any write moves the write clock, so the saved tensors are compared: unchanged ones pass
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (x * x).sum()
    w.data = np.array([5.0, 6.0])
    w.data[0] = 1.0
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_optimizer_step_between_forward_and_backward_is_caught():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    w.grad = tg.tensor([1.0, 1.0])
    tg.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="'mul' saved.*modified in place"):
        loss.backward()


def test_reading_data_without_writing_is_fine():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    assert x.data.tolist() == [1.0, 2.0]
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_inplace_change_of_input_not_needed_by_backward_is_fine():
    x = leaf([1.0, 2.0])
    y = (x + 1).sum()
    x.data[0] = 7.0
    y.backward()
    assert x.grad.tolist() == [1.0, 1.0]


class Cube(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class ScaleBy(tg.Function):
    """Two inputs, one of them a plain number that gets no gradient."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x.data * k

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.k, None


def test_custom_function_first_and_second_order():
    x = leaf(2.0)
    y = Cube.apply(x)
    assert y.op == "Cube"
    (g,) = tg.grad(y, [x], create_graph=True)
    assert g.item() == 12.0
    (gg,) = tg.grad(g, [x])
    assert gg.item() == 12.0  # 6x
    z = ScaleBy.apply(leaf([1.0, 2.0]), 4.0)
    assert tg.gradcheck(lambda t: Cube.apply(t) * 2, [tg.tensor([0.3, -1.2])]).passed
    assert tg.gradgradcheck(lambda t: Cube.apply(t), [tg.tensor([0.3, -1.2])]).passed
    assert z.tolist() == [4.0, 8.0]


def test_subclass_of_a_custom_op_records_itself_and_an_apply_override_is_kept():
    # a subclass of Cube records its own node, and an `apply` override that calls super() records
    # the class it was called on (an engine that bound `apply` to each class once would break both)
    class DoubleCube(Cube):
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 6 * x * x  # wrong on purpose: tells which class's backward ran

    class Logged(Cube):
        calls = 0

        @classmethod
        def apply(cls, *args):
            cls.calls += 1
            return super().apply(*args)

    class LoggedChild(Logged):
        pass

    x = leaf(2.0)
    y = DoubleCube.apply(x)
    assert y.op == "DoubleCube" and y.grad_fn.fn is DoubleCube
    (g,) = tg.grad(y, [x])
    assert g.item() == 24.0  # DoubleCube's backward, not Cube's 12
    assert Cube.apply(x).op == "Cube"
    z = LoggedChild.apply(x)
    assert (z.op, z.item(), Logged.calls, LoggedChild.calls) == ("LoggedChild", 8.0, 0, 1)
    assert Logged.apply(x).op == "Logged" and Logged.calls == 1


def test_an_op_class_attribute_set_later_is_read_by_the_class_and_its_subclasses():
    # apply and vjp read an op class's attributes from tuples the class keeps (tinygraph.function._OpClass):
    # setting or deleting one refreshes them, for the subclasses too
    class Square(tg.Function):
        arrays = True

        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, g, a):
            return 2 * g * a

    class Child(Square):
        pass

    x = leaf(3.0)
    Square.reads = ((0,),)  # the gradient reads its input: now guarded
    y = Child.apply(x)
    x.data = np.array(4.0)  # a write the guard sees
    with pytest.raises(RuntimeError, match="'Child' saved its input 0.*modified in place"):
        y.backward()
    del Square.reads
    y = Child.apply(x)
    x.data = np.array(5.0)
    y.backward()  # nothing saved: no error (the gradient reads the new value, as the op now says it may)
    assert x.grad.item() == 10.0
    Square.backward = staticmethod(lambda ctx, g, a: 3 * g * a)
    assert tg.grad(Child.apply(x), [x])[0].item() == 15.0


def test_custom_function_returning_wrong_shape_is_named():
    class Bad(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.data.sum(axis=0)

        @staticmethod
        def backward(ctx, grad):
            return grad  # forgot to broadcast back

    x = leaf(np.ones((3, 2)))
    with pytest.raises(
        RuntimeError, match=r"op 'Bad' returned a gradient of shape \(2,\) for an input of shape \(3, 2\)"
    ):
        Bad.apply(x).sum().backward()


def test_grad_api():
    x, y = leaf(3.0), leaf(4.0)
    z = x * x * y
    gx, gy = tg.grad(z, [x, y])
    assert (gx.item(), gy.item()) == (24.0, 9.0)
    assert x.grad is None and y.grad is None
    w = leaf(1.0)
    with pytest.raises(RuntimeError, match="input 0 .* was not used"):
        tg.grad(x * 2, [w])
    x3 = leaf(3.0)
    assert tg.grad(x3 * 2, [w, x3], allow_unused=True)[0] is None
    assert tg.grad(x3 * 2, [w], allow_unused=True, materialize_grads=True)[0].item() == 0.0


def test_grad_with_respect_to_intermediate():
    x = leaf(2.0)
    h = x * 3
    y = h * h
    (gh,) = tg.grad(y, [h])
    assert gh.item() == 12.0


def test_hessian_vector_product():
    x = leaf([1.0, 2.0, 3.0])
    f = (x**3).sum() + (x[0] * x[1])
    (g,) = tg.grad(f, [x], create_graph=True)
    v = tg.tensor([1.0, 0.0, 1.0])
    (hv,) = tg.grad((g * v).sum(), [x])
    # H = diag(6x) + [[0,1,0],[1,0,0],[0,0,0]]
    H = np.diag(6 * x.data) + np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert np.allclose(hv.data, H @ v.data)


def test_backward_create_graph_gives_differentiable_grad():
    x = leaf(2.0)
    (x**4).backward(create_graph=True)
    g = x.grad
    assert g.item() == 32.0
    assert g.requires_grad
    (gg,) = tg.grad(g, [x])
    assert gg.item() == 48.0


def test_no_grad_and_enable_grad():
    x = leaf(1.0)
    with tg.no_grad():
        y = x * 2
        with tg.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad

    @tg.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert tg.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = {}
    started = threading.Event()
    release = threading.Event()

    def other():
        started.wait()
        seen["other"] = (leaf(1.0) * 2).requires_grad
        release.set()

    t = threading.Thread(target=other)
    t.start()
    with tg.no_grad():
        started.set()
        release.wait()
        seen["main"] = (leaf(1.0) * 2).requires_grad
    t.join()
    assert seen == {"other": True, "main": False}


def test_grad_mode_switches_are_counted_back_to_zero():
    from tinygraph import mode

    assert len(mode.switches) == 0
    with pytest.raises(ZeroDivisionError):
        with tg.no_grad(), tg.detect_anomaly():
            assert len(mode.switches) == 1  # one thread off the defaults
            1 / 0
    assert len(mode.switches) == 0
    x = leaf(1.0)
    assert (x * 2).requires_grad  # the fast path (no switch anywhere) records again
    with tg.no_grad():
        with tg.enable_grad():
            assert len(mode.switches) == 0  # back on the defaults inside
            assert (x * 2).requires_grad
        assert len(mode.switches) == 1
        assert not (x * 2).requires_grad
    tg.set_grad_enabled(False)
    assert len(mode.switches) == 1 and not (x * 2).requires_grad
    tg.set_grad_enabled(True)
    assert len(mode.switches) == 0 and (x * 2).requires_grad


def test_backward_switches_grad_mode_only_where_the_walk_needs_it():
    from tinygraph import mode

    x = leaf(3.0)
    seen = []

    class Spy(tg.Function):  # a README-style op: its backward reports the mode it runs in
        @staticmethod
        def forward(ctx, t):
            return t.data * 1.0

        @staticmethod
        def backward(ctx, g):
            seen.append((tg.is_grad_enabled(), len(mode.switches)))
            return g

    (Spy.apply(x) * x).backward()  # on arrays: the mode is left on its defaults, the op's vjp turns it off
    assert seen == [(False, 1)] and x.grad.item() == 6.0 and len(mode.switches) == 0
    x.grad = None
    y = x**3
    with tg.no_grad():  # create_graph inside no_grad records the gradient's graph all the same, as PyTorch's
        y.backward(create_graph=True)
        assert not tg.is_grad_enabled()
    assert x.grad.requires_grad and x.grad.item() == 27.0  # 3 x^2
    assert tg.grad(x.grad, [x])[0].item() == 18.0  # 6 x
    assert len(mode.switches) == 0


def test_backward_runs_nodes_newest_first_each_after_all_its_consumers():
    order = []

    class Tap(tg.Function):
        @staticmethod
        def forward(ctx, x, tag):
            return x.data.copy()

        @staticmethod
        def backward(ctx, g):
            order.append(ctx.inputs[1])
            return g, None

    x = leaf(2.0)
    a = Tap.apply(x, "a")
    b = Tap.apply(a * 3, "b")  # b and c both consume a: a must run after both
    c = Tap.apply(a + 1, "c")
    d = Tap.apply(b * c, "d")
    d.backward()
    assert order == ["d", "c", "b", "a"]
    assert x.grad.item() == 15.0  # d = 3a(a + 1), dd/da = 6a + 3 at a = 2


def test_retain_grad_on_intermediate():
    x = leaf(2.0)
    h = x * 3
    h.retain_grad()
    (h * h).backward()
    assert h.grad.item() == 12.0
    assert x.grad.item() == 36.0


def test_a_gradient_has_its_tensors_dtype_when_the_ops_promote():
    # float32 * float64 computes in float64 (numpy's rule); x.grad is float32 all the same, as PyTorch's is
    x = tg.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    w = tg.tensor(np.array([0.5, 0.25, 0.125]), requires_grad=True)
    (x * w * 3.0).sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [1.5, 0.75, 0.375])  # 3w, exact in float32
    np.testing.assert_array_equal(w.grad.data, [3.0, 6.0, 9.0])  # 3x
    (gx,) = tg.grad((x * w).sum(), [x])
    assert gx.dtype == np.float32
    (gx,) = tg.grad((x * x * w).sum(), [x], create_graph=True)  # 2xw, recorded: the cast is in its graph
    assert gx.dtype == np.float32 and gx.requires_grad
    (gxx,) = tg.grad(gx.sum(), [x])
    assert gxx.dtype == np.float32 and gxx.tolist() == [1.0, 0.5, 0.25]  # 2w
    s = tg.tensor(np.float32(2.0), requires_grad=True)
    (s * np.arange(3)).sum().backward()  # an int64 operand promotes too
    assert s.grad.dtype == np.float32 and s.grad.item() == 3.0


def test_clip_bounds_that_require_grad_get_their_gradient_as_pytorchs_clamp():
    x = tg.tensor([-1.0, 0.5, 2.0, 3.0], requires_grad=True)
    lo = tg.tensor(0.0, requires_grad=True)
    hi = tg.tensor([1.0, 1.0, 1.0, 4.0], requires_grad=True)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    (tg.clip(x, lo, hi) * w).sum().backward()
    # by hand: x passes where lo <= x <= hi; lo is the result where x < lo; hi where x > hi
    np.testing.assert_array_equal(x.grad.data, [0.0, 2.0, 0.0, 4.0])
    assert lo.grad.item() == 1.0
    np.testing.assert_array_equal(hi.grad.data, [0.0, 0.0, 3.0, 0.0])
    # and by finite differences (float64), away from the kinks
    report = tg.gradcheck(lambda a, b, c: (tg.clip(a, b, c) * w).sum(), [x, lo, hi])
    assert report.passed, report
    # numpy's rule where lo > hi: the result is hi everywhere, so only hi gets a gradient
    lo2, hi2 = tg.tensor(5.0, requires_grad=True), tg.tensor(1.0, requires_grad=True)
    tg.clip(x, lo2, hi2).sum().backward()
    assert (lo2.grad.item(), hi2.grad.item()) == (0.0, 4.0)


def test_sum_to_refuses_a_shape_the_tensor_does_not_broadcast_to():
    a = tg.tensor(np.ones((3, 4)), requires_grad=True)
    for shape in ((5,), (2, 4), (3, 5), (1, 3, 4, 1)):
        with pytest.raises(ValueError, match=r"sum_to: a tensor of shape \(3, 4\) cannot be summed to shape"):
            tg.sum_to(a, shape)
    np.testing.assert_array_equal(tg.sum_to(a, (1, 4)).data, [[3.0, 3.0, 3.0, 3.0]])
    np.testing.assert_array_equal(tg.sum_to([[1.0, 2.0], [3.0, 4.0]], (2,)).data, [4.0, 6.0])  # a list, as numpy takes


def test_a_numpy_float64_scalar_is_strong_as_in_numpy_2():
    x = tg.tensor(np.float32([1.0, 2.0]), requires_grad=True)
    for s in (3.0, np.float64(3.0), np.float32(3.0), 3, np.int64(3)):
        assert (x * s).dtype == (np.float32([1.0, 2.0]) * s).dtype
    (x * np.float64(3.0)).sum().backward()
    assert x.grad.dtype == np.float32  # a leaf's gradient in its own dtype
