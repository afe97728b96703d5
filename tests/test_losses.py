"""Losses: hand-computed values, finite-difference gradients, extreme logits, bad input, L2 penalty."""

import math

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.nn import functional as F

RNG = np.random.default_rng(0)


# ----- values ---------------------------------------------------------------------------------------------------
def test_binary_cross_entropy_values_and_reductions():
    p = tg.tensor([[0.9, 0.2, 0.5]])
    y = tg.tensor([[1.0, 0.0, 1.0]])
    per = -np.array([[math.log(0.9), math.log(0.8), math.log(0.5)]])
    np.testing.assert_allclose(F.binary_cross_entropy(p, y, reduction="none").data, per)
    assert F.binary_cross_entropy(p, y).item() == pytest.approx(per.mean())
    assert F.binary_cross_entropy(p, y, reduction="sum").item() == pytest.approx(per.sum())
    # probability exactly 0 or 1: finite (log clamped at -100), with finite gradients
    p01 = tg.tensor([0.0, 1.0, 1.0], requires_grad=True)
    loss = F.binary_cross_entropy(p01, tg.tensor([1.0, 1.0, 0.0]), reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 0.0, 100.0])
    loss.sum().backward()
    assert np.isfinite(p01.grad.data).all()
    # integer labels are accepted
    assert F.binary_cross_entropy(p, np.array([[1, 0, 1]])).item() == pytest.approx(per.mean())


def test_bce_with_logits_matches_bce_of_sigmoid():
    z = RNG.standard_normal((4, 3))
    y = (RNG.random((4, 3)) > 0.5).astype(float)
    a = 1 / (1 + np.exp(-z))
    expected = -(y * np.log(a) + (1 - y) * np.log(1 - a)).mean()
    assert F.binary_cross_entropy_with_logits(tg.tensor(z), tg.tensor(y)).item() == pytest.approx(expected, rel=1e-12)
    assert F.binary_cross_entropy(F.sigmoid(tg.tensor(z)), tg.tensor(y)).item() == pytest.approx(expected, rel=1e-12)


def test_bce_with_logits_extreme_logits_exact_and_finite():
    z = tg.tensor([1e4, -1e4, 1e4, -1e4, 50.0], requires_grad=True)
    y = tg.tensor([1.0, 0.0, 0.0, 1.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    np.testing.assert_array_equal(loss.data[:4], [0.0, 0.0, 1e4, 1e4])
    assert loss.data[4] == pytest.approx(math.log1p(math.exp(-50.0)), rel=1e-12)
    loss.sum().backward()
    # d/dz = sigmoid(z) - y
    np.testing.assert_allclose(z.grad.data[:4], [0.0, 0.0, 1.0, -1.0])


def test_cross_entropy_indices_and_probabilities():
    z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    t = np.array([2, 0])
    lse = np.log(np.exp(z).sum(1))
    per = lse - z[[0, 1], t]
    np.testing.assert_allclose(F.cross_entropy(tg.tensor(z), t, reduction="none").data, per)
    assert F.cross_entropy(tg.tensor(z), t).item() == pytest.approx(per.mean())
    onehot = np.eye(3)[t]
    assert F.cross_entropy(tg.tensor(z), tg.tensor(onehot)).item() == pytest.approx(per.mean())
    soft = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    expected = -(soft * (z - lse[:, None])).sum(1).mean()
    assert F.cross_entropy(tg.tensor(z), soft).item() == pytest.approx(expected)
    # nll_loss of log_softmax is cross_entropy
    assert F.nll_loss(F.log_softmax(tg.tensor(z), axis=1), t).item() == pytest.approx(per.mean())
    # float labels holding whole numbers are fine
    assert F.cross_entropy(tg.tensor(z), t.astype(float)).item() == pytest.approx(per.mean())


def test_cross_entropy_extreme_logits_exact_and_finite():
    z = tg.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], requires_grad=True)
    loss = F.cross_entropy(z, np.array([0, 0]), reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, 2e4 + math.log(2)])
    loss.sum().backward()
    np.testing.assert_allclose(z.grad.data, [[0.0, 0.0, 0.0], [-1.0, 0.5, 0.5]], atol=1e-12)


