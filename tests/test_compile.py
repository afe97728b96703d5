"""tg.compile: compiled calls against eager ones (losses and gradients), retracing, what the trace sees."""

import functools
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.nn import functional as F
from tinygraph.optim import SGD, Adam
from tinygraph.random import manual_seed

sys.path.insert(0, str(Path(__file__).parent))  # the check shared by the compile tests
from compile_checks import assert_random_program_compiles_as_eager  # noqa: E402

# ----- the course's nets, several steps, an optimizer in between ---------------------------------------


def _course_net(sizes, m=60, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = tg.tensor(rng.standard_normal((sizes[0], m)).astype(dtype))
    Y = tg.tensor((rng.random((1, m)) > 0.5).astype(dtype))
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append(tg.tensor(rng.standard_normal((n_out, n_in)).astype(dtype) * 0.5, requires_grad=True))
        params.append(tg.tensor(np.zeros((n_out, 1), dtype), requires_grad=True))
    return X, Y, params


def _net_loss(params, hidden):
    def loss_fn(X, Y):
        A = X
        L = len(params) // 2
        for layer in range(L):
            Z = params[2 * layer] @ A + params[2 * layer + 1]
            A = hidden(Z) if layer < L - 1 else tg.sigmoid(Z)
        m = Y.shape[1]
        return -(Y * tg.log(A) + (1 - Y) * tg.log(1 - A)).sum() / m

    return loss_fn


@pytest.mark.parametrize(
    "sizes, hidden", [((2, 4, 1), tg.tanh), ((2, 5, 2, 1), tg.relu), ((2, 10, 5, 1), tg.relu), ((2, 10, 5, 1), tg.tanh)]
)
def test_course_nets_compiled_match_eager_over_steps(sizes, hidden):
    X, Y, p_eager = _course_net(sizes)
    _, _, p_comp = _course_net(sizes)
    eager, step = _net_loss(p_eager, hidden), tg.compile(_net_loss(p_comp, hidden))
    opt_e, opt_c = SGD(p_eager, lr=0.5), SGD(p_comp, lr=0.5)
    for _ in range(6):
        opt_e.zero_grad(), opt_c.zero_grad()
        le, lc = eager(X, Y), step(X, Y)
        le.backward(), lc.backward()
        assert abs(le.item() - lc.item()) <= 1e-12
        for a, b in zip(p_eager, p_comp):
            np.testing.assert_allclose(b.grad.data, a.grad.data, rtol=0, atol=1e-12)
        opt_e.step(), opt_c.step()
    assert step.traces == 1 and step.eager_reason is None


def test_compiled_gradient_matches_finite_differences_and_hand_value():
    w = tg.tensor([0.3, -0.2], requires_grad=True)
    step = tg.compile(lambda x: (tg.tanh(x * w) * x).sum())
    x = tg.tensor([1.5, 2.0])
    step(x).backward()
    # d/dw sum(tanh(x w) x) = x^2 (1 - tanh(x w)^2), by hand
    expected = x.data**2 * (1 - np.tanh(x.data * w.data) ** 2)
    np.testing.assert_allclose(w.grad.data, expected, rtol=1e-14)
    eps = 1e-6
    for i in range(2):
        d = np.zeros(2)
        d[i] = eps
        f = [(np.tanh(x.data * (w.data + s * d)) * x.data).sum() for s in (1, -1)]
        assert abs((f[0] - f[1]) / (2 * eps) - w.grad.data[i]) < 1e-8


def test_every_op_of_random_programs_compiled_matches_eager(deep):
    seeds = range(2000 if deep else 400)
    for seed in seeds:
        assert_random_program_compiles_as_eager(seed)


# ----- a deep MLP with dropout and batch norm, train and eval -----------------------------------------


def _mlp():
    manual_seed(3)
    return nn.Sequential(
        nn.Linear(6, 16),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(16, 16),
        nn.BatchNorm1d(16),
        nn.Tanh(),
        nn.Dropout(0.2),
        nn.Linear(16, 3),
    )


def test_mlp_with_dropout_and_batch_norm_compiled_matches_eager_in_train_and_eval():
    rng = np.random.default_rng(0)
    X = tg.tensor(rng.standard_normal((32, 6)))
    labels = rng.integers(0, 3, 32)
    eager_net, comp_net = _mlp(), _mlp()
    opt_e, opt_c = Adam(eager_net.parameters(), lr=0.01), Adam(comp_net.parameters(), lr=0.01)
    step = tg.compile(lambda x, y: F.cross_entropy(comp_net(x), y))
    for i in range(8):
        training = i % 3 != 2
        eager_net.train(training), comp_net.train(training)
        manual_seed(100 + i)
        le = F.cross_entropy(eager_net(X), labels)
        manual_seed(100 + i)
        lc = step(X, tg.tensor(labels))
        assert abs(le.item() - lc.item()) <= 1e-12
        opt_e.zero_grad(), opt_c.zero_grad()
        le.backward(), lc.backward()
        for (name, a), (_, b) in zip(eager_net.named_parameters(), comp_net.named_parameters()):
            np.testing.assert_allclose(b.grad.data, a.grad.data, rtol=0, atol=1e-12, err_msg=name)
        for (name, a), (_, b) in zip(eager_net.named_buffers(), comp_net.named_buffers()):
            np.testing.assert_allclose(b.data, a.data, rtol=0, atol=1e-13, err_msg=name)  # running statistics
        opt_e.step(), opt_c.step()
    assert step.traces == 2  # one program for train, one for eval


def test_dropout_draws_a_new_mask_every_call():
    x = tg.tensor(np.ones(200), requires_grad=True)
    step = tg.compile(lambda x: F.dropout(x, 0.5).sum())
    masks = []
    for _ in range(3):
        x.grad = None
        step(x).backward()
        masks.append(x.grad.data.copy())
    assert not np.array_equal(masks[0], masks[1]) and not np.array_equal(masks[1], masks[2])
    assert set(np.unique(masks[0])) == {0.0, 2.0}


# ----- retracing, and what changes between calls --------------------------------------------------------


def test_tg_randn_and_rand_draw_anew_every_call_as_eager_does():
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = tg.tensor([0.5, -1.0, 2.0])

    def f(x):
        return ((x + tg.randn(3) * 0.1) * w).sum() + tg.rand(3, dtype=np.float32).sum()

    step = tg.compile(f)
    runs = {}
    for name, fn in (("eager", f), ("compiled", step)):
        manual_seed(7)
        runs[name] = []
        for _ in range(3):
            w.grad = None
            out = fn(x)
            out.backward()
            runs[name].append((out.item(), w.grad.data.copy()))
    assert step.eager_reason is None and step.traces == 1
    values = [v for v, _ in runs["compiled"]]
    assert len(set(values)) == 3  # three calls, three draws
    for (v, g), (ve, ge) in zip(runs["compiled"], runs["eager"]):
        assert v == pytest.approx(ve, rel=1e-12)
        np.testing.assert_allclose(g, ge, rtol=1e-12)
    # by hand: d/dw sum((x + noise) w) = x + noise, noise the seed's first three normals times 0.1
    manual_seed(7)
    noise = tg.randn(3).data * 0.1
    np.testing.assert_allclose(runs["compiled"][0][1], x.data + noise, rtol=1e-12)
    assert "tg.randn" in step.program(x) and "tinygraph.factories.normal" in step.program(x)


def test_new_shapes_retrace_and_old_ones_replay():
    w = tg.tensor(np.ones((3, 2)), requires_grad=True)
    step = tg.compile(lambda x: (x @ w).sum())
    for n in (4, 5, 4, 5, 6):
        step(tg.tensor(np.ones((n, 3))))
    assert step.traces == 3
    step(tg.tensor(np.ones((4, 3)), dtype=np.float32))  # a new dtype
    step(tg.tensor(np.ones((4, 3)), requires_grad=True))  # a new requires_grad
    assert step.traces == 5


def test_parameters_changed_in_place_and_by_data_assignment_are_read_afresh():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: (x * w).sum())
    x = tg.tensor([3.0, 4.0])
    assert step(x).item() == 11.0
    w.data -= 1.0  # in place
    assert step(x).item() == 4.0
    w.data = np.array([10.0, 0.0])  # a new array
    assert step(x).item() == 30.0
    w.data = np.array([1.0, 1.0, 1.0])  # a new shape: the program's guard fails, it retraces
    with pytest.raises(ValueError, match="shape"):
        step(x)
    assert step.traces == 2


