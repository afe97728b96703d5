"""Steps and selections: sign, floor, ceil, round/rint, trunc, mod, fmax, fmin, nan_to_num.

sign, floor, ceil, round, rint and trunc are piecewise constant: their gradient is 0 everywhere,
including at the jumps, where the true derivative does not exist (PyTorch's choice too). mod's
gradient is 1 in a and -floor(a / b) in b, taken from the piece the value lies on. fmax and fmin
pass the gradient to the operand they pick (half each at ties, as maximum); a NaN operand gets
none unless both are NaN, when the first does. nan_to_num passes the gradient where the input is
finite and none where it replaced a value.

>>> import numpy as np, tinygraph as tg
>>> x = tg.tensor([1.5, -0.2], requires_grad=True)
>>> (tg.floor(x) + x * 2).sum().backward()
>>> x.grad.tolist()
[2.0, 2.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.ops import domains, samplers
from tinygraph.ops._common import Op, pair, to_tensor, value
from tinygraph.ops.describe import Description, away_from_zero, described, describes
from tinygraph.ops.elementwise import where
from tinygraph.ops.shape import sum_to


def _no_gradient(g: Any) -> Any:
    """Zeros of g's shape and dtype, as a graph when g is one (so second derivatives are 0, not missing)."""
    return where(False, g, 0)


class _Step(Op):
    """A piecewise-constant elementwise op: the gradient is 0."""

    @staticmethod
    def backward(ctx, g, a, *params):
        return (_no_gradient(g), *(None for _ in params)) if params else _no_gradient(g)


