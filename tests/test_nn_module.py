"""Module registration, naming, modes, state_dict strictness and repr."""

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.random import manual_seed


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2)
        self.scale = nn.Parameter(np.ones(2))
        self.note = "not registered"

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(np.array([1.0, 2.0]))
    assert isinstance(p, tg.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter([1., 2.])"
    # ops on parameters give plain tensors
    assert type(p * 2) is tg.Tensor


def test_registration_and_dotted_names():
    m = TwoLayer()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "fc2"]
    assert [type(c).__name__ for c in m.children()] == ["Linear", "ReLU", "Linear"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "fc2"]
    assert sum(p.size for p in m.parameters()) == 3 * 4 + 4 + 4 * 2 + 2 + 2
    assert "note" not in dict(m.named_parameters())
    # re-assigning an attribute to a plain value unregisters nothing but the module slot check
    with pytest.raises(TypeError, match="cannot assign a Tensor to parameter 'scale'"):
        m.scale = tg.tensor([1.0, 1.0])
    del m.act
    assert [n for n, _ in m.named_children()] == ["fc1", "fc2"]


def test_forgetting_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Bad()


def test_shared_parameter_listed_once_and_gets_summed_gradient():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.weight = a.weight
    net = nn.Sequential(a, b)
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.bias"]
    assert len(list(net.parameters())) == 3
    # a module used twice is also visited once
    twice = nn.Sequential(a, a)
    assert [n for n, _ in twice.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(twice.modules())) == 2


def test_train_eval_propagate_and_zero_grad_sets_none():
    m = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5)))
    assert m.training and m[1][0].training
    assert m.eval() is m
    assert not m.training and not m[1][0].training
    m.train()
    assert m[1][0].training
    m.eval()
    out = m(tg.tensor([[1.0, 2.0]])).sum()
    out.backward()
    assert m[0].weight.grad is not None
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_call_runs_forward_and_gradients_reach_parameters():
    manual_seed(0)
    m = TwoLayer()
    x = tg.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    y = m(x)
    assert y.shape == (5, 2)
    y.sum().backward()
    assert m.fc1.weight.grad.shape == (4, 3)
    # hand check of the last layer's bias gradient: d sum(y) / d b2 = 5 * scale
    np.testing.assert_allclose(m.fc2.bias.grad.data, 5 * np.ones(2))


def test_state_dict_is_a_copy_with_names():
    m = TwoLayer()
    sd = m.state_dict()
    assert list(sd) == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    sd["fc1.weight"][...] = 123.0
    assert not (m.fc1.weight.data == 123.0).any()


def test_load_state_dict_round_trip_exact():
    manual_seed(1)
    a, b = TwoLayer(), TwoLayer()
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and np.array_equal(pa.data, pb.data)
    # accepts tensors too, and keeps the parameter objects (optimizers hold them)
    w = b.fc1.weight
    b.load_state_dict({k: tg.tensor(v) for k, v in a.state_dict().items()})
    assert b.fc1.weight is w


def _snapshot(m):
    return {k: v.copy() for k, v in m.state_dict().items()}


def test_strict_load_errors_list_names_and_change_nothing():
    manual_seed(2)
    m = TwoLayer()
    before = _snapshot(m)
    good = TwoLayer().state_dict()

    missing = dict(good)
    del missing["fc2.bias"]
    with pytest.raises(ValueError, match=r"missing keys \['fc2.bias'\]"):
        m.load_state_dict(missing)

    unexpected = dict(good, extra=np.zeros(3))
    with pytest.raises(ValueError, match=r"unexpected keys \['extra'\]"):
        m.load_state_dict(unexpected)

    shape = dict(good)
    shape["fc1.weight"] = np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"fc1.weight: checkpoint has shape \(4, 5\), model has \(4, 3\)"):
        m.load_state_dict(shape)

    for k, v in _snapshot(m).items():
        assert np.array_equal(v, before[k]), k

    # non-strict: loads what matches, reports the rest; shape mismatches still refuse
    res = m.load_state_dict(unexpected, strict=False)
    assert res.unexpected_keys == ["extra"] and res.missing_keys == []
    assert np.array_equal(m.fc1.weight.data, good["fc1.weight"])
    with pytest.raises(ValueError, match="shape"):
        m.load_state_dict(shape, strict=False)


def test_buffers_in_state_dict():
    bn = nn.BatchNorm1d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]


def test_repr_of_a_small_mlp():
    net = nn.MLP([2, 4, 1], activation="relu", output_activation="sigmoid", dropout=0.1)
    assert repr(net) == (
        "MLP(\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=2, out_features=4, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Dropout(p=0.1)\n"
        "    (3): Linear(in_features=4, out_features=1, bias=True)\n"
        "    (4): Sigmoid()\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"