def test_inputs_changed_between_calls_give_new_values():
    step = tg.compile(lambda x, y: F.cross_entropy(x, y))
    z = tg.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    a = step(z, tg.tensor(np.array([0, 1]))).item()
    b = step(z, tg.tensor(np.array([1, 2]))).item()  # same shapes, new labels: recomputed, not frozen
    assert abs(a - F.cross_entropy(z, np.array([0, 1])).item()) < 1e-15
    assert abs(b - F.cross_entropy(z, np.array([1, 2])).item()) < 1e-15
    assert a != b and step.traces == 1
    c = step(z, np.array([2, 0])).item()  # labels as a numpy argument: recomputed too
    assert abs(c - F.cross_entropy(z, np.array([2, 0])).item()) < 1e-15 and step(z, np.array([1, 2])).item() == b


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradient_is_eagers_bit_for_bit_labels_fixed_or_traced(reduction):
    # the kernel's vjp: (softmax - one-hot) * g, the one-hot made once for labels the trace fixed, at each
    # call for labels passed in; dz known by hand: softmax(z) - onehot, divided by the batch size for the mean
    rng = np.random.default_rng(7)
    z0 = rng.standard_normal((5, 4))
    fixed = np.array([0, 3, 1, 1, 2])

    def loss(z, labels):
        out = F.cross_entropy(z * 1.0, labels, reduction)
        return out if reduction != "none" else (out * tg.tensor(np.arange(1.0, 6.0))).sum()

    traced = tg.compile(loss)
    closed = tg.compile(lambda z: loss(z, fixed))
    for labels in (fixed, np.array([3, 3, 0, 2, 1])):
        z_e, z_t, z_c = (tg.tensor(z0, requires_grad=True) for _ in range(3))
        loss(z_e, labels).backward()
        traced(z_t, tg.tensor(labels)).backward()
        closed(z_c).backward()
        p = np.exp(z0) / np.exp(z0).sum(axis=1, keepdims=True)
        row_scale = {"mean": np.full(5, 1 / 5), "sum": np.ones(5), "none": np.arange(1.0, 6.0)}[reduction]
        by_hand = (p - np.eye(4)[labels]) * row_scale[:, None]
        np.testing.assert_allclose(z_e.grad.numpy(), by_hand, rtol=1e-12, atol=1e-15)
        assert np.array_equal(z_t.grad.numpy(), z_e.grad.numpy())
        if labels is fixed:
            assert np.array_equal(z_c.grad.numpy(), z_e.grad.numpy())
    assert traced.traces == 1 and closed.traces == 1


def test_softmax_shift_and_comparisons_are_recomputed_each_call():
    step = tg.compile(lambda x: (tg.softmax(x) * tg.where(x > 0, x, 0.0)).sum())
    for v in ([1.0, -2.0, 3.0], [-1.0, 5.0, 0.5]):
        x = tg.tensor(v)
        expected = (tg.softmax(x) * tg.where(x > 0, x, 0.0)).sum().item()
        assert abs(step(x).item() - expected) < 1e-15
    assert step.traces == 1


def test_gradients_handed_out_are_arrays_of_their_own():
    """Each leaf gets a .grad array of its own, which a later call's backward does not overwrite while held:
    whether the program returns the seed itself to both leaves (a + b on scalars: checked and copied when
    handed out) or a new array per leaf (a * b: `sole_grads`, handed out as they are)."""
    cases = ((1.0, 3.0, lambda a, b: a + b, False), ([1.0, 2.0], [3.0, 5.0], lambda a, b: (a * b).sum(), True))
    for va, vb, f, sole in cases:
        a, b = tg.tensor(va, requires_grad=True), tg.tensor(vb, requires_grad=True)
        step = tg.compile(functools.partial(f, a, b))
        step().backward()
        assert step._fast.sole_grads is sole  # (the program the loop replays)
        ga, gb = a.grad, b.grad
        assert not np.shares_memory(ga.data, gb.data)
        a.grad = b.grad = None
        step().backward()  # while ga and gb are held
        assert not np.shares_memory(a.grad.data, ga.data) and not np.shares_memory(a.grad.data, b.grad.data)
        expected = (vb, va) if sole else (1.0, 1.0)
        for g in (ga, a.grad):
            np.testing.assert_array_equal(g.data, expected[0])
        for g in (gb, b.grad):
            np.testing.assert_array_equal(g.data, expected[1])


