"""Matrix products."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.function import Function
from tinygraph.ops._common import pair
from tinygraph.ops.shape import Transpose, np_sum_to, reshape, sum_to, transpose
from tinygraph.tensor import Tensor


def _swap_last(t: Tensor) -> Tensor:
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return transpose(t, axes)


class MatMul(Function):
    """Matrix product by numpy's rules: 1-D operands are promoted, leading axes broadcast."""

    name = "matmul"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad or (False, False)
        ctx.save_for_backward(b if na else None, a if nb else None)
        return a._data @ b._data

    @staticmethod
    def backward(ctx, g):
        b, a = ctx.saved_tensors
        x, y = ctx.inputs
        if x.ndim == 2 and y.ndim == 2:  # the common case: no promotion, no batch axes
            return (
                MatMul.apply(g, Transpose.apply(b, None)) if b is not None else None,
                MatMul.apply(Transpose.apply(a, None), g) if a is not None else None,
            )
        # promote 1-D operands to matrices, as the forward did, so one formula serves all cases
        x2 = x if x.ndim > 1 else reshape(x, (1, x.shape[0]))
        y2 = y if y.ndim > 1 else reshape(y, (y.shape[0], 1))
        batch = np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2])
        g = reshape(g, (*batch, x2.shape[-2], y2.shape[-1]))
        ga = gb = None
        if b is not None:
            b2 = b if b.ndim > 1 else reshape(b, (b.shape[0], 1))
            ga = reshape(sum_to(g @ _swap_last(b2), x2.shape), x.shape)
        if a is not None:
            a2 = a if a.ndim > 1 else reshape(a, (1, a.shape[0]))
            gb = reshape(sum_to(_swap_last(a2) @ g, y2.shape), y.shape)
        return ga, gb

    @staticmethod
    def numpy_backward(ctx, g):
        b, a = ctx._saved
        x, y = ctx.inputs[0]._data, ctx.inputs[1]._data
        if x.ndim == 2 and y.ndim == 2:
            return (g @ b._data.T if b is not None else None, a._data.T @ g if a is not None else None)
        x2 = x if x.ndim > 1 else x.reshape(1, -1)
        y2 = y if y.ndim > 1 else y.reshape(-1, 1)
        g = g.reshape(*np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2]), x2.shape[-2], y2.shape[-1])
        ga = np_sum_to(g @ np.swapaxes(y2, -1, -2), x2.shape).reshape(x.shape) if b is not None else None
        gb = np_sum_to(np.swapaxes(x2, -1, -2) @ g, y2.shape).reshape(y.shape) if a is not None else None
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b for 1-D, 2-D and batched operands, as ``np.matmul``.

    >>> import tinygraph as tg
    >>> tg.matmul(tg.tensor([[1.0, 2.0]]), tg.tensor([[3.0], [4.0]])).item()
    11.0
    """
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        x, y = a._data, b._data
        if x.ndim == 2 and y.ndim == 2 and x.shape[1] == y.shape[0]:  # the common case, checked at once
            return MatMul.apply(a, b)
    a, b = pair(a, b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: {a.shape} @ {b.shape}: scalar operands are not allowed, use * instead")
    k1 = a.shape[-1]
    k2 = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k1 != k2:
        raise ValueError(f"matmul: {a.shape} @ {b.shape}: inner dimensions {k1} and {k2} differ")
    return MatMul.apply(a, b)
