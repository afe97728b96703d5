"""Optimizers vs. their formulas in plain numpy and vs. PyTorch, plus validation and state dicts."""

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.optim import SGD, Adam, AdamW, ExponentialMovingAverage, Momentum, RMSprop

STEPS = 20
SHAPES = [(3, 4), (5,)]


def grad_sequence(seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]


def initial(seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def run_tinygraph(cls, kwargs, grads=None):
    params = [tg.tensor(a, requires_grad=True) for a in initial()]
    opt = cls(params, **kwargs)
    for gs in grads or grad_sequence():
        for p, g in zip(params, gs):
            p.grad = tg.tensor(g)
        opt.step()
    return [p.data.copy() for p in params]


# ----- the formulas, written out in plain numpy ----------------------------------------------


def formula_sgd(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    out = []
    for k, theta in enumerate(initial()):
        b = None
        for gs in grad_sequence():
            g = gs[k] + weight_decay * theta
            if momentum:
                b = g.copy() if b is None else momentum * b + (1 - dampening) * g
                g = g + momentum * b if nesterov else b
            theta = theta - lr * g
        out.append(theta)
    return out


def formula_momentum(lr, beta):
    out = []
    for k, theta in enumerate(initial()):
        v = np.zeros_like(theta)
        for gs in grad_sequence():
            v = beta * v + (1 - beta) * gs[k]
            theta = theta - lr * v
        out.append(theta)
    return out


def formula_rmsprop(lr, alpha, eps, weight_decay=0.0, momentum=0.0, centered=False):
    out = []
    for k, theta in enumerate(initial()):
        s = np.zeros_like(theta)
        gbar = np.zeros_like(theta)
        b = np.zeros_like(theta)
        for gs in grad_sequence():
            g = gs[k] + weight_decay * theta
            s = alpha * s + (1 - alpha) * g**2
            if centered:
                gbar = alpha * gbar + (1 - alpha) * g
                d = np.sqrt(s - gbar**2) + eps
            else:
                d = np.sqrt(s) + eps
            if momentum:
                b = momentum * b + g / d
                theta = theta - lr * b
            else:
                theta = theta - lr * g / d
        out.append(theta)
    return out


def formula_adam(lr, b1, b2, eps, weight_decay=0.0, decoupled=False, amsgrad=False):
    out = []
    for k, theta in enumerate(initial()):
        v = np.zeros_like(theta)
        s = np.zeros_like(theta)
        s_max = np.zeros_like(theta)
        for t, gs in enumerate(grad_sequence(), start=1):
            g = gs[k]
            if decoupled:
                theta = theta * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * theta
            v = b1 * v + (1 - b1) * g
            s = b2 * s + (1 - b2) * g**2
            s_max = np.maximum(s_max, s)
            v_hat = v / (1 - b1**t)
            s_hat = (s_max if amsgrad else s) / (1 - b2**t)
            theta = theta - lr * v_hat / (np.sqrt(s_hat) + eps)
        out.append(theta)
    return out


CASES = [
    ("sgd", SGD, {"lr": 0.1}, lambda: formula_sgd(0.1)),
    ("sgd-momentum", SGD, {"lr": 0.05, "momentum": 0.9}, lambda: formula_sgd(0.05, 0.9)),
    (
        "sgd-damp-wd",
        SGD,
        {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01},
        lambda: formula_sgd(0.05, 0.8, 0.3, False, 0.01),
    ),
    (
        "sgd-nesterov",
        SGD,
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1},
        lambda: formula_sgd(0.05, 0.9, 0.0, True, 0.1),
    ),
    ("momentum", Momentum, {"lr": 0.1, "beta": 0.9}, lambda: formula_momentum(0.1, 0.9)),
    ("rmsprop", RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 1e-8}, lambda: formula_rmsprop(0.01, 0.9, 1e-8)),
    (
        "rmsprop-full",
        RMSprop,
        {"lr": 0.01, "alpha": 0.95, "eps": 1e-6, "weight_decay": 0.01, "momentum": 0.5, "centered": True},
        lambda: formula_rmsprop(0.01, 0.95, 1e-6, 0.01, 0.5, True),
    ),
    ("adam", Adam, {"lr": 0.01}, lambda: formula_adam(0.01, 0.9, 0.999, 1e-8)),
    (
        "adam-wd",
        Adam,
        {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
        lambda: formula_adam(0.02, 0.8, 0.99, 1e-6, 0.1),
    ),
    (
        "adamw",
        AdamW,
        {"lr": 0.02, "weight_decay": 0.1},
        lambda: formula_adam(0.02, 0.9, 0.999, 1e-8, 0.1, decoupled=True),
    ),
    (  # a short memory for s (beta2 0.5), so that its largest value so far is often not the current one
        "adam-amsgrad",
        Adam,
        {"lr": 0.02, "betas": (0.9, 0.5), "weight_decay": 0.1, "amsgrad": True},
        lambda: formula_adam(0.02, 0.9, 0.5, 1e-8, 0.1, amsgrad=True),
    ),
    (
        "adamw-amsgrad",
        AdamW,
        {"lr": 0.02, "betas": (0.9, 0.5), "amsgrad": True},
        lambda: formula_adam(0.02, 0.9, 0.5, 1e-8, 1e-2, decoupled=True, amsgrad=True),
    ),
]


def test_amsgrad_takes_a_different_path_from_adam_on_these_gradients():
    plain = formula_adam(0.02, 0.9, 0.5, 1e-8, 0.1)
    ams = formula_adam(0.02, 0.9, 0.5, 1e-8, 0.1, amsgrad=True)
    assert all(np.abs(a - b).max() > 1e-4 for a, b in zip(plain, ams))
    with pytest.raises(TypeError, match=r"Adam: amsgrad must be True or False, got 'yes'"):
        Adam([tg.tensor([1.0], requires_grad=True)], amsgrad="yes")


@pytest.mark.parametrize("name, cls, kwargs, formula", CASES, ids=[c[0] for c in CASES])
def test_matches_formula(name, cls, kwargs, formula):
    got = run_tinygraph(cls, kwargs)
    want = formula()
    start = initial()
    for g, w, s in zip(got, want, start):
        assert not np.allclose(g, s)  # the parameters did move
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)