def test_regression_losses():
    x, y = tg.tensor([1.0, -2.0, 3.0]), tg.tensor([0.0, 0.0, 5.0])
    assert F.mse_loss(x, y).item() == pytest.approx((1 + 4 + 4) / 3)
    assert F.mse_loss(x, y, reduction="sum").item() == pytest.approx(9)
    assert F.l1_loss(x, y).item() == pytest.approx(5 / 3)
    np.testing.assert_allclose(F.l1_loss(x, y, reduction="none").data, [1, 2, 2])


def test_module_forms_match_functions():
    z = tg.tensor(RNG.standard_normal((5, 3)))
    t = np.array([0, 2, 1, 1, 0])
    assert nn.CrossEntropyLoss()(z, t).item() == F.cross_entropy(z, t).item()
    yb = tg.tensor((RNG.random((5, 3)) > 0.5).astype(float))
    assert (
        nn.BCEWithLogitsLoss(reduction="sum")(z, yb).item()
        == F.binary_cross_entropy_with_logits(z, yb, reduction="sum").item()
    )
    assert nn.BCELoss()(F.sigmoid(z), yb).item() == F.binary_cross_entropy(F.sigmoid(z), yb).item()
    assert nn.MSELoss()(z, yb).item() == F.mse_loss(z, yb).item()
    assert nn.L1Loss()(z, yb).item() == F.l1_loss(z, yb).item()
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        nn.MSELoss(reduction="avg")


def test_against_torch_when_available():
    torch = pytest.importorskip("torch")
    z = RNG.standard_normal((6, 4)) * 3
    t = np.array([0, 3, 1, 2, 2, 0])
    yb = (RNG.random((6, 4)) > 0.5).astype(float)
    tz = torch.tensor(z)
    ours = F.cross_entropy(tg.tensor(z), t).item()
    assert ours == pytest.approx(torch.nn.functional.cross_entropy(tz, torch.tensor(t)).item(), rel=1e-12)
    ours = F.binary_cross_entropy_with_logits(tg.tensor(z), yb).item()
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(tz, torch.tensor(yb)).item()
    assert ours == pytest.approx(theirs, rel=1e-12)


# ----- gradients ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fn",
    [
        lambda z, y: F.binary_cross_entropy_with_logits(z, y),
        lambda z, y: F.binary_cross_entropy(F.sigmoid(z), y, reduction="sum"),
        lambda z, y: F.mse_loss(z, y, reduction="none"),
        lambda z, y: F.l1_loss(z, y + 0.3),
        lambda z, y: F.cross_entropy(z, y),
        lambda z, y: F.cross_entropy(z, y / y.sum(axis=1, keepdims=True).clip(1, None)),
    ],
)
def test_loss_gradients_against_finite_differences(fn):
    z = tg.tensor(RNG.standard_normal((4, 3)))
    y = tg.tensor((RNG.random((4, 3)) > 0.5).astype(float))
    report = tg.gradcheck(lambda z: fn(z, y), [z])
    assert report.passed, str(report)


def test_cross_entropy_index_gradient_against_finite_differences():
    z = tg.tensor(RNG.standard_normal((5, 4)))
    t = np.array([3, 0, 1, 1, 2])
    assert tg.gradcheck(lambda z: F.cross_entropy(z, t, reduction="none"), [z]).passed
    assert tg.gradcheck(lambda z: F.nll_loss(F.log_softmax(z, axis=1), t), [z]).passed


