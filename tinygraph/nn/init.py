"""Weight initializers: PyTorch's names, the course's vocabulary.

Each takes a Tensor (usually a `Parameter`), fills its ``.data`` in place
without recording a graph, and returns it. Random ones draw from
``tinygraph.random.generator()``, so ``manual_seed(n)`` makes them reproducible.

For a weight ``W[l]`` of shape (n[l], n[l-1]) — ``Linear``'s (out_features,
in_features) — ``fan_in`` is n[l-1] and ``fan_out`` is n[l]. In the course's words:

- zeros: every unit computes the same thing and learns the same thing (symmetry is never broken);
  fine for biases, never for weights.
- small random: ``normal_(W, std=0.01)`` — ``np.random.randn(...) * 0.01``; breaks symmetry, but in a
  deep network the signal shrinks layer by layer.
- Xavier, for tanh: variance 1/n[l-1], i.e. ``W = randn * sqrt(1/n[l-1])`` — here
  ``kaiming_normal_(W, nonlinearity="linear")``. PyTorch's ``xavier_normal_`` is the variant that
  averages both fans, ``sqrt(2/(n[l-1] + n[l]))``.
- He, for ReLU: variance 2/n[l-1], i.e. ``W = randn * sqrt(2/n[l-1])`` — ``kaiming_normal_(W)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygraph.mode import no_grad
from tinygraph.random import generator
from tinygraph.tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]


def _target(tensor: Any, where: str) -> np.ndarray:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{where}: expected a Tensor (e.g. layer.weight), got {type(tensor).__name__}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"init.{where}: expected a floating-point tensor, got dtype {tensor.dtype}")
    return tensor._data


def _fill(tensor: Tensor, values: Any, where: str) -> Tensor:
    arr = _target(tensor, where)
    with no_grad():
        arr[...] = values
    tensor.mark_written(f"init.{where}")  # a graph that saved the tensor must notice
    return tensor


def _fans(tensor: Any, where: str) -> tuple[int, int]:
    shape = tensor.shape if isinstance(tensor, Tensor) else np.shape(tensor)
    if len(shape) < 2:
        raise ValueError(
            f"init.{where}: fan_in and fan_out need a weight with at least 2 dimensions (out, in), got shape {shape}"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps the variance of activations steady through ``nonlinearity``.

    'linear', 'identity', 'sigmoid' -> 1; 'tanh' -> 5/3; 'relu' -> sqrt(2);
    'leaky_relu' -> sqrt(2 / (1 + slope²)) (slope ``param``, default 0.01).

    >>> from tinygraph.nn import init
    >>> round(init.calculate_gain("relu") ** 2, 12)
    2.0
    """
    name = str(nonlinearity).lower()
    if name in ("linear", "identity", "sigmoid", "conv1d", "conv2d"):
        return 1.0
    if name == "tanh":
        return 5.0 / 3.0
    if name == "relu":
        return math.sqrt(2.0)
    if name == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope * slope))
    if name == "selu":
        return 0.75
    raise ValueError(
        f"calculate_gain: unknown nonlinearity {nonlinearity!r}; "
        "expected one of 'linear', 'identity', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu'"
    )


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0 (the course: fine for biases; for weights it never breaks symmetry).

    >>> import tinygraph as tg
    >>> from tinygraph.nn import init
    >>> init.zeros_(tg.tensor([1.0, 2.0]))
    Tensor([0., 0.])
    """
    return _fill(tensor, 0, "zeros_")


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1 (batch norm's initial scale gamma).

    >>> import tinygraph as tg
    >>> from tinygraph.nn import init
    >>> init.ones_(tg.tensor([5.0, 2.0]))
    Tensor([1., 1.])
    """
    return _fill(tensor, 1, "ones_")


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``.

    >>> import tinygraph as tg
    >>> from tinygraph.nn import init
    >>> init.constant_(tg.tensor([0.0, 0.0]), 0.5)
    Tensor([0.5, 0.5])
    """
    return _fill(tensor, val, "constant_")


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with draws from N(mean, std²). The course's "small random" init is ``normal_(W, std=0.01)``.

    >>> import tinygraph as tg
    >>> from tinygraph.nn import init
    >>> from tinygraph.random import manual_seed
    >>> _ = manual_seed(0)
    >>> w = init.normal_(tg.tensor(np.zeros((200, 200))), std=0.01)
    >>> round(float(w.data.std()), 3)
    0.01
    """
    if std < 0:
        raise ValueError(f"init.normal_: std must be non-negative, got {std}")
    arr = _target(tensor, "normal_")
    return _fill(tensor, generator().normal(mean, std, size=arr.shape), "normal_")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with draws from the uniform distribution on [a, b).

    >>> import tinygraph as tg
    >>> from tinygraph.nn import init
    >>> w = init.uniform_(tg.tensor(np.zeros(1000)), -0.1, 0.1)
    >>> bool((w.data >= -0.1).all() and (w.data < 0.1).all())
    True
    """
    if b < a:
        raise ValueError(f"init.uniform_: lower bound a={a} is greater than upper bound b={b}")
    arr = _target(tensor, "uniform_")
    return _fill(tensor, generator().uniform(a, b, size=arr.shape), "uniform_")


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot/Xavier uniform: U(-bound, bound) with bound = gain·sqrt(6 / (fan_in + fan_out)).

    Its variance is gain²·2/(n[l-1] + n[l]); the course's Xavier for tanh uses
    1/n[l-1] instead (``kaiming_normal_(W, nonlinearity="linear")``).

    >>> import tinygraph as tg
    >>> from tinygraph.nn import init
    >>> w = init.xavier_uniform_(tg.tensor(np.zeros((3, 5))))
    >>> bool((abs(w.data) <= np.sqrt(6 / 8)).all())
    True
    """
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    arr = _target(tensor, "xavier_uniform_")
    return _fill(tensor, generator().uniform(-bound, bound, size=arr.shape), "xavier_uniform_")


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot/Xavier normal: N(0, std²) with std = gain·sqrt(2 / (fan_in + fan_out)) = sqrt(2/(n[l-1] + n[l])).

    The course also calls "Xavier" the fan-in-only version, std = sqrt(1/n[l-1]),
    for tanh layers: that is ``kaiming_normal_(W, nonlinearity="linear")``.

    >>> import tinygraph as tg
    >>> from tinygraph.nn import init
    >>> from tinygraph.random import manual_seed
    >>> _ = manual_seed(0)
    >>> w = init.xavier_normal_(tg.tensor(np.zeros((300, 500))))
    >>> round(float(w.data.std() / np.sqrt(2 / 800)), 1)
    1.0
    """
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    arr = _target(tensor, "xavier_normal_")
    return _fill(tensor, generator().normal(0.0, std, size=arr.shape), "xavier_normal_")


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, where: str) -> float:
    fan_in, fan_out = _fans(tensor, where)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init.{where}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu") -> Tensor:
    """He normal: N(0, std²) with std = gain / sqrt(fan). For ReLU (the default) that is the course's
    He initialization, ``W = randn * sqrt(2 / n[l-1])``.

    ``nonlinearity="linear"`` gives std = sqrt(1/n[l-1]), the course's Xavier for tanh;
    ``"leaky_relu"`` uses slope ``a``; ``mode="fan_out"`` divides by n[l] instead.

    >>> import tinygraph as tg
    >>> from tinygraph.nn import init
    >>> from tinygraph.random import manual_seed
    >>> _ = manual_seed(0)
    >>> w = init.kaiming_normal_(tg.tensor(np.zeros((400, 500))))
    >>> round(float(w.data.std() / np.sqrt(2 / 500)), 1)
    1.0
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    arr = _target(tensor, "kaiming_normal_")
    return _fill(tensor, generator().normal(0.0, std, size=arr.shape), "kaiming_normal_")


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu") -> Tensor:
    """He uniform: U(-bound, bound) with bound = gain·sqrt(3 / fan), the same variance as `kaiming_normal_`.

    ``kaiming_uniform_(W, a=math.sqrt(5), nonlinearity="leaky_relu")`` gives bound
    1/sqrt(n[l-1]): PyTorch's (and `Linear`'s) default.

    >>> import math, tinygraph as tg
    >>> from tinygraph.nn import init
    >>> w = init.kaiming_uniform_(tg.tensor(np.zeros((4, 25))), a=math.sqrt(5), nonlinearity="leaky_relu")
    >>> bool((abs(w.data) <= 1 / 5).all())
    True
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    bound = math.sqrt(3.0) * std
    arr = _target(tensor, "kaiming_uniform_")
    return _fill(tensor, generator().uniform(-bound, bound, size=arr.shape), "kaiming_uniform_")
