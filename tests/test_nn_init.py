"""Initializers: statistics, bounds, reproducibility, in-place filling, bad input."""

import math

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.nn import init
from tinygraph.random import generator, manual_seed


def w(shape):
    return nn.Parameter(np.zeros(shape))


def test_he_std_of_1000x1000_within_2_percent():
    manual_seed(0)
    t = init.kaiming_normal_(w((1000, 1000)))
    target = math.sqrt(2 / 1000)
    assert abs(t.data.std() / target - 1) < 0.02
    assert abs(t.data.mean()) < 0.01 * target


def test_kaiming_uniform_and_modes():
    manual_seed(1)
    t = init.kaiming_uniform_(w((200, 500)))
    bound = math.sqrt(2) * math.sqrt(3 / 500)
    assert np.abs(t.data).max() <= bound
    assert abs(t.data.std() / math.sqrt(2 / 500) - 1) < 0.02
    t = init.kaiming_normal_(w((200, 500)), mode="fan_out")
    assert abs(t.data.std() / math.sqrt(2 / 200) - 1) < 0.02
    t = init.kaiming_normal_(w((300, 400)), nonlinearity="linear")  # the course's Xavier sqrt(1/n[l-1])
    assert abs(t.data.std() / math.sqrt(1 / 400) - 1) < 0.02


def test_xavier_uniform_and_normal():
    manual_seed(2)
    t = init.xavier_uniform_(w((300, 500)))
    bound = math.sqrt(6 / 800)
    assert np.abs(t.data).max() <= bound
    assert abs(t.data.std() / (bound / math.sqrt(3)) - 1) < 0.02
    t = init.xavier_normal_(w((300, 500)), gain=init.calculate_gain("tanh"))
    assert abs(t.data.std() / (5 / 3 * math.sqrt(2 / 800)) - 1) < 0.02


def test_simple_fills_and_small_random():
    t = w((3, 4))
    assert init.constant_(t, 0.25) is t and (t.data == 0.25).all()
    init.ones_(t)
    assert (t.data == 1).all()
    init.zeros_(t)
    assert not t.data.any()
    manual_seed(3)
    init.normal_(t := w((500, 400)), std=0.01)
    assert abs(t.data.std() / 0.01 - 1) < 0.02
    init.uniform_(t, -2.0, -1.0)
    assert t.data.min() >= -2 and t.data.max() < -1


def test_fills_in_place_without_recording_a_graph():
    p = w((4, 4))
    arr = p.data
    init.kaiming_normal_(p)
    assert p.data is arr and p.is_leaf and p.grad_fn is None and p.requires_grad
    assert arr.any()


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'"):
        init.calculate_gain("gelu")


def test_seeded_reproducibility_shared_with_dropout():
    manual_seed(42)
    a = init.normal_(w((5, 5))).data.copy()
    manual_seed(42)
    b = init.normal_(w((5, 5))).data.copy()
    c = init.normal_(w((5, 5))).data.copy()
    assert np.array_equal(a, b) and not np.array_equal(b, c)
    g = manual_seed(7)
    assert g is generator()


def test_bad_input():
    with pytest.raises(ValueError, match=r"at least 2 dimensions .* got shape \(5,\)"):
        init.kaiming_normal_(w((5,)))
    with pytest.raises(TypeError, match="expected a Tensor"):
        init.zeros_(np.zeros(3))
    with pytest.raises(TypeError, match="floating-point"):
        init.zeros_(tg.tensor(np.zeros(3, dtype=np.int64)))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(w((2, 2)), mode="both")
    with pytest.raises(TypeError, match="seed must be an int"):
        manual_seed(1.5)