def test_cross_entropy_with_class_indices_is_one_op_whose_gradient_is_softmax_minus_one_hot():
    # row 0: softmax (1/3, 1/3, 1/3), label 0; row 1: softmax (1/5, 3/5, 1/5), label 1
    z = tg.tensor([[0.0, 0.0, 0.0], [0.0, math.log(3.0), 0.0]], requires_grad=True)
    per = F.cross_entropy(z, np.array([0, 1]), reduction="none")
    assert per.op == "cross_entropy" and per.grad_fn.inputs[0] is z
    np.testing.assert_allclose(per.data, [math.log(3.0), math.log(5 / 3)], rtol=1e-15)
    per.mean().backward()
    a_minus_y = np.array([[1 / 3 - 1, 1 / 3, 1 / 3], [1 / 5, 3 / 5 - 1, 1 / 5]])
    np.testing.assert_allclose(z.grad.data, a_minus_y / 2, rtol=1e-14, atol=1e-16)  # (A - Y) / m
    # the mean and the sum are taken inside the same op: one node, the same gradient
    for reduction, value, grad in (
        ("mean", (math.log(3.0) + math.log(5 / 3)) / 2, a_minus_y / 2),
        ("sum", math.log(3.0) + math.log(5 / 3), a_minus_y),
    ):
        z.grad = None
        loss = F.cross_entropy(z, np.array([0, 1]), reduction=reduction)
        assert loss.op == "cross_entropy" and loss.grad_fn.inputs[0] is z and loss.shape == ()
        assert loss.item() == pytest.approx(value, rel=1e-15)
        loss.backward()
        np.testing.assert_allclose(z.grad.data, grad, rtol=1e-14, atol=1e-16)
        zz = tg.tensor(RNG.standard_normal((3, 4)))
        assert tg.gradcheck(lambda zz, r=reduction: F.cross_entropy(zz, np.array([3, 0, 1]), reduction=r), [zz]).passed
    # second derivatives go through the recomputed log_softmax
    for reduction in ("mean", "sum", "none"):
        assert tg.gradgradcheck(
            lambda z, r=reduction: F.cross_entropy(z, np.array([2, 0]), reduction=r),
            [tg.tensor(RNG.standard_normal((2, 3)))],
        ).passed


