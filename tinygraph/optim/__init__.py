"""Optimizers, learning-rate schedules and exponentially weighted averages.

Every optimizer follows PyTorch's shape: ``Opt(params, lr=..., ...)``,
``step()``, ``zero_grad()``, ``state_dict()`` / ``load_state_dict()``, and
``opt.lr`` to read or set the learning rate. Each class's docstring gives its
update formula.

>>> import tinygraph as tg
>>> from tinygraph.optim import Adam
>>> w = tg.tensor([3.0], requires_grad=True)
>>> opt = Adam([w], lr=0.1)
>>> for _ in range(200):
...     opt.zero_grad()
...     ((w - 1.0) ** 2).sum().backward()
...     opt.step()
>>> abs(w.item() - 1.0) < 0.05
True
"""

from tinygraph.optim.adam import Adam, AdamW
from tinygraph.optim.ema import ExponentialMovingAverage
from tinygraph.optim.lr_scheduler import (
    CosineDecay,
    ExponentialDecay,
    InverseSqrtDecay,
    InverseTimeDecay,
    LambdaDecay,
    LRSchedule,
    StepDecay,
    torch_name_error,
)
from tinygraph.optim.momentum import Momentum
from tinygraph.optim.optimizer import Optimizer
from tinygraph.optim.rmsprop import RMSprop
from tinygraph.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "CosineDecay",
    "ExponentialDecay",
    "ExponentialMovingAverage",
    "InverseSqrtDecay",
    "InverseTimeDecay",
    "LRSchedule",
    "LambdaDecay",
    "Momentum",
    "Optimizer",
    "RMSprop",
    "StepDecay",
]


def __getattr__(name: str):
    """A PyTorch scheduler's name (``tg.optim.StepLR``) is an AttributeError naming tinygraph's."""
    raise torch_name_error(__name__, name)