def test_grads_accumulate_as_eager():
    w = tg.tensor([1.0, -1.0], requires_grad=True)
    step = tg.compile(lambda x: (x * w * w).sum())
    x = tg.tensor([2.0, 3.0])
    step(x).backward()
    step(x).backward()
    np.testing.assert_array_equal(w.grad.data, 2 * 2 * x.data * w.data)  # two calls: twice 2 x w


def test_backward_through_the_engine_and_a_second_call_before_backward():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: (x * w).sum())
    l1 = step(tg.tensor([1.0, 1.0]))
    l2 = step(tg.tensor([5.0, 7.0]))  # the first result's backward has not run: another frame
    (l1 * 3).backward()  # through the engine's walk
    np.testing.assert_array_equal(w.grad.data, [3.0, 3.0])
    w.grad = None
    l2.backward()
    np.testing.assert_array_equal(w.grad.data, [5.0, 7.0])


def test_in_place_write_before_backward_is_caught_as_eager():
    """A write to what the backward reads raises, eager and compiled; a write to what it does not read
    (w in tanh(x * w): its gradient reads x and tanh's output) changes no gradient, and raises in neither."""
    x = tg.tensor([1.0, 1.0])
    for loss_of, caught in ((lambda x, w: (x * w * w).sum(), True), (lambda x, w: tg.tanh(x * w).sum(), False)):
        grads = []
        for compiled in (False, True):
            w = tg.tensor([1.0, 2.0], requires_grad=True)
            run = functools.partial(loss_of, w=w)
            run = tg.compile(run) if compiled else run
            run(x)  # (the compiled one traces here)
            loss = run(x)
            w.data -= 1.0
            if caught:
                with pytest.raises(RuntimeError, match="modified in place"):
                    loss.backward()
            else:
                loss.backward()
                grads.append(w.grad.data)
        if not caught:  # the gradient at the forward's w = [1, 2]: x * (1 - tanh(x * w) ** 2)
            np.testing.assert_allclose(grads[0], 1 - np.tanh([1.0, 2.0]) ** 2, rtol=1e-15)
            np.testing.assert_array_equal(grads[1], grads[0])


def test_in_place_write_to_what_a_read_view_shows_is_caught_as_eager():
    """x's gradient reads w.T, a view of the constant w: a write to w after the forward raises, both ways."""
    w = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    x = tg.tensor([[1.0, 1.0], [2.0, 0.5]], requires_grad=True)
    for run in (lambda: (x * w.T).sum(), tg.compile(lambda: (x * w.T).sum())):
        run()
        loss = run()
        w.data -= 1.0
        with pytest.raises(RuntimeError, match="modified in place"):
            loss.backward()
        w.data += 1.0


# ----- what the trace refuses, and the modes ---------------------------------------------------------


def test_value_dependent_branch_is_refused_at_trace_time_naming_the_line():
    def f(x):
        if x.sum() > 0:  # the line the error names
            return x.sum()
        return -x.sum()

    step = tg.compile(f)
    with pytest.raises(tg.TraceError, match=r"test_compile.py:\d+ in f: if x.sum\(\) > 0:"):
        step(tg.tensor([1.0, 2.0]))
    reads = {  # the read the user wrote, and how the error names it
        "float()": lambda x: float(x.sum()),
        "int()": lambda x: int(x.sum()),
        "an index": lambda x: [1, 2, 3][x.sum().astype(np.int64)],
        ".item()": lambda x: x.sum().item(),
        ".numpy()": lambda x: x.numpy(),
        "bool()": lambda x: bool(x.sum()),
    }
    for name, read in reads.items():
        with pytest.raises(tg.TraceError) as info:
            tg.compile(read)(tg.tensor([1.0]))
        assert str(info.value).startswith(f"tg.compile: {name} reads the value") and "pass it in as an argument" in str(
            info.value
        )


def test_a_write_in_place_to_traced_data_is_refused_naming_the_line():
    w = tg.tensor([1.0, 2.0], requires_grad=True)

    def f(x):
        w.data += 0.0  # the line the error names
        return (x * w).sum()

    with pytest.raises(
        tg.TraceError, match=r"np.add\(..., out=...\) on traced data at .*test_compile.py:\d+ in f: w.data"
    ):
        tg.compile(f)(tg.tensor([1.0, 1.0]))
    assert type(w.data) is np.ndarray and w.data.tolist() == [1.0, 2.0]  # the parameter as it was


def test_keyword_arguments_are_bound_to_the_parameters_they_name():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x, scale=1.0: (x * w).sum() * scale)
    x = tg.tensor([1.0, 1.0])
    assert step(x, scale=2.0).item() == 6.0 and step(x, 2.0).item() == 6.0 and step.traces == 1
    loss = step(x=x, scale=3.0)
    loss.backward()
    assert loss.item() == 9.0 and w.grad.tolist() == [3.0, 3.0] and step.traces == 2
    with pytest.raises(TypeError, match=r"tg.compile: <lambda>: got an unexpected keyword argument 'bogus'"):
        step(x, bogus=1)
    only = tg.compile(lambda x, *, k: (x * w).sum() * k)
    with pytest.raises(TypeError, match="k can only be given by keyword"):
        only(x, k=2.0)


def test_python_argument_values_are_part_of_the_signature():
    step = tg.compile(lambda x, k: (x * k).sum())
    x = tg.tensor([1.0, 2.0])
    assert step(x, 2.0).item() == 6.0 and step(x, 3.0).item() == 9.0
    assert step.traces == 2


def test_no_grad_gives_a_forward_only_program():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: (x * w).sum())
    with tg.no_grad():
        out = step(tg.tensor([1.0, 1.0]))
        text = step.program(tg.tensor([1.0, 1.0]))
    assert not out.requires_grad and out.item() == 3.0
    assert "def forward" in text and "def backward" not in text
    assert "def backward" in step.program(tg.tensor([1.0, 1.0]))