def test_cross_entropy_op_vjp_on_arrays_matches_it_on_tensors_and_keeps_float32():
    z = tg.tensor(RNG.standard_normal((6, 5)), requires_grad=True)
    labels = np.array([4, 0, 1, 1, 3, 2])
    for reduction, g in (("none", RNG.standard_normal(6)), ("mean", np.array(1.7)), ("sum", np.array(-0.3))):
        out = F.cross_entropy(z, labels, reduction=reduction)
        node = out.grad_fn
        with tg.no_grad():
            slow = node.vjp(out, tg.tensor(g))[0]
        fast = node.vjp(out, g)[0]
        assert type(fast) is np.ndarray and isinstance(slow, tg.Tensor)
        np.testing.assert_allclose(fast, slow.data, rtol=1e-12, atol=1e-14)
        # softmax minus one-hot, times the incoming gradient per row (over the batch size for the mean)
        p = np.exp(z.data - z.data.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(6), labels] -= 1
        scale = g.reshape(-1, 1) if reduction == "none" else g / 6 if reduction == "mean" else g
        np.testing.assert_allclose(fast, p * scale, rtol=1e-12, atol=1e-14)
    z32 = tg.tensor(RNG.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(z32, np.array([0, 3, 1]))
    loss.backward()
    assert loss.dtype == np.float32 and z32.grad.dtype == np.float32
    # a masked class (logit -inf) gets probability 0 and gradient 0; the loss stays finite
    zm = tg.tensor([[-np.inf, 1.0, 1.0]], requires_grad=True)
    lm = F.cross_entropy(zm, np.array([1]))
    lm.backward()
    assert lm.item() == pytest.approx(math.log(2.0))
    np.testing.assert_allclose(zm.grad.data, [[0.0, -0.5, 0.5]])


# ----- bad input ----------------------------------------------------------------------------------------------------
def test_bad_input_errors_name_the_loss_and_the_values():
    p = tg.tensor([[0.5, 0.5]])
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy: probs has shape \(1, 2\) but target has shape \(2, 1\)"
    ):
        F.binary_cross_entropy(p, tg.tensor([[1.0], [0.0]]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: probs must lie in \[0, 1\].*max 1.2"):
        F.binary_cross_entropy(tg.tensor([0.5, 1.2]), tg.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="target of shape \\(2,\\) contains 1 NaN"):
        F.binary_cross_entropy_with_logits(tg.tensor([0.5, 1.2]), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"cross_entropy: target labels must be in \[0, 2\] for 3 classes; got \[3\]"):
        F.cross_entropy(tg.tensor(np.zeros((2, 3))), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"must be in \[0, 2\].*got \[-1\]"):
        F.nll_loss(tg.tensor(np.zeros((2, 3))), np.array([-1, 0]))
    with pytest.raises(
        ValueError, match=r"cross_entropy: logits of shape \(10, 3\) needs a target of 10 class indices"
    ):
        F.cross_entropy(tg.tensor(np.zeros((10, 3))), np.zeros(8, dtype=int))
    with pytest.raises(ValueError, match="non-integer"):
        F.cross_entropy(tg.tensor(np.zeros((2, 3))), np.array([0.5, 1.0]))
    with pytest.raises(
        ValueError, match=r"cross_entropy: cannot average over an empty batch \(logits of shape \(0, 3\)\)"
    ):
        F.cross_entropy(tg.tensor(np.zeros((0, 3))), np.zeros(0, dtype=int))
    assert F.cross_entropy(tg.tensor(np.zeros((0, 3))), np.zeros(0, dtype=int), reduction="sum").item() == 0.0
    with pytest.raises(ValueError, match=r"mse_loss: input has shape \(3,\) but target has shape \(3, 1\)"):
        F.mse_loss(tg.tensor([1.0, 2.0, 3.0]), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"cross_entropy: logits must have shape \(batch, classes\)"):
        F.cross_entropy(tg.tensor([1.0, 2.0]), np.array([0]))
    # the caller's arrays are untouched
    target = np.array([0.0, 1.0])
    F.binary_cross_entropy(tg.tensor([0.2, 0.7]), target)
    assert target.tolist() == [0.0, 1.0]


def test_cross_entropy_finds_nan_logits_from_its_loss_and_reports_them_before_a_bad_target():
    z = np.array([[0.0, np.nan, 1.0], [0.5, 0.2, 0.1]])
    msg = r"cross_entropy: logits of shape \(2, 3\) contains 1 NaN value\(s\)"
    for reduction in ("mean", "sum", "none"):
        for requires_grad in (False, True):
            with pytest.raises(ValueError, match=msg):
                F.cross_entropy(tg.tensor(z, requires_grad=requires_grad), np.array([0, 2]), reduction=reduction)
    with tg.detect_anomaly(), pytest.raises(ValueError, match=msg):  # the loss's error, not anomaly mode's
        F.cross_entropy(tg.tensor(z, requires_grad=True), np.array([0, 2]))
    for bad in (np.array([0, 3]), np.array([0, -1]), np.array([0.5, 1.0]), np.array([0]), np.array([True, False])):
        with pytest.raises(ValueError, match=msg):  # NaN logits first, as before the check moved into the op
            F.cross_entropy(tg.tensor(z), bad)


def test_cross_entropy_with_infinite_logits_is_what_log_softmax_gives():
    labels = np.array([0, 1, 0])
    z = np.array([[np.inf, 0.0, 0.0], [-np.inf, -np.inf, -np.inf], [-np.inf, 1.0, 2.0]])
    for reduction in ("mean", "sum", "none"):
        for row in range(3):
            zt, t = tg.tensor(z[row : row + 1]), labels[row : row + 1]
            with np.errstate(all="ignore"):
                got = F.cross_entropy(zt, t, reduction=reduction).data
                picked = -F.log_softmax(zt, axis=1).data[0, t]
            want = picked if reduction == "none" else picked.sum()
            np.testing.assert_array_equal(got, want)  # NaN, NaN and +inf (the label's logit is -inf)
    with pytest.warns(RuntimeWarning):  # (numpy's warning of the all -inf row)
        per = F.cross_entropy(tg.tensor(z), labels, reduction="none").data
    assert math.isnan(per[0]) and math.isnan(per[1]) and per[2] == math.inf


@pytest.mark.parametrize("shape", [(2, 10), (64, 10), (40, 3), (64, 100)])  # both sides of _row_max's switch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_of_a_batch_by_either_row_maximum_is_the_log_sum_exp(shape, dtype):
    rng = np.random.default_rng(7)
    z = (rng.standard_normal(shape) * 5).astype(dtype)
    z[1, 0] = 1e4  # a large logit: the shift by the row's maximum keeps it finite
    labels = rng.integers(0, shape[1], shape[0])
    got = F.cross_entropy(tg.tensor(z), labels, reduction="none").numpy()
    z64 = z.astype(np.float64)
    mx = z64.max(axis=1)
    want = mx + np.log(np.exp(z64 - mx[:, None]).sum(axis=1)) - z64[np.arange(shape[0]), labels]  # by hand
    np.testing.assert_allclose(got, want, rtol=2e-6 if dtype == np.float32 else 1e-13, atol=1e-5)
    mean = F.cross_entropy(tg.tensor(z), labels).item()
    assert mean == pytest.approx(want.mean(), rel=2e-6)
    w = z.copy()
    w[-1, 1], w[0, :] = np.inf, -np.inf  # the rows' maximum by columns or by rows: the same bits, infinities too
    with np.errstate(all="ignore"):
        assert np.array_equal(F._row_max(w), np.maximum.reduce(w, axis=1, keepdims=True))
        w[-1, 0] = np.nan
        assert np.array_equal(F._row_max(w), np.maximum.reduce(w, axis=1, keepdims=True), equal_nan=True)


def test_cross_entropy_target_checks_catch_every_bad_label_in_one_pass():
    z = tg.tensor(np.zeros((3, 4)))
    for labels, shown in (
        (np.array([0, 4, 1]), r"\[4\] \(at rows \[1\]\)"),
        (np.array([-1, 0, -5]), r"\[-5, -1\] \(at rows \[0, 2\]\)"),
        (np.array([np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max]), r".* \(at rows \[0, 2\]\)"),
        (np.array([0, 255, 1], dtype=np.uint8), r"\[255\]"),
        (np.array([0.0, -1.0, 1.0]), r"\[-1\]"),
        (np.array([0.0, np.inf, 1e20]), r"\[1e\+20, inf\] \(at rows \[1, 2\]\)"),  # as given, not cast
    ):
        with pytest.raises(
            ValueError, match=r"cross_entropy: target labels must be in \[0, 3\] for 4 classes; got " + shown
        ):
            F.cross_entropy(z, labels)
    for labels in (np.array([0, 3, 1]), np.array([3, 3, 3], dtype=np.uint8), np.array([0.0, 2.0, 3.0])):
        assert math.isfinite(F.cross_entropy(z, labels).item())
    with pytest.raises(ValueError, match=r"for 0 classes"):
        F.cross_entropy(tg.tensor(np.zeros((2, 0))), np.array([0, 0]))


def test_cross_entropy_node_keeps_the_softmax_until_its_backward_releases_it():
    z = tg.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    labels = np.array([2, 0, 1, 1])
    loss = F.cross_entropy(z, labels)
    node = loss.grad_fn
    kept = node.saved[1]
    with tg.no_grad():  # the vjp on Tensors recomputes the softmax from z: the very same values
        slow = node.vjp(loss, tg.tensor(1.0))[0].data
    softmax = slow * 4
    softmax[np.arange(4), labels] += 1
    np.testing.assert_array_equal(kept, np.exp(F.log_softmax(z, axis=1).data))
    np.testing.assert_allclose(softmax, kept, rtol=1e-12, atol=1e-15)  # the vjp is (softmax - onehot) / 4
    labels[:] = 0  # the op holds its own copy of the labels
    loss.backward(retain_graph=True)
    first = z.grad.data.copy()
    np.testing.assert_array_equal(first, slow)
    loss.backward()  # a second backward reads the same kept softmax (it is never written)
    np.testing.assert_array_equal(z.grad.data, 2 * first)
    assert node.released and node.saved == ()
    with tg.no_grad():  # nothing recorded: nothing kept
        assert F.cross_entropy(z, labels).grad_fn is None


# ----- L2 penalty ---------------------------------------------------------------------------------------------------
def test_l2_penalty_weights_only():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2), nn.ReLU(), nn.Linear(2, 1))
    w1, w2 = net[0].weight.data, net[3].weight.data
    expected = 0.7 / (2 * 10) * ((w1**2).sum() + (w2**2).sum())
    pen = F.l2_penalty(net, lambd=0.7, m=10)
    assert pen.item() == pytest.approx(expected)
    pen.backward()
    np.testing.assert_allclose(net[0].weight.grad.data, 0.7 / 10 * w1)  # the weight-decay term (λ/m)·W
    assert net[0].bias.grad is None and net[1].weight.grad is None
    # a shared weight counts once
    a = nn.Linear(2, 2)
    b = nn.Linear(2, 2)
    b.weight = a.weight
    assert F.l2_penalty(nn.Sequential(a, b), 1.0, 1).item() == pytest.approx(0.5 * (a.weight.data**2).sum())
    with pytest.raises(ValueError, match="m .* must be a positive int"):
        F.l2_penalty(net, 0.1, 0)
