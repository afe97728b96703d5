"""Learning-rate schedules: objects that hold an optimizer and set its ``lr`` on each ``step()``.

Each remembers the learning rate every parameter group had when the schedule
was made (lr₀) and, after n calls of ``step()``, sets ``lr = f(lr₀, n)``. Call
``step()`` once per epoch for the course's "epoch_num" formulas (that is what
`tinygraph.train.fit` does), or once per mini-batch if you prefer; n counts calls.
Making a schedule sets lr = f(lr₀, 0) (which is lr₀ except for `InverseSqrtDecay`
with k ≠ 1 and a `LambdaDecay` whose fn(0) ≠ 1).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from tinygraph.optim.optimizer import Optimizer


def _positive_int(sched: str, label: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{sched}: {label} must be a positive integer, got {value!r}")
    return int(value)


def _real(sched: str, label: str, value: Any, *, low: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{sched}: {label} must be a finite real number, got {value!r}")
    if value < low or (strict and value == low):
        raise ValueError(f"{sched}: {label} must be {'>' if strict else '>='} {low}, got {value}")
    return float(value)


class LRSchedule:
    """Base class: holds the optimizer, lr₀ per group, and the step count ``n``.

    Subclasses define ``_lr(lr0, n)``. ``step()`` advances n by one and sets
    every group's learning rate; ``lr`` / ``get_last_lr()`` read it back;
    ``state_dict()`` / ``load_state_dict()`` save n and lr₀.
    """

    _hyper: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected a tinygraph.optim optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.starts = [0] * len(self.base_lrs)  # per group, the n it joined at (a group added later: its own clock)
        self.n = 0

    def _lr(self, lr0: float, n: int) -> float:
        raise NotImplementedError

    def lr_at(self, n: int) -> list[float]:
        """The learning rate of each group after ``n`` steps (does not change anything)."""
        return [self._lr(lr0, n - start) for lr0, start in zip(self.base_lrs, self.starts)]

    def step(self) -> float:
        """Count one step and set the optimizer's learning rates; returns the (first group's) new lr."""
        self.n += 1
        self._apply()
        return self.optimizer.param_groups[0]["lr"]

    def _apply(self) -> None:
        groups = self.optimizer.param_groups
        for g in groups[len(self.base_lrs) :]:  # added since (add_param_group): lr₀ its lr, counted from now
            self.base_lrs.append(g["lr"])
            self.starts.append(self.n - 1)
        for g, lr in zip(groups, self.lr_at(self.n)):
            g["lr"] = lr

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group now."""
        return [g["lr"] for g in self.optimizer.param_groups]

    @property
    def lr(self) -> float:
        """The first group's learning rate now."""
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict[str, Any]:
        """``{"n", "base_lrs", and the hyperparameters}``."""
        hyper = {k: getattr(self, k) for k in self._hyper}
        return {"n": self.n, "base_lrs": list(self.base_lrs), "starts": list(self.starts), **hyper}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore n, lr₀ and hyperparameters, and set the optimizer's lr to match."""
        if len(state["base_lrs"]) != len(self.optimizer.param_groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: {len(state['base_lrs'])} saved learning rate(s), "
                f"the optimizer has {len(self.optimizer.param_groups)} group(s)"
            )
        self.n = int(state["n"])
        self.base_lrs = [float(v) for v in state["base_lrs"]]
        self.starts = [int(v) for v in state.get("starts", [0] * len(self.base_lrs))]
        for k in self._hyper:
            if k in state:
                setattr(self, k, state[k])
        self._apply()

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._hyper)
        return f"{type(self).__name__}({hyper}, n={self.n}, lr={self.get_last_lr()})"


class InverseTimeDecay(LRSchedule):
    """lr = lr₀ / (1 + decay_rate · n / decay_steps); with ``staircase``, ⌊n / decay_steps⌋.

    The course's α = α₀ / (1 + decay_rate · epoch_num) is ``decay_steps=1``.

    >>> import tinygraph as tg
    >>> from tinygraph.optim import SGD, InverseTimeDecay
    >>> opt = SGD([tg.tensor([0.0], requires_grad=True)], lr=0.2)
    >>> sched = InverseTimeDecay(opt, decay_rate=1.0)
    >>> [round(sched.step(), 6) for _ in range(4)]   # 0.2/2, 0.2/3, 0.2/4, 0.2/5
    [0.1, 0.066667, 0.05, 0.04]
    """

    _hyper = ("decay_rate", "decay_steps", "staircase")

    def __init__(self, optimizer: Optimizer, decay_rate: float, decay_steps: int = 1, staircase: bool = False) -> None:
        super().__init__(optimizer)
        self.decay_rate = _real("InverseTimeDecay", "decay_rate", decay_rate)
        self.decay_steps = _positive_int("InverseTimeDecay", "decay_steps", decay_steps)
        self.staircase = bool(staircase)

    def _lr(self, lr0: float, n: int) -> float:
        k = n // self.decay_steps if self.staircase else n / self.decay_steps
        return lr0 / (1.0 + self.decay_rate * k)


class ExponentialDecay(LRSchedule):
    """lr = lr₀ · γⁿ (the course's α = 0.95^epoch_num · α₀).

    >>> import tinygraph as tg
    >>> from tinygraph.optim import SGD, ExponentialDecay
    >>> opt = SGD([tg.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> sched = ExponentialDecay(opt, gamma=0.5)
    >>> sched.step(), sched.step(), opt.lr
    (0.5, 0.25, 0.25)
    """

    _hyper = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        super().__init__(optimizer)
        self.gamma = _real("ExponentialDecay", "gamma", gamma, strict=True)

    def _lr(self, lr0: float, n: int) -> float:
        return lr0 * self.gamma**n