def test_detect_anomaly_runs_eagerly_and_catches_nan():
    step = tg.compile(lambda x: tg.log(x).sum())
    with np.errstate(invalid="ignore"), tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match="log"):
        step(tg.tensor([-1.0, 1.0]))
    assert "detect_anomaly" in step.eager_reason


def test_create_graph_through_a_compiled_call_falls_back_to_eager():
    x = tg.tensor(2.0, requires_grad=True)
    step = tg.compile(lambda x: x**3)
    (g,) = tg.grad(step(x), [x], create_graph=True)
    assert g.item() == 12.0 and tg.grad(g, [x])[0].item() == 12.0


def test_float32_stays_float32():
    X, Y, params = _course_net((2, 4, 1), dtype=np.float32)
    step = tg.compile(_net_loss(params, tg.tanh))
    for _ in range(2):
        loss = step(X, Y)
        loss.backward()
        assert loss.dtype == np.float32
        assert all(p.grad.dtype == np.float32 for p in params)


def test_a_float32_leaf_used_with_float64_data_gets_a_float32_gradient_as_eager():
    w = tg.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    b = tg.tensor(np.float32(0.5), requires_grad=True)
    X = tg.tensor(np.array([[0.5, 0.25, 0.125], [1.0, -1.0, 2.0]]))  # float64: the products are float64
    step = tg.compile(lambda X: tg.tanh(X @ w + b).sum())
    eager = tg.tanh(X @ w + b).sum()
    eager.backward()
    expected = [w.grad.data.copy(), b.grad.data.copy()]
    assert w.grad.dtype == np.float32 and b.grad.dtype == np.float32
    for through_the_walk in (False, True, False):
        w.grad = b.grad = None
        loss = step(X)
        (loss * 1.0).backward() if through_the_walk else loss.backward()  # the walk, or the result's own road
        assert w.grad.dtype == np.float32 and b.grad.dtype == np.float32
        np.testing.assert_array_equal(w.grad.data, expected[0])
        np.testing.assert_array_equal(b.grad.data, expected[1])
    assert "astype" in step.program(X)


def test_bad_input_raises_eagers_error():
    w = tg.tensor(np.ones((3, 2)), requires_grad=True)
    step = tg.compile(lambda x: (x @ w).sum())
    step(tg.tensor(np.ones((4, 3))))
    with pytest.raises(ValueError, match=r"matmul: \(4, 5\) @ \(3, 2\): inner dimensions 5 and 3 differ"):
        step(tg.tensor(np.ones((4, 5))))


def test_decorator_tuple_outputs_and_the_program_text():
    w = tg.tensor([1.0, 2.0], requires_grad=True, name="w")

    @tg.compile
    def f(x):
        y = x * w
        return y.sum(), (y * y).sum()

    a, b = f(tg.tensor([1.0, 1.0]))
    assert (a.item(), b.item()) == (3.0, 5.0)
    b.backward()
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0])  # d/dw sum((x w)^2) = 2 x^2 w, x = 1
    text = f.program(tg.tensor([1.0, 1.0]))
    assert "leaf w (2,) float64, requires grad" in text and "def forward" in text and "def backward" in text
    assert "np.multiply" in text


@pytest.mark.parametrize("through", ["loss", "out", "both", "out twice"])
def test_an_output_another_output_is_computed_from_gets_both_gradients(through):
    # the course's habit: return the loss and the activations it was computed from (for the accuracy)
    rng = np.random.default_rng(0)
    X = tg.tensor(rng.standard_normal((5, 3)))
    w = tg.tensor(rng.standard_normal((3, 1)), requires_grad=True)

    def f(X, w):
        out = X @ w
        return ((out * out).mean(), out, out) if through == "out twice" else ((out * out).mean(), out)

    def scalar(results):  # what backward starts from
        loss, out = results[0], results[1]
        if through == "loss":
            return loss
        if through == "out":
            return out.sum()
        return loss + out.sum() + (results[2].sum() if through == "out twice" else 0.0)

    compiled = tg.compile(f)
    for _ in range(2):  # the trace, then a replay
        w.grad = None
        scalar(compiled(X, w)).backward()
        got = w.grad.data.copy()
        w.grad = None
        scalar(f(X, w)).backward()
        np.testing.assert_allclose(got, w.grad.data, rtol=1e-12, atol=1e-14)
    # by hand: d/dw mean((Xw)^2) = X.T (2 Xw / 5), d/dw sum(Xw) = X.T 1
    out = X.data @ w.data
    by_hand = {"loss": 2 * out / 5, "out": np.ones((5, 1)), "both": 2 * out / 5 + 1, "out twice": 2 * out / 5 + 2}
    np.testing.assert_allclose(got, X.data.T @ by_hand[through], rtol=1e-12)
    # and by finite differences (float64), through the compiled function's replays
    report = tg.gradcheck(lambda w_: scalar(compiled(X, w_)), [w])
    assert report.passed, report


def test_a_detached_output_carries_no_gradient_and_the_others_are_eagers():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    x = tg.tensor([3.0, 5.0])
    step = tg.compile(lambda x: ((x * w).sum(), (x * w).detach()))
    for _ in range(2):  # the trace, then a replay
        w.grad = None
        loss, held = step(x)
        assert not held.requires_grad and held.is_leaf
        np.testing.assert_array_equal(held.data, [3.0, 10.0])
        (loss + (held * held).sum()).backward()
        np.testing.assert_array_equal(w.grad.data, [3.0, 5.0])  # d/dw sum(x w) = x; the detached term adds none
    assert step.eager_reason is None


@pytest.mark.parametrize("where", ["inside", "returned"])
def test_a_leaf_made_of_a_traced_tensors_data_runs_eagerly_with_eagers_gradients(where):
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    x = tg.tensor([3.0, 5.0])

    def f(x):
        y = (x * w).detach().requires_grad_()  # a new leaf: eager stops the gradient here
        return (y * w).sum() if where == "inside" else ((x * w).sum(), y)

    def run(fn):
        w.grad = None
        out = fn(x)
        (out if where == "inside" else out[0] + (out[1] * out[1]).sum()).backward()
        return w.grad.data.copy(), None if where == "inside" else out[1].grad.data.copy()

    step = tg.compile(f)
    for _ in range(2):
        got, expected = run(step), run(f)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[0], [3.0, 10.0] if where == "inside" else [3.0, 5.0])  # y = x w; x
        if where == "returned":
            np.testing.assert_array_equal(got[1], [6.0, 20.0])  # the leaf's own .grad: 2 y
    assert "leaf made inside" in step.eager_reason and "runs eagerly" in step.eager_reason


