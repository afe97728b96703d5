"""Losses, activations, dropout and the L2 penalty as functions, built from tinygraph ops.

Every loss takes ``reduction='mean'`` (average over the examples), ``'sum'`` or
``'none'`` (one value per example), checks shapes and values first, and never
modifies the caller's arrays. Most are compositions of ops, so their gradients,
pictures and gradient checks come for free; cross-entropy with class indices is
one op (`SoftmaxCrossEntropy`) whose gradient is the course's dZ = A - Y.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygraph.function import Context
from tinygraph.ops import activation as _act
from tinygraph.ops import elementwise as _ew
from tinygraph.ops import reduce as _rd
from tinygraph.ops._common import Op, as_tensor
from tinygraph.ops.describe import Description, described
from tinygraph.random import generator
from tinygraph.tensor import Tensor

if TYPE_CHECKING:
    from tinygraph.nn.module import Module

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "l1_loss",
    "l2_penalty",
    "leaky_relu",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

relu = _act.relu
tanh = _act.tanh
sigmoid = _act.sigmoid
leaky_relu = _act.leaky_relu
softmax = _rd.softmax
log_softmax = _rd.log_softmax


# log(p) is clamped at -100 (as PyTorch does), so p = 0 gives a large finite loss, not inf or NaN;
# in float32 e^-100 is subnormal and 1/floor would overflow, so the floor is the smallest normal there
def _log_floor(dtype: np.dtype) -> float:
    return max(float(np.exp(-100.0)), float(np.finfo(dtype).tiny))


# ----- checking inputs ------------------------------------------------------------------------------
def _tensor(x: Any, where: str, what: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return as_tensor(x, where)
    except TypeError as e:
        raise TypeError(f"{where}: {what} must be numeric: {e}") from None


def _array(x: Any) -> np.ndarray:
    """`x` as an ndarray; an ndarray as it is (tg.compile's trace follows it)."""
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def _float_data(t: Tensor, where: str, what: str) -> np.ndarray:
    arr = t._data
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{where}: {what} must be numeric, got dtype {arr.dtype}")
    return arr


def _no_nan(arr: np.ndarray, where: str, what: str) -> None:
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        n = int(np.isnan(arr).sum())
        raise ValueError(f"{where}: {what} of shape {arr.shape} contains {n} NaN value(s)")


def _same_shape(inp: Tensor, target: Tensor, where: str, in_name: str = "input") -> None:
    if inp.shape != target.shape:
        raise ValueError(
            f"{where}: {in_name} has shape {inp.shape} but target has shape {target.shape}; they must match "
            "(check the batch size, and (m,) vs (m, 1) vs (1, m) layouts)"
        )


def _in_unit_interval(arr: np.ndarray, where: str, what: str) -> None:
    bad = (arr < 0) | (arr > 1)
    if bad.any():
        vals = arr[bad]
        raise ValueError(
            f"{where}: {what} must lie in [0, 1]; {int(bad.sum())} of {arr.size} values are outside "
            f"(min {float(arr.min()):.6g}, max {float(arr.max()):.6g}, e.g. {float(vals.flat[0]):.6g})"
        )


def _reduce(loss: Tensor, reduction: str, where: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{where}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_reduction(reduction: str, where: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{where}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _as_like(target: Tensor, like: Tensor) -> Tensor:
    """Integer or bool targets as floats of the input's dtype (so the loss stays float)."""
    if target.dtype.kind != "f":
        return Tensor._make(target._data.astype(like.dtype if like.dtype.kind == "f" else np.float64))
    return target


# ----- binary losses -----------------------------------------------------------------------------------
def binary_cross_entropy(probs: Any, target: Any, reduction: str = "mean") -> Tensor:
    """The course's logistic cost: -(y·log(a) + (1 - y)·log(1 - a)), averaged over all elements.

    ``probs`` are probabilities (after a sigmoid), each in [0, 1]; ``target`` has
    the same shape, with values in [0, 1]. log is clamped at -100 so a
    probability of exactly 0 or 1 gives a large finite loss. Prefer
    `binary_cross_entropy_with_logits` on the pre-sigmoid values: it is exact
    for any logit.

    >>> import tinygraph as tg
    >>> from tinygraph.nn import functional as F
    >>> loss = F.binary_cross_entropy(tg.tensor([[0.8, 0.4]]), tg.tensor([[1.0, 0.0]]))
    >>> round(loss.item(), 6)   # -(log 0.8 + log 0.6) / 2
    0.366985
    """
    where = "binary_cross_entropy"
    _check_reduction(reduction, where)
    p = _tensor(probs, where, "probs")
    y = _tensor(target, where, "target")
    _same_shape(p, y, where, "probs")
    pa = _float_data(p, where, "probs")
    _no_nan(pa, where, "probs")
    _in_unit_interval(pa, where, "probs")
    ya = _float_data(y, where, "target")
    _no_nan(ya, where, "target")
    _in_unit_interval(ya, where, "target")
    y = _as_like(y, p)
    floor = _log_floor(p.dtype)
    log_p = _ew.log(_ew.clip(p, floor, None))
    log_1mp = _ew.log(_ew.clip(1 - p, floor, None))
    loss = -(y * log_p + (1 - y) * log_1mp)
    return _reduce(loss, reduction, where)


def binary_cross_entropy_with_logits(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(z), computed from the logits z as softplus(z) - y·z.

    The same value as ``binary_cross_entropy(sigmoid(z), y)`` but exact and finite
    for any z (±1e4 included), and its gradient is simply sigmoid(z) - y.

    >>> import tinygraph as tg
    >>> from tinygraph.nn import functional as F
    >>> z = tg.tensor([1e4, -1e4, 0.0]); y = tg.tensor([1.0, 1.0, 0.0])
    >>> F.binary_cross_entropy_with_logits(z, y, reduction="none")
    Tensor([0.00000000e+00, 1.00000000e+04, 6.93147181e-01])
    """
    where = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, where)
    z = _tensor(logits, where, "logits")
    y = _tensor(target, where, "target")
    _same_shape(z, y, where, "logits")
    _no_nan(_float_data(z, where, "logits"), where, "logits")
    ya = _float_data(y, where, "target")
    _no_nan(ya, where, "target")
    _in_unit_interval(ya, where, "target")
    y = _as_like(y, z)
    # log(1 + e^z) - y z; softplus never overflows, and at z = ±1e4 both terms are exact
    loss = _act.softplus(z) - y * z
    return _reduce(loss, reduction, where)


# ----- multi-class losses ------------------------------------------------------------------------------
def _out_of_range(t: np.ndarray, bad: np.ndarray, n_classes: int, where: str) -> ValueError:
    """The error for class labels outside [0, n_classes): the first five bad values (as given) and rows."""
    shown = [int(v) if abs(v) < 2**53 else v for v in sorted(set(t[bad].tolist()))[:5]]
    return ValueError(
        f"{where}: target labels must be in [0, {n_classes - 1}] for {n_classes} classes; "
        f"got {shown} (at rows {np.flatnonzero(bad)[:5].tolist()})"
    )


def _class_targets(t: np.ndarray, n: int, n_classes: int, where: str, in_name: str, in_shape: tuple) -> np.ndarray:
    """The target `t` (an ndarray) as int64 class indices (a copy), checked against `n` rows of `n_classes`."""
    if t.dtype.kind == "b" or t.dtype.kind not in "iuf":
        raise TypeError(f"{where}: class-index target must be integers, got dtype {t.dtype}")
    if t.shape != (n,):
        raise ValueError(
            f"{where}: {in_name} of shape {in_shape} needs a target of {n} class indices (shape ({n},)) or "
            f"{n} rows of class probabilities (shape {in_shape}), got target of shape {t.shape}"
        )
    if t.dtype.kind == "f":
        _no_nan(t, where, "target")
        if not np.all(t == np.round(t)):
            raise ValueError(f"{where}: class-index target of dtype {t.dtype} holds non-integer values")
        bad = (t < 0) | (t >= n_classes)  # (before the cast to integers, which would garble inf and 1e20)
        if bad.any():
            raise _out_of_range(t, bad, n_classes, where)
    idx = t.astype(np.int64)
    # one pass for both bounds: as unsigned, a negative index is larger than any class count
    if n and np.maximum.reduce(idx.astype(np.uint64, copy=False)) >= n_classes:
        raise _out_of_range(idx, (idx < 0) | (idx >= n_classes), n_classes, where)
    return idx


def _check_2d(x: Tensor, where: str, name: str) -> None:
    if x.ndim != 2:
        raise ValueError(
            f"{where}: {name} must have shape (batch, classes), got shape {x.shape}; "
            "reshape a single example with x.reshape(1, -1)"
        )


_ROWS: dict = {}  # n -> np.arange(n), read-only: the row numbers of a batch of n, made once per batch size


def _rows(n: int) -> np.ndarray:
    rows = _ROWS.get(n)
    if rows is None:
        if len(_ROWS) >= 64:
            _ROWS.clear()
        rows = _ROWS[n] = np.arange(n)
        rows.flags.writeable = False
    return rows


def at_labels(idx: np.ndarray) -> tuple:
    """The index of each row's labelled class: ``a[at_labels(idx)]`` is ``a[i, idx[i]]`` for every row i
    (the row numbers made once per batch size; `tg.compile`'s cross-entropy kernel uses it too)."""
    return _rows(idx.shape[0]), idx


def onehot_rows(labels: np.ndarray, shape: tuple, dtype: Any) -> np.ndarray:
    """The one-hot rows of class indices `labels`, an array of `shape` (cross-entropy's vjp; `tg.compile`'s too)."""
    onehot = np.zeros(shape, dtype)
    onehot[at_labels(labels)] = 1
    return onehot


def _pick(logp: Tensor, idx: np.ndarray) -> Tensor:
    return logp[at_labels(idx)]


def nll_loss(log_probs: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -log_probs[i, target[i]] for class-index targets.

    ``log_probs`` has shape (batch, classes) (the output of `log_softmax`);
    ``target`` holds one integer class per row.

    >>> import numpy as np, tinygraph as tg
    >>> from tinygraph.nn import functional as F
    >>> lp = tg.tensor(np.log([[0.5, 0.5], [0.1, 0.9]]))
    >>> round(F.nll_loss(lp, np.array([0, 1])).item(), 6)   # -(log 0.5 + log 0.9) / 2
    0.399254
    """
    where = "nll_loss"
    _check_reduction(reduction, where)
    lp = _tensor(log_probs, where, "log_probs")
    _check_2d(lp, where, "log_probs")
    _no_nan(_float_data(lp, where, "log_probs"), where, "log_probs")
    t = target._data if isinstance(target, Tensor) else _array(target)
    idx = _class_targets(t, lp.shape[0], lp.shape[1], where, "log_probs", lp.shape)
    return _reduce(-_pick(lp, idx), reduction, where)


def _row_max(z: np.ndarray) -> np.ndarray:
    """``np.maximum.reduce(z, axis=1, keepdims=True)`` of a 2-D array (the same values: a maximum is exact).

    numpy reduces a short last axis one row at a time: 8.2 µs for 128 rows of 10 float32 classes, where a
    reduction down the columns of the transposed copy takes 1.9 µs (benchmarks/NOTES.md, nineteenth
    round); for few rows or many classes the rows' own reduction is the faster one.
    """
    rows, classes = z.shape
    if classes <= 32 and rows >= 32:
        return np.maximum.reduce(np.ascontiguousarray(z.T), axis=0).reshape(rows, 1)
    return np.maximum.reduce(z, axis=1, keepdims=True)


def row_scale(g: Any, n: Any, reduction: str) -> Any:
    """What each row's softmax-minus-one-hot is multiplied by in cross-entropy's vjp (Tensor or array `g`).

    The incoming gradient: one value per row for ``'none'``, one for the batch for ``'sum'``, and
    that divided by the batch size `n` (an int, or a 0-d array of g's dtype: the same values) for ``'mean'``.
    """
    if reduction == "none":
        return g.reshape(-1, 1)
    return g / n if reduction == "mean" else g


@described
class SoftmaxCrossEntropy(Op):
    """Softmax cross-entropy -log softmax(z)[i, y_i] for class indices y, reduced, as one op.

    ``apply(z, labels, reduction)``: one value per row for ``'none'``, their sum for ``'sum'``,
    their mean for ``'mean'``. The gradient is the course's dZ = A - Y, the softmax minus the
    one-hot target, times the incoming gradient of each row (divided by the batch size for the
    mean). One vjp step instead of the four ops (log_softmax, pick, negate, mean) the composition
    takes. The forward keeps the softmax on the node (released with it) for the vjp on arrays;
    with a graph of the gradient the vjp records it from z in tinygraph ops, so second
    derivatives are right.
    """

    name = "cross_entropy"
    reads = ((0,),)
    description = Description(args=("labels", "reduction"))  # checked through cross_entropy (tests/test_losses.py)

    @staticmethod
    def values(z, labels, reduction):
        """The loss and the log-softmax it is computed from, on arrays (the forward's numbers; a replay
        of `tg.compile` calls it too). NaN logits give a NaN loss here: the forward checks for them."""
        at = at_labels(labels)
        loss = None
        if reduction != "none" and z.size:
            # LogSoftmax's forward, shifted by the max itself: a finite loss means every max was finite
            s = z - _row_max(z)
            logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
            loss = -logp[at].sum()
        if loss is None or not math.isfinite(loss):  # 'none', or a NaN or an infinite logit: log_softmax's way
            logp = _rd.LogSoftmax.forward(None, z, (1,))  # (infinite ones are shifted by 0, not their maximum)
            loss = -logp[at] if reduction == "none" else -logp[at].sum()
        return (loss / labels.shape[0] if reduction == "mean" else loss), logp

    @staticmethod
    def forward(ctx, z, labels, reduction):
        loss, logp = SoftmaxCrossEntropy.values(z, labels, reduction)
        if reduction == "none" or not math.isfinite(loss):
            _no_nan(z, "cross_entropy", "logits")  # NaN logits are an error (checked only here, where they show)
        if isinstance(ctx, Context):  # a node: it keeps the softmax for the vjp, released with it
            ctx.save_for_backward(*ctx.saved, np.exp(logp))
        return loss

    @staticmethod
    def backward(ctx, g, z, labels, reduction):
        if isinstance(z, Tensor) or len(ctx.saved) < 2:  # a graph of the gradient (or a replay's ctx, which
            p = _ew.exp(_rd.log_softmax(z, axis=1))  # keeps nothing): the softmax recorded from z
        else:  # on arrays: the softmax the forward kept (the same values)
            p = ctx.saved[1]
        return (p - onehot_rows(labels, p.shape, p.dtype)) * row_scale(g, labels.shape[0], reduction), None, None


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits of shape (batch, classes), via a stable log_softmax.

    ``target`` is either integer class indices of shape (batch,) — loss_i =
    -log softmax(z_i)[y_i] — or class probabilities (one-hot or soft labels) of
    the logits' shape — loss_i = -Σ_k y_ik·log softmax(z_i)_k, the course's
    softmax cost. Exact and finite for logits as large as ±1e4.

    >>> import numpy as np, tinygraph as tg
    >>> from tinygraph.nn import functional as F
    >>> z = tg.tensor([[2.0, 0.0, 0.0]])
    >>> round(F.cross_entropy(z, np.array([0])).item(), 6)   # log(e^2 + 2) - 2
    0.239545
    >>> round(F.cross_entropy(z, tg.tensor([[1.0, 0.0, 0.0]])).item(), 6)
    0.239545
    """
    where = "cross_entropy"
    _check_reduction(reduction, where)
    z = _tensor(logits, where, "logits")
    _check_2d(z, where, "logits")
    za = _float_data(z, where, "logits")
    t = target._data if isinstance(target, Tensor) else _array(target)
    if t.ndim != 2:  # class indices: one op, the reduction included; it finds NaN logits itself
        try:
            idx = _class_targets(t, za.shape[0], za.shape[1], where, "logits", za.shape)
            if reduction == "mean" and idx.shape[0] == 0:
                raise ValueError(f"{where}: cannot average over an empty batch (logits of shape {z.shape})")
        except (TypeError, ValueError):
            _no_nan(za, where, "logits")  # NaN logits are reported first, before what is wrong with the target
            raise
        return SoftmaxCrossEntropy.apply(z, idx, reduction)
    _no_nan(za, where, "logits")
    y = target if isinstance(target, Tensor) else as_tensor(target, where)
    _same_shape(z, y, where, "logits")
    _no_nan(_float_data(y, where, "target"), where, "target")
    _in_unit_interval(t, where, "target probabilities")
    y = _as_like(y, z)
    return _reduce(-(y * _rd.log_softmax(z, axis=1)).sum(axis=1), reduction, where)


# ----- regression losses ------------------------------------------------------------------------------
def _regression_pair(inp: Any, target: Any, where: str) -> tuple[Tensor, Tensor]:
    x = _tensor(inp, where, "input")
    y = _tensor(target, where, "target")
    _same_shape(x, y, where)
    _no_nan(_float_data(y, where, "target"), where, "target")
    return x, _as_like(y, x)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002 - PyTorch's name
    """Mean squared error: mean((input - target)²) over all elements.

    >>> import tinygraph as tg
    >>> from tinygraph.nn import functional as F
    >>> F.mse_loss(tg.tensor([1.0, 2.0]), tg.tensor([0.0, 4.0])).item()   # (1 + 4) / 2
    2.5
    """
    where = "mse_loss"
    _check_reduction(reduction, where)
    x, y = _regression_pair(input, target, where)
    d = x - y
    return _reduce(d * d, reduction, where)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002 - PyTorch's name
    """Mean absolute error: mean(|input - target|) over all elements.

    >>> import tinygraph as tg
    >>> from tinygraph.nn import functional as F
    >>> F.l1_loss(tg.tensor([1.0, 2.0]), tg.tensor([0.0, 4.0])).item()   # (1 + 2) / 2
    1.5
    """
    where = "l1_loss"
    _check_reduction(reduction, where)
    x, y = _regression_pair(input, target, where)
    return _reduce(_ew.abs(x - y), reduction, where)


# ----- dropout --------------------------------------------------------------------------------------------
@described
class DropoutMask(Op):
    """Inverted dropout's random op: multiply by a mask of 0s and 1/keep_prob.

    The mask is drawn once in forward (from ``tinygraph.random.generator()``) and, when a
    graph is recorded, saved on the node for backward, which multiplies the gradient by the
    same mask. ``is_random = True`` tells gradient checking that re-running this op gives
    different numbers.
    """

    name = "dropout"
    is_random = True
    description = Description(args=("p",))  # random: finite differences cannot check it

    @staticmethod
    def forward(ctx, x, p):
        keep_prob = 1.0 - p
        # the course's recipe: d = rand < keep_prob; a = a * d / keep_prob
        keep = generator().random(x.shape) < keep_prob
        mask = keep.astype(x.dtype) * np.asarray(1.0 / keep_prob, dtype=x.dtype)
        ctx.save_for_backward(mask)  # without a graph (ctx is NO_GRAD) nothing is kept
        return x * mask

    @staticmethod
    def backward(ctx, g, x, p):
        return g * ctx.saved[0], None


def dropout(x: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the kept ones by 1/(1-p).

    ``p`` is the drop probability; the course's ``keep_prob`` is 1 - p. Scaling
    the survivors keeps the expected value of every unit, so nothing changes at
    test time: with ``training=False`` (or p = 0) this is the identity. p = 1
    drops everything (the output is zeros).

    >>> import numpy as np, tinygraph as tg
    >>> from tinygraph.nn import functional as F
    >>> from tinygraph.random import manual_seed
    >>> _ = manual_seed(0)
    >>> y = F.dropout(tg.tensor(np.ones(10_000)), p=0.2)
    >>> sorted(set(np.round(y.data, 6).tolist()))   # dropped, or kept and scaled by 1/0.8
    [0.0, 1.25]
    >>> round(float(y.data.mean()), 1)              # the mean is preserved
    1.0
    >>> F.dropout(tg.tensor([1.0, 2.0]), p=0.5, training=False)
    Tensor([1., 2.])
    """
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0 <= p <= 1:
        raise ValueError(f"dropout: p (the drop probability, 1 - keep_prob) must be in [0, 1], got {p!r}")
    x = _tensor(x, "dropout", "input")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    if x.dtype.kind != "f":
        x = _ew.astype(x, np.float64)
    return DropoutMask.apply(x, float(p))


# ----- regularization ---------------------------------------------------------------------------------
def l2_penalty(module: Module, lambd: float, m: int) -> Tensor:
    """The course's L2 regularization term: λ/(2m) · Σ_l ‖W[l]‖²_F, over weights only.

    Sums the squares of every parameter whose name ends in ``weight``
    (``Linear.weight``), each shared one once; biases and batch norm's
    scale and shift are not penalized. ``m`` is the number of training
    examples in the cost it is added to (the batch size for a mini-batch).
    Add it to the data loss; its gradient is the weight decay (λ/m)·W[l].

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> from tinygraph.nn import functional as F
    >>> lin = nn.Linear(2, 1)
    >>> lin.weight.data[...] = [[3.0, 4.0]]; lin.bias.data[...] = 100.0
    >>> F.l2_penalty(lin, lambd=0.1, m=5).item()   # 0.1 / 10 * (9 + 16)
    0.25
    """
    from tinygraph.nn.layers import BatchNorm1d
    from tinygraph.nn.module import Module

    if not isinstance(module, Module):
        raise TypeError(f"l2_penalty: expected an nn.Module, got {type(module).__name__}")
    if not lambd >= 0:
        raise ValueError(f"l2_penalty: lambd must be >= 0, got {lambd!r}")
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m <= 0:
        raise ValueError(f"l2_penalty: m (the number of examples) must be a positive int, got {m!r}")
    seen: set = set()
    total = None
    for mod in module.modules():
        if isinstance(mod, BatchNorm1d):
            continue
        for name, p in mod._parameters.items():
            if p is None or not name.endswith("weight") or id(p) in seen:
                continue
            seen.add(id(p))
            sq = (p * p).sum()
            total = sq if total is None else total + sq
    if total is None:
        return Tensor._make(np.zeros((), dtype=np.float64))
    return total * (float(lambd) / (2 * int(m)))
