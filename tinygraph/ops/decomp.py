"""Inverse, solve, determinants, Cholesky and pseudo-inverse: forward in numpy.linalg, one vjp each.

Every op takes stacks of matrices (..., M, N) as numpy does, and each vjp is written in
tinygraph's functions (matmul, solve, inv, ...), so second derivatives come from the same code.
The public functions are ``tinygraph.linalg.<name>``; each op's ``description`` says how to
call, sample and cross-check it (`tinygraph.ops.describe`).

Gradients at the edges of the domains:

- ``det`` is a polynomial, so its gradient, the cofactor matrix, exists everywhere. Where every
  matrix is well conditioned it is det(A) A^-T; where one is singular (or nearly so) each
  cofactor is computed as the determinant of its minor, by ``det`` again (exact, and
  differentiable again; it costs n^2 determinants of size n - 1).
- ``slogdet``: log|det A| has the gradient A^-T, infinite at a singular matrix; its backward
  raises a LinAlgError there. The sign has no gradient.
- ``cholesky`` and ``eigh`` read one triangle of their input, as numpy does; the gradient is
  with respect to that triangle (the other one gets 0), see `_matrix.read_triangle_gradient`.
- ``pinv``: the gradient holds where the rank is constant (the rank is a kink of pinv).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tinygraph.ops import matrix_samplers as ms
from tinygraph.ops._common import Op, pair, value
from tinygraph.ops._matrix import (
    LinAlgError,
    eye,
    ill_conditioned,
    lapack,
    matrices,
    mT,
    read_triangle_gradient,
    triangle,
)
from tinygraph.ops.describe import Description, described, normal
from tinygraph.ops.elementwise import where
from tinygraph.ops.shape import sum_to
from tinygraph.tensor import Tensor

SQUARE_SHAPES = (((3, 3),), ((1, 1),), ((2, 3, 3),), ((2, 1, 2, 2),))


def _sym_lower(t: Any, a: Any, lower: bool = True) -> Any:
    """PyTorch: the symmetric matrix that an op reading one triangle of `a` sees (for the references)."""
    if lower:
        return t.tril(a) + t.tril(a, -1).mT
    return t.triu(a) + t.triu(a, 1).mT


@described
class Inv(Op):
    """The inverse Y = A^-1; gradient -Y^T g Y^T."""

    name = "inv"
    saves_output = True
    description = Description(
        draw=ms.invertible,
        params=ms.invertible_params,
        call=lambda a: inv(a),
        numpy=np.linalg.inv,
        torch=lambda t, a: t.linalg.inv(a),
        source="tg.linalg.inv({0})",
        shapes=SQUARE_SHAPES,
    )

    @staticmethod
    def forward(ctx, a):
        return lapack("inv", lambda: np.linalg.inv(a), a.shape, "the matrix is singular")

    @staticmethod
    def backward(ctx, g, a):
        yt = mT(ctx.output)
        return -(yt @ g @ yt)


@described
class Solve(Op):
    """X with A X = B (B of shape (M,) or (..., M, K), as numpy 2); gradients B' = A^-T g, A' = -B' X^T."""

    name = "solve"
    reads = ((0,), (0,))
    saves_output = True
    description = Description(
        inputs=2,
        draw=(ms.invertible, normal),
        params=ms.solve_params,
        call=lambda a, b: solve(a, b),
        numpy=np.linalg.solve,
        torch=lambda t, a, b: _torch_solve(t, a, b),
        source="tg.linalg.solve({0}, {1})",
        shapes=(((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3, 1)), ((2, 2), (3, 2, 2)), ((1, 1), (1,))),
        fits=ms.solve_fits,
        partner=ms.solve_partner,
    )

    @staticmethod
    def forward(ctx, a, b):
        return lapack("solve", lambda: np.linalg.solve(a, b), a.shape, "the matrix is singular")

    @staticmethod
    def backward(ctx, g, a, b):
        x = ctx.output
        vector = b.ndim == 1
        if vector:  # as the forward did: b a column, x a stack of columns
            g = g.reshape(tuple(g.shape) + (1,))
            x = x.reshape(tuple(x.shape) + (1,))
        gb = Solve.apply(mT(a), g)
        ga = sum_to(-(gb @ mT(x)), a.shape) if ctx.needs_input_grad[0] else None
        gb = sum_to(gb, (b.shape[0], 1) if vector else b.shape).reshape(b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb


def _torch_solve(t: Any, a: Any, b: Any) -> Any:
    """PyTorch's solve with numpy's rule for b (a vector only when 1-D; batch axes broadcast)."""
    if b.ndim == 1:  # a column beside each matrix (PyTorch would read a (..., M) b as vectors)
        return t.linalg.solve(a, b.expand(*a.shape[:-1]).unsqueeze(-1))[..., 0]
    batch = t.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return t.linalg.solve(a.expand(*batch, *a.shape[-2:]), b.expand(*batch, *b.shape[-2:]))


@described
class Det(Op):
    """The determinant; its gradient is g times the cofactor matrix (see the module's notes)."""

    name = "det"
    reads = ((0,),)
    saves_output = True
    description = Description(
        params=ms.det_params,
        call=lambda a: det(a),
        numpy=np.linalg.det,
        torch=lambda t, a: t.linalg.det(a),
        source="tg.linalg.det({0})",
        shapes=SQUARE_SHAPES,
    )

    @staticmethod
    def forward(ctx, a):
        return np.linalg.det(a)

    @staticmethod
    def backward(ctx, g, a):
        return g.reshape(tuple(g.shape) + (1, 1)) * cofactors(a, ctx.output)


def cofactors(a: Any, d: Any) -> Any:
    """The cofactor matrices of `a` (whose determinants are `d`): d A^-T, or determinants of minors."""
    n = a.shape[-1]
    if n <= 1:
        return np.ones(a.shape, dtype=value(a).dtype)
    if not ill_conditioned(value(a)):
        return d.reshape(tuple(d.shape) + (1, 1)) * mT(inv(a))
    keep = np.array([[r for r in range(n) if r != i] for i in range(n)])  # row i: the indices but i
    minors = a[..., keep[:, None, :, None], keep[None, :, None, :]]  # (..., n, n, n - 1, n - 1)
    signs = 1.0 - 2.0 * (np.add.outer(np.arange(n), np.arange(n)) % 2)
    return Det.apply(minors) * signs.astype(value(a).dtype)


@described
class Slogdet(Op):
    """sign and log|det| side by side in one output (..., 2); log|det| has the gradient A^-T."""

    name = "slogdet"
    reads = ((0,),)
    saves_output = True
    description = Description(
        draw=ms.invertible,
        params=ms.invertible_params,
        call=lambda a: slogdet(a)[1],
        numpy=lambda a: np.linalg.slogdet(a)[1],
        torch=lambda t, a: t.linalg.slogdet(a)[1],
        source="tg.linalg.slogdet({0})[1]",
        shapes=SQUARE_SHAPES,
    )

    @staticmethod
    def forward(ctx, a):
        sign, logdet = np.linalg.slogdet(a)
        return np.stack([sign, logdet], axis=-1)

    @staticmethod
    def backward(ctx, g, a):
        singular = value(ctx.output)[..., 0] == 0  # the sign: 0 for a singular matrix
        g = g[..., 1]
        if np.any(singular):
            bad = singular & (value(g) != 0)  # (one whose log|det| no gradient asks for stays out of it)
            if np.any(bad):
                at = f" (matrix {tuple(int(i) for i in np.argwhere(bad)[0])})" if bad.ndim else ""
                raise LinAlgError(
                    f"slogdet: the gradient of log|det| at a singular matrix is infinite{at} (input of shape {a.shape})"
                )
            a = where(singular[..., None, None], np.eye(a.shape[-1], dtype=value(a).dtype), a)  # its gradient: 0
        return g.reshape(tuple(g.shape) + (1, 1)) * mT(inv(a))


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)``, as numpy's: the sign has no gradient."""

    sign: Any
    logabsdet: Any


