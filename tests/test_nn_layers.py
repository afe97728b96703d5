"""Layers: values against hand computations, gradients against finite differences, bad input."""

import math

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.nn import functional as F
from tinygraph.random import manual_seed


def param_grad_check(module, loss_fn, eps=1e-6):
    """Finite differences on every parameter of `module` (in place) vs backward; max relative difference."""
    module.zero_grad()
    loss_fn().backward()
    worst = 0.0
    for name, p in module.named_parameters():
        num = np.zeros_like(p.data)
        flat, nflat = p.data.reshape(-1), num.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            plus = loss_fn().item()
            flat[i] = old - eps
            minus = loss_fn().item()
            flat[i] = old
            nflat[i] = (plus - minus) / (2 * eps)
        ana = p.grad.data
        denom = np.linalg.norm(num) + np.linalg.norm(ana)
        diff = 0.0 if denom == 0 else np.linalg.norm(num - ana) / denom
        assert diff < 1e-6, (name, diff)
        worst = max(worst, diff)
    return worst


# ----- Linear ------------------------------------------------------------------------------------
def test_linear_forward_matches_hand_computation():
    lin = nn.Linear(2, 3)
    lin.weight.data[...] = [[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]]
    lin.bias.data[...] = [0.5, 0.0, -1.0]
    x = tg.tensor([[1.0, 1.0], [2.0, -2.0]])
    expected = np.array([[1 + 2 + 0.5, -1, 3 + 0.5 - 1], [2 - 4 + 0.5, 2, 6 - 1 - 1]])
    np.testing.assert_allclose(lin(x).data, expected)
    # accepts ndarrays, without changing them
    arr = np.array([[1.0, 1.0]])
    np.testing.assert_allclose(lin(arr).data, expected[:1])
    assert arr.tolist() == [[1.0, 1.0]]


def test_linear_gradients_against_finite_differences():
    manual_seed(0)
    lin = nn.Linear(3, 2)
    x = tg.tensor(np.random.default_rng(1).standard_normal((4, 3)))
    assert param_grad_check(lin, lambda: tg.tanh(lin(x)).sum()) < 1e-7
    assert tg.gradcheck(lambda x: tg.tanh(lin(x)), [x]).passed


def test_linear_bad_input_and_bad_sizes():
    lin = nn.Linear(4, 3)
    with pytest.raises(ValueError) as e:
        lin(tg.tensor(np.ones((10, 5))))
    assert str(e.value) == "Linear(in_features=4, out_features=3): input of shape (10, 5) has 5 features, expected 4"
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="scalar"):
        lin(tg.tensor(1.0))


def test_linear_default_init_is_pytorch_uniform():
    manual_seed(0)
    lin = nn.Linear(100, 50)
    bound = 1 / math.sqrt(100)
    assert np.abs(lin.weight.data).max() <= bound and np.abs(lin.bias.data).max() <= bound
    # uniform on [-b, b] has std b/sqrt(3)
    assert abs(lin.weight.data.std() - bound / math.sqrt(3)) < 0.05 * bound / math.sqrt(3)
    assert lin.bias is not None and nn.Linear(2, 2, bias=False).bias is None


# ----- Sequential and activations ---------------------------------------------------------------------
def test_sequential_indexing_iteration_and_names():
    a, r, b = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, r, b)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is b and list(seq) == [a, r, b]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, r]
    x = tg.tensor([[1.0, -1.0]])
    np.testing.assert_allclose(seq(x).data, b(r(a(x))).data)
    with pytest.raises(IndexError, match="out of range for 3 layers"):
        seq[3]
    with pytest.raises(TypeError, match="must be a Module"):
        nn.Sequential(nn.Linear(1, 1), "relu")


def test_activation_values():
    x = tg.tensor([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(nn.ReLU()(x).data, [[0, 0, 3]])
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).data, [[-0.2, 0, 3]])
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh([[-2.0, 0.0, 3.0]]))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp([[2.0, 0.0, -3.0]])))
    e = np.exp([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(nn.Softmax()(x).data, [e / e.sum()])
    np.testing.assert_allclose(nn.LogSoftmax()(x).data, [np.log(e / e.sum())])
    assert nn.Identity()(x) is x
    assert nn.Flatten()(tg.tensor(np.arange(24.0).reshape(2, 3, 4))).shape == (2, 12)


# ----- Dropout ---------------------------------------------------------------------------------------------
def test_dropout_scaling_fraction_and_mean():
    manual_seed(0)
    x = tg.tensor(np.ones((200, 500)))
    y = nn.Dropout(p=0.3)(x).data
    dropped = (y == 0).mean()
    assert abs(dropped - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7)
    assert abs(y.mean() - 1.0) < 0.01


def test_dropout_eval_is_identity_and_p_zero_one():
    x = tg.tensor(np.arange(6.0).reshape(2, 3))
    d = nn.Dropout(0.5).eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"Dropout: p .* must be in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


def test_dropout_seeded_reproducibility():
    x = tg.tensor(np.ones((50, 50)))
    manual_seed(123)
    a = nn.Dropout(0.5)(x).data
    manual_seed(123)
    b = F.dropout(x, 0.5, training=True).data
    c = F.dropout(x, 0.5, training=True).data
    assert np.array_equal(a, b) and not np.array_equal(b, c)


def test_dropout_backward_uses_the_same_mask_and_is_marked_random():
    manual_seed(5)
    x = tg.tensor(np.full((4, 6), 2.0), requires_grad=True)
    y = F.dropout(x, 0.25, training=True)
    assert y.grad_fn.name == "dropout" and y.grad_fn.fn.is_random is True
    (y * 3).sum().backward()
    mask = y.data / 2.0
    np.testing.assert_allclose(x.grad.data, 3 * mask)
    # its backward is written in tinygraph ops: second derivatives work (and are 0)
    x2 = tg.tensor(np.ones(5), requires_grad=True)
    (g,) = tg.grad((F.dropout(x2, 0.5) ** 2).sum(), [x2], create_graph=True)
    assert g.requires_grad


# ----- BatchNorm1d ------------------------------------------------------------------------------------------
def test_batchnorm_training_normalizes_and_updates_running_stats():
    x = np.array([[1.0, 10.0], [2.0, 20.0], [6.0, 0.0]])
    bn = nn.BatchNorm1d(2, momentum=0.1)
    bn.weight.data[...] = [2.0, 1.0]
    bn.bias.data[...] = [0.5, -1.0]
    y = bn(tg.tensor(x)).data
    mu, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-5) * [2.0, 1.0] + [0.5, -1.0])
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * mu)
    np.testing.assert_allclose(bn.running_var.data, 0.9 + 0.1 * x.var(0, ddof=1))


