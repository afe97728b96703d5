"""Linear-algebra functions made of other ops: matrix_power, lstsq and norm.

Their gradients, first and second, come from the ops they are made of (matmul, inv, pinv,
svd, abs, sum, max, ...). Each has a ``description`` from `describes`, next to its definition.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from tinygraph.ops import matrix_samplers as ms
from tinygraph.ops._common import norm_axis, pair, to_tensor, value
from tinygraph.ops._matrix import eye, matrices
from tinygraph.ops.decomp import SQUARE_SHAPES, inv, pinv
from tinygraph.ops.describe import Description, describes
from tinygraph.ops.elementwise import abs, astype, sqrt, where
from tinygraph.ops.reduce import max, min, sum
from tinygraph.ops.shape import reshape, transpose
from tinygraph.ops.spectral import svd
from tinygraph.tensor import Tensor


@describes(
    Description(
        "matrix_power",
        args=("n",),
        params=ms.power_params,
        numpy=lambda a, n: np.linalg.matrix_power(a, n),
        torch=lambda t, a, n: t.linalg.matrix_power(a, n),
        source="tg.linalg.matrix_power({0}, {n})",
        shapes=SQUARE_SHAPES,
    )
)
def matrix_power(a: Any, n: int) -> Any:
    """Each square matrix of `a` to the integer power `n`, as ``np.linalg.matrix_power``.

    By repeated squaring; a negative `n` inverts first, and n = 0 gives identities (whose
    gradient is 0).

    >>> import tinygraph as tg
    >>> tg.linalg.matrix_power(tg.tensor([[1.0, 1.0], [0.0, 1.0]]), 3).tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    """
    a = matrices(a, "matrix_power")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"matrix_power: the exponent must be an integer, got {n!r}")
    n = int(n)
    if n == 0:  # identities, still in the graph (with a zero gradient)
        ident = np.broadcast_to(eye(a.shape[-1], value(a).dtype), a.shape)
        return where(np.zeros(a.shape, dtype=bool), a, ident)
    if n < 0:
        a, n = inv(a), -n
    result = z = None
    while n > 0:  # numpy's order of products
        z = a if z is None else z @ z
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else result @ z
    return result


@describes(
    Description(
        "lstsq",
        args=("rcond",),
        inputs=2,
        params=ms.lstsq_params,
        call=lambda a, b: lstsq(a, b)[0],
        numpy=lambda a, b: np.linalg.lstsq(a, b)[0],
        torch=lambda t, a, b: t.linalg.pinv(a) @ b,
        source="tg.linalg.lstsq({0}, {1})[0]",
        shapes=(((3, 2), (3,)), ((3, 2), (3, 2)), ((2, 3), (2,)), ((2, 2), (2, 1))),
        fits=ms.lstsq_fits,
        partner=ms.lstsq_partner,
    )
)
def lstsq(a: Any, b: Any, rcond: float | None = None) -> tuple:
    """The least-squares solution of ``a @ x = b``, as ``np.linalg.lstsq``: ``(x, residuals, rank, s)``.

    a is (M, N) and b (M,) or (M, K), as in numpy (no stacks). x is the minimum-norm solution,
    ``pinv(a, rcond) @ b``; residuals are the sums of squared residuals per column (empty
    unless a has rank N < M); rank is an int; s the singular values of a. x, residuals and s
    are differentiable where the rank does not change. ``rcond`` defaults to float64's eps * max(M, N);
    a negative one means float64's eps (machine precision), as in numpy.

    >>> import tinygraph as tg
    >>> x, res, rank, s = tg.linalg.lstsq(tg.tensor([[1.0], [1.0]]), tg.tensor([1.0, 3.0]))
    >>> [round(v, 12) for v in x.tolist()], [round(v, 12) for v in res.tolist()], rank
    ([2.0], [2.0], 1)
    """
    a, b = pair(a, b, "lstsq")
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ValueError(f"lstsq: a must be (M, N) and b (M,) or (M, K); got a {a.shape} and b {b.shape}")
    m, n = a.shape
    dtype = value(a).dtype if value(a).dtype.kind == "f" else np.dtype(np.float64)
    if rcond is None:  # numpy's default, with float64's eps as numpy computes (also for float32 inputs)
        rcond = float(np.finfo(np.float64).eps) * builtins.max(m, n)
    elif rcond < 0:  # numpy's (and LAPACK's) "machine precision"
        rcond = float(np.finfo(np.float64).eps)
    x = pinv(a, rcond) @ b
    s = svd(a, compute_uv=False)
    sv = value(s)
    rank = int(np.sum(sv > rcond * sv.max())) if sv.size else 0
    if rank == n and m > n:
        r = b - a @ x
        residuals = sum(r * r, axis=0, keepdims=b.ndim == 1)
    else:
        empty = np.zeros(0, dtype=dtype)
        residuals = Tensor._make(empty) if isinstance(x, Tensor) else empty
    return x, residuals, rank, s


# ----- norm -------------------------------------------------------------------------------------------


def _two(x: Any, axis: Any, keepdims: bool) -> Any:
    """sqrt(sum(x^2)) with the gradient 0 (a subgradient) at the zero vector, not 0/0."""
    axes = norm_axis(axis, x.ndim, "norm", x.shape)
    if math.prod(x.shape if axes is None else [x.shape[i] for i in axes]) == 1:
        return sum(abs(x), axis, keepdims)  # one number: its |x| (exact, with the exact second derivative 0)
    s = sum(x * x, axis, keepdims)
    positive = value(s) > 0
    one = np.ones((), dtype=value(s).dtype)
    return where(positive, sqrt(where(positive, s, one)), np.zeros((), dtype=value(s).dtype))


def _keep(y: Any, shape: tuple, axes: tuple, keepdims: bool) -> Any:
    return reshape(y, tuple(1 if i in axes else d for i, d in enumerate(shape))) if keepdims else y


def _vector_norm(x: Any, ord: Any, axis: Any, keepdims: bool) -> Any:  # noqa: A002 - numpy's name
    if ord is None or ord == 2:
        return _two(x, axis, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid order {ord!r} for vectors (input of shape {x.shape})")
    if ord == np.inf:
        return max(abs(x), axis, keepdims)
    if ord == -np.inf:
        return min(abs(x), axis, keepdims)
    if ord == 0:  # a count of the nonzero entries: no gradient
        count = (value(x) != 0).astype(value(x).dtype).sum(axis=axis, keepdims=keepdims)
        return Tensor._make(count) if isinstance(x, Tensor) else count
    if ord == 1:
        return sum(abs(x), axis, keepdims)
    p = float(ord)
    return sum(abs(x) ** p, axis, keepdims) ** (1.0 / p)


def _matrix_norm(x: Any, ord: Any, axes: tuple, keepdims: bool) -> Any:  # noqa: A002
    row, col = axes
    if ord in (None, "fro"):
        return _two(x, axes, keepdims)
    if ord in (2, -2, "nuc"):
        rest = [i for i in range(x.ndim) if i not in axes]
        s = svd(transpose(x, rest + [row, col]), compute_uv=False)
        y = s[..., 0] if ord == 2 else s[..., -1] if ord == -2 else sum(s, -1)
        return _keep(y, x.shape, axes, keepdims)
    if ord in (1, -1):  # the largest (smallest) column sum
        sums = sum(abs(x), row)
        y = (max if ord == 1 else min)(sums, col - 1 if col > row else col)
    elif ord in (np.inf, -np.inf):  # the largest (smallest) row sum
        sums = sum(abs(x), col)
        y = (max if ord > 0 else min)(sums, row - 1 if row > col else row)
    else:
        raise ValueError(f"norm: invalid order {ord!r} for matrices (input of shape {x.shape})")
    return _keep(y, x.shape, axes, keepdims)


@describes(
    Description(
        "norm",
        args=("ord", "axis", "keepdims"),
        params=ms.norm_params,
        numpy=lambda a, **p: np.linalg.norm(a, **p),
        torch=lambda t, a, axis, keepdims, **p: t.linalg.norm(a, p["ord"], axis, keepdims),
        source="tg.linalg.norm({0}, ord={ord}, axis={axis}, keepdims={keepdims})",
        shapes=(((4,),), ((3, 4),), ((2, 3, 4),), ((),), ((3, 1),)),
    )
)
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """A vector or matrix norm, as ``np.linalg.norm``.

    Vector orders (one axis): None or 2, 1, inf (max |x|), -inf (min |x|), 0 (a count of the
    nonzero entries, without gradient), any other p (sum |x|^p)^(1/p). Matrix orders (two
    axes): None or 'fro', 'nuc' (sum of singular values), 1 / -1 (largest / smallest column
    sum of |x|), inf / -inf (row sums), 2 / -2 (largest / smallest singular value). With
    ``axis=None``: the 2-norm of all the entries when ``ord`` is None, else x must be 1-D or 2-D.
    The gradient of the 2-norm at the zero vector is 0; at other kinks (ties of a max, |x| at
    0) it is that of the ops the norm is made of.

    >>> import tinygraph as tg
    >>> x = tg.tensor([[3.0, -4.0], [0.0, 1.0]])
    >>> tg.linalg.norm(x[0]).item(), tg.linalg.norm(x, 1).item(), tg.linalg.norm(x, axis=1).tolist()
    (5.0, 5.0, [5.0, 1.0])
    """
    x = to_tensor(x, "norm")
    if value(x).dtype.kind != "f":
        x = astype(x, np.float64)
    if axis is None:
        if ord is None:
            return _two(x, None, keepdims)
        if x.ndim not in (1, 2):
            raise ValueError(f"norm: with ord={ord!r} and axis=None, x must be 1-D or 2-D, got shape {x.shape}")
        axis = tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(axes) not in (1, 2):
        raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis!r}")
    norm_axis(axes, x.ndim, "norm", x.shape)  # in range, no repeats
    axes = tuple(int(a) % x.ndim for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    return _matrix_norm(x, ord, axes, keepdims)