class InverseSqrtDecay(LRSchedule):
    """lr = lr₀ · k / √(n + 1) (the course's α = k/√epoch_num · α₀, counting epochs from 1).

    With k = 1 the first lr is lr₀ itself.

    >>> import tinygraph as tg
    >>> from tinygraph.optim import SGD, InverseSqrtDecay
    >>> opt = SGD([tg.tensor([0.0], requires_grad=True)], lr=0.6)
    >>> sched = InverseSqrtDecay(opt, k=1.0)
    >>> [round(sched.step(), 6) for _ in range(3)]   # 0.6/√2, 0.6/√3, 0.6/√4
    [0.424264, 0.34641, 0.3]
    """

    _hyper = ("k",)

    def __init__(self, optimizer: Optimizer, k: float = 1.0) -> None:
        super().__init__(optimizer)
        self.k = _real("InverseSqrtDecay", "k", k, strict=True)
        self._apply()

    def _lr(self, lr0: float, n: int) -> float:
        return lr0 * self.k / math.sqrt(n + 1)


class StepDecay(LRSchedule):
    """lr = lr₀ · γ^⌊n / step_size⌋: multiply by γ every ``step_size`` steps (discrete staircase).

    >>> import tinygraph as tg
    >>> from tinygraph.optim import SGD, StepDecay
    >>> opt = SGD([tg.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> sched = StepDecay(opt, step_size=2, gamma=0.1)
    >>> [round(sched.step(), 6) for _ in range(5)]
    [1.0, 0.1, 0.1, 0.01, 0.01]
    """

    _hyper = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = _positive_int("StepDecay", "step_size", step_size)
        self.gamma = _real("StepDecay", "gamma", gamma, strict=True)

    def _lr(self, lr0: float, n: int) -> float:
        return lr0 * self.gamma ** (n // self.step_size)


class CosineDecay(LRSchedule):
    """lr = min_lr + (lr₀ − min_lr) · (1 + cos(π · min(n, T) / T)) / 2 with T = ``total_steps``.

    Falls from lr₀ to ``min_lr`` over T steps along half a cosine, then stays there.

    >>> import tinygraph as tg
    >>> from tinygraph.optim import SGD, CosineDecay
    >>> opt = SGD([tg.tensor([0.0], requires_grad=True)], lr=1.0)
    >>> sched = CosineDecay(opt, total_steps=4)
    >>> [round(sched.step(), 6) for _ in range(5)]
    [0.853553, 0.5, 0.146447, 0.0, 0.0]
    """

    _hyper = ("total_steps", "min_lr")

    def __init__(self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0) -> None:
        super().__init__(optimizer)
        self.total_steps = _positive_int("CosineDecay", "total_steps", total_steps)
        self.min_lr = _real("CosineDecay", "min_lr", min_lr)

    def _lr(self, lr0: float, n: int) -> float:
        frac = min(n, self.total_steps) / self.total_steps
        return self.min_lr + (lr0 - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac))


class LambdaDecay(LRSchedule):
    """lr = lr₀ · fn(n) for any function ``fn`` of the step count (fn(0) is usually 1).

    ``state_dict`` does not include ``fn``; rebuild the schedule with it before loading.

    >>> import tinygraph as tg
    >>> from tinygraph.optim import SGD, LambdaDecay
    >>> opt = SGD([tg.tensor([0.0], requires_grad=True)], lr=0.1)
    >>> sched = LambdaDecay(opt, lambda n: 1.0 if n < 2 else 0.5)
    >>> [sched.step() for _ in range(3)]
    [0.1, 0.05, 0.05]
    """

    def __init__(self, optimizer: Optimizer, fn: Callable[[int], float]) -> None:
        super().__init__(optimizer)
        if not callable(fn):
            raise TypeError(f"LambdaDecay: fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self._apply()

    def _lr(self, lr0: float, n: int) -> float:
        factor = self.fn(n)
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or factor < 0:
            raise ValueError(f"LambdaDecay: fn({n}) must return a non-negative number, got {factor!r}")
        return lr0 * float(factor)


# PyTorch's scheduler names, for the errors of `tg.optim.<name>` and `tg.optim.lr_scheduler.<name>`
TORCH_NAMES = {
    "StepLR": "StepDecay(opt, step_size, gamma)",
    "ExponentialLR": "ExponentialDecay(opt, gamma)",
    "CosineAnnealingLR": "CosineDecay(opt, total_steps=T_max, min_lr=eta_min) (it stays at min_lr after T_max)",
    "LambdaLR": "LambdaDecay(opt, fn) (fn(n) multiplies lr0, as lr_lambda does)",
    "MultiStepLR": "LambdaDecay(opt, lambda n: gamma ** bisect.bisect_right(milestones, n))",
    "ReduceLROnPlateau": "no schedule: set opt.lr yourself when the dev-set cost stops falling",
}


def torch_name_error(module: str, name: str) -> AttributeError:
    """The AttributeError of a missing name in `module`, naming tinygraph's schedule for a PyTorch one."""
    hint = TORCH_NAMES.get(name)
    tail = f"; tinygraph's schedule: {hint}" if hint else ""
    return AttributeError(f"module {module!r} has no attribute {name!r}{tail}")


def __getattr__(name: str) -> Any:
    raise torch_name_error(__name__, name)