@described
class Cholesky(Op):
    """The Cholesky factor L (A = L L^T) of the matrix read from A's lower triangle (upper: U, A = U^T U).

    Gradient (Murray 2016): with P = the lower triangle of L^T g with its diagonal halved and
    S = L^-T P L^-1, the gradient for the symmetric matrix is (S + S^T) / 2, given to the
    triangle read by `read_triangle_gradient`.
    """

    name = "cholesky"
    saves_output = True
    description = Description(
        args=("upper",),
        draw=ms.spd,
        params=ms.cholesky_params,
        call=lambda a, upper: cholesky(a, upper=upper),
        numpy=lambda a, upper: np.linalg.cholesky(a, upper=upper),
        torch=lambda t, a, upper: t.linalg.cholesky(_sym_lower(t, a, not upper), upper=upper),
        source="tg.linalg.cholesky({0}, upper={upper})",
        shapes=SQUARE_SHAPES,
    )

    @staticmethod
    def forward(ctx, a, upper):
        return lapack(
            "cholesky", lambda: np.linalg.cholesky(a, upper=upper), a.shape, "the matrix is not positive definite"
        )

    @staticmethod
    def backward(ctx, g, a, upper):
        lo = mT(ctx.output) if upper else ctx.output
        gl = mT(g) if upper else g
        n = a.shape[-1]
        dtype = value(g).dtype
        x = mT(lo) @ gl
        p = x * triangle(n, dtype, lower=True, strict=True) + x * (0.5 * eye(n, dtype))
        lt = mT(lo)
        s = Solve.apply(lt, mT(Solve.apply(lt, mT(p))))  # L^-T P L^-1
        return read_triangle_gradient((s + mT(s)) * 0.5, lower=not upper), None


