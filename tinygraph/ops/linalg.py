"""Matrix products (with the ``description`` of matmul: see `tinygraph.ops.describe`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.ops import samplers
from tinygraph.ops._common import Op, pair
from tinygraph.ops.describe import Description, described
from tinygraph.ops.shape import sum_to
from tinygraph.tensor import Tensor


def _swap_last(t: Any) -> Any:
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return t.transpose(axes)


@described
class MatMul(Op):
    """Matrix product by numpy's rules: 1-D operands are promoted, leading axes broadcast."""

    name = "matmul"
    reads = ((1,), (0,))
    description = Description(
        inputs=2,
        params=samplers.matrix_product,
        call=lambda a, b: a @ b,
        numpy=np.matmul,
        torch=lambda t, a, b: a @ b,
        source="{0} @ {1}",
        shapes=(
            ((3, 4), (4, 2)),
            ((4,), (4, 2)),
            ((3, 4), (4,)),
            ((4,), (4,)),
            ((2, 3, 4), (4, 5)),
            ((2, 1, 3, 4), (5, 4, 2)),
        ),
        fits=samplers.matmul_fits,
        partner=samplers.matmul_partner,
    )

    @staticmethod
    def forward(ctx, a, b):
        return a @ b

    @staticmethod
    def backward(ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case: no promotion, no batch axes
            return (g @ b.T if na else None, a.T @ g if nb else None)
        # promote 1-D operands to matrices, as the forward did, so one formula serves all cases
        a2 = a if a.ndim > 1 else a.reshape(1, a.shape[0])
        b2 = b if b.ndim > 1 else b.reshape(b.shape[0], 1)
        g = g.reshape(*np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]), a2.shape[-2], b2.shape[-1])
        ga = sum_to(g @ _swap_last(b2), a2.shape).reshape(a.shape) if na else None
        gb = sum_to(_swap_last(a2) @ g, b2.shape).reshape(b.shape) if nb else None
        return ga, gb


def matmul(a: Any, b: Any) -> Any:
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
