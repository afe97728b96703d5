"""QR, symmetric eigendecomposition and SVD: forward in numpy.linalg, one vjp each.

Each op returns its results packed side by side in one output (`_matrix.pack`: the engine's
node has one output); the public functions ``tinygraph.linalg.qr / eigh / svd`` cut it into
numpy's named tuples of tensors with slices and reshapes, so the op's one vjp gets the
gradients of all its results at once. The vjps are written in tinygraph's functions, so second
derivatives come from the same code.

Where the gradient does not exist:

- eigenvectors at repeated eigenvalues, and singular vectors at repeated singular values, are
  not unique. The terms 1/(w_j - w_i) between values equal to rounding are left out (not
  infinite): the gradient of any loss of the eigenvalues (or singular values) alone that is
  differentiable there (a symmetric function of them: a sum, the trace of a matrix function)
  is then right at repeated values too, at first order (the second derivative goes through the
  vectors); that of a loss of the vectors is finite but not a derivative, which does not exist
  there. Between distinct but close values the vectors' gradient grows as 1 / gap, as it truly
  does.
- ``svd`` of a non-square matrix with a zero singular value: the terms with 1/s are left out.
- ``svd(full_matrices=True)``: the columns of U and rows of Vh past min(M, N) are any basis of
  their subspaces; their gradients are ignored (as PyTorch does).
- ``qr(mode="complete")`` with more rows than columns: Q's extra columns are arbitrary; its
  backward raises. The other modes (``reduced``, ``r``, and ``complete`` with M <= N) are
  differentiable where the first min(M, N) columns of A have full rank.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tinygraph.ops import matrix_samplers as ms
from tinygraph.ops._common import Op, value
from tinygraph.ops._matrix import (
    diag_embed,
    inverse_gaps,
    lapack,
    matrices,
    mT,
    pack,
    read_triangle_gradient,
    spread_tol,
    triangle,
    unpack,
)
from tinygraph.ops.decomp import Solve, _sym_lower
from tinygraph.ops.describe import Description, described
from tinygraph.ops.elementwise import where
from tinygraph.ops.shape import concatenate

GENERAL_SHAPES = (((3, 2),), ((2, 3),), ((3, 3),), ((2, 3, 2),), ((1, 1),))


class QRResult(NamedTuple):
    Q: Any
    R: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


# ----- QR -------------------------------------------------------------------------------------------


def _qr_shapes(shape: tuple, mode: str) -> list:
    m, n = shape[-2:]
    k = m if mode == "complete" else min(m, n)
    return [(m, k), (k, n)]


@described
class QR(Op):
    """Q and R (A = Q R, Q's columns orthonormal, R upper triangular), packed in one output.

    Gradient, for M >= N: with N = Q^T gQ - gR R^T (gR upper triangular),
    A' = [gQ - Q Q^T gQ + Q (gR R^T + tril(N - N^T, -1))] R^-T. For M < N, A = [X | Y] with
    X square: X' is that formula with gQ + Y gR2^T, and Y' = Q gR2.
    """

    name = "qr"
    saves_output = True
    reads = ((0,),)  # (for M < N the gradient reads A's last columns)
    description = Description(
        args=("mode",),
        params=ms.qr_params,
        call=lambda a: _qr_gauge_free(qr(a)),
        numpy=lambda a: _qr_gauge_free(np.linalg.qr(a)),
        torch=lambda t, a: _qr_gauge_free(t.linalg.qr(a)),
        source="(lambda q, r: (q * q) @ (r * r))(*tg.linalg.qr({0}))",
        shapes=GENERAL_SHAPES,
    )

    @staticmethod
    def forward(ctx, a, mode):
        q, r = lapack("qr", lambda: np.linalg.qr(a, mode=mode), a.shape, "the factorization did not converge")
        return pack([q, r], a.shape[:-2])

    @staticmethod
    def backward(ctx, g, a, mode):
        m, n = a.shape[-2:]
        if mode == "complete" and m > n:
            raise ValueError(
                f"qr: mode='complete' with more rows than columns (input of shape {a.shape}) has no gradient: "
                "Q's last columns are any basis of the complement; use mode='reduced'"
            )
        batch = tuple(a.shape[:-2])
        q, r = unpack(ctx.output, batch, _qr_shapes(a.shape, mode))
        gq, gr = unpack(g, batch, _qr_shapes(a.shape, mode))
        if m >= n:
            return _qr_tall(q, r, gq, gr), None
        r1, gr1, gr2 = r[..., :, :m], gr[..., :, :m], gr[..., :, m:]
        gx = _qr_tall(q, r1, gq + a[..., :, m:] @ mT(gr2), gr1)
        return concatenate([gx, q @ gr2], axis=-1), None


def _qr_tall(q: Any, r: Any, gq: Any, gr: Any) -> Any:
    """A' for A = Q R with R square (k x k)."""
    k = r.shape[-1]
    dtype = value(r).dtype
    gr = gr * triangle(k, dtype, lower=False, strict=False)
    qt_gq = mT(q) @ gq
    grr = gr @ mT(r)
    nn = qt_gq - grr
    b = gq - q @ qt_gq + q @ (grr + (nn - mT(nn)) * triangle(k, dtype, lower=True, strict=True))
    return mT(Solve.apply(r, mT(b)))  # b R^-T


def _qr_gauge_free(qr_result: Any) -> Any:
    """(Q * Q) @ (R * R): a function of both results that does not depend on the signs numpy picks."""
    q, r = qr_result
    return (q * q) @ (r * r)


# ----- eigh -----------------------------------------------------------------------------------------


@described
class Eigh(Op):
    """Eigenvalues (ascending) and eigenvectors of the symmetric matrix read from one triangle, packed.

    Gradient for the symmetric matrix: V (diag(gw) + F o (V^T gV)) V^T with F_ij = 1 / (w_j - w_i)
    (0 where w_i = w_j: see the module's notes), given to the triangle read.
    """

    name = "eigh"
    saves_output = True
    description = Description(
        args=("UPLO",),
        params=ms.eigh_params,
        call=lambda a, UPLO: _eigh_gauge_free(eigh(a, UPLO)),
        numpy=lambda a, UPLO: _eigh_gauge_free(np.linalg.eigh(a, UPLO)),
        torch=lambda t, a, UPLO: _eigh_gauge_free(t.linalg.eigh(_sym_lower(t, a, UPLO == "L"))),
        source="(lambda w, v: v * v * w[..., None, :])(*tg.linalg.eigh({0}, {UPLO}))",
        shapes=(((3, 3),), ((1, 1),), ((2, 3, 3),), ((2, 1, 2, 2),)),
    )

    @staticmethod
    def forward(ctx, a, uplo):
        w, v = lapack("eigh", lambda: np.linalg.eigh(a, UPLO=uplo), a.shape, "the eigenvalues did not converge")
        return pack([w, v], a.shape[:-2])

    @staticmethod
    def backward(ctx, g, a, uplo):
        n = a.shape[-1]
        batch = tuple(a.shape[:-2])
        w, v = unpack(ctx.output, batch, [(n,), (n, n)])
        gw, gv = unpack(g, batch, [(n,), (n, n)])
        f = inverse_gaps(w, spread_tol(value(w)))
        gs = v @ (diag_embed(gw) + f * (mT(v) @ gv)) @ mT(v)
        return read_triangle_gradient(gs, lower=uplo == "L"), None


def _eigh_gauge_free(result: Any) -> Any:
    """Each eigenvector squared times its eigenvalue: independent of the eigenvectors' signs."""
    w, v = result
    return v * v * w[..., None, :]


# ----- SVD ------------------------------------------------------------------------------------------


def _svd_shapes(shape: tuple, full: bool) -> list:
    m, n = shape[-2:]
    k = min(m, n)
    return [(m, m if full else k), (k,), (n if full else k, n)]


@described
class SVD(Op):
    """U, S and Vh (A = U diag(S) Vh, S descending), packed in one output.

    Gradient (with V = Vh^T, F_ij = 1 / (s_j^2 - s_i^2), 0 where equal, skew(X) = X - X^T):
    U [F o skew(U^T gU) S + S F o skew(V^T gV) + diag(gS)] Vh
    + (I - U U^T) gU S^-1 Vh + U S^-1 gV^T (I - V V^T).
    """

    name = "svd"
    saves_output = True
    description = Description(
        args=("full_matrices",),
        params=ms.svd_params,
        call=lambda a: _svd_gauge_free(svd(a, full_matrices=False)),
        numpy=lambda a: _svd_gauge_free(np.linalg.svd(a, full_matrices=False)),
        torch=lambda t, a: _svd_gauge_free(t.linalg.svd(a, full_matrices=False)),
        source="(lambda u, s, vh: (u * u * s[..., None, :]) @ (vh * vh))(*tg.linalg.svd({0}, full_matrices=False))",
        shapes=GENERAL_SHAPES,
    )

    @staticmethod
    def forward(ctx, a, full_matrices):
        u, s, vh = lapack(
            "svd", lambda: np.linalg.svd(a, full_matrices=full_matrices), a.shape, "the SVD did not converge"
        )
        return pack([u, s, vh], a.shape[:-2])

    @staticmethod
    def backward(ctx, g, a, full_matrices):
        m, n = a.shape[-2:]
        k = min(m, n)
        batch = tuple(a.shape[:-2])
        u, s, vh = unpack(ctx.output, batch, _svd_shapes(a.shape, full_matrices))
        gu, gs, gvh = unpack(g, batch, _svd_shapes(a.shape, full_matrices))
        if full_matrices:  # the columns past k are any basis: only the first k carry a gradient
            u, gu, vh, gvh = u[..., :, :k], gu[..., :, :k], vh[..., :k, :], gvh[..., :k, :]
        v, gv = mT(vh), mT(gvh)
        sv = value(s)
        f = inverse_gaps(s * s, spread_tol(sv * sv))
        ut_gu, vt_gv = mT(u) @ gu, mT(v) @ gv
        row, col = batch + (1, k), batch + (k, 1)
        inner = (f * (ut_gu - mT(ut_gu))) * s.reshape(row) + s.reshape(col) * (f * (vt_gv - mT(vt_gv)))
        ga = u @ (inner + diag_embed(gs)) @ vh
        if m > k or n > k:
            nonzero = sv > spread_tol(sv)
            inv_s = where(nonzero, 1 / where(nonzero, s, np.ones((), sv.dtype)), np.zeros((), sv.dtype)).reshape(row)
            if m > k:
                ga = ga + ((gu - u @ ut_gu) * inv_s) @ vh
            if n > k:
                gvt = mT(gv)
                ga = ga + (u * inv_s) @ (gvt - (gvt @ v) @ vh)
        return ga, None


def _svd_gauge_free(result: Any) -> Any:
    """(U * U * S) @ (Vh * Vh): independent of the signs of the singular vectors."""
    u, s, vh = result
    return (u * u * s[..., None, :]) @ (vh * vh)


# ----- public functions (tinygraph.linalg) ---------------------------------------------------------


def qr(a: Any, mode: str = "reduced") -> Any:
    """The QR factorization of each matrix, as ``np.linalg.qr``: ``(Q, R)``, or R alone for ``mode="r"``.

    Modes ``reduced`` (Q is M x K, R is K x N, K = min(M, N)), ``complete`` (Q is M x M) and ``r``.

    >>> import tinygraph as tg
    >>> q, r = tg.linalg.qr(tg.tensor([[3.0], [4.0]]))
    >>> q.shape, r.shape, abs(r.item())
    ((2, 1), (1, 1), 5.0)
    """
    a = matrices(a, "qr", square=False)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r} (input of shape {a.shape})")
    packed = QR.apply(a, "reduced" if mode == "r" else mode)
    q, r = unpack(packed, tuple(a.shape[:-2]), _qr_shapes(a.shape, "reduced" if mode == "r" else mode))
    return r if mode == "r" else QRResult(q, r)