def test_an_argument_given_twice_is_a_signature_of_its_own():
    # an autoencoder's loss_fn(inputs, targets) called as step(X, X): the trace cannot tell the two apart
    rng = np.random.default_rng(1)
    w = tg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    x = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True)

    def f(a, b):
        return ((a @ w) * b).sum()

    step = tg.compile(f)
    for a, b in ((x, x), (x, y), (x, x), (y, y), (y, x)):
        got = []
        for fn in (step, f):
            w.grad = x.grad = y.grad = None
            out = fn(a, b)
            out.backward()
            got.append((out.item(), *[None if t.grad is None else t.grad.data.copy() for t in (w, x, y)]))
        assert got[0][0] == pytest.approx(got[1][0], rel=1e-12)
        for c, e in zip(got[0][1:], got[1][1:]):
            assert (c is None) == (e is None)
            if c is not None:
                np.testing.assert_allclose(c, e, rtol=1e-12, atol=1e-12)
        # by hand: d/dw sum((a w) * b) = a.T b; d/da = b w.T, d/db = a w
        np.testing.assert_allclose(got[0][1], a.data.T @ b.data, rtol=1e-12)
        if a is b:
            np.testing.assert_allclose(a.grad.data, a.data @ w.data.T + a.data @ w.data, rtol=1e-12)
    assert step.traces == 2  # (x, x) and (y, y) share one program, (x, y) and (y, x) the other


def test_an_argument_the_function_also_reads_itself_is_not_replayed_for_another():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    lin = nn.Linear(2, 1)
    X = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    cases = [
        (lambda x: (x * w).sum(), w, tg.tensor([3.0, 4.0], requires_grad=True)),  # a tensor it closes over
        (lambda b: (lin(X) * b).sum(), lin.bias, tg.tensor([0.5], requires_grad=True)),  # a module's parameter
    ]
    for f, own, other in cases:
        step = tg.compile(f)
        for arg in (own, other, own, other):
            assert step(arg).item() == pytest.approx(f(arg).item(), rel=1e-12)
        assert step.traces == 2  # one program for the function's own tensor, one for any other
    # by hand: f(w) = w . w = 5, f(v) = v . w = 11
    step = tg.compile(cases[0][0])
    assert (step(w).item(), step(cases[0][2]).item(), step(w).item()) == (5.0, 11.0, 5.0)


def test_a_tensor_made_inside_and_returned_is_a_new_one_every_call():
    w = tg.tensor([1.0, 2.0], requires_grad=True)

    def f(x):
        mask = tg.ones(2)
        return (x * w * mask).sum(), mask

    step = tg.compile(f)
    for _ in range(3):
        w.grad = None
        loss, mask = step(tg.tensor([1.0, 1.0]))
        loss.backward()
        assert loss.item() == 3.0  # 1 + 2, whatever the caller did to the last call's mask
        np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])
        mask *= 0.0  # the caller's own tensor


@pytest.mark.parametrize("write", ["zero_", "fill_", "copy_", "+= under no_grad", "item assignment"])
def test_writes_in_place_to_traced_data_are_refused_naming_the_line(write):
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    h = tg.tensor([5.0, 5.0])  # a buffer the function resets: eager does, a replay would not

    def f(x):
        nonlocal h
        if write == "zero_":
            h.zero_()
        elif write == "fill_":
            h.fill_(0.0)
        elif write == "copy_":
            h.copy_(x)
        elif write == "item assignment":
            h.data[0] = 0.0
        else:
            with tg.no_grad():
                h += x
        return ((x + h) * w).sum()

    with pytest.raises(tg.TraceError, match=r"a write in place is not traced") as info:
        tg.compile(f)(tg.tensor([1.0, 1.0]))
    assert "test_compile.py" in str(info.value) and "in f" in str(info.value)  # the user's line


def test_python_values_in_the_signature_by_type_and_bits():
    x = tg.tensor([1.0, -2.0])
    step = tg.compile(lambda x, a: x / a)
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(step(x, 0.0).data, [np.inf, -np.inf])
        np.testing.assert_array_equal(step(x, -0.0).data, [-np.inf, np.inf])  # -0.0 is not 0.0
    np.testing.assert_array_equal(step(x, float("nan")).data, [np.nan, np.nan])
    np.testing.assert_array_equal(step(x, float("nan")).data, [np.nan, np.nan])
    assert step.traces == 3  # 0.0, -0.0, one NaN for both NaN calls
    scale = tg.compile(lambda x, s: x * s[0])
    xi = tg.tensor(np.array([1, 2, 3]))
    assert scale(xi, (2,)).dtype == np.int64 and scale(xi, (2.0,)).dtype == np.float64


def test_a_tuple_of_tensors_as_an_argument_runs_eagerly_with_eagers_gradients():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x, params: (x * w * params[0]).sum())
    for i in range(3):
        s = tg.tensor(0.5, requires_grad=True)  # a new tensor of the same value each call
        step(tg.tensor([1.0, 1.0]) * (i + 1), (s,)).backward()
        assert s.grad.item() == 3.0 * (i + 1)  # d/ds sum(x w s) = sum(x w) = 3 (i + 1)
    assert "pass them as arguments of their own" in step.eager_reason


def test_with_two_outputs_a_leaf_only_the_other_one_reaches_gets_no_gradient():
    g = tg.tensor([1.0, 2.0], requires_grad=True)
    d = tg.tensor([0.5, -1.0], requires_grad=True)
    step = tg.compile(lambda x: ((x * g).sum(), (x * d).sum()))
    for _ in range(2):
        g.grad = d.grad = None
        _, ld = step(tg.tensor([3.0, 4.0]))
        ld.backward()
        assert g.grad is None  # as eager: ld does not depend on g (a zero would move momentum)
        np.testing.assert_array_equal(d.grad.data, [3.0, 4.0])
        _, ld = step(tg.tensor([3.0, 4.0]))
        assert tg.grad(ld, [g, d], allow_unused=True)[0] is None