TORCH_CASES = [c for c in CASES if c[1] is not Momentum]


@pytest.mark.parametrize("name, cls, kwargs, formula", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_matches_pytorch(name, cls, kwargs, formula):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in initial()]
    opt = getattr(torch.optim, cls.__name__)(params, **kwargs)
    for gs in grad_sequence():
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    got = run_tinygraph(cls, kwargs)
    for g, p in zip(got, params):
        np.testing.assert_allclose(g, p.detach().numpy(), rtol=0, atol=1e-12)


def test_momentum_equals_pytorch_sgd_with_dampening_after_first_step():
    # SGD(momentum=β, dampening=β) keeps b = β·b + (1−β)·g but starts with b = g, not (1−β)·g:
    # with a zero first gradient the two coincide exactly.
    grads = grad_sequence()
    grads[0] = [np.zeros(s) for s in SHAPES]
    a = run_tinygraph(Momentum, {"lr": 0.1, "beta": 0.9}, grads)
    b = run_tinygraph(SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.9}, grads)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)


# ----- behaviour ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [SGD, Momentum, RMSprop, Adam, AdamW])
def test_float32_stays_float32_and_skips_params_without_grad(cls):
    w = tg.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    u = tg.tensor(np.ones(2), requires_grad=True)
    opt = cls([w, u], lr=0.1)
    w.grad = tg.tensor(np.array([1.0, -2.0, 3.0]))  # float64 gradient on a float32 parameter
    before = u.data.copy()
    opt.step()
    assert w.dtype == np.float32
    assert not np.allclose(w.data, 1.0)
    np.testing.assert_array_equal(u.data, before)
    assert u not in opt.state
    for v in opt.state.get(w, {}).values():
        if isinstance(v, np.ndarray):
            assert v.dtype == np.float32


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (Adam, {}),
        (Adam, {"weight_decay": 0.1}),
        (AdamW, {}),
        (RMSprop, {}),
        (RMSprop, {"centered": True, "momentum": 0.9, "weight_decay": 0.1}),
    ],
)
def test_adaptive_steps_make_at_most_two_temporaries_of_a_parameters_size(cls, kwargs):
    # a step over a large parameter is a few passes over memory: one scratch array (two with the
    # L2 term), not one new array per arithmetic operation
    import tracemalloc

    w = tg.tensor(np.ones(250_000, dtype=np.float32), requires_grad=True)
    w.grad = tg.tensor(np.full(250_000, 0.5, dtype=np.float32))
    opt = cls([w], lr=0.01, **kwargs)
    opt.step()  # the first step makes the state (the moving averages)
    tracemalloc.start()
    try:
        opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    temporaries = 2 if kwargs.get("weight_decay") and cls is not AdamW else 1
    assert peak < (temporaries + 0.5) * w.data.nbytes, (peak, w.data.nbytes)
    assert np.all(w.data < 1.0)


