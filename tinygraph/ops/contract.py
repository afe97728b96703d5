"""Contractions: einsum (one op, whose gradient is an einsum too), and dot, vdot, inner, outer,
tensordot, kron and cross, written with numpy's rules on top of matmul and the shape ops.

`einsum` rewrites its subscripts to an explicit form without ellipsis ("...ij,jk" on (5, 2, 3)
and (3, 4) becomes "aij,jk->aik") before the op is recorded, so the op and its gradient only
ever see explicit letters. Each op's ``description`` says how to call, sample and cross-check
it (`tinygraph.ops.describe`).

>>> import numpy as np, tinygraph as tg
>>> a = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
>>> tg.einsum("ij,ij->i", a, a).tolist()
[5.0, 50.0]
>>> tg.einsum("ii->i", np.eye(2) * 3).tolist()  # plain arrays in, a plain array out
[3.0, 3.0]
>>> _parse("...ij,jk", [(5, 2, 3), (3, 4)])  # what the op records
'aij,jk->aik'
"""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np

from tinygraph.ops import vocab_samplers as vs
from tinygraph.ops._common import Op, pair, to_tensor
from tinygraph.ops.describe import Description, described, describes
from tinygraph.ops.elementwise import multiply
from tinygraph.ops.linalg import matmul
from tinygraph.ops.shape import getitem, reshape, stack, transpose

_LETTERS = string.ascii_letters


@described
class Einsum(Op):
    """``np.einsum`` with explicit subscripts (no ellipsis: `einsum` expands it).

    The gradient for operand k is the einsum of the output's gradient with the other operands,
    giving operand k's subscripts. Two things an einsum cannot say are added as constants: a
    letter repeated in operand k ("ii->i") is renamed, and an identity matrix ties the new name
    to the old (so the gradient lands on the diagonal); a letter only operand k has ("ij->i")
    gets a vector of ones (the gradient is broadcast along it). An axis of length 1 that was
    broadcast against a longer one is summed back.
    """

    name = "einsum"
    reads = ((), (2,), (1,))  # each operand's gradient reads the other (see _einsum_op)
    description = Description(
        args=("subscripts",),
        inputs=2,
        params=vs.einsum_subscripts,
        call=lambda a, b, subscripts: einsum(subscripts, a, b),
        numpy=lambda a, b, subscripts: np.einsum(subscripts, a, b),
        torch=lambda t, a, b, subscripts: t.einsum(subscripts, a, b),
        source="tg.einsum({subscripts}, {0}, {1})",
        shapes=(
            ((3, 4), (4, 2)),
            ((3,), (3,)),
            ((3, 3), (3,)),
            ((2, 3, 4), (4, 3)),
            ((2, 1, 3), (4, 3)),
            ((), (3,)),
        ),
        fits=vs.einsum_fits,
        partner=vs.einsum_partner,
    )

    @staticmethod
    def forward(ctx, subscripts, *arrays):
        # numpy's optimized path (pairwise, through BLAS where it can) pays off for three or more
        # operands and for large ones; for small pairs its planning costs more than it saves
        big = len(arrays) > 2 or any(a.size > 4096 for a in arrays)
        return np.einsum(subscripts, *arrays, optimize=big)

    @staticmethod
    def backward(ctx, g, subscripts, *operands):
        lhs, out = subscripts.split("->")
        terms = lhs.split(",")
        sizes = _sizes(terms, [x.shape for x in operands])
        grads = []
        for k, (term, x) in enumerate(zip(terms, operands)):
            if not ctx.needs_input_grad[k + 1]:
                grads.append(None)
                continue
            args = [g] + [y for j, y in enumerate(operands) if j != k]
            subs = [out] + [t for j, t in enumerate(terms) if j != k]
            free = iter(c for c in _LETTERS if c not in subscripts)
            target = ""
            for c in term:
                if c in target:  # a repeated letter: a new name, tied to c by an identity matrix
                    fresh = next(free)
                    args.append(np.eye(sizes[c], dtype=x.dtype))
                    subs.append(c + fresh)
                    c = fresh
                target += c
            for c in target:
                if not any(c in s for s in subs):
                    args.append(np.ones(sizes.get(c, 1), dtype=x.dtype))
                    subs.append(c)
            gk = _einsum_op(len(args)).apply(",".join(subs) + "->" + target, *args)
            stretched = tuple(i for i, n in enumerate(x.shape) if n == 1 and gk.shape[i] != 1)
            grads.append(gk.sum(axis=stretched, keepdims=True) if stretched else gk)
        return (None, *grads)


