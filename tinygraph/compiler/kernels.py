"""Kernels: the hottest ops' forward and vjp as numpy calls that write into a frame's buffers.

Each kernel runs the numpy calls the op's own forward or vjp runs, in the same order, with
``out=`` into an array the frame keeps from call to call (so a replay allocates almost nothing),
and skips the op's Python (the vjp's ``sum_to`` calls, ``needs_input_grad`` tests, ``apply``'s
path for arrays). A kernel is used only where all the step's arrays have one float dtype (numpy's
promotions are then the identity); any other step runs the op's own forward and vjp.

`forward` and `backward` return source lines, or None to leave the step to the op. ``alloc(shape,
dtype, kind)`` names a new buffer of the frame; ``const(value)`` names a constant.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.nn.functional import SoftmaxCrossEntropy, onehot_rows, row_scale
from tinygraph.ops._common import ONE, ZERO

# False: every step runs its op's own forward and vjp (to measure what the kernels buy, and to check them)
enabled = True

UNARY = {"neg": "negative", "exp": "exp", "log": "log", "sqrt": "sqrt", "tanh": "tanh", "abs": "absolute"}
BINARY = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide"}
OPERATOR = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def _same_dtype(step: Any) -> bool:
    """Whether the step's output and every array argument have one float dtype."""
    dt = step.out.dtype
    if dt.kind != "f":
        return False
    for kind, v in step.args:
        if kind == "slot" and v.dtype != dt:
            return False
        if kind == "const" and isinstance(v, np.ndarray) and v.dtype != dt:
            return False
    return True


def _arrays(step: Any, n: int) -> bool:
    return len(step.args) >= n and all(
        k == "slot" or (k == "const" and isinstance(v, np.ndarray)) for k, v in step.args[:n]
    )


def _zero_d(step: Any) -> bool:
    """Whether the step's array arguments are all 0-d (slots, or constant arrays)."""
    n = 1 if step.fn.name == "neg" else 2
    return len(step.args) == n and all(
        (k == "slot" and v.shape == ()) or (k == "const" and isinstance(v, np.ndarray) and v.shape == ())
        for k, v in step.args
    )


# `SoftmaxCrossEntropy`'s forward on arrays, the op's own: (the loss, the log-softmax kept for the vjp)
sce_forward = SoftmaxCrossEntropy.values


def sce_backward(g: Any, logp: np.ndarray, onehot: np.ndarray, n: Any, reduction: str, out: Any) -> np.ndarray:
    """Its vjp, (softmax - one-hot) * g (divided by the batch size `n`, a 0-d array, for the mean), from
    the forward's log-softmax: the op's own numpy calls (its `onehot_rows` made once when the trace fixed
    the labels), into `out`."""
    e = np.exp(logp, out) if out is not None else np.exp(logp)
    np.subtract(e, onehot, e)
    scale = row_scale(g, n, reduction)
    return np.multiply(e, scale, e) if out is not None else e * scale  # (a fresh one in numpy's dtype, as eager's)


def _sce(step: Any) -> bool:
    return (
        step.fn.name == "cross_entropy"
        and step.fn.__module__ == "tinygraph.nn.functional"
        and step.args[0][0] == "slot"
        and step.args[0][1].dtype.kind == "f"
        and step.args[2][0] == "const"
    )