def test_step_does_not_touch_the_gradient_and_updates_in_place():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    arr = w.data
    opt = SGD([w], lr=0.5, weight_decay=0.1, momentum=0.9)
    g = tg.tensor([1.0, 1.0])
    w.grad = g
    opt.step()
    np.testing.assert_array_equal(g.data, [1.0, 1.0])
    assert w.data is arr
    np.testing.assert_allclose(arr, [1 - 0.5 * 1.1, 2 - 0.5 * 1.2])


def test_step_records_no_graph_and_retained_graph_notices_update():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    SGD([w], lr=0.1).step()
    assert w.is_leaf and w.grad_fn is None
    with pytest.raises(RuntimeError, match="in place"):
        y.backward()


def test_zero_grad():
    w = tg.tensor([1.0], requires_grad=True)
    opt = Adam([w])
    w.grad = tg.tensor([2.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.data, [0.0])
    opt.zero_grad()
    assert w.grad is None


def test_param_groups_and_lr_property():
    a = tg.tensor([1.0], requires_grad=True)
    b = tg.tensor([1.0], requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = tg.tensor([1.0])
    b.grad = tg.tensor([1.0])
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="different learning rates"):
        opt.lr
    opt.lr = 0.01
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.01] and opt.lr == 0.01


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (SGD, {"lr": -0.1}, r"SGD: learning rate lr must be >= 0, got -0.1"),
        (Momentum, {"beta": 1.0}, r"Momentum: beta must be in \[0, 1\), got 1.0"),
        (Momentum, {"beta": -0.1}, r"Momentum: beta"),
        (RMSprop, {"alpha": 1.5}, r"RMSprop: alpha must be in \[0, 1\), got 1.5"),
        (RMSprop, {"eps": -1e-8}, r"RMSprop: eps must be >= 0"),
        (Adam, {"betas": (0.9, 1.0)}, r"Adam: beta2 must be in \[0, 1\), got 1.0"),
        (Adam, {"betas": (-0.5, 0.99)}, r"Adam: beta1"),
        (AdamW, {"eps": -1.0}, r"AdamW: eps must be >= 0, got -1.0"),
        (SGD, {"nesterov": True}, r"SGD: nesterov=True needs momentum > 0"),
    ],
)
def test_hyperparameter_validation(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([tg.tensor([1.0], requires_grad=True)], **kwargs)


def test_lr_setter_validates():
    opt = Adam([tg.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="Adam: learning rate"):
        opt.lr = -1


def test_non_parameters_rejected():
    w = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"non-parameter: params\[1\] is a ndarray"):
        SGD([w, np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match=r"non-parameter: params\[0\] \(shape \(2,\)\) does not require grad"):
        SGD([tg.tensor([1.0, 2.0])], lr=0.1)
    with pytest.raises(ValueError, match=r"params\[0\].*is not a leaf.*'mul'"):
        SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam([])
    with pytest.raises(ValueError, match="empty parameter list"):
        Adam(iter([]))
    with pytest.raises(TypeError, match="single Tensor"):
        Adam(w)
    with pytest.raises(ValueError, match="more than one place"):
        Adam([w, w])
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        Adam([{"params": [w], "momentum": 0.9}])


def test_generator_of_parameters_accepted():
    ws = [tg.tensor([1.0], requires_grad=True) for _ in range(3)]
    opt = SGD((w for w in ws), lr=1.0)
    assert len(opt.param_groups[0]["params"]) == 3


def test_gradient_shape_mismatch():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    w.grad = tg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\) does not match its parameter's shape \(2,\)"):
        SGD([w], lr=0.1).step()


@pytest.mark.parametrize("cls", [SGD, Momentum, RMSprop, Adam, AdamW])
def test_state_dict_round_trip_continues_identically(cls):
    kwargs = {"lr": 0.05}
    if cls is SGD:
        kwargs["momentum"] = 0.9
    grads = grad_sequence()
    params = [tg.tensor(a, requires_grad=True) for a in initial()]
    opt = cls(params, **kwargs)
    for gs in grads[:10]:
        for p, g in zip(params, gs):
            p.grad = tg.tensor(g)
        opt.step()
    sd = opt.state_dict()
    # a second copy of the model, loaded from the saved weights and optimizer state
    params2 = [tg.tensor(p.data.copy(), requires_grad=True) for p in params]
    opt2 = cls(params2, lr=1.0)
    opt2.load_state_dict(sd)
    assert opt2.lr == 0.05
    # the saved dict holds copies: mutating the optimizer afterwards does not change it
    for pp in (params, params2):
        for gs in grads[10:]:
            for p, g in zip(pp, gs):
                p.grad = tg.tensor(g)
            (opt if pp is params else opt2).step()
    for a, b in zip(params, params2):
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(run_tinygraph(cls, kwargs, grads)[0], params[0].data)


def test_load_state_dict_checks_shapes_and_groups():
    w = tg.tensor(np.ones(3), requires_grad=True)
    opt = Adam([w])
    w.grad = tg.tensor(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    other = Adam([tg.tensor(np.ones(4), requires_grad=True)])
    with pytest.raises(ValueError, match=r"shape \(3,\), the parameter has shape \(4,\)"):
        other.load_state_dict(sd)
    two = Adam([tg.tensor(np.ones(3), requires_grad=True), tg.tensor(np.ones(3), requires_grad=True)])
    with pytest.raises(ValueError, match="group 0 has 1 parameter"):
        two.load_state_dict(sd)


def test_adam_step_counted_per_parameter_update():
    a = tg.tensor([1.0], requires_grad=True)
    b = tg.tensor([1.0], requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    for i in range(3):
        a.grad = tg.tensor([1.0])
        b.grad = tg.tensor([1.0]) if i == 0 else None
        opt.step()
    assert opt.state[a]["step"] == 3 and opt.state[b]["step"] == 1


def test_optimizers_minimize_a_quadratic():
    target = np.array([1.0, -2.0, 0.5])
    for cls, kw in [(SGD, {"lr": 0.1}), (Momentum, {"lr": 0.1}), (RMSprop, {"lr": 0.01}), (Adam, {"lr": 0.05})]:
        w = tg.tensor(np.zeros(3), requires_grad=True)
        opt = cls([w], **kw)
        for _ in range(500):
            opt.zero_grad()
            ((w - target) ** 2).sum().backward()
            opt.step()
        np.testing.assert_allclose(w.data, target, atol=2e-2, err_msg=cls.__name__)


# ----- exponentially weighted averages ----------------------------------------------------------


def test_ema_course_numbers_with_bias_correction():
    # The course's example: beta = 0.98, v1 = 0.02*theta1, v2 = 0.0196*theta1 + 0.02*theta2;
    # corrected v2 / (1 - 0.98**2) = v2 / 0.0396.
    theta1, theta2 = 40.0, 49.0
    ema = ExponentialMovingAverage(0.98)
    assert ema.update(theta1) == pytest.approx(theta1)
    assert ema.raw == pytest.approx(0.02 * theta1)
    corrected = ema.update(theta2)
    assert ema.raw == pytest.approx(0.0196 * theta1 + 0.02 * theta2)
    assert corrected == pytest.approx((0.0196 * theta1 + 0.02 * theta2) / 0.0396)
    assert corrected == pytest.approx(44.545454545, rel=1e-9)


def test_ema_without_correction_and_arrays():
    ema = ExponentialMovingAverage(0.9, bias_correction=False)
    vals = ema.average([10.0, 10.0, 10.0])
    np.testing.assert_allclose(vals, [1.0, 1.9, 2.71])
    arr = ExponentialMovingAverage(0.5)
    x = np.array([2.0, 4.0])
    out = arr.update(x)
    np.testing.assert_allclose(out, x)  # bias-corrected average of one value is the value
    np.testing.assert_array_equal(x, [2.0, 4.0])
    np.testing.assert_allclose(arr.update(np.array([4.0, 0.0])), [(0.25 * 2 + 0.5 * 4) / 0.75, 1.0 / 0.75])
    with pytest.raises(ValueError, match="shape"):
        arr.update(np.ones(3))


def test_ema_constant_sequence_is_exact_with_correction_and_matches_loop():
    beta = 0.9
    ema = ExponentialMovingAverage(beta)
    assert all(v == pytest.approx(7.0) for v in ema.average([7.0] * 30))
    rng = np.random.default_rng(0)
    xs = rng.standard_normal(50)
    ema = ExponentialMovingAverage(beta)
    got = ema.average(xs)
    v = 0.0
    for t, x in enumerate(xs, start=1):
        v = beta * v + (1 - beta) * x
        assert got[t - 1] == pytest.approx(v / (1 - beta**t), abs=1e-12)
    sd = ema.state_dict()
    fresh = ExponentialMovingAverage(0.1)
    fresh.load_state_dict(sd)
    assert fresh.update(1.0) == ema.update(1.0)


def test_ema_validation():
    with pytest.raises(ValueError, match=r"ExponentialMovingAverage: beta must be in \[0, 1\)"):
        ExponentialMovingAverage(1.0)
    with pytest.raises(ValueError, match="no value"):
        ExponentialMovingAverage(0.9).value


# ----- the plain step's one pass (BLAS axpy through numpy's own library, tinygraph.optim._axpy) -----------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_sgd_step_of_a_large_parameter_is_theta_minus_lr_g(dtype, monkeypatch):
    from tinygraph.optim import _axpy

    rng = np.random.default_rng(3)
    n = 2 * _axpy.MIN_SIZE  # large enough for the one pass, where numpy's BLAS has one
    theta0 = rng.standard_normal((n // 64, 64)).astype(dtype)
    g = rng.standard_normal(theta0.shape).astype(dtype)
    results = {}
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(_axpy, "_found", {})  # no BLAS axpy: numpy's two calls
        w = tg.tensor(theta0, requires_grad=True)
        opt = SGD([w], lr=0.1)
        w.grad = tg.tensor(g)
        opt.step()
        assert w.dtype == dtype and opt._views[w][6] is (_axpy.for_dtype(np.dtype(dtype)) if fused else None)
        results[fused] = w.numpy()
    lr = dtype(0.1)
    two_pass = theta0 - lr * g
    np.testing.assert_array_equal(results[False], two_pass)  # numpy's own rounding, bit for bit
    # one pass: θ - lr·g rounded once where the BLAS fuses the multiply-add, so within the
    # rounding of the product and of the result of numpy's two
    bound = np.spacing(np.abs(lr * g)) + np.spacing(np.abs(two_pass))
    assert np.all(np.abs(results[True] - two_pass) <= bound)
    w = tg.tensor(np.ones(n, dtype), requires_grad=True)  # by hand: 1 - 0.25 * 2 = 0.5, exactly either way
    w.grad = tg.tensor(np.full(n, 2.0, dtype))
    SGD([w], lr=0.25).step()
    assert np.all(w.numpy() == 0.5)


def test_plain_sgd_step_of_a_large_parameter_through_strides_aliases_and_read_only_data():
    from tinygraph.optim import _axpy

    n = 2 * _axpy.MIN_SIZE
    base = np.arange(2.0 * n).reshape(2, n)
    w = tg.tensor(np.ones((n, 2)), requires_grad=True)
    opt = SGD([w], lr=0.5)
    w.grad = tg.tensor(base).T  # a gradient numpy reads through its strides
    opt.step()
    np.testing.assert_array_equal(w.numpy(), 1.0 - 0.5 * base.T)
    w.grad = tg.Tensor._make(w.data)  # the gradient is the parameter's own memory
    before = w.numpy().copy()
    opt.step()
    np.testing.assert_array_equal(w.numpy(), before - 0.5 * before)
    w.data.flags.writeable = False  # a read-only parameter: numpy's error, nothing written
    w.grad = tg.tensor(np.ones((n, 2)))
    kept = w.numpy().copy()
    with pytest.raises(ValueError, match="read-only"):
        opt.step()
    np.testing.assert_array_equal(w.numpy(), kept)


def test_plain_sgd_step_of_a_large_parameter_a_pending_graph_saved_raises_at_backward():
    from tinygraph.optim import _axpy

    w = tg.tensor(np.ones(2 * _axpy.MIN_SIZE), requires_grad=True)
    opt = SGD([w], lr=0.1)
    w.grad = tg.tensor(np.ones(w.shape))
    y = (w * w).sum()  # saves w for its gradient
    opt.step()
    with pytest.raises(RuntimeError, match="modified in place .*an optimizer step"):
        y.backward()


def test_a_state_dict_of_another_optimizer_is_refused_naming_the_hyperparameters():
    w = tg.tensor(np.ones(3), requires_grad=True)
    sgd = SGD([w], lr=0.1, momentum=0.9)
    w.grad = tg.tensor(np.ones(3))
    sgd.step()
    adam = Adam([tg.tensor(np.ones(3), requires_grad=True)], lr=0.01)
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: group 0 .* \['dampening', 'momentum', 'nesterov'\]"):
        adam.load_state_dict(sgd.state_dict())
    assert adam.lr == 0.01 and adam.state == {}  # nothing changed


def test_a_state_dict_saved_before_amsgrad_existed_loads_and_an_amsgrad_one_resumes_exactly():
    def run(opt, w, grads):
        for g in grads:
            w.grad = tg.tensor(g)
            opt.step()

    grads = [np.array([1.0, -2.0]), np.array([0.1, 0.1]), np.array([-0.5, 3.0]), np.array([0.2, 0.0])]
    w = tg.tensor([1.0, 1.0], requires_grad=True)
    opt = Adam([w], lr=0.1, betas=(0.9, 0.5), amsgrad=True)
    run(opt, w, grads)  # uninterrupted
    w2 = tg.tensor([1.0, 1.0], requires_grad=True)
    opt2 = Adam([w2], lr=0.1, betas=(0.9, 0.5), amsgrad=True)
    run(opt2, w2, grads[:2])
    saved = opt2.state_dict()
    assert set(saved["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    w3 = tg.tensor(w2.data.copy(), requires_grad=True)
    opt3 = Adam([w3], lr=0.1, betas=(0.9, 0.5), amsgrad=True)
    opt3.load_state_dict(saved)
    run(opt3, w3, grads[2:])
    np.testing.assert_array_equal(w3.data, w.data)
    old = opt2.state_dict()
    del old["param_groups"][0]["amsgrad"]  # as tinygraph saved it before the option
    for k in old["state"]:
        del old["state"][k]["max_exp_avg_sq"]
    fresh = Adam([tg.tensor([1.0, 1.0], requires_grad=True)], lr=0.5)
    fresh.load_state_dict(old)
    assert fresh.lr == 0.1 and fresh.param_groups[0]["amsgrad"] is False