def _sizes(terms: list[str], shapes: list[tuple]) -> dict[str, int]:
    """Each letter's length (an axis of length 1 broadcasts against a longer one)."""
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for c, n in zip(term, shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
    return sizes


def _parse(subscripts: str, shapes: list[tuple]) -> str:
    """`subscripts` for operands of `shapes` as explicit letters: ellipsis expanded, output given."""
    shown = ", ".join(str(s) for s in shapes)

    def fail(why: str) -> ValueError:
        return ValueError(f"einsum: {subscripts!r} with operands of shapes {shown}: {why}")

    if not isinstance(subscripts, str):
        raise TypeError(
            f"einsum: subscripts must be a string, got {type(subscripts).__name__} "
            "(the form with lists of axis numbers is not supported)"
        )
    spec = subscripts.replace(" ", "")
    if spec.count("->") > 1:
        raise fail("more than one '->'")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise fail(f"{len(terms)} subscript terms for {len(shapes)} operands")
    for t in [*terms, rhs]:
        body = t.replace("...", "", 1)
        if any(c not in _LETTERS for c in body):
            raise fail(f"invalid subscript term {t!r} (letters and at most one '...')")
    free = iter(c for c in _LETTERS if c not in spec)
    ell_ndim = []
    for t, shape in zip(terms, shapes):
        named = len(t.replace("...", ""))
        if named > len(shape) or ("..." not in t and named != len(shape)):
            raise fail(f"term {t!r} names {named} axes of an operand with {len(shape)}")
        ell_ndim.append(len(shape) - named)
    ell = "".join(next(free) for _ in range(max(ell_ndim, default=0)))
    terms = [t.replace("...", ell[len(ell) - n :] if n else "") for t, n in zip(terms, ell_ndim)]
    if arrow:
        if "..." not in rhs and any(ell_ndim):
            raise fail("the operands have axes under '...' but the output has no '...'")
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise fail(f"output subscript {c!r} repeated")
            if not any(c in t for t in terms):
                raise fail(f"output subscript {c!r} is in no operand")
    else:
        letters = "".join(terms)
        once = sorted(c for c in set(letters) if c not in ell and letters.count(c) == 1)
        out = ell + "".join(once)
    sizes: dict[str, int] = {}
    for t, shape in zip(terms, shapes):
        for i, (c, n) in enumerate(zip(t, shape)):
            if c in t[:i] and n != shape[t.index(c)]:
                raise fail(f"subscript {c!r} is repeated in one operand with lengths {shape[t.index(c)]} and {n}")
            m = sizes.setdefault(c, n)
            if m != n and 1 not in (m, n):
                raise fail(f"subscript {c!r} has lengths {m} and {n}")
            if m == 1:
                sizes[c] = n
    return ",".join(terms) + "->" + out


def einsum(subscripts: str, *operands: Any, optimize: Any = False) -> Any:
    """Einstein summation, as ``np.einsum``: explicit ("ij,jk->ik") or implicit ("ij,jk") output,
    repeated letters (a trace "ii", a diagonal "ii->i"), "..." for broadcast leading axes.

    `optimize` is accepted as numpy's is and changes nothing: three or more operands, and large
    ones, are always contracted along numpy's optimized path. numpy's other form, operands each followed by a
    list of axis numbers, is not supported.

    >>> import tinygraph as tg
    >>> tg.einsum("ij,jk", tg.tensor([[1.0, 2.0]]), tg.tensor([[3.0], [4.0]])).tolist()
    [[11.0]]
    """
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    ops = [to_tensor(x, "einsum") for x in operands]
    return _einsum_op(len(ops)).apply(_parse(subscripts, [x.shape for x in ops]), *ops)


_ARITY: dict[int, type] = {}


def _einsum_op(n: int) -> type:
    """The einsum op of `n` operands: `Einsum`, or a subclass whose ``reads`` (what the in-place
    guard protects: every other operand, for each operand's gradient) fits `n` operands."""
    op = _ARITY.get(n)
    if op is None:
        reads = ((),) + tuple(tuple(j for j in range(1, n + 1) if j != i) for i in range(1, n + 1))
        op = Einsum if n == 2 else type("Einsum", (Einsum,), {"name": "einsum", "reads": reads, "__module__": __name__})
        _ARITY[n] = op
    return op


# ----- the products built on matmul, einsum and the shape ops ------------------------------------


def _axes_list(axes: Any, ndim: int, op: str, shape: tuple) -> list[int]:
    axes = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for an operand of shape {shape}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axes} for an operand of shape {shape}")
    return out


