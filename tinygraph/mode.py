"""Grad mode and anomaly mode: per-thread switches that every op reads. No tinygraph imports.

``state.grad_enabled`` says whether ops record a graph in this thread, ``state.anomaly``
whether they are checked for NaN and infinity. ``switches`` counts the switches active in any
thread: while it is 0 the defaults hold everywhere, and `Function.apply` (run for every op)
skips reading the thread-local state (benchmarks/NOTES.md, first round).
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import threading
from collections.abc import Callable
from typing import Any


class _State(threading.local):
    grad_enabled = True
    anomaly = False


state = _State()
switches = 0
_lock = threading.Lock()


def _count(delta: int) -> None:
    global switches
    with _lock:
        switches += delta


def is_grad_enabled() -> bool:
    """Whether ops record a graph in this thread."""
    return state.grad_enabled


class _Switch:
    """Set one field of this thread's state inside a ``with`` block, or around each call of a function.

    Re-entrant (the values it replaced are stacked); as a decorator it makes a fresh switch per
    call, so one decorated function can run in several threads at once.
    """

    def __init__(self, field: str, value: bool) -> None:
        self._field = field
        self._value = bool(value)
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        _count(1)
        self._prev.append(getattr(state, self._field))
        setattr(state, self._field, self._value)

    def __exit__(self, *exc: Any) -> None:
        setattr(state, self._field, self._prev.pop())
        _count(-1)

    def __call__(self, func: Callable) -> Callable:
        field, value = self._field, self._value

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _Switch(field, value):
                return func(*args, **kwargs)

        return wrapper


class set_grad_enabled(_Switch):
    """Turn graph recording on or off: called, at once (``tg.set_grad_enabled(False)``, as PyTorch's);
    as a context manager, for the block; as a decorator, around each call.

    Grad mode is per thread: one thread's ``no_grad`` does not affect another's.

    >>> import tinygraph as tg
    >>> _ = tg.set_grad_enabled(False); tg.is_grad_enabled()
    False
    >>> _ = tg.set_grad_enabled(True); tg.is_grad_enabled()
    True
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        super().__init__("grad_enabled", self.mode)
        self._now = type(self) is set_grad_enabled  # (no_grad() and enable_grad() wait for their block)
        if self._now:  # takes effect at the call; a with block adopts it, a decorator undoes it
            _Switch.__enter__(self)

    def __enter__(self) -> None:
        if self._now:
            self._now = False
        else:
            super().__enter__()

    def __call__(self, func: Callable) -> Callable:
        if self._now:
            self._now = False
            _Switch.__exit__(self)
        return super().__call__(func)


class no_grad(set_grad_enabled):
    """Run without recording a graph (``with tg.no_grad():`` or ``@tg.no_grad()``).

    >>> import tinygraph as tg
    >>> x = tg.tensor(2.0, requires_grad=True)
    >>> with tg.no_grad():
    ...     y = x * x
    >>> y.requires_grad
    False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record a graph again inside a ``no_grad`` block (context manager or decorator)."""

    def __init__(self) -> None:
        super().__init__(True)


class detect_anomaly(_Switch):
    """Check every op's output and every gradient for NaN or inf, and every saved array for writes.

    The first NaN or infinity raises `tinygraph.AnomalyError`, naming the op, the pass
    (forward or backward), the line of your code that created the op, and statistics of
    the op's inputs. Every array an op saves is checksummed, so backward also catches
    writes tinygraph cannot see (through an array taken from ``.data`` before the forward,
    or into a numpy operand). It slows every op down: use it to hunt a bug, not for
    training. Per thread, like grad mode.

    >>> import tinygraph as tg
    >>> x = tg.tensor([1.0, 0.0], requires_grad=True)
    >>> with tg.detect_anomaly():
    ...     y = tg.log(x)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tinygraph.anomaly.AnomalyError: forward pass of op 'log' produced -inf ...
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        super().__init__("anomaly", enabled)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_frame() -> str:
    """The first caller outside tinygraph, as 'file:line in function: source'."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE_DIR):
        f = f.f_back
    if f is None:
        return "<unknown>"
    line = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}" + (f": {line}" if line else "")