def forward(step: Any, args: list[str], out: str, into: str | None, const: Any, alloc: Any) -> list[str] | None:
    """The lines computing `out` (into buffer `into` when not None), or None."""
    if not enabled:
        return None
    name = step.fn.name
    if _sce(step):
        return [f"{out}, S{step.index} = sce_forward({', '.join(args)})  # cross_entropy"]
    if not _same_dtype(step):
        return None
    o = f", {into}" if into else ""
    dst = into or out
    if step.out.shape == () and (name == "neg" or name in BINARY) and _zero_d(step):
        # numpy scalars in, a numpy scalar out: its scalar arithmetic, a tenth of a ufunc call's
        # cost, with the same IEEE operation (the forward keeps 0-d values as scalars, no buffers)
        a = [const(v[()]) if k == "const" else n for (k, v), n in zip(step.args, args)]
        if name == "neg":
            return [f"{out} = -{a[0]}  # neg"]
        return [f"{out} = {a[0]} {OPERATOR[name]} {a[1]}  # {name}"]
    if name in UNARY and _arrays(step, 1):
        return [f"{out} = np.{UNARY[name]}({args[0]}{o})  # {name}"]
    if name == "relu" and _arrays(step, 1):
        o = f", out={into}" if into else ""  # (np.maximum takes out only by keyword)
        return [f"{out} = np.maximum({args[0]}, {const(ZERO[step.out.dtype])}{o})  # relu"]
    if name in BINARY and _arrays(step, 2):
        return [f"{out} = np.{BINARY[name]}({args[0]}, {args[1]}{o})  # {name}"]
    if name == "matmul" and _arrays(step, 2) and all(a[1].ndim == 2 for a in _shapes(step)):
        return [f"{out} = np.matmul({args[0]}, {args[1]}{o})  # matmul"]
    if name == "sum" and _arrays(step, 1) and len(step.args) == 3:
        axes, keep = step.args[1][1], step.args[2][1]
        o = f", out={into}" if into else ""
        return [f"{out} = np.add.reduce({args[0]}, axis={axes!r}, keepdims={keep!r}{o})  # sum"]
    if name == "sigmoid" and _arrays(step, 1) and into:
        dt = step.out.dtype
        e = alloc(step.out.shape, dt)
        one, zero = const(ONE[dt]), const(ZERO[dt])
        x = args[0]
        # eager's sigmoid: e = exp(-|x|), r = 1 / (1 + e), then r where x >= 0 and e * r where x < 0.
        # The last step here is r * exp(min(x, 0)): the same bits (for x < 0, -|x| is x exactly, so
        # exp(x) is e; elsewhere r * 1), without a masked multiply (``where=``), which costs more than
        # the exp it saves (benchmarks/NOTES.md, nineteenth round).
        return [
            f"np.exp(np.negative(np.absolute({x}, {e}), {e}), {e})  # sigmoid",
            f"np.divide({one}, np.add({one}, {e}, {dst}), {dst})",
            f"np.multiply({dst}, np.exp(np.minimum({x}, {zero}, out={e}), {e}), {dst})",
            f"{out} = {dst}",
        ]
    return None


class _Shape:
    def __init__(self, shape: tuple) -> None:
        self.shape, self.ndim = shape, len(shape)


def _shapes(step: Any) -> list:
    out = []
    for kind, v in step.args:
        out.append((kind, _Shape(v.shape if kind == "slot" else np.shape(v))))
    return out


def _sum_to(src: str, shape: tuple, to: tuple, dst: str | None, alloc: Any, dtype: Any) -> tuple[str, list[str]]:
    """`SumTo`'s forward on `src` (of `shape`) to `to`: (the expression of the result, the lines before it)."""
    lead = len(shape) - len(to)
    stretched = tuple(lead + i for i, n in enumerate(to) if n == 1 and shape[lead + i] != 1)
    lines: list[str] = []
    cur = src
    if stretched:
        kept = tuple(1 if i in stretched else n for i, n in enumerate(shape))
        target = dst if not lead else alloc(kept, dtype)
        call = f"np.add.reduce({cur}, axis={stretched}, keepdims=True"
        if target is None:
            return call + ")", lines
        lines.append(call + f", out={target})")
        cur = target
    if lead:
        call = f"np.add.reduce({cur}, axis={tuple(range(lead))}"
        if dst is None:
            return call + ")", lines
        lines.append(call + f", out={dst})")
    return dst, lines


def summed_back(g: str, shape: tuple, axes: Any, keep: bool) -> str:
    """`g`, the gradient of a sum of an array of `shape` over `axes`, with the summed axes put back
    as 1s (a view that broadcasts against the array), as sum's vjp does."""
    if keep or axes is None:
        return g
    return f"{g}.reshape({tuple(1 if i in axes else n for i, n in enumerate(shape))})"


