"""Gradient checking: the course's numbers, the report, and localization of a wrong op inside a network."""

import warnings

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.cli import main
from tinygraph.gradcheck import GradcheckError, epsilon_sweep, gradcheck, gradcheck_module, gradgradcheck, localize
from tinygraph.opcheck import builtin_cases, check_ops
from tinygraph.ops.activation import Relu, Tanh

# ----- deliberately broken custom ops -------------------------------------------------------------


class MatMulDoubledA(tg.Function):
    """a @ b whose gradient for a is off by a factor of 2 (b's is right)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a.data @ b.data

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return 2 * (g @ b.T), a.T @ g


class AddNoUnbroadcast(tg.Function):
    """a + b that forgets to sum the broadcast gradient back to b's shape."""

    @staticmethod
    def forward(ctx, a, b):
        return a.data + b.data

    @staticmethod
    def backward(ctx, g):
        return g, g


class TanhWrongSign(tg.Function):
    """tanh with a sign error in its gradient."""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x.data)
        ctx.save_for_backward(tg.tensor(y))
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * y - 1)


class CubeNumpyBackward(tg.Function):
    """x**3 whose backward is right but computed in numpy, so it is not differentiable (second order is 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.data**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return tg.tensor(g.data * 3 * x.data**2)


class NoisyIdentity(tg.Function):
    """A random op (like dropout's mask): gradient checking must warn about it."""

    is_random = True

    @staticmethod
    def forward(ctx, x):
        return x.data * 1.0

    @staticmethod
    def backward(ctx, g):
        return g


RNG = np.random.default_rng(1)
X = RNG.standard_normal((4, 3))  # the course's layout: examples are columns
Y = np.array([[1.0, 0.0, 1.0]])
PARAMS = [
    RNG.standard_normal((5, 4)),
    RNG.standard_normal((5, 1)) * 0.1,
    RNG.standard_normal((3, 5)),
    RNG.standard_normal((3, 1)) * 0.1,
    RNG.standard_normal((1, 3)),
    RNG.standard_normal((1, 1)) * 0.1,
]


def network(matmul=tg.matmul, add=tg.add, act=tg.tanh):
    """A 4-5-3-1 network on (4, 3) with cross-entropy; one op can be swapped for a broken one."""

    def cost(W1, b1, W2, b2, W3, b3):
        A1 = tg.relu(add(matmul(W1, tg.tensor(X)), b1))
        A2 = act(W2 @ A1 + b2)
        A3 = tg.sigmoid(W3 @ A2 + b3)
        return -(Y * tg.log(A3) + (1 - Y) * tg.log(1 - A3)).mean()

    return cost


def course_network(W1, b1, W2, b2, W3, b3):
    """The course's N-dimensional case: LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, cross-entropy."""
    A1 = tg.relu(W1 @ tg.tensor(X) + b1)
    A2 = tg.relu(W2 @ A1 + b2)
    A3 = tg.sigmoid(W3 @ A2 + b3)
    m = X.shape[1]
    return -(Y * tg.log(A3) + (1 - Y) * tg.log(1 - A3)).sum() / m


# ----- the course's cases ---------------------------------------------------------------------------


def test_course_one_dimensional_case():
    x = 3.0
    report = gradcheck(lambda theta: theta * x, [tg.tensor(4.0)], eps=1e-7)
    assert report.passed and report.difference < 1e-9
    assert report.culprit is None and report.nodes == []


def test_course_n_dimensional_case_passes():
    report = gradcheck(course_network, PARAMS)
    assert report.passed, str(report)
    assert report.difference < 2e-7
    assert len(report.per_input) == 6 and all(d < 2e-7 for d in report.per_input)


def test_course_network_with_a_doubled_builtin_backward_names_it(monkeypatch):
    original = Relu.backward
    monkeypatch.setattr(Relu, "backward", staticmethod(lambda ctx, g, x: 2 * original(ctx, g, x)))
    report = gradcheck(course_network, PARAMS)
    assert not report.passed and report.difference > 1e-5
    assert report.culprit is not None and report.culprit.name == "relu"
    check = report.culprit_check
    # topological order: W1 @ X (1), + b1 (2), relu (3), feeding the second layer's matmul
    assert (check.position, check.feeding) == (3, ("matmul",))
    assert check.where == f"node 3 of {check.total}, feeding `matmul`"
    # each node is checked on its own: a doubled vjp is off by 1/3 in the course's measure
    assert check.difference == pytest.approx(1 / 3, rel=1e-6)
    assert "culprit: op 'relu'" in str(report)
    # both relu nodes are wrong; every other node passes
    assert [c.name for c in report.nodes if c.status == "WRONG"] == ["relu", "relu"]


def test_course_network_with_a_doubled_custom_op_names_it():
    assert gradcheck(network(), PARAMS).difference < 2e-7
    report = gradcheck(network(matmul=MatMulDoubledA.apply), PARAMS)
    assert not report
    assert report.culprit.name == "MatMulDoubledA"
    assert report.culprit_check.input_shapes == ((5, 4), (4, 3))
    assert report.culprit_check.where.startswith("node 1 of ")
    assert report.culprit_check.feeding == ("add",)
    # only W1 (input 0) gets a wrong gradient: exactly twice the true one
    assert report.per_input[0] == pytest.approx(1 / 3, rel=1e-6)
    assert all(d < 1e-7 for d in report.per_input[1:])
    w = report.worst[0]
    assert w.input == 0 and w.analytic == pytest.approx(2 * w.numeric, rel=1e-5)
    assert str(report).count("culprit: op 'MatMulDoubledA' (inputs (5, 4), (4, 3)) at node 1 of") == 1


def test_forgotten_unbroadcast_is_caught_and_named():
    report = gradcheck(network(add=AddNoUnbroadcast.apply), PARAMS)
    assert not report.passed
    assert "AddNoUnbroadcast" in report.error and "(5, 3)" in report.error
    assert report.culprit.name == "AddNoUnbroadcast"
    assert report.culprit_check.input_shapes == ((5, 3), (5, 1))
    assert report.culprit_check.feeding == ("relu",)
    assert "backward raised" in report.culprit_check.note


def test_sign_error_is_caught_and_named_with_raise_exception():
    with pytest.raises(GradcheckError) as info:
        gradcheck(network(act=TanhWrongSign.apply), PARAMS, raise_exception=True)
    report = info.value.report
    assert str(info.value) == str(report)
    assert report.culprit.name == "TanhWrongSign"
    # a sign error: analytic = -numeric, the course's measure gives exactly 1
    assert report.culprit_check.difference == pytest.approx(1.0)
    assert "culprit: op 'TanhWrongSign' (inputs (3, 3))" in str(info.value)
    assert "feeding `matmul`" in str(info.value)


def test_culprit_among_integer_and_boolean_inputs_and_reused_tensors():
    x = tg.tensor(RNG.standard_normal((4, 3)))

    def fn(x):
        picked = x[np.array([0, 2, 2])]  # integer index: passed through, not differentiated
        y = tg.where(picked > 0, picked * picked, -picked)  # boolean condition; picked used twice
        return MatMulDoubledA.apply(y, tg.tensor(np.ones((3, 2)))).sum()

    report = gradcheck(fn, [x])
    assert report.culprit.name == "MatMulDoubledA"
    status = {c.name: c.status for c in report.nodes}
    assert status["getitem"] == status["where"] == status["mul"] == "ok"


def test_localize_lists_every_node_in_forward_order():
    x = tg.tensor([0.3, -0.4], requires_grad=True)
    culprit, checks = localize(tg.sigmoid(TanhWrongSign.apply(x * 2)).sum())
    assert [c.name for c in checks] == ["mul", "TanhWrongSign", "sigmoid", "sum"]
    assert [c.status for c in checks] == ["ok", "WRONG", "ok", "ok"]
    assert culprit is checks[1].node
    assert checks[-1].where == "node 4 of 4, the output"


# ----- the report ---------------------------------------------------------------------------------------


def test_report_values_against_hand_computed_gradient():
    # f(a, b) = sum(a * b**2): df/da = b**2, df/db = 2ab; break b's by swapping in a doubled custom op
    a, b = tg.tensor([1.0, -2.0]), tg.tensor([3.0, 0.5])
    report = gradcheck(lambda a, b: (a * b**2).sum(), [a, b])
    assert report and report.per_input[0] < 1e-9 and report.per_input[1] < 1e-9
    assert report.input_shapes == [(2,), (2,)]

    bad = gradcheck(lambda a, b: MatMulDoubledA.apply(b.reshape(1, 2), a.reshape(2, 1)).sum(), [a, b])
    # d/db (b . a) = a = [1, -2]; the doubled op says 2a
    worst = sorted(bad.worst, key=lambda w: w.index)
    assert [w.input for w in worst] == [1, 1]
    assert [w.numeric for w in worst] == pytest.approx([1.0, -2.0], abs=1e-8)
    assert [w.analytic for w in worst] == pytest.approx([2.0, -4.0])
    assert bad.per_input[0] < 1e-9 and bad.per_input[1] == pytest.approx(1 / 3, rel=1e-7)
    text = str(bad)
    assert "FAILED" in text and "probably a bug" in text and "input 1[1]" in text


def test_float32_inputs_are_checked_in_float64_and_left_alone():
    x32 = tg.tensor(np.array([0.5, -1.5, 2.0], dtype=np.float32), requires_grad=True)
    before = x32.data.copy()
    report = gradcheck(lambda x: tg.tanh(x) * x, [x32])
    assert report.upcast and "upcast" in str(report)
    assert report.difference < 1e-7  # float64 precision, not float32's
    assert x32.dtype == np.float32 and np.array_equal(x32.data, before) and x32.grad is None
    assert not gradcheck(lambda x: x * 2, [np.ones(2)]).upcast


def test_atol_rtol_rule():
    # gradient entries of size 1e-12: a doubled vjp is a relative difference of 1/3 but an absolute error of 1e-12
    fn = lambda a: MatMulDoubledA.apply(a, tg.tensor(np.full((2, 1), 1e-12))).sum()  # noqa: E731
    a = tg.tensor(np.ones((1, 2)))
    assert gradcheck(fn, [a]).passed  # max |num - ana| ~ 1e-12 <= atol 1e-8
    strict = gradcheck(fn, [a], atol=0)
    assert not strict.passed and strict.difference == pytest.approx(1 / 3, rel=1e-3)
    assert gradcheck(fn, [a], atol=0, rtol=0.5).passed
    assert gradcheck(fn, [a], atol=0, threshold=0.5).passed  # the older name of rtol


def test_kinks_are_counted_and_reported():
    x = tg.tensor([0.0, 1.0, -1.0])
    report = gradcheck(lambda x: tg.relu(x).sum(), [x])
    assert report.kinks == 1 and not report.passed
    assert "kink" in str(report)
    # relu's own check masks the kink, so no op is blamed
    assert report.culprit is None and "no single op is wrong" in str(report)


def test_the_kink_line_names_only_the_kinks_the_graph_has():
    from tinygraph import nn

    # a ReLU network at a kink: every hidden pre-activation is exactly 0
    relu_net = nn.Sequential(nn.Linear(1, 3), nn.ReLU(), nn.Linear(3, 1))
    with tg.no_grad():
        relu_net[0].bias.data = np.zeros(3)
    report = gradcheck_module(relu_net, lambda m: m(tg.tensor(np.zeros((4, 1)))).sum())
    assert report.kinks == 3 and report.kink_ops == ["relu at 0"]
    assert "3 checked number(s) sit at a kink (relu at 0)" in str(report)
    # no ReLU (nor max, abs, clip): tanh bending sharply within ±eps of its input 0.5 (x = 1e4)
    tanh_net = nn.Sequential(nn.Linear(1, 1), nn.Tanh())
    with tg.no_grad():
        tanh_net[0].weight.data, tanh_net[0].bias.data = np.array([[5e-5]]), np.zeros(1)
    report = gradcheck_module(tanh_net, lambda m: m(tg.tensor([[1e4]])).sum())
    assert report.kinks == 1 and report.kink_ops == []
    text = str(report)
    assert "relu" not in text and "kink (" not in text and "suspect a kink" not in text
    assert "bends sharply within ±eps (eps 1e-06; no op of the graph has a kink)" in text
    # each op with a kink is named once, with where its kink is
    x = tg.tensor([0.0, 1.0, 2.0])
    report = gradcheck(lambda x: (tg.relu(x) + tg.relu(-x) + tg.abs(x) + tg.maximum(x, 2.0)).sum(), [x])
    assert report.kink_ops == ["relu at 0", "abs at 0", "maximum where a == b"]  # in the graph's order
    assert report.kinks == 2  # x[0] = 0 (relu, abs) and x[2] = 2 (maximum)


def test_bad_arguments():
    with pytest.raises(TypeError, match="gradcheck: fn must return a Tensor"):
        gradcheck(lambda x: 1.0, [tg.tensor([1.0])])
    with pytest.raises(ValueError, match="gradcheck: eps must be positive"):
        gradcheck(lambda x: x, [tg.tensor([1.0])], eps=0)
    with pytest.raises(TypeError, match="gradcheck_module: model must have named_parameters"):
        gradcheck_module(object(), lambda m: tg.tensor(0.0))


# ----- second order ------------------------------------------------------------------------------------


def test_gradgradcheck_passes_and_names_a_backward_that_is_not_differentiable():
    x = tg.tensor([0.3, -0.7, 1.1])
    assert gradgradcheck(lambda x: tg.tanh(x) ** 3, [x]).difference < 1e-7
    assert gradcheck(lambda x: tg.sigmoid(CubeNumpyBackward.apply(x)), [x]).passed  # first order is fine
    report = gradgradcheck(lambda x: tg.sigmoid(CubeNumpyBackward.apply(x)), [x])
    assert not report.passed and report.order == 2
    assert report.culprit.name == "CubeNumpyBackward"
    assert report.culprit_check.note == "wrong at order 2"
    assert str(report).startswith("gradgradcheck FAILED")


# ----- the ε sweep -----------------------------------------------------------------------------------


def test_epsilon_sweep_truncation_falls_then_round_off_rises():
    sweep = epsilon_sweep(lambda x: tg.tanh(x).sum(), [tg.tensor([0.3, 1.2])])
    d = dict(sweep.rows)
    assert list(d) == [10.0**-k for k in range(2, 11)]
    # truncation error ~ eps^2: two decades less eps, four decades less difference
    assert d[1e-2] / d[1e-4] == pytest.approx(1e4, rel=0.05)
    assert d[1e-2] > d[1e-3] > d[1e-4]
    assert d[1e-10] > 100 * min(d.values()) and d[1e-10] > d[1e-8]
    assert 1e-7 <= sweep.best <= 1e-4
    assert "<- best" in str(sweep) and "1e-10" in str(sweep)
    assert tg.epsilon_sweep is epsilon_sweep


# ----- a model --------------------------------------------------------------------------------------


class TinyNet:
    """Two layers, parameters named like an nn.Module's (layers.0.weight, ...), batch-first."""

    def __init__(self, sizes=(3, 4, 2), broken=False, dtype=np.float64):
        rng = np.random.default_rng(0)
        self.params = {}
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.params[f"layers.{2 * i}.weight"] = tg.tensor(
                rng.standard_normal((n_out, n_in)).astype(dtype), requires_grad=True
            )
            self.params[f"layers.{2 * i}.bias"] = tg.tensor(
                rng.standard_normal(n_out).astype(dtype) * 0.1, requires_grad=True
            )
        self.broken = broken

    def named_parameters(self):
        yield from self.params.items()

    def __call__(self, x):
        p = self.params
        h = tg.tanh(x @ p["layers.0.weight"].T + p["layers.0.bias"])
        w = p["layers.2.weight"]
        out = MatMulDoubledA.apply(w, h.T).T if self.broken else h @ w.T
        return out + p["layers.2.bias"]


XB = RNG.standard_normal((5, 3))
YB = RNG.standard_normal((5, 2))


def mse(model):
    return ((model(tg.tensor(XB)) - tg.tensor(YB)) ** 2).mean()


def test_gradcheck_module_passes_and_leaves_parameters_alone():
    net = TinyNet()
    net.params["layers.0.weight"].grad = marker = tg.tensor(np.full((4, 3), 7.0))
    arrays = {n: p.data for n, p in net.named_parameters()}
    copies = {n: a.copy() for n, a in arrays.items()}
    versions = {n: p._version for n, p in net.named_parameters()}
    report = gradcheck_module(net, mse)
    assert report.passed and report.difference < 1e-7
    assert report.input_names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    for n, p in net.named_parameters():
        assert p.data is arrays[n] and np.array_equal(p.data, copies[n]) and p._version == versions[n]
    assert net.params["layers.0.weight"].grad is marker and np.all(marker.data == 7.0)
    assert all(p.grad is None for n, p in net.named_parameters() if n != "layers.0.weight")


def test_gradcheck_module_names_the_worst_entries_and_the_op():
    net = TinyNet(broken=True)
    before = {n: p.data.copy() for n, p in net.named_parameters()}
    report = gradcheck_module(net, lambda: mse(net))  # a closure without arguments works too
    assert not report.passed
    assert report.per_input[2] == pytest.approx(1 / 3, rel=1e-6)  # only layers.2.weight is off
    assert all(report.per_input[i] < 1e-7 for i in (0, 1, 3))
    assert all(w.label.startswith("layers.2.weight[") for w in report.worst)
    worst = report.worst[0]
    assert worst.label == f"layers.2.weight[{worst.index[0]}, {worst.index[1]}]"
    assert worst.analytic == pytest.approx(2 * worst.numeric, rel=1e-5)
    assert worst.label in str(report)
    assert report.culprit.name == "MatMulDoubledA"
    assert all(np.array_equal(p.data, before[n]) for n, p in net.named_parameters())


def test_gradcheck_module_checks_regularization_and_upcasts_float32():
    net = TinyNet(dtype=np.float32)
    lambd, m = 0.7, XB.shape[0]

    def cost(model):
        l2 = sum((p**2).sum() for n, p in model.named_parameters() if n.endswith("weight"))
        return mse(model) + lambd / (2 * m) * l2

    report = gradcheck_module(net, cost)
    assert report.passed and report.upcast and report.difference < 1e-7
    assert all(p.dtype == np.float32 for _, p in net.named_parameters())

    class WrongL2(tg.Function):  # d/dp of p**2 written as p instead of 2p
        @staticmethod
        def forward(ctx, p):
            ctx.save_for_backward(p)
            return p.data**2

        @staticmethod
        def backward(ctx, g):
            (p,) = ctx.saved_tensors
            return g * p

    def bad_cost(model):
        l2 = sum(WrongL2.apply(p).sum() for n, p in model.named_parameters() if n.endswith("weight"))
        return mse(model) + lambd / (2 * m) * l2

    bad = gradcheck_module(net, bad_cost)
    assert not bad.passed and bad.culprit.name == "WrongL2"


def test_gradcheck_module_with_nn_linear():
    nn = pytest.importorskip("tinygraph.nn")
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    report = gradcheck_module(model, mse)
    assert report.passed and report.difference < 1e-7
    names = [n for n, _ in model.named_parameters()]
    assert report.input_names == names and any(n.endswith("weight") for n in names)


def test_random_ops_give_a_warning():
    x = tg.tensor([0.5, -0.2])
    with pytest.warns(UserWarning, match="random op.*NoisyIdentity"):
        report = gradcheck(lambda x: tg.tanh(NoisyIdentity.apply(x)), [x])
    assert report.random_ops == ["NoisyIdentity"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(lambda x: tg.tanh(x), [x])  # no random op, no warning


def test_random_ops_warning_for_a_model_with_dropout():
    nn = pytest.importorskip("tinygraph.nn")
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    with pytest.warns(UserWarning, match="random op"):
        gradcheck_module(model, mse)
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck_module(model, mse).passed


# ----- every built-in op, and the command ---------------------------------------------------------------


def test_every_builtin_op_passes_at_first_and_second_order():
    rows = check_ops()
    assert len(rows) == 2 * len(builtin_cases())
    failed = [(r.op, r.shapes, r.order, r.difference) for r in rows if not r.passed]
    assert failed == []
    assert max(r.difference for r in rows if r.order == 1) < 1e-7
    ops = {r.op.split(" ")[0] for r in rows}
    for name in ["add", "div", "pow", "matmul", "where", "sum", "logsumexp", "softmax", "getitem", "concatenate"]:
        assert name in ops


def test_cli_gradcheck_prints_the_table_and_returns_0(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["op", "shapes", "order", "difference", "pass"]
    assert "(3, 1), (1, 4)" in out  # broadcasting shapes are in the table
    assert f"{2 * len(builtin_cases())} checks" in out and " 0 failed" in out and "FAIL" not in out


def test_cli_gradcheck_fails_when_an_op_is_broken(monkeypatch, capsys):
    original = Tanh.backward
    monkeypatch.setattr(Tanh, "backward", staticmethod(lambda ctx, g, x: -original(ctx, g, x)))
    assert main(["gradcheck", "--op", "tanh", "--failures-only"]) == 1
    out = capsys.readouterr().out
    n = 2 * len([c for c in builtin_cases() if c.op == "tanh"])  # each of its shapes, first and second order
    assert n >= 4 and out.count("FAIL") == n
    assert f"0 passed, {n} failed" in out
    assert main(["gradcheck", "--op", "no_such_op"]) == 2


def test_the_gradcheck_command_counts_as_zero_derivatives_only_the_checks_that_passed_on_the_absolute_test():
    import argparse
    import io
    import re

    from tinygraph import opcheck

    out = io.StringIO()
    assert opcheck.run(argparse.Namespace(seed=0, op=["tanh", "qr"], failures_only=True), out) == 0
    summary = out.getvalue().strip().splitlines()[-1]
    # tanh's and qr's derivatives are not zero: every check passes on the relative difference (it said "22 ... zero")
    assert re.search(r"^\d+ checks of \d+ cases .*: (\d+) passed, 0 failed; largest difference [\d.e-]+ \(", summary)
    assert "derivative that is zero" not in summary


def test_gradgradcheck_reports_a_backward_that_raises_as_gradcheck_does():
    class Boom(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return np.sin(x.data)

        @staticmethod
        def backward(ctx, g):
            raise RuntimeError("planted")

    x = tg.tensor([0.3, 0.5], requires_grad=True)
    before = x.data.copy()
    for check in (tg.gradcheck, tg.gradgradcheck):
        report = check(lambda x: Boom.apply(x).sum(), [x])
        assert not report.passed and report.error == "RuntimeError: planted", check.__name__
    np.testing.assert_array_equal(x.data, before)
    with pytest.raises(tg.GradcheckError, match="planted"):
        tg.gradgradcheck(lambda x: Boom.apply(x).sum(), [x], raise_exception=True)