def eigh(a: Any, UPLO: str = "L") -> EighResult:  # noqa: N803 - numpy's name
    """Eigenvalues (ascending) and eigenvectors of each symmetric matrix, as ``np.linalg.eigh``.

    Only the lower triangle of `a` is read (the upper one with ``UPLO="U"``); the gradient is
    with respect to that triangle. See the module's notes for repeated eigenvalues.

    >>> import tinygraph as tg
    >>> w, v = tg.linalg.eigh(tg.tensor([[2.0, 1.0], [1.0, 2.0]]))
    >>> [round(x, 12) for x in w.tolist()]
    [1.0, 3.0]
    """
    a = matrices(a, "eigh")
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    packed = Eigh.apply(a, UPLO)
    n = a.shape[-1]
    return EighResult(*unpack(packed, tuple(a.shape[:-2]), [(n,), (n, n)]))


def eigvalsh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803
    """The eigenvalues of each symmetric matrix, ascending, as ``np.linalg.eigvalsh``."""
    return eigh(a, UPLO).eigenvalues


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """The singular value decomposition of each matrix, as ``np.linalg.svd``: ``(U, S, Vh)``, or S alone.

    S is descending. With ``full_matrices`` (numpy's default) U is M x M and Vh N x N; the
    gradients of their columns and rows past min(M, N) are ignored (see the module's notes).

    >>> import tinygraph as tg
    >>> s = tg.linalg.svd(tg.tensor([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False)
    >>> s.tolist()
    [4.0, 3.0]
    """
    a = matrices(a, "svd", square=False)
    full = bool(full_matrices) and bool(compute_uv)
    packed = SVD.apply(a, full)
    u, s, vh = unpack(packed, tuple(a.shape[:-2]), _svd_shapes(a.shape, full))
    return SVDResult(u, s, vh) if compute_uv else s


def svdvals(a: Any) -> Any:
    """The singular values of each matrix, descending, as ``np.linalg.svdvals``."""
    return svd(a, compute_uv=False)