def test_a_float32_leaf_gets_a_float32_gradient_when_the_upcast_is_downstream():
    b = tg.tensor(np.float64(1.0))

    def f(x, y):
        return tg.hypot(x, y) + b  # a float32 op, then a float64 add: the leaves' gradients came back float64

    step = tg.compile(f)
    for fn in (f, step, step):
        x, y = (tg.tensor(np.float32(v), requires_grad=True) for v in (3.0, -4.0))
        fn(x, y).backward()
        assert x.grad.dtype == y.grad.dtype == np.float32
        assert (x.grad.item(), y.grad.item()) == pytest.approx((0.6, -0.8), rel=1e-6)  # x / 5, y / 5


@pytest.mark.parametrize("outputs", ["one", "two"])
def test_a_write_to_a_result_the_backward_reads_raises_at_backward(outputs):
    w = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)

    def f(x):
        y = tg.tanh(x * w)  # tanh's vjp reads its output
        return y if outputs == "one" else (y, (y * w).sum())

    step = tg.compile(f)
    for _ in range(2):  # the trace's replay, then a replay
        out = step(tg.tensor([1.0, 1.0, 1.0]))
        y = out if outputs == "one" else out[0]
        with tg.no_grad():
            y += 1.0
        with pytest.raises(RuntimeError, match=r"op 'compiled' saved a tensor \(shape \(3,\), float64\)"):
            (y.sum() if outputs == "one" else out[1]).backward()
    w.grad = None
    y = step(tg.tensor([1.0, 1.0, 1.0]))
    y = y if outputs == "one" else y[0]
    y.sum().backward()  # unwritten: eager's gradient, 1 - tanh(w)^2 for x = 1
    np.testing.assert_allclose(w.grad.data, 1 - np.tanh(w.data) ** 2, rtol=1e-12)


def test_ndarray_methods_on_traced_data_are_recorded_and_python_reads_refused():
    w = tg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    fns = {
        "argmax": lambda x: w[x.data.argmax()] * 1.0,  # an index computed from the values
        "dot": lambda x: w * x.data.dot(x.data),
        "mean": lambda x: (w * x.data.mean(0)).sum(),
        "std": lambda x: (w * x.data.std()).sum(),
        "round": lambda x: (w * x.data.round(1)).sum(),
        "argsort": lambda x: (w * x.data.argsort()).sum(),
    }
    for name, f in fns.items():
        step = tg.compile(f)
        for x in ([3.0, 1.0, 2.0], [1.0, 3.0, -2.0], [0.25, 0.5, 0.125]):  # new values: never the trace's
            x = tg.tensor(x)
            w.grad = None
            got = step(x)
            got.sum().backward() if got.ndim else got.backward()
            g = w.grad.data.copy()
            w.grad = None
            want = f(x)
            want.sum().backward() if want.ndim else want.backward()
            np.testing.assert_allclose(got.data, want.data, rtol=1e-12, err_msg=name)
            np.testing.assert_allclose(g, w.grad.data, rtol=1e-12, err_msg=name)
        assert step.eager_reason is None and step.traces == 1, name
    assert tg.compile(fns["argmax"])(tg.tensor([1.0, 3.0, -2.0])).item() == 20.0  # by hand: w[1]
    with pytest.raises(tg.TraceError, match=r"np.allclose\(\) reads the value of a traced tensor into Python at"):
        tg.compile(lambda x: w.sum() * np.allclose(x.data, 0.0))(tg.tensor([0.0, 0.0, 0.0]))


def test_a_function_that_raises_while_traced_leaves_what_its_eager_call_would_have_done():
    X = tg.tensor(np.arange(12.0).reshape(4, 3))
    means, draws = {}, {}
    for name in ("eager", "compiled"):
        bn = nn.BatchNorm1d(3)
        manual_seed(0)

        def f(x, boom, bn=bn):
            y = F.dropout(bn(x), 0.5)
            if boom:
                raise RuntimeError("the user's error, after the layer")
            return (y**2).sum()

        fn = f if name == "eager" else tg.compile(f)
        fn(X, False)
        with pytest.raises(RuntimeError, match="the user's error"):
            fn(X, True)  # a new Python argument: a trace, which raises
        means[name] = bn.running_mean.data.copy()
        draws[name] = tg.rand(3).data  # the dropout masks drawn before the error were drawn
    np.testing.assert_array_equal(means["compiled"], means["eager"])
    np.testing.assert_allclose(means["eager"], 0.1 * 0.9 * X.data.mean(0) + 0.1 * X.data.mean(0))  # two updates
    np.testing.assert_array_equal(draws["compiled"], draws["eager"])


def test_graph_for_the_pictures():
    viz = pytest.importorskip("tinygraph.viz")
    w = tg.tensor([1.0, 2.0], requires_grad=True, name="w")
    step = tg.compile(lambda x: tg.tanh(x * w).sum())
    x = tg.tensor([1.0, 1.0])
    src = viz.draw_forward(step.graph(x)).source
    assert "tanh" in src and "mul" in src
    assert "compiled" in viz.draw_forward(step(x)).source
    with pytest.raises(TypeError, match=r"got Compiled; draw the graph of a call .* with its \.graph\(\*args\)"):
        viz.draw(step)
    with pytest.raises(TypeError, match=r"expected a Tensor to draw, got list$"):
        viz.draw([x])


# ----- the course's examples, compiled ------------------------------------------------------------------