@described
class Sign(_Step):
    name = "sign"
    description = Description(  # a jump at 0
        draw=away_from_zero,
        params=samplers.kink_at_zero,
        call=lambda a: sign(a),
        numpy=np.sign,
        torch=lambda t, a: t.sign(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.sign(a)


@described
class Floor(_Step):
    name = "floor"
    description = Description(  # jumps at the integers
        draw=domains.between_integers,
        params=domains.away_from_integers,
        call=lambda a: floor(a),
        numpy=np.floor,
        torch=lambda t, a: t.floor(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.floor(a)


@described
class Ceil(_Step):
    name = "ceil"
    description = Description(
        draw=domains.between_integers,
        params=domains.away_from_integers,
        call=lambda a: ceil(a),
        numpy=np.ceil,
        torch=lambda t, a: t.ceil(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.ceil(a)


@described
class Trunc(_Step):
    name = "trunc"
    description = Description(
        draw=domains.between_integers,
        params=domains.away_from_integers,
        call=lambda a: trunc(a),
        numpy=np.trunc,
        torch=lambda t, a: t.trunc(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.trunc(a)


@described
class Round(_Step):
    """Round to `decimals` places, halves to even (as numpy; ``rint`` is 0 places)."""

    name = "round"
    description = Description(  # jumps at the halves of the last place
        args=("decimals",),
        draw=domains.between_integers,
        params=domains.round_decimals,
        call=lambda a, **p: round(a, **p),
        numpy=lambda a, decimals: np.round(a, decimals),
        torch=lambda t, a, decimals: t.round(a, decimals=decimals),
    )

    @staticmethod
    def forward(ctx, a, decimals):
        return np.round(a, decimals)


@described
class Mod(Op):
    """a mod b with the sign of b (``np.mod``, Python's %): a - floor(a / b) * b.

    d/da = 1 and d/db = -floor(a / b) on each piece; where a / b is an integer mod jumps (from
    b's side to 0) and the gradient is the one of the piece the value lies on.
    """

    name = "mod"
    reads = ((), (0, 1))
    description = Description(
        inputs=2,
        draw=(away_from_zero, away_from_zero),
        params=domains.mod_domain,
        call=lambda a, b: a % b,
        numpy=np.mod,
        torch=lambda t, a, b: t.remainder(a, b),
        source="{0} % {1}",
    )

    @staticmethod
    def forward(ctx, a, b):
        return np.mod(a, b)

    @staticmethod
    def backward(ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        gb = None
        if nb:
            gb = sum_to(-g * np.floor_divide(value(a), value(b)).astype(value(g).dtype, copy=False), b.shape)
        return (sum_to(g, a.shape) if na else None, gb)


def _pick_first(a: Any, b: Any, dtype: np.dtype, low: bool) -> np.ndarray:
    """The first operand's share of the gradient of fmax (fmin if `low`)."""
    a, b = np.broadcast_arrays(value(a), value(b))
    an, bn = np.isnan(a), np.isnan(b)
    with np.errstate(invalid="ignore"):
        ordinary = ((a < b) if low else (a > b)) + 0.5 * (a == b)
    return np.where(bn, 1.0, np.where(an, 0.0, ordinary)).astype(dtype, copy=False)


class _Pick(Op):
    reads = ((0, 1), (0, 1))
    low = False

    @classmethod
    def backward(cls, ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        w = _pick_first(a, b, value(g).dtype, cls.low)
        return (sum_to(g * w, a.shape) if na else None, sum_to(g * (1 - w), b.shape) if nb else None)


@described
class Fmax(_Pick):
    """Elementwise maximum that ignores NaN (``np.fmax``); ties split the gradient evenly."""

    name = "fmax"
    description = Description(
        inputs=2,
        params=samplers.apart,
        call=lambda a, b: fmax(a, b),
        numpy=np.fmax,
        torch=lambda t, a, b: t.fmax(a, b),
    )

    @staticmethod
    def forward(ctx, a, b):
        return np.fmax(a, b)


@described
class Fmin(_Pick):
    """Elementwise minimum that ignores NaN (``np.fmin``); ties split the gradient evenly."""

    name = "fmin"
    low = True
    description = Description(
        inputs=2,
        params=samplers.apart,
        call=lambda a, b: fmin(a, b),
        numpy=np.fmin,
        torch=lambda t, a, b: t.fmin(a, b),
    )

    @staticmethod
    def forward(ctx, a, b):
        return np.fmin(a, b)


@described
class NanToNum(Op):
    """NaN and infinities replaced by numbers; the gradient passes where the input is finite."""

    name = "nan_to_num"
    reads = ((0,),)
    description = Description(
        args=("nan", "posinf", "neginf"),
        params=domains.nan_fill,
        call=lambda a, **p: nan_to_num(a, **p),
        numpy=lambda a, nan, posinf, neginf: np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf),
        torch=lambda t, a, nan, posinf, neginf: t.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf),
    )

    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        return np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g, a, nan, posinf, neginf):
        return where(np.isfinite(value(a)), g, 0), None, None, None


# ----- public functions --------------------------------------------------------------------


def sign(x: Any) -> Any:
    """-1, 0 or 1 by the sign of x (NaN for NaN); zero gradient."""
    return Sign.apply(to_tensor(x, "sign"))


def floor(x: Any) -> Any:
    """The largest integer not above x (as a float); zero gradient."""
    return Floor.apply(to_tensor(x, "floor"))


def ceil(x: Any) -> Any:
    """The smallest integer not below x (as a float); zero gradient."""
    return Ceil.apply(to_tensor(x, "ceil"))


def trunc(x: Any) -> Any:
    """x rounded toward 0 (as a float); zero gradient."""
    return Trunc.apply(to_tensor(x, "trunc"))


def round(x: Any, decimals: int = 0) -> Any:  # noqa: A001 - numpy's name
    """x rounded to `decimals` places, halves to even, as ``np.round``; zero gradient."""
    return Round.apply(to_tensor(x, "round"), int(decimals))


@describes(
    Description(
        "rint",
        draw=domains.between_integers,
        params=domains.away_from_halves,
        numpy=np.rint,
        torch=lambda t, a: t.round(a),
    )
)
def rint(x: Any) -> Any:
    """x rounded to the nearest integer, halves to even, as ``np.rint``; zero gradient."""
    return Round.apply(to_tensor(x, "rint"), 0)


def mod(a: Any, b: Any) -> Any:
    """a mod b with the sign of b, as ``np.mod`` and Python's ``%``; broadcasts."""
    return Mod.apply(*pair(a, b, "mod"))


remainder = mod


def fmax(a: Any, b: Any) -> Any:
    """Elementwise maximum ignoring NaN, as ``np.fmax``."""
    return Fmax.apply(*pair(a, b, "fmax"))


def fmin(a: Any, b: Any) -> Any:
    """Elementwise minimum ignoring NaN, as ``np.fmin``."""
    return Fmin.apply(*pair(a, b, "fmin"))


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None):
    """NaN replaced by `nan`, inf by `posinf`, -inf by `neginf` (the dtype's largest numbers when None).

    As ``np.nan_to_num``, but always a new array: `copy` is accepted and ignored (no op writes its input).
    """
    return NanToNum.apply(to_tensor(x, "nan_to_num"), float(nan), posinf, neginf)