@describes(
    Description(
        "tensordot",
        args=("axes",),
        inputs=2,
        params=vs.tensordot_axes,
        numpy=lambda a, b, axes: np.tensordot(a, b, axes),
        torch=lambda t, a, b, axes: t.tensordot(a, b, vs.torch_tensordot_axes(axes, a.ndim)),
        shapes=(((2, 3, 4), (3, 4, 2)), ((3, 4), (4, 3)), ((3,), (2,)), ((2, 3), (3, 2, 2)), ((), (3,))),
        fits=vs.any_pair,
        partner=vs.shares_last,
    )
)
def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """Sum products over the given axes of `a` and `b`, as ``np.tensordot``.

    `axes` is N (the last N axes of a with the first N of b), or a pair: two lists of axes, or two
    ints. The result has a's free axes, then b's. Computed as a matrix product of the two operands
    transposed and reshaped, so its gradient is that of matmul, transpose and reshape.
    """
    a, b = pair(a, b, "tensordot")
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: axes={n} for operands of shapes {a.shape} and {b.shape}")
        ax_a, ax_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        try:
            first, second = axes
        except (TypeError, ValueError):
            raise ValueError(f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}") from None
        ax_a = _axes_list(first, a.ndim, "tensordot", a.shape)
        ax_b = _axes_list(second, b.ndim, "tensordot", b.shape)
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: {len(ax_a)} axes of {a.shape} against {len(ax_b)} of {b.shape}")
    for i, j in zip(ax_a, ax_b):
        if a.shape[i] != b.shape[j]:
            raise ValueError(
                f"tensordot: shapes {a.shape} and {b.shape}: axis {i} (length {a.shape[i]}) "
                f"against axis {j} (length {b.shape[j]})"
            )
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [j for j in range(b.ndim) if j not in ax_b]
    k = math.prod(a.shape[i] for i in ax_a)
    am = _permute(a, free_a + ax_a).reshape(math.prod(a.shape[i] for i in free_a), k)
    bm = _permute(b, ax_b + free_b).reshape(k, math.prod(b.shape[j] for j in free_b))
    return reshape(matmul(am, bm), tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b))


def _permute(x: Any, axes: list[int]) -> Any:
    return x if axes == sorted(axes) else transpose(x, axes)


@describes(
    Description(
        "dot",
        inputs=2,
        numpy=np.dot,
        torch=vs.torch_dot,
        shapes=(((3, 4), (4, 2)), ((4,), (4,)), ((2, 3, 4), (4,)), ((2, 3, 4), (2, 4, 2)), ((), (3,)), ((4,), (4, 2))),
        fits=vs.dot_fits,
        partner=vs.dot_partner,
    )
)
def dot(a: Any, b: Any) -> Any:
    """Dot product by numpy's rules (``np.dot``): a scalar multiplies; 1-D and 2-D operands are
    matrix products; otherwise the sum over a's last axis and b's second-to-last (its only one
    when b is 1-D).

    >>> import tinygraph as tg
    >>> tg.dot(tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0])).item()
    11.0
    """
    a, b = pair(a, b, "dot")
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    kb = 0 if b.ndim == 1 else b.ndim - 2
    if a.shape[-1] != b.shape[kb]:
        raise ValueError(
            f"dot: shapes {a.shape} and {b.shape} not aligned: {a.shape[-1]} (axis {a.ndim - 1}) != "
            f"{b.shape[kb]} (axis {kb})"
        )
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [kb]))


@describes(
    Description(
        "vdot",
        inputs=2,
        numpy=np.vdot,
        torch=lambda t, a, b: t.dot(a.reshape(-1), b.reshape(-1)),
        shapes=(((4,), (4,)), ((2, 3), (3, 2)), ((), ()), ((2, 3), (6,))),
        fits=vs.same_size,
        partner=vs.same_size_partner,
    )
)
def vdot(a: Any, b: Any) -> Any:
    """The dot product of the two operands flattened (``np.vdot``, real numbers): a 0-d result."""
    a, b = pair(a, b, "vdot")
    if a.size != b.size:
        raise ValueError(f"vdot: shapes {a.shape} and {b.shape} have {a.size} and {b.size} elements")
    return matmul(reshape(a, (a.size,)), reshape(b, (b.size,)))


@describes(
    Description(
        "inner",
        inputs=2,
        numpy=np.inner,
        torch=lambda t, a, b: t.inner(a, b),
        shapes=(((4,), (4,)), ((3, 4), (2, 4)), ((2, 3, 4), (4,)), ((), (3,)), ((3,), (2, 3))),
        fits=vs.last_axis_fits,
        partner=vs.shares_last,
    )
)
def inner(a: Any, b: Any) -> Any:
    """Sum over the last axes of `a` and `b` (a scalar multiplies), as ``np.inner``."""
    a, b = pair(a, b, "inner")
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: shapes {a.shape} and {b.shape}: last axes of lengths {a.shape[-1]} and {b.shape[-1]}")
    return tensordot(a, b, ([-1], [-1]))