def _example(name):
    import importlib.util
    from pathlib import Path

    path = next((Path(__file__).resolve().parent.parent / "examples").glob(f"{name}_*.py"))
    spec = importlib.util.spec_from_file_location(f"compiled_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_02_and_06_print_the_same_costs_compiled(capsys):
    ex2 = _example("02")
    X, Y = ex2.make_flower()
    # the whole run: at learning rate 1.2 a difference of one rounding grows to 1e-4 by step 8,000
    _, eager = ex2.nn_model(X, Y, n_h=4, num_iterations=10000)
    _, comp = ex2.nn_model(X, Y, n_h=4, num_iterations=10000, compiled=True)
    np.testing.assert_allclose(comp, eager, rtol=0, atol=1e-10)
    # The exact check is the one above (the same machine, both ways). The run's own value after 9,000 steps at
    # learning rate 1.2 depends on the CPU numpy's SIMD exp and tanh were built for: 0.218632 on an Intel VM,
    # 0.218624 on an AMD EPYC one.
    assert eager[9000] == pytest.approx(0.21863, abs=1e-4)
    assert eager[0] == pytest.approx(0.693048, abs=1e-6)  # the course's first cost
    ex6 = _example("06")
    from tinygraph.datasets import make_moons

    X, y = make_moons(300, 0.2, seed=3, legacy=True)
    _, eager = ex6.train(X, y, "adam", 0.007, epochs=3, print_every=0)
    _, comp = ex6.train(X, y, "adam", 0.007, epochs=3, print_every=0, compiled=True)
    np.testing.assert_allclose(comp, eager, rtol=0, atol=1e-10)
    _, first = ex6.train(X, y, "gd", 0.0007, epochs=1, print_every=0, compiled=True)
    assert first[0] == pytest.approx(0.702405, abs=5e-7)  # the course's "Cost after epoch 0"


def test_kernels_give_the_ops_own_results_bit_for_bit(monkeypatch):
    from tinygraph.compiler import kernels

    X, Y, params = _course_net((2, 10, 5, 1))
    results = []
    for enabled in (True, False):
        monkeypatch.setattr(kernels, "enabled", enabled)
        step = tg.compile(_net_loss(params, tg.relu))
        for p in params:
            p.grad = None
        loss = step(X, Y)
        loss.backward()
        results.append((loss.item(), [p.grad.data.copy() for p in params], step.program(X, Y)))
    (l1, g1, text1), (l0, g0, text0) = results
    assert "np.matmul" in text1 and "np.matmul" not in text0  # the kernels were used, and then not
    assert l1 == l0 and all(np.array_equal(a, b) for a, b in zip(g1, g0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_kernel_gives_eagers_bits_at_the_edges(dtype):
    # the kernel's last step is r * exp(min(x, 0)) where eager's is where(x >= 0, r, e * r)
    edges = [-np.inf, -1e4, -104.0, -88.7, -20.0, -1.0, -1e-30, -0.0, 0.0, 1e-30, 1.0, 20.0, 88.7, 1e4, np.inf, np.nan]
    rng = np.random.default_rng(5)
    for n in (1, 7, 16, 33, 400):  # lengths around the SIMD widths
        x = np.concatenate([edges, rng.standard_normal(n) * 30]).astype(dtype)
        z = tg.tensor(x, requires_grad=True)
        step = tg.compile(lambda z: tg.sigmoid(z * 1.0) * 1.0)  # (the kernel writes a buffer: not an output)
        for _ in range(2):  # the trace, then a replay
            z.grad = None
            out = step(z)
            out.backward(tg.tensor(np.ones_like(x)))
        z_e = tg.tensor(x, requires_grad=True)
        eager = tg.sigmoid(z_e * 1.0) * 1.0
        eager.backward(tg.tensor(np.ones_like(x)))
        assert out.dtype == dtype
        bits = np.uint32 if dtype == np.float32 else np.uint64
        assert np.array_equal(out.numpy().view(bits), eager.numpy().view(bits))
        assert np.array_equal(z.grad.numpy().view(bits), z_e.grad.numpy().view(bits))
    assert eager.numpy()[0] == 0.0 and eager.numpy()[14] == 1.0  # sigmoid(-inf), sigmoid(inf), by hand
    assert eager.numpy()[5] == pytest.approx(1 / (1 + np.e), rel=1e-6)


def test_a_compiled_function_called_inside_another_is_traced_into_it():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    inner = tg.compile(lambda x: tg.tanh(x * w))
    x = tg.tensor([0.5, -1.0])
    inner(x)  # inner has a program of its own
    outer = tg.compile(lambda x: (inner(x) ** 2).sum())
    loss = outer(x)
    loss.backward()
    expected = (tg.tanh(x * w) ** 2).sum()
    assert abs(loss.item() - expected.item()) < 1e-15 and outer.eager_reason is None
    y = 2 * np.tanh(x.data * w.data) * (1 - np.tanh(x.data * w.data) ** 2) * x.data
    np.testing.assert_allclose(w.grad.data, y, rtol=1e-14)


def test_a_gradient_someone_holds_is_never_written_again():
    w = tg.tensor(np.ones((3, 4)), requires_grad=True)
    step = tg.compile(lambda x: (x @ w).sum())
    x1, x2 = tg.tensor(np.full((2, 3), 1.0)), tg.tensor(np.full((2, 3), 5.0))
    step(x1).backward()
    kept = w.grad.data  # the user holds the first gradient's array
    w.grad = None
    step(x2).backward()
    np.testing.assert_array_equal(kept, np.full((3, 4), 2.0))  # d/dw sum(x1 w) = x1^T 1
    np.testing.assert_array_equal(w.grad.data, np.full((3, 4), 10.0))
    first = w.grad.data
    del kept
    w.grad = None
    step(x1).backward()
    np.testing.assert_array_equal(first, np.full((3, 4), 10.0))  # still held here: untouched
    np.testing.assert_array_equal(w.grad.data, np.full((3, 4), 2.0))


def test_retain_graph_array_arguments_and_a_non_leaf_input():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: x * w * w)
    out = step(tg.tensor([1.0, 3.0]))
    out.backward(np.ones(2), retain_graph=True)  # d/dw (x w^2) = 2 x w
    out.backward(np.ones(2))
    np.testing.assert_array_equal(w.grad.data, 2 * np.array([2.0, 12.0]))
    with pytest.raises(RuntimeError, match="already released"):
        out.backward(np.ones(2))
    w.grad = None
    on_arrays = tg.compile(lambda X: (X * w).sum())
    assert [on_arrays(np.array(v)).item() for v in ([1.0, 2.0], [3.0, 4.0])] == [5.0, 11.0]
    assert on_arrays.traces == 1
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    dot = tg.compile(lambda h: (h * w).sum())
    dot(x * 2).backward()  # the gradient goes on into the eager graph of x * 2
    np.testing.assert_array_equal(x.grad.data, 2 * w.data)
    np.testing.assert_array_equal(w.grad.data, 2 * x.data)


def test_a_condition_made_from_an_input_is_recomputed():
    step = tg.compile(lambda c, x: tg.where(c, x, -x).sum())
    x = tg.tensor([1.0, 2.0, 3.0])
    assert step(tg.tensor([1.0, 0.0, 1.0]), x).item() == 2.0  # 1 - 2 + 3
    assert step(tg.tensor([0.0, 1.0, 1.0]), x).item() == 4.0  # -1 + 2 + 3: the float condition is not frozen


def test_a_tensor_made_from_traced_data_is_made_again_each_call():
    step = tg.compile(lambda x: (tg.tensor(x.data * 2) * x).sum())
    for v in ([1.0, 2.0], [3.0, -1.0]):
        x = tg.tensor(v)
        assert step(x).item() == 2 * sum(a * a for a in v)
    assert step.traces == 1


def test_a_shape_that_depends_on_the_values_is_refused():
    step = tg.compile(lambda x: x[x > 0].sum())
    with pytest.raises(tg.TraceError, match="shape depends on the values"):
        step(tg.tensor([1.0, -2.0, 3.0]))
    fine = tg.compile(lambda x: tg.where(x > 0, x, 0.0).sum())
    assert fine(tg.tensor([1.0, -2.0, 3.0])).item() == 4.0 and fine(tg.tensor([-1.0, 5.0, 1.0])).item() == 6.0


def _in_threads(work, args):
    """Run ``work(a)`` for each of `args`, each in a thread of its own, all at once; wait for all."""
    import threading

    threads = [threading.Thread(target=work, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_two_threads_calling_one_compiled_function():
    w = tg.tensor(np.linspace(-1, 1, 6).reshape(2, 3))
    step = tg.compile(lambda x: tg.tanh(x @ w).sum())
    errors = []

    def work(scale):
        x = tg.tensor(np.full((4, 2), scale))
        expected = tg.tanh(x @ w).sum().item()
        for _ in range(300):
            got = step(x).item()
            if got != expected:
                errors.append((scale, got, expected))

    _in_threads(work, (0.5, 2.0))
    assert not errors


def test_two_threads_training_through_one_compiled_function():
    """Each thread's calls replay in a frame of their own (the replay claims one atomically)."""
    w = tg.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    step = tg.compile(lambda x: tg.tanh(x @ w).sum())
    errors = []

    def work(scale):
        x = tg.tensor(np.full((4, 2), scale))
        for _ in range(300):
            loss = step(x)
            (g,) = tg.grad(loss, [w])  # (not .grad: the threads share w)
            t = np.tanh(x.data @ w.data)
            if loss.item() != t.sum() or not np.allclose(g.data, x.data.T @ (1 - t * t), rtol=1e-14):
                errors.append(scale)

    _in_threads(work, (0.5, 2.0))
    assert not errors
    assert 1 <= len(step._fast.frames) <= 2


def test_calls_held_before_backward_replay_in_frames_of_their_own():
    w = tg.tensor([0.5, -1.0], requires_grad=True)
    step = tg.compile(lambda x: (tg.tanh(x * w) * x).sum())
    x1, x2, x3 = tg.tensor([1.0, 2.0]), tg.tensor([3.0, -1.0]), tg.tensor([-2.0, 0.5])
    step(x1).backward()  # traced
    w.grad = None
    a, b = step(x1), step(x2)  # a holds the first frame, so b takes a second
    b.backward()
    g2 = w.grad.data.copy()
    w.grad = None
    c = step(x3)  # the first frame is still held by a: c goes to the second, free again
    a.backward()
    g1 = w.grad.data.copy()
    w.grad = None
    c.backward()
    for x, g in ((x1, g1), (x2, g2), (x3, w.grad.data)):  # d/dw sum(tanh(x w) x) = x^2 (1 - tanh(x w)^2)
        np.testing.assert_allclose(g, x.data**2 * (1 - np.tanh(x.data * w.data) ** 2), rtol=1e-14)
    assert len(step._fast.frames) == 2 and step.traces == 1
    assert (step._replay is not None) == (step._fast.table is None)  # (a long program runs from its table)


def test_a_compiled_result_given_new_data_backpropagates_through_the_walk():
    w = tg.tensor([2.0, -1.0], requires_grad=True)
    step = tg.compile(lambda x: (x * w).sum())
    x = tg.tensor([3.0, 4.0])
    step(x).backward()
    w.grad = None
    loss = step(x)
    loss.data = np.array([[5.0]])  # (1, 1), not the traced () : the walk's backward, with its checks
    loss.backward()
    np.testing.assert_array_equal(w.grad.data, [3.0, 4.0])


def test_the_compiler_is_imported_on_first_use_of_tg_compile():
    import subprocess
    import sys

    code = (
        "import sys, tinygraph as tg\n"
        "assert 'tinygraph.compiler' not in sys.modules\n"
        "step = tg.compile(lambda x: (x * x).sum())\n"
        "from tinygraph import TraceError\n"
        "assert 'tinygraph.compiler' in sys.modules and issubclass(TraceError, Exception)\n"
        "x = tg.tensor([1.0, 2.0], requires_grad=True)\n"
        "step(x).backward()\n"
        "print(x.grad.tolist())\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[2.0, 4.0]", r.stderr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_zero_d_tail_runs_as_numpy_scalars_bit_for_bit_as_eager(dtype):
    """-sum(...) / m: the program's 0-d values are numpy scalars (scalar arithmetic, not ufunc calls)."""
    rng = np.random.default_rng(0)
    X, W0 = rng.standard_normal((3, 50)).astype(dtype), rng.standard_normal((1, 3)).astype(dtype)

    def make():
        w = tg.tensor(W0.copy(), requires_grad=True)
        return w, lambda x: -(tg.log(tg.sigmoid(w @ x))).sum() / 50 * 2.0 + 1.0

    (we, fe), (wc, fc) = make(), make()
    fc = tg.compile(fc)
    x = tg.tensor(X)
    for _ in range(3):
        le, lc = fe(x), fc(x)
        le.backward()
        lc.backward()
        assert type(lc.data) is np.ndarray and lc.data.shape == () and lc.dtype == dtype
        assert lc.data.tobytes() == le.data.tobytes() and wc.grad.data.tobytes() == we.grad.data.tobytes()
        for w in (we, wc):
            w.data -= 0.1 * w.grad.data
            w.grad = None
    text = fc.program(x)
    assert "= -v" in text and " / K" in text and " * K" in text and " + K" in text  # the tail's four, as operators
