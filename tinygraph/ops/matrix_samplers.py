"""Inputs and parameters for the linear-algebra ops' descriptions (see `tinygraph.ops.samplers`).

A draw, ``draw(rng, shape)``, gives the inputs `tinygraph gradcheck` and the op table check an
op at (invertible, symmetric positive definite, ...). A parameter sampler, ``params(rng,
arrays, margin)``, also judges values a random program made: it gives None where the op is not
defined or not smooth enough for finite differences (a singular or badly conditioned matrix,
eigenvalues or singular values closer than a gap, a kink of a norm within `margin`).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> a = invertible(rng, (3, 3))
>>> invertible_params(rng, [a], 1e-3), invertible_params(rng, [np.ones((2, 2))], 1e-3)
({}, None)
"""

from __future__ import annotations

import numpy as np

MAX_COND = 50.0  # condition numbers above this are refused: an inverse amplifies rounding by it
MIN_GAP = 0.05  # eigenvalues and singular values this close are refused: their vectors' gradient grows as 1/gap


def _square(x: np.ndarray) -> bool:
    return x.ndim >= 2 and x.shape[-1] == x.shape[-2] and x.shape[-1] > 0


def _svals(x: np.ndarray) -> np.ndarray:
    return np.linalg.svd(x, compute_uv=False)


def _conditioned(x: np.ndarray, floor: float = 0.2) -> bool:
    """Every matrix of the stack has a condition number below MAX_COND and no singular value below `floor`."""
    if x.size == 0:
        return False
    s = _svals(x)
    return bool(np.all(s[..., -1] > floor) and np.all(s[..., 0] < MAX_COND * s[..., -1]))


def _gapped(values: np.ndarray, gap: float) -> bool:
    """Sorted values (along the last axis) that are all more than `gap` apart."""
    if values.shape[-1] < 2:
        return True
    return bool(np.all(np.abs(np.diff(values, axis=-1)) > gap))


def read_symmetric(x: np.ndarray, lower: bool) -> np.ndarray:
    """The symmetric matrices an op that reads one triangle of `x` sees."""
    t = np.tril(x) if lower else np.triu(x)
    return t + np.swapaxes(np.tril(x, -1) if lower else np.triu(x, 1), -1, -2)


# ----- draws ---------------------------------------------------------------------------------------


