"""Gradient clipping (`tinygraph.nn.utils`): values by hand, against PyTorch's, and its errors."""

import math

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.nn.utils import clip_grad_norm_, clip_grad_value_


def _with_grads(*grads, dtype=np.float64):
    params = []
    for g in grads:
        p = tg.tensor(np.zeros(np.shape(g), dtype), requires_grad=True)
        p.grad = tg.tensor(np.array(g, dtype))
        params.append(p)
    return params


def test_clip_grad_norm_scales_to_the_bound_by_hand():
    a, b = _with_grads([3.0, 0.0], [[0.0], [4.0]])  # together the vector (3, 0, 0, 4): norm 5
    total = clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == 5.0 and total.shape == ()
    factor = 1.0 / (5.0 + 1e-6)
    np.testing.assert_array_equal(a.grad.data, [3.0 * factor, 0.0])
    np.testing.assert_array_equal(b.grad.data, [[0.0], [4.0 * factor]])
    assert math.isclose(math.hypot(*a.grad.data, *b.grad.data.ravel()), 1.0, rel_tol=1e-6)


def test_clip_grad_norm_leaves_gradients_under_the_bound_alone():
    a, b = _with_grads([0.1, -0.2], [0.3])
    before = [a.grad.data.copy(), b.grad.data.copy()]
    total = clip_grad_norm_([a, b], max_norm=10.0)
    assert total.item() == pytest.approx(math.sqrt(0.14), rel=1e-15)
    np.testing.assert_array_equal(a.grad.data, before[0])
    np.testing.assert_array_equal(b.grad.data, before[1])


def test_clip_grad_norm_other_orders_by_hand():
    a, b = _with_grads([3.0, -4.0], [1.0])
    assert clip_grad_norm_([a, b], 100.0, norm_type="inf").item() == 4.0
    assert clip_grad_norm_([a, b], 100.0, norm_type=1).item() == 8.0
    total = clip_grad_norm_([a, b], 2.0, norm_type=math.inf)  # the largest magnitude, 4, down to 2
    assert total.item() == 4.0
    np.testing.assert_allclose(a.grad.data, np.array([3.0, -4.0]) * 2.0 / (4.0 + 1e-6), rtol=1e-15)


def test_clip_grad_norm_on_a_model_after_backward_and_a_training_step():
    tg.manual_seed(0)
    model = nn.MLP([3, 8, 1])
    x = tg.tensor(np.full((4, 3), 100.0))  # large inputs: large gradients
    (model(x) ** 2).mean().backward()
    total = clip_grad_norm_(model.parameters(), max_norm=0.5)  # a generator, as PyTorch's is given
    assert total.item() > 0.5
    after = math.sqrt(sum(float((p.grad.data**2).sum()) for p in model.parameters()))
    assert after == pytest.approx(0.5, rel=1e-5)
    tg.optim.SGD(model.parameters(), lr=0.1).step()  # the clipped gradients are the step's


def test_clip_grad_norm_skips_parameters_without_gradients_and_takes_one_tensor():
    (a,) = _with_grads([6.0, 8.0])
    b = tg.tensor([1.0], requires_grad=True)  # no .grad
    assert clip_grad_norm_([a, b], 5.0).item() == 10.0 and b.grad is None
    assert clip_grad_norm_(a, 100.0).item() == pytest.approx(5.0, rel=1e-6)
    assert clip_grad_norm_([], 1.0).item() == 0.0


def test_clip_grad_norm_keeps_float32():
    (a,) = _with_grads([30.0, 40.0], dtype=np.float32)
    total = clip_grad_norm_([a], 1.0)
    assert total.dtype == np.float32 and a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad.data, [0.6, 0.8], rtol=1e-6)


def test_clip_grad_norm_with_a_nan_gradient():
    a, b = _with_grads([np.nan, 1.0], [2.0])
    with pytest.raises(RuntimeError, match=r"clip_grad_norm_: the total norm .* is nan; .*detect_anomaly"):
        clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    assert b.grad.item() == 2.0  # the error leaves the gradients as they were
    assert math.isnan(clip_grad_norm_([a, b], 1.0).item())
    assert math.isnan(b.grad.item())  # scaled by the NaN factor, as PyTorch's are


def test_clip_grad_value_clips_each_element():
    a, b = _with_grads([-3.0, 0.5, 2.0], [np.nan, -0.25])
    assert clip_grad_value_([a, b], 1.0) is None
    np.testing.assert_array_equal(a.grad.data, [-1.0, 0.5, 1.0])
    assert math.isnan(b.grad.data[0]) and b.grad.data[1] == -0.25
    (c,) = _with_grads([3.0], dtype=np.float32)
    clip_grad_value_(c, 0.5)
    assert c.grad.dtype == np.float32 and c.grad.item() == 0.5


def test_clipping_a_gradient_a_pending_graph_saved_is_caught_at_its_backward():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)  # x.grad = 3x², with its own graph
    penalty = (x.grad * x.grad).sum()  # saves x.grad
    clip_grad_value_(x, 1.0)
    with pytest.raises(RuntimeError, match="gradient clipping"):
        penalty.backward()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p: clip_grad_norm_(p, -1.0), r"clip_grad_norm_: max_norm must be a number >= 0, got -1.0"),
        (lambda p: clip_grad_norm_(p, float("nan")), "max_norm must be a number >= 0"),
        (lambda p: clip_grad_norm_(p, 1.0, norm_type=0), r"norm_type must be a number > 0 or 'inf', got 0"),
        (lambda p: clip_grad_norm_(p, 1.0, norm_type="fro"), "norm_type must be a number > 0 or 'inf'"),
        (lambda p: clip_grad_value_(p, -0.5), r"clip_grad_value_: clip_value must be a number >= 0"),
        (lambda p: clip_grad_value_(p, True), "clip_value must be a number >= 0, got True"),
    ],
)
def test_bad_bounds_are_errors_naming_the_function(call, message):
    (a,) = _with_grads([3.0, 4.0])
    with pytest.raises(ValueError, match=message):
        call([a])
    np.testing.assert_array_equal(a.grad.data, [3.0, 4.0])  # nothing changed


def test_parameters_that_are_not_tensors_are_errors():
    with pytest.raises(TypeError, match=r"clip_grad_norm_: parameter 1 is a ndarray, not a Tensor"):
        clip_grad_norm_([tg.tensor([1.0]), np.ones(2)], 1.0)
    with pytest.raises(TypeError, match="clip_grad_value_: parameters must be a Tensor or an iterable"):
        clip_grad_value_(3.0, 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, "inf"])
@pytest.mark.parametrize("max_norm", [0.1, 1e6])
def test_clip_grad_norm_agrees_with_pytorch(dtype, norm_type, max_norm):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    grads = [rng.standard_normal(s).astype(dtype) for s in ((3, 4), (5,), (2, 2, 2))]
    ours = _with_grads(*grads, dtype=dtype)
    theirs = []
    for g in grads:
        t = torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True)
        t.grad = torch.from_numpy(g.copy())
        theirs.append(t)
    p = float("inf") if norm_type == "inf" else norm_type
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=p)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(total.item(), expected.item(), rtol=rtol)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=rtol, atol=0)


def test_clip_grad_value_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(3).standard_normal((4, 5))
    (ours,) = _with_grads(g)
    theirs = torch.zeros(4, 5, dtype=torch.float64, requires_grad=True)
    theirs.grad = torch.from_numpy(g.copy())
    clip_grad_value_([ours], 0.7)
    torch.nn.utils.clip_grad_value_([theirs], 0.7)
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())