def backward(
    step: Any, g: str, wanted: list, args: list[str], out: str, into: Any, alloc: Any, const: Any
) -> list[tuple[int, str, list[str], bool]] | None:
    """The gradient of each wanted input as (input position, expression, lines before it, what it is).

    What it is: "buffer" (the frame's memory), "fresh" (a new array) or "alias" (`g` itself).

    `into(slot_index)` gives the buffer to write slot's gradient into, or None when it must be a
    fresh array (a leaf's gradient is handed to the user). None when no kernel applies.
    """
    if not enabled:
        return None
    name = step.fn.name
    if _sce(step) and wanted == [(0, wanted[0][1])]:
        dst = into(wanted[0][1])
        (kind, labels), z = step.args[1], step.args[0][1]
        shape, dt = z.shape, z.dtype
        if kind == "const":  # labels fixed by the trace: their one-hot made once
            onehot = const(onehot_rows(labels, shape, dt))
        else:
            onehot = f"onehot_rows({args[1]}, {shape}, {const(dt)})"
        n = const(np.array(shape[0], dt))
        expr = f"sce_backward({g}, S{step.index}, {onehot}, {n}, {args[2]}, {dst})"
        return [(0, expr, [], "buffer" if dst else "fresh")]
    if not _same_dtype(step) or not wanted:
        return None
    dt = step.out.dtype
    shape = step.out.shape
    res = []
    if name in ("tanh", "sigmoid") and _arrays(step, 1):
        k, j = wanted[0]
        t = alloc(shape, dt)
        one = const(ONE[dt])
        dst = into(j)
        if name == "tanh":  # g * (1 - y * y)
            pre = [f"np.subtract({one}, np.multiply({out}, {out}, {t}), {t})"]
        else:  # g * (y * (1 - y))
            pre = [f"np.multiply({out}, np.subtract({one}, {out}, {t}), {t})"]
        expr = f"np.multiply({g}, {t}" + (f", {dst})" if dst else ")")
        return [(k, expr, pre, "buffer" if dst else "fresh")]
    if name == "relu" and _arrays(step, 1):
        k, j = wanted[0]
        mask = alloc(shape, np.bool_)
        dst = into(j)
        zero = const(ZERO[dt])
        pre = [f"np.greater({out}, {zero}, {mask})"]  # (y > 0 where x > 0: the input's buffer is free for y)
        return [(k, f"np.multiply({g}, {mask}" + (f", {dst})" if dst else ")"), pre, "buffer" if dst else "fresh")]
    if name == "sum" and len(step.args) == 3:  # the gradient repeated along the summed axes
        k, j = wanted[0]
        a_shape, axes, keep = step.args[0][1].shape, step.args[1][1], step.args[2][1]
        src = summed_back(g, a_shape, axes, keep)
        dst = into(j)
        if dst is None:  # (a buffer of its own: the program copies it if it is handed out)
            dst = alloc(a_shape, dt)
        return [(k, dst, [f"{dst}[...] = {src}"], "buffer")]
    if name in ("neg", "exp", "log") and _arrays(step, 1):
        k, j = wanted[0]
        dst = into(j)
        o = f", {dst})" if dst else ")"
        expr = {
            "neg": f"np.negative({g}{o}",
            "exp": f"np.multiply({g}, {out}{o}",
            "log": f"np.divide({g}, {args[0]}{o}",
        }
        return [(k, expr[name], [], "buffer" if dst else "fresh")]
    if name == "matmul" and _arrays(step, 2) and all(s.ndim == 2 for _, s in _shapes(step)):
        for k, j in wanted:
            dst = into(j)
            o = f", {dst})" if dst else ")"
            expr = f"np.matmul({g}, {args[1]}.T{o}" if k == 0 else f"np.matmul({args[0]}.T, {g}{o}"
            res.append((k, expr, [], "buffer" if dst else "fresh"))
        return res
    if name in BINARY and _arrays(step, 2):
        shapes = [tuple(s.shape) for _, s in _shapes(step)]
        for k, j in wanted:
            to, dst = shapes[k], into(j)
            same = to == tuple(shape)
            pre: list[str] = []
            if name == "add" or (name == "sub" and k == 0):
                elem = None  # the gradient passes through
            elif name == "sub":
                elem = f"np.negative({g}"
            elif name == "mul":
                elem = f"np.multiply({g}, {args[1 - k]}"
            elif k == 0:
                elem = f"np.divide({g}, {args[1]}"
            else:  # div's second input: -g * a / (b * b), as its vjp computes it
                t, bb = alloc(shape, dt), alloc(shapes[1], dt)
                pre.append(f"np.multiply(np.negative({g}, {t}), {args[0]}, {t})")
                elem = f"np.divide({t}, np.multiply({args[1]}, {args[1]}, {bb})"
            if same:
                if elem is None:
                    res.append((k, g, pre, "alias"))
                else:
                    res.append((k, elem + (f", {dst})" if dst else ")"), pre, "buffer" if dst else "fresh"))
                continue
            src = g
            if elem is not None:
                src = alloc(shape, dt)
                pre.append(elem + f", {src})")
            expr, lines = _sum_to(src, shape, to, dst, alloc, dt)
            res.append((k, expr, pre + lines, "buffer" if dst else "fresh"))
        return res
    return None
