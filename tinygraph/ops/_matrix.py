"""What the linear-algebra ops share: checks of matrix operands, LAPACK errors that name the op,
matrix helpers written in tinygraph's functions (so a vjp built from them is differentiable
again), and the packing of several results into one output.

Every helper takes ndarrays or Tensors and gives back the same kind, like tinygraph's functions.

Several results, one node. The engine's node has one output, so an op with several results
(``eigh``'s values and vectors, ``svd``'s U, S and Vh) returns them side by side in one array:
each result flattened over its matrix axes and joined along the last axis (`pack`). The public
function cuts that array back into its results with slices and reshapes (`unpack`), which are
ordinary differentiable ops, so the op's one vjp receives every result's gradient at once
(zeros for the results a loss does not use) and runs one decomposition's formula.

>>> import numpy as np
>>> w, v = np.arange(2.0), np.arange(4.0).reshape(2, 2)
>>> packed = pack([w, v], ())
>>> packed.tolist()
[0.0, 1.0, 0.0, 1.0, 2.0, 3.0]
>>> [p.shape for p in unpack(packed, (), [(2,), (2, 2)])]
[(2,), (2, 2)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygraph.ops._common import to_tensor, value
from tinygraph.ops.elementwise import where

LinAlgError = np.linalg.LinAlgError  # a ValueError: numpy's own, so `except np.linalg.LinAlgError` works


# ----- operands and errors -----------------------------------------------------------------------


def matrices(a: Any, op: str, square: bool = True) -> Any:
    """`a` as an op's operand: a matrix or a stack of matrices (square ones if `square`), of floats."""
    a = to_tensor(a, op)
    if a.ndim < 2:
        raise ValueError(f"{op}: expected a matrix or a stack of matrices (at least 2 axes), got shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{op}: matrices must be square, got shape {a.shape}")
    return a


def lapack(op: str, fn: Callable, shape: tuple, reason: str) -> Any:
    """Run ``fn()`` (a numpy.linalg call); a LinAlgError becomes one that names the op, the shape and why."""
    try:
        return fn()
    except LinAlgError:
        raise LinAlgError(f"{op}: {reason} (input of shape {shape})") from None


def ill_conditioned(a: np.ndarray) -> bool:
    """Whether some matrix of the stack `a` is singular or too close to it for a formula with its inverse.

    The condition number above 1/sqrt(eps) of the dtype (6.7e7 in float64): an inverse then
    carries at most half the digits.
    """
    if a.shape[-1] == 0:
        return False
    with np.errstate(all="ignore"):
        cond = np.linalg.cond(a)
    return bool(np.any(~np.isfinite(cond) | (cond > 1 / math.sqrt(np.finfo(a.dtype).eps))))


# ----- matrix helpers (ndarrays or Tensors in, the same out) ----------------------------------------


def mT(x: Any) -> Any:
    """The matrices of `x` transposed (its last two axes swapped)."""
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return x.transpose(tuple(axes))


def eye(n: int, dtype: Any) -> np.ndarray:
    return np.eye(n, dtype=dtype)


def diagonal(x: Any) -> Any:
    """The diagonals of the (square) matrices of `x`: shape (..., n)."""
    return (x * eye(x.shape[-1], value(x).dtype)).sum(axis=-1)


def diag_embed(v: Any) -> Any:
    """Diagonal matrices with the last axis of `v` on their diagonals: shape (..., n, n)."""
    n = v.shape[-1]
    return v.reshape(tuple(v.shape[:-1]) + (1, n)) * eye(n, value(v).dtype)


def triangle(n: int, dtype: Any, lower: bool, strict: bool) -> np.ndarray:
    """A 0/1 mask of the lower (or upper) triangle of an n x n matrix, with or without the diagonal."""
    ones = np.ones((n, n), dtype=dtype)
    if lower:
        return np.tril(ones, -1 if strict else 0)
    return np.triu(ones, 1 if strict else 0)


def read_triangle_gradient(g: Any, lower: bool) -> Any:
    """The gradient with respect to the input of an op that reads only one triangle of it (eigh, cholesky).

    `g` is the gradient with respect to the symmetric matrix the op sees (any square matrix
    whose pairing with a symmetric change gives the change of the loss). Entry (i, j) of the
    triangle stands for both (i, j) and (j, i) of that matrix, so it gets g_ij + g_ji; the
    diagonal gets g_ii, and the other triangle, which the op never reads, gets 0.
    """
    n = g.shape[-1]
    dtype = value(g).dtype
    return (g + mT(g)) * triangle(n, dtype, lower, strict=True) + g * eye(n, dtype)


def inverse_gaps(x: Any, tol: float) -> Any:
    """``F[..., i, j] = 1 / (x_j - x_i)`` for i != j, and 0 on the diagonal and where |x_j - x_i| <= tol.

    The vectors' part of the eigh and svd gradients; the terms between (numerically) equal values,
    where the vectors are not unique and their derivative does not exist, are left out.
    """
    n = x.shape[-1]
    lead = tuple(x.shape[:-1])
    d = x.reshape(lead + (1, n)) - x.reshape(lead + (n, 1))
    dv = value(d)
    tol = np.asarray(tol)[..., None] if np.ndim(tol) else tol  # (a tolerance per matrix: over its rows too)
    equal = (np.abs(dv) <= tol) | np.eye(n, dtype=bool)
    zero = np.zeros((), dtype=dv.dtype)
    return where(equal, zero, 1 / where(equal, np.ones((), dtype=dv.dtype), d))


def spread_tol(x: np.ndarray) -> Any:
    """How close two eigenvalues or singular values must be to count as equal: rounding of the largest,
    per matrix of a batch (shape ``(..., 1)``: one scale for a whole stack zeroed a small matrix's terms)."""
    if x.size == 0:
        return 0.0
    return np.finfo(x.dtype).eps * x.shape[-1] * np.abs(x).max(axis=-1, keepdims=True)


# ----- several results in one output --------------------------------------------------------------


def pack(parts: Sequence[np.ndarray], batch: tuple) -> np.ndarray:
    """Arrays of batch shape `batch` (and any matrix shapes), flattened past it and joined along one axis."""
    return np.concatenate([p.reshape(batch + (math.prod(p.shape[len(batch) :]),)) for p in parts], axis=-1)


def unpack(packed: Any, batch: tuple, shapes: Sequence[tuple]) -> list:
    """The results `pack` joined, as slices of `packed` reshaped to batch + each of `shapes`."""
    out, start = [], 0
    for s in shapes:
        size = math.prod(s)
        out.append(packed[..., start : start + size].reshape(batch + tuple(s)))
        start += size
    return out
