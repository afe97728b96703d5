"""Grad mode and anomaly mode: per-thread switches that every op reads. No tinygraph imports.

``state.grad_enabled``: ops record a graph in this thread; ``state.anomaly``: they are checked for
NaN, infinity and writes. ``switches`` has one entry per thread whose modes are off these defaults:
while it is empty, `Function.apply` skips the thread-local read (benchmarks/NOTES.md).
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import threading
from typing import Any


class _State(threading.local):
    grad_enabled = True
    anomaly = False
    off = False  # this thread's modes are off the defaults (it is counted in `switches`)


state = _State()
switches: list = []  # one entry per thread whose modes are off the defaults (append and pop are atomic: no lock)


def _set(field: str, value: bool) -> None:
    """Set one of this thread's modes, and count the thread in `switches` while its modes are off the defaults."""
    setattr(state, field, value)
    off = not state.grad_enabled or state.anomaly
    if off != state.off:
        state.off = off
        if off:
            switches.append(None)
        else:
            switches.pop()


def is_grad_enabled() -> bool:
    """Whether ops record a graph in this thread."""
    return state.grad_enabled


class _Switch:
    """Set one field of this thread's state inside a ``with`` block, or around each call of a function.
    Re-entrant (the values it replaced are stacked); as a decorator, a fresh switch per call (thread-safe)."""

    def __init__(self, field: str, value: bool) -> None:
        self._field, self._value, self._prev = field, bool(value), []

    def __enter__(self) -> None:
        self._prev.append(getattr(state, self._field))
        _set(self._field, self._value)

    def __exit__(self, *exc: Any) -> None:
        _set(self._field, self._prev.pop())

    def __call__(self, func: Any) -> Any:
        field, value = self._field, self._value

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _Switch(field, value):
                return func(*args, **kwargs)

        return wrapper


class no_grad(_Switch):
    """Run without recording a graph (``with tg.no_grad():`` or ``@tg.no_grad()``), in this thread."""

    def __init__(self) -> None:
        super().__init__("grad_enabled", False)


class enable_grad(_Switch):
    """Record a graph again inside a ``no_grad`` block (context manager or decorator)."""

    def __init__(self) -> None:
        super().__init__("grad_enabled", True)


class set_grad_enabled(_Switch):
    """Turn graph recording on or off in this thread, as PyTorch's does: called alone it switches at
    once and stays; ``with tg.set_grad_enabled(b):`` switches back at the block's end; as a decorator
    it switches around each call only."""

    def __init__(self, mode: bool) -> None:
        super().__init__("grad_enabled", mode)
        self._prev.append(state.grad_enabled)  # what a `with` block's end, or the decorator, puts back
        self._pending = True  # the switch made here, not yet taken over by a block or a decorator
        _set("grad_enabled", self._value)

    def __enter__(self) -> None:
        if self._pending:  # the block takes over the switch made by __init__
            self._pending = False
        else:
            super().__enter__()

    def __call__(self, func: Any) -> Any:
        if self._pending:  # a decorator switches around each call, not from its definition on
            self._pending = False
            _set("grad_enabled", self._prev.pop())
        return super().__call__(func)


class detect_anomaly(_Switch):
    """Check every op's output and gradient for NaN or inf, and every saved array for writes: the first
    NaN or infinity raises `tinygraph.AnomalyError`, naming the op, the pass, your line that created the
    op and its inputs' statistics. Saved arrays are checksummed, so backward also catches writes tinygraph
    cannot see (through an array taken from ``.data`` before the forward, or into a numpy operand).
    Slow: for hunting a bug, not for training. Per thread, like grad mode."""

    def __init__(self, enabled: bool = True) -> None:
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