def invertible(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Matrices near a multiple of the identity (condition numbers around 3), with random signs of det."""
    x = np.asarray(rng.standard_normal(shape), dtype=np.float64)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        return x
    n = shape[-1]
    x = x * (0.5 / np.sqrt(n)) + 1.5 * np.eye(n)
    sign = np.where(rng.random(shape[:-2] + (1, 1)) < 0.5, -1.0, 1.0)
    return _flip(x, sign)


def _flip(x: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """`x` with the first row of each matrix times `sign` (so det takes both signs)."""
    rows = np.ones(x.shape[:-1] + (1,))
    rows[..., 0, :] = sign[..., 0, :]
    return x * rows


def spd(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Symmetric positive definite matrices: B B^T / n + I / 2."""
    b = np.asarray(rng.standard_normal(shape), dtype=np.float64)
    n = shape[-1]
    return b @ np.swapaxes(b, -1, -2) / n + 0.5 * np.eye(n)


# ----- parameters ---------------------------------------------------------------------------------


def invertible_params(rng, arrays, margin):
    """inv, slogdet: square matrices that are well conditioned (condition number below 50)."""
    x = arrays[0]
    return {} if _square(x) and _conditioned(x) else None


def det_params(rng, arrays, margin):
    """det: square matrices away from singular (smallest singular value above 0.05).

    det is a polynomial and its gradient here is exact at singular matrices too (tests cover
    them), but PyTorch's reference goes through an SVD there: its second derivative is NaN.
    """
    x = arrays[0]
    return {} if _square(x) and x.shape[-1] <= 4 and np.all(_svals(x)[..., -1] > MIN_GAP) else None


def solve_fits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``solve(a, b)`` is defined: square a, and b a vector (M,) or stacked matrices (..., M, K)."""
    if not _square(a) or b.ndim == 0 or b.shape[-1 if b.ndim == 1 else -2] != a.shape[-1]:
        return False
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        return False
    return True


def solve_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    """A right-hand side for matrices of `shape`: a vector or a few columns."""
    n = shape[-1] if shape else 2
    return (n,) if rng.random() < 0.4 else (n, int(rng.integers(1, 4)))


def solve_params(rng, arrays, margin):
    """solve: a well-conditioned square a and a right-hand side that fits it."""
    a, b = arrays
    return {} if solve_fits(a, b) and _conditioned(a) else None


def cholesky_params(rng, arrays, margin):
    """cholesky: the triangle read (lower, or upper when ``upper``) makes a well-conditioned positive definite matrix."""
    x = arrays[0]
    if not _square(x):
        return None
    upper = bool(rng.random() < 0.3)
    s = np.linalg.eigvalsh(read_symmetric(x, not upper))
    ok = np.all(s[..., 0] > 0.1) and np.all(s[..., -1] < MAX_COND * s[..., 0])
    return {"upper": upper} if ok else None


def eigh_params(rng, arrays, margin):
    """eigh: the triangle read (UPLO) has eigenvalues more than 0.05 apart."""
    x = arrays[0]
    if not _square(x):
        return None
    uplo = "U" if rng.random() < 0.3 else "L"
    w = np.linalg.eigvalsh(read_symmetric(x, uplo == "L"))
    return {"UPLO": uplo} if _gapped(w, max(MIN_GAP, margin)) else None


def svd_params(rng, arrays, margin):
    """svd: singular values more than 0.05 apart and above 0.05 (their vectors' gradient has 1/s)."""
    x = arrays[0]
    if x.ndim < 2 or 0 in x.shape[-2:]:
        return None
    s = _svals(x)
    return {} if _gapped(s, max(MIN_GAP, margin)) and np.all(s > MIN_GAP) else None


def qr_params(rng, arrays, margin):
    """qr: the first min(M, N) columns well conditioned (R's diagonal away from 0)."""
    x = arrays[0]
    if x.ndim < 2 or 0 in x.shape[-2:]:
        return None
    k = min(x.shape[-2:])
    return {} if _conditioned(x[..., :, :k], 0.1) else None


def pinv_params(rng, arrays, margin):
    """pinv: well-conditioned matrices of full rank (the rank is a kink of pinv)."""
    x = arrays[0]
    return {} if x.ndim >= 2 and 0 not in x.shape[-2:] and _conditioned(x, 0.1) else None


def power_params(rng, arrays, margin):
    """matrix_power: n in -2..3; a negative n needs a well-conditioned matrix."""
    x = arrays[0]
    if not _square(x):
        return None
    n = int(rng.choice([-2, -1, 0, 1, 2, 3]))
    if n < 0 and not _conditioned(x):
        return None
    return {"n": n}


def lstsq_fits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``lstsq(a, b)`` is defined: a matrix (M, N) and b of shape (M,) or (M, K)."""
    return a.ndim == 2 and b.ndim in (1, 2) and b.shape[0] == a.shape[0] and 0 not in a.shape


def lstsq_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    m = shape[0] if shape else 2
    return (m,) if rng.random() < 0.5 else (m, int(rng.integers(1, 3)))


def lstsq_params(rng, arrays, margin):
    """lstsq: a well-conditioned a of full rank (the rank is a kink) and a b that fits it."""
    a, b = arrays
    return {} if lstsq_fits(a, b) and _conditioned(a, 0.1) else None


# ----- norm ------------------------------------------------------------------------------------------

VECTOR_ORDS = (None, 2, 1, np.inf, -np.inf, 3, 0.5, -1)
MATRIX_ORDS = (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)


def _top_two_apart(x: np.ndarray, axis: int, largest: bool, gap: float) -> bool:
    if x.shape[axis] < 2:
        return True
    s = np.sort(x, axis=axis)
    s = np.moveaxis(s, axis, -1)
    d = s[..., -1] - s[..., -2] if largest else s[..., 1] - s[..., 0]
    return bool(np.all(d > gap))


def norm_params(rng, arrays, margin):
    """norm: an order and axes numpy accepts for the shape, where the norm is smooth.

    Vector norms need every |x| above `margin` (|x|**p and |x| have kinks at 0, except p = 2,
    which needs a nonzero vector), and for inf / -inf a largest / smallest |x| that is not tied;
    matrix norms 1, -1, inf, -inf the same of their column or row sums, 2 and -2 an untied
    largest or smallest singular value, 'nuc' singular values apart and away from 0.
    """
    x = arrays[0]
    keepdims = bool(rng.random() < 0.3)
    gap = max(margin, 1e-2)
    if x.ndim == 0 or x.size == 0:
        return {"ord": None, "axis": None, "keepdims": keepdims} if x.size and abs(float(x)) > gap else None
    matrix = x.ndim >= 2 and rng.random() < 0.5
    if matrix:
        rows, cols = (int(a) for a in rng.choice(x.ndim, size=2, replace=False))
        ord_ = MATRIX_ORDS[int(rng.integers(len(MATRIX_ORDS)))]
        axis = None if x.ndim == 2 and rows == 0 and cols == 1 and rng.random() < 0.5 else (rows, cols)
        m = np.moveaxis(x, (rows, cols), (-2, -1))
        if ord_ in (None, "fro"):
            ok = bool(np.all((m * m).sum(axis=(-2, -1)) > gap))
        elif ord_ in ("nuc", 2, -2):
            s = _svals(m)
            ok = _gapped(s, gap) and bool(np.all(s > gap))
        else:
            a = np.abs(m)
            sums = a.sum(axis=-2) if ord_ in (1, -1) else a.sum(axis=-1)
            ok = bool(np.all(a > gap)) and _top_two_apart(sums, -1, ord_ > 0, gap)
        return {"ord": ord_, "axis": axis, "keepdims": keepdims} if ok else None
    ord_ = VECTOR_ORDS[int(rng.integers(len(VECTOR_ORDS)))]
    if x.ndim == 1:
        axis = None if rng.random() < 0.5 else int(rng.integers(-1, 1))
    elif ord_ is None and rng.random() < 0.3:
        axis = None  # the 2-norm of all the elements
    else:
        axis = int(rng.integers(-x.ndim, x.ndim))
    if ord_ in (None, 2):
        ok = bool(np.all((x * x).sum(axis=axis) > gap))
    else:
        a = np.abs(x)
        ok = bool(np.all(a > gap))
        if ok and ord_ in (np.inf, -np.inf):
            ok = _top_two_apart(a.reshape(-1) if axis is None else a, 0 if axis is None else axis, ord_ > 0, gap)
    return {"ord": ord_, "axis": axis, "keepdims": keepdims} if ok else None
