"""Anomaly reporting: the first NaN or infinity an op or a vjp produces, with the op, the pass and your line.

Under `mode.detect_anomaly`, `Function.apply` calls `check_forward` on every op's output and the walk
calls `check_backward` (its observer) on every gradient a vjp returns. Neither changes a value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph import mode


class AnomalyError(RuntimeError):
    """Raised under ``detect_anomaly()`` at the first NaN or infinity an op produces. It carries ``node``
    (the `Context`, or None without a graph; the viz pictures can ``mark=`` it), ``op``, ``pass_``
    (``"forward"`` or ``"backward"``), ``created_at`` (your line that created the op), ``input_index``
    (backward: the input whose gradient went bad) and ``value`` (``"NaN"``, ``"inf"`` or ``"-inf"``).

    >>> import tinygraph as tg
    >>> x = tg.tensor([4.0, 0.0], requires_grad=True)
    >>> y = tg.sqrt(x).sum()
    >>> try:
    ...     with tg.detect_anomaly():
    ...         y.backward()
    ... except tg.AnomalyError as e:
    ...     print(e.pass_, e.op, e.value, e.input_index)
    backward sqrt inf 0
    """

    def __init__(self, message: str, node: Any = None, op: str = "", pass_: str = "", **where: Any) -> None:
        super().__init__(message)
        self.node, self.op, self.pass_ = node, op, pass_
        self.created_at, self.value = where.get("created_at", ""), where.get("value", "")
        self.input_index = where.get("input_index")


def summary(x: Any) -> str:
    """Shape, dtype and statistics of an array or Tensor (counting NaN and infinities), for messages."""
    a = getattr(x, "_data", x)
    a = np.asarray(a) if isinstance(a, np.generic) else a
    if not isinstance(a, np.ndarray):
        return repr(x) if isinstance(x, (int, float, str, type(None))) else type(x).__name__
    if a.dtype.kind not in "fiub" or a.size == 0:
        return f"shape {a.shape} {a.dtype}"
    with np.errstate(all="ignore"):
        ok = a[np.isfinite(a)]
        stats = f"min {ok.min():.4g}, max {ok.max():.4g}, mean {ok.mean():.4g}" if ok.size else "no finite values"
    bad = ""
    if a.dtype.kind == "f" and ok.size != a.size:
        counts = (("NaN", np.isnan(a)), ("inf", np.isposinf(a)), ("-inf", np.isneginf(a)))
        bad = "".join(f", {int(m.sum())} {label}" for label, m in counts if m.any())
    return f"shape {a.shape} {a.dtype}: {stats}{bad}"


def first_bad(a: Any) -> str | None:
    """'NaN', 'inf' or '-inf' if the array holds one (NaN first), else None."""
    a = np.asarray(a)
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return None
    return "NaN" if np.isnan(a).any() else "-inf" if np.isneginf(a).any() else "inf"


def _inputs(args: Any) -> str:
    return "\n".join(f"  input {i}: {summary(a)}" for i, a in enumerate(args))


def check_forward(name: str, args: tuple, out: np.ndarray, node: Any) -> None:
    """Raise `AnomalyError` if op `name` produced NaN or inf."""
    bad = first_bad(out)
    if bad:
        at = node.created_at if node is not None else mode.user_frame()
        msg = f"forward pass of op {name!r} produced {bad} (output {summary(out)})\n  created at {at}\n{_inputs(args)}"
        raise AnomalyError(msg, node, name, "forward", created_at=at, value=bad)


def check_backward(node: Any, out: Any, g: Any, grads: tuple) -> None:
    """The walk's observer under anomaly mode: raise `AnomalyError` if a vjp returned NaN or inf."""
    for i, (gp, need) in enumerate(zip(grads, node.needs_input_grad)):
        bad = first_bad(getattr(gp, "_data", gp)) if need and gp is not None else None
        if bad:
            at = node.created_at or "<unknown: the op was created outside detect_anomaly; run the forward in it too>"
            msg = (
                f"backward pass of op {node.name!r} produced {bad} in the gradient for input {i} ({summary(gp)})\n"
                f"  created at {at}\n{_inputs(node.inputs)}\n  gradient of its output: {summary(g)}"
            )
            raise AnomalyError(msg, node, node.name, "backward", created_at=at, input_index=i, value=bad)