@describes(
    Description(
        "outer",
        inputs=2,
        numpy=np.outer,
        torch=lambda t, a, b: t.outer(a.reshape(-1), b.reshape(-1)),
        shapes=(((3,), (4,)), ((2, 2), (3,)), ((), (3,)), ((1,), (2, 1))),
        fits=vs.any_pair,
        partner=vs.small_partner,
    )
)
def outer(a: Any, b: Any) -> Any:
    """``out[i, j] = a.ravel()[i] * b.ravel()[j]``, as ``np.outer``."""
    a, b = pair(a, b, "outer")
    return multiply(reshape(a, (a.size, 1)), reshape(b, (1, b.size)))


@describes(
    Description(
        "kron",
        inputs=2,
        numpy=np.kron,
        # (PyTorch 2.13's kron views its operands and fails on some "contiguous" ones, e.g. a (2, 1) of
        # strides (1, 2) from swapaxes + flipud: a copy in the standard layout it can view)
        torch=lambda t, a, b: t.kron(
            a.clone(memory_format=t.contiguous_format), b.clone(memory_format=t.contiguous_format)
        ),
        shapes=(((2, 2), (2, 3)), ((3,), (2,)), ((2, 3), (2,)), ((), (3,)), ((2,), (2, 1, 2))),
        fits=vs.kron_fits,
        partner=vs.small_partner,
    )
)
def kron(a: Any, b: Any) -> Any:
    """The Kronecker product, as ``np.kron``: blocks ``a[i, j] * b`` (the operand with fewer axes
    gets leading ones). Computed as one broadcast product of interleaved axes, reshaped."""
    a, b = pair(a, b, "kron")
    nd = max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    x = reshape(a, tuple(n for m in sa for n in (m, 1)))
    y = reshape(b, tuple(n for m in sb for n in (1, m)))
    return reshape(multiply(x, y), tuple(m * n for m, n in zip(sa, sb)))


@describes(
    Description(
        "cross",
        args=("axisa", "axisb", "axisc"),
        inputs=2,
        params=vs.cross_axes,
        numpy=lambda a, b, **p: np.cross(a, b, **p),
        torch=vs.torch_cross,
        shapes=(((3,), (3,)), ((4, 3), (3,)), ((2, 3), (2, 3)), ((3, 2), (2, 3))),
        fits=vs.cross_fits,
        partner=vs.cross_partner,
    )
)
def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Any:
    """The cross product of vectors of 3 (or 2) components along `axisa` and `axisb` (the other
    axes broadcast), put along `axisc`; `axis` sets all three. As ``np.cross``: two 2-vectors
    give the z component alone.
    """
    a, b = pair(a, b, "cross")
    if axis is not None:
        axisa = axisb = axisc = axis
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"cross: shapes {a.shape} and {b.shape}: scalars have no vector axis")
    (ia,) = _axes_list(axisa, a.ndim, "cross", a.shape)
    (ib,) = _axes_list(axisb, b.ndim, "cross", b.shape)
    na, nb = a.shape[ia], b.shape[ib]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"cross: shapes {a.shape} and {b.shape}: vectors need 2 or 3 components, got {na} and {nb}")
    try:
        lead = np.broadcast_shapes(a.shape[:ia] + a.shape[ia + 1 :], b.shape[:ib] + b.shape[ib + 1 :])
    except ValueError:
        raise ValueError(
            f"cross: shapes {a.shape} and {b.shape}: the axes besides the vectors' do not broadcast"
        ) from None
    pa = [getitem(a, (slice(None),) * ia + (i,)) for i in range(na)]
    pb = [getitem(b, (slice(None),) * ib + (i,)) for i in range(nb)]
    z = pa[0] * pb[1] - pa[1] * pb[0]
    if na == 2 and nb == 2:
        return z
    if na == 3 and nb == 3:
        x, y = pa[1] * pb[2] - pa[2] * pb[1], pa[2] * pb[0] - pa[0] * pb[2]
    elif na == 2:
        x, y = pa[1] * pb[2], -(pa[0] * pb[2])
    else:
        x, y = -(pa[2] * pb[1]), pa[2] * pb[0]
    (ic,) = _axes_list(axisc, len(lead) + 1, "cross", lead + (3,))
    return stack([x, y, z], ic)