@described
class Pinv(Op):
    """The pseudo-inverse P = A^+ (numpy's rcond); gradient (Golub and Pereyra, constant rank):
    -P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A)."""

    name = "pinv"
    reads = ((0,),)
    saves_output = True
    description = Description(
        args=("rcond",),
        params=ms.pinv_params,
        call=lambda a: pinv(a),
        numpy=np.linalg.pinv,
        torch=lambda t, a: t.linalg.pinv(a),
        source="tg.linalg.pinv({0})",
        shapes=(((3, 2),), ((2, 3),), ((3, 3),), ((2, 4, 2),), ((1, 1),)),
    )

    @staticmethod
    def forward(ctx, a, rcond):
        return lapack("pinv", lambda: np.linalg.pinv(a, rcond), a.shape, "the SVD did not converge")

    @staticmethod
    def backward(ctx, g, a, rcond):
        p = ctx.output
        pt, gt = mT(p), mT(g)
        ppt_g = gt @ (p @ pt)  # g^T P P^T
        ptp_g = (pt @ p) @ gt  # P^T P g^T
        ga = -(pt @ g @ pt) + (ppt_g - a @ (p @ ppt_g)) + (ptp_g - (ptp_g @ p) @ a)
        return ga, None


# ----- public functions (tinygraph.linalg) ---------------------------------------------------------


def inv(a: Any) -> Any:
    """The inverse of each square matrix of `a`, as ``np.linalg.inv``.

    >>> import tinygraph as tg
    >>> tg.linalg.inv(tg.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    return Inv.apply(matrices(a, "inv"))


def solve(a: Any, b: Any) -> Any:
    """X with ``a @ X == b``, as ``np.linalg.solve``: b is (M,) or a stack (..., M, K); batch axes broadcast.

    >>> import tinygraph as tg
    >>> tg.linalg.solve(tg.tensor([[2.0, 0.0], [0.0, 4.0]]), tg.tensor([2.0, 2.0])).tolist()
    [1.0, 0.5]
    """
    a, b = pair(a, b, "solve")
    matrices(a, "solve")
    if b.ndim == 0 or b.shape[-1 if b.ndim == 1 else -2] != a.shape[-1]:
        raise ValueError(
            f"solve: a {a.shape} and b {b.shape} do not fit: b must be (M,) or (..., M, K) with M = {a.shape[-1]}"
        )
    if b.ndim > 1:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"solve: the batch axes of a {a.shape} and b {b.shape} do not broadcast") from None
    return Solve.apply(a, b)


def det(a: Any) -> Any:
    """The determinant of each square matrix of `a`, as ``np.linalg.det``; differentiable everywhere.

    >>> import tinygraph as tg
    >>> a = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> d = tg.linalg.det(a)
    >>> d.backward()
    >>> round(d.item(), 12), a.grad.tolist()  # the cofactors
    (-2.0, [[4.0, -3.0], [-2.0, 1.0]])
    """
    return Det.apply(matrices(a, "det"))


def slogdet(a: Any) -> SlogdetResult:
    """``(sign, logabsdet)`` of each square matrix, as ``np.linalg.slogdet``; the sign has no gradient.

    >>> import tinygraph as tg
    >>> sign, logdet = tg.linalg.slogdet(tg.tensor([[-2.0, 0.0], [0.0, 3.0]]))
    >>> sign.item(), round(logdet.item(), 12) == round(float(np.log(6.0)), 12)
    (-1.0, True)
    """
    a = matrices(a, "slogdet")
    both = Slogdet.apply(a)
    sign = value(both)[..., 0].copy()
    return SlogdetResult(Tensor._make(sign) if isinstance(both, Tensor) else sign, both[..., 1])


def cholesky(a: Any, upper: bool = False) -> Any:
    """The Cholesky factor of each symmetric positive definite matrix, as ``np.linalg.cholesky``.

    Only the lower triangle of `a` is read (the upper one with ``upper=True``, which returns
    U with a = U^T U); the gradient is with respect to that triangle.

    >>> import tinygraph as tg
    >>> tg.linalg.cholesky(tg.tensor([[4.0, 2.0], [2.0, 5.0]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    """
    return Cholesky.apply(matrices(a, "cholesky"), bool(upper))


_UNSET = object()


def pinv(a: Any, rcond: Any = None, *, rtol: Any = _UNSET) -> Any:
    """The Moore-Penrose pseudo-inverse of each matrix, as ``np.linalg.pinv`` (``rcond`` or ``rtol``).

    Singular values below ``rcond`` times the largest count as 0 (numpy's default 1e-15; ``rtol=None``
    means max(M, N) * eps). The gradient holds where the rank does not change.

    >>> import tinygraph as tg
    >>> tg.linalg.pinv(tg.tensor([[2.0], [0.0]])).tolist()
    [[0.5, 0.0]]
    """
    a = matrices(a, "pinv", square=False)
    if rcond is not None and rtol is not _UNSET:
        raise ValueError("pinv: give rcond or rtol, not both")
    if rcond is None:
        if rtol is _UNSET:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(a.shape[-2:]) * float(np.finfo(value(a).dtype if value(a).dtype.kind == "f" else float).eps)
        else:
            rcond = rtol
    return Pinv.apply(a, rcond)
