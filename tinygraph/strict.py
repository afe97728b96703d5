"""``with tg.strict_shapes():`` — a teaching aid that turns broadcasting surprises into errors.

The course's advice, "don't use rank-1 arrays; throw in assertions", as a switch. Inside the
block, a binary elementwise op written in your code (``+ - * / **``, ``maximum``, ``minimum``)
raises a ValueError, naming the op, both shapes and your source line, when

- it broadcasts *both* operands, so the result is bigger than either: ``Y`` of shape (400, 1)
  times ``A`` of shape (1, 400) is a (400, 400) outer product, and a cost summed over it is wrong;
- a rank-1 array (shape ``(n,)``, n > 1) meets one of two or more dimensions, which broadcasts
  it along rows when a column was meant.

Broadcasting one operand to the other's shape (a bias ``(n, 1)`` added to ``(n, m)``, a number
times a matrix) passes, and so do the ops inside tinygraph's layers and losses (they check
their own shapes). Off, it costs the binary ops one test of a module flag; per thread, like
grad mode.

>>> import tinygraph as tg, numpy as np
>>> Y, A = np.ones((4, 1)), tg.tensor(np.full((1, 4), 0.5))
>>> with tg.strict_shapes():
...     J = (Y * tg.log(A)).sum()  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: mul: strict_shapes: (4, 1) and (1, 4) broadcast to (4, 4): both operands are stretched ...
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any

import numpy as np

from tinygraph import mode


class _State(threading.local):
    on = False


state = _State()
active = 0  # strict_shapes blocks open in any thread: the ops look at the thread's state only when > 0
_lock = threading.Lock()
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_ENGINE = tuple(os.path.join(_PACKAGE, p) for p in ("ops" + os.sep, "function.py", "strict.py", "numpy_dispatch.py"))


class strict_shapes(contextlib.ContextDecorator):
    """Raise where an elementwise op in your code broadcasts both operands or meets a rank-1 array (see the module)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = bool(enabled)
        self._prev: list[bool] = []

    def __enter__(self) -> strict_shapes:
        global active
        with _lock:
            active += 1
        self._prev.append(state.on)
        state.on = self.enabled
        return self

    def __exit__(self, *exc: Any) -> None:
        global active
        state.on = self._prev.pop()
        with _lock:
            active -= 1


def _called_from_user_code() -> bool:
    """Whether the op was written in the user's code, not in tinygraph's layers, losses or backward."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_ENGINE):
        f = f.f_back
    return f is not None and not f.f_code.co_filename.startswith(_PACKAGE)


def check(op: str, a: Any, b: Any) -> None:
    """Raise if strict shapes are on in this thread and `a` op `b` broadcasts both or mixes rank 1 with 2-D+."""
    if not state.on:
        return
    sa, sb = np.shape(a), np.shape(b)
    if sa == sb:
        return
    out = np.broadcast_shapes(sa, sb)  # (a mismatch raises numpy's error, which the op reports)
    rank1 = next((s for s in (sa, sb) if len(s) == 1 and s[0] > 1), None)
    if out != sa and out != sb:
        why = f"broadcast to {out}: both operands are stretched (an outer product)"
    elif rank1 is not None and max(len(sa), len(sb)) >= 2:
        why = f"a rank-1 array of shape {rank1} meets a {max(len(sa), len(sb))}-D one (broadcast to {out})"
    else:
        return
    if not _called_from_user_code():
        return
    raise ValueError(
        f"{op}: strict_shapes: {sa} and {sb} {why}, at {mode.user_frame()}. "
        "Reshape the operands to the shape you mean (e.g. Y.reshape(1, -1), x.reshape(-1, 1))"
    )
