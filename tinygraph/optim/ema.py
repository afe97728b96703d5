"""Exponentially weighted (moving) averages, with the course's bias correction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygraph.optim.optimizer import check_beta


class ExponentialMovingAverage:
    """A running average v_t = β·v_{t−1} + (1 − β)·θ_t of numbers or arrays (v_0 = 0).

    It averages over roughly the last 1/(1 − β) values (β = 0.9: ~10 values,
    β = 0.98: ~50). Because v starts at 0 the first averages are too small;
    with ``bias_correction=True`` (the default) `value` is v_t / (1 − β^t),
    which removes that start-up bias. `raw` is the uncorrected v_t.

    ``update(x)`` (or calling the object) adds one value and returns the
    current average; `average(xs)` returns the averages of a whole sequence.

    >>> from tinygraph.optim import ExponentialMovingAverage
    >>> ema = ExponentialMovingAverage(0.9)
    >>> ema.update(40.0)          # v1 = 0.1*40 = 4, corrected 4/(1 - 0.9) = 40
    40.0
    >>> round(ema.update(49.0), 4), round(ema.raw, 4)   # v2 = 0.9*4 + 0.1*49 = 8.5; 8.5/0.19
    (44.7368, 8.5)
    >>> ExponentialMovingAverage(0.5, bias_correction=False).average([4.0, 4.0])
    [2.0, 3.0]
    """

    def __init__(self, beta: float = 0.9, bias_correction: bool = True) -> None:
        self.beta = check_beta("ExponentialMovingAverage", "beta", beta)
        self.bias_correction = bool(bias_correction)
        self.reset()

    def reset(self) -> None:
        """Forget every value seen (t = 0, v = 0)."""
        self.t = 0
        self._v: Any = 0.0

    @property
    def raw(self) -> Any:
        """The uncorrected average v_t (0.0 before any update)."""
        return self._v

    @property
    def value(self) -> Any:
        """The current average: v_t / (1 − β^t) with bias correction, else v_t."""
        if self.t == 0:
            raise ValueError("ExponentialMovingAverage.value: no value has been added yet")
        if self.bias_correction:
            return self._v / (1.0 - self.beta**self.t)
        return self._v

    def update(self, x: Any) -> Any:
        """Add one value (a number, array or Tensor) and return the current average."""
        if isinstance(x, (int, float, np.number)) and not isinstance(x, bool):
            x = float(x)
        else:
            x = np.array(x, dtype=float) if not isinstance(x, np.ndarray) else x
            if isinstance(self._v, np.ndarray) and self._v.shape != x.shape:
                raise ValueError(
                    f"ExponentialMovingAverage.update: got shape {x.shape}, earlier values had shape {self._v.shape}"
                )
        self._v = self.beta * self._v + (1.0 - self.beta) * x
        self.t += 1
        return self.value

    __call__ = update

    def average(self, values: Iterable[Any]) -> list[Any]:
        """Update with each of ``values`` in turn; return the list of averages after each."""
        return [self.update(x) for x in values]

    def state_dict(self) -> dict[str, Any]:
        """``{"beta", "bias_correction", "t", "v"}`` (arrays copied)."""
        v = self._v.copy() if isinstance(self._v, np.ndarray) else self._v
        return {"beta": self.beta, "bias_correction": self.bias_correction, "t": self.t, "v": v}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        self.beta = check_beta("ExponentialMovingAverage", "beta", state["beta"])
        self.bias_correction = bool(state["bias_correction"])
        self.t = int(state["t"])
        v = state["v"]
        self._v = v.copy() if isinstance(v, np.ndarray) else v

    def __repr__(self) -> str:
        return f"ExponentialMovingAverage(beta={self.beta}, bias_correction={self.bias_correction}, t={self.t})"