def test_batchnorm_running_stats_keep_their_dtype_when_a_float64_batch_comes():
    bn = nn.BatchNorm1d(2, momentum=0.5, dtype=np.float32)
    x = np.array([[1.0, 4.0], [3.0, 8.0]])  # numpy's default float64
    bn(tg.tensor(x))
    assert bn.running_mean.dtype == bn.running_var.dtype == np.float32
    np.testing.assert_allclose(bn.running_mean.data, [1.0, 3.0])  # 0.5 * 0 + 0.5 * mean
    np.testing.assert_allclose(bn.running_var.data, [1.5, 4.5])  # 0.5 * 1 + 0.5 * unbiased var (2, 8)
    assert bn.state_dict()["running_mean"].dtype == np.float32
    bn.eval()
    assert bn(tg.tensor(np.ones((2, 2), np.float32))).dtype == np.float32


def test_batchnorm_eval_uses_running_stats():
    bn = nn.BatchNorm1d(2)
    bn.running_mean.data = np.array([1.0, -1.0])
    bn.running_var.data = np.array([4.0, 0.25])
    bn.eval()
    x = np.array([[3.0, 0.0]])  # a single example works in eval
    expected = (x - [1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(bn(tg.tensor(x)).data, expected)
    np.testing.assert_allclose(bn.running_mean.data, [1.0, -1.0])  # eval does not update
    with pytest.raises(ValueError, match="more than 1 value per feature"):
        bn.train()(tg.tensor(x))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(2\): input of shape \(4, 3\)"):
        bn(tg.tensor(np.ones((4, 3))))


def test_batchnorm_gradients_flow_through_batch_statistics():
    rng = np.random.default_rng(3)
    bn = nn.BatchNorm1d(3)
    bn.weight.data[...] = rng.standard_normal(3)
    bn.bias.data[...] = rng.standard_normal(3)
    x = tg.tensor(rng.standard_normal((5, 3)))
    w = rng.standard_normal((5, 3))
    # weighted sum so the gradient w.r.t. x is not identically zero
    report = tg.gradcheck(lambda x: bn(x) * tg.tensor(w), [x])
    assert report.passed, str(report)
    xs, ws = tg.tensor(rng.standard_normal((6, 3))), tg.tensor(rng.standard_normal((6, 3)))
    param_grad_check(bn, lambda: (tg.tanh(bn(xs)) * ws).sum())
    # the eval path too
    bn.eval()
    assert tg.gradcheck(lambda x: bn(x) * tg.tensor(w), [x]).passed


# ----- MLP --------------------------------------------------------------------------------------------------
def test_mlp_structure_names_and_init():
    manual_seed(0)
    net = nn.MLP([300, 200, 100, 1], activation="relu")
    names = [n for n, _ in net.named_parameters()]
    assert names == [f"layers.{i}.{k}" for i in (0, 2, 4) for k in ("weight", "bias")]
    w0 = net.layers[0].weight.data
    assert w0.shape == (200, 300)
    assert abs(w0.std() / math.sqrt(2 / 300) - 1) < 0.03  # He
    assert not net.layers[0].bias.data.any()
    tnet = nn.MLP([400, 300, 1], activation="tanh", output_activation="sigmoid")
    assert abs(tnet.layers[0].weight.data.std() / math.sqrt(1 / 400) - 1) < 0.03  # the course's Xavier
    small = nn.MLP([400, 300], init="small")
    assert abs(small.layers[0].weight.data.std() / 0.01 - 1) < 0.03
    assert not nn.MLP([3, 2], init="zeros").layers[0].weight.data.any()
    out = net(tg.tensor(np.ones((7, 300))))
    assert out.shape == (7, 1)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.MLP([2, 2, 1], activation="swish")
    with pytest.raises(ValueError, match="at least the input and output sizes"):
        nn.MLP([3])


def test_mlp_trains_on_xor_with_gradients():
    manual_seed(0)
    X = tg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = tg.tensor([[0.0], [1.0], [1.0], [0.0]])
    net = nn.MLP([2, 8, 1], activation="tanh")
    for _ in range(500):
        net.zero_grad()
        loss = F.binary_cross_entropy_with_logits(net(X), y)
        loss.backward()
        with tg.no_grad():
            for p in net.parameters():
                p.data -= 0.5 * p.grad.data
    assert loss.item() < 0.05
    pred = (F.sigmoid(net(X)).data > 0.5).astype(float)
    np.testing.assert_array_equal(pred, y.data)
