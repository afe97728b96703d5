"""Mini-batches, train/dev/test splits, input standardization and image augmentation.

Two layouts are understood everywhere an example axis matters:

- ``layout="rows"`` (PyTorch, numpy): examples are rows, X is (m, n_x), Y is (m,) or (m, k);
  image arrays are (m, H, W) or (m, H, W, C).
- ``layout="columns"`` (the course): examples are columns, X is (n_x, m), Y is (1, m) or (k, m).

Nothing here modifies the arrays it is given; every batch and split is a new array.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "Augment",
    "Standardizer",
    "augment_images",
    "hflip",
    "minibatches",
    "rotate",
    "shift",
    "train_dev_test_split",
]


# ----- helpers -----------------------------------------------------------------------------------


def _as_array(a: Any, where: str, label: str) -> np.ndarray:
    if a is None:
        raise TypeError(f"{where}: {label} is None")
    arr = np.asarray(a)
    if arr.ndim == 0:
        raise ValueError(f"{where}: {label} must have an example axis, got a scalar")
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{where}: {label} must be numeric, got dtype {arr.dtype}")
    return arr


def _axis(layout: str, where: str) -> int:
    if layout == "rows":
        return 0
    if layout == "columns":
        return -1
    raise ValueError(f"{where}: layout must be 'rows' or 'columns', got {layout!r}")


def _n_examples(arr: np.ndarray, layout: str) -> int:
    # A 1-D Y has its examples along its only axis in both layouts.
    return arr.shape[0] if (layout == "rows" or arr.ndim == 1) else arr.shape[-1]


def _take(arr: np.ndarray, idx: np.ndarray, layout: str) -> np.ndarray:
    axis = 0 if (layout == "rows" or arr.ndim == 1) else arr.ndim - 1
    return np.take(arr, idx, axis=axis)


def _check_pair(X: Any, Y: Any, layout: str, where: str) -> tuple[np.ndarray, np.ndarray, int]:
    _axis(layout, where)
    X = _as_array(X, where, "X")
    Y = _as_array(Y, where, "Y")
    mx, my = _n_examples(X, layout), _n_examples(Y, layout)
    if mx != my:
        axis_name = "rows (axis 0)" if layout == "rows" else "columns (last axis)"
        other = "columns" if layout == "rows" else "rows"
        fits = _n_examples(X, other) == _n_examples(Y, other)
        hint = {
            "columns": "; they fit the course's layout (examples are columns, as make_flower() gives): "
            "pass layout='columns'",
            "rows": "; they fit the batch-first layout (examples are rows): pass layout='rows'",
        }
        raise ValueError(
            f"{where}: X has shape {X.shape} and Y has shape {Y.shape}: with layout={layout!r} examples are "
            f"{axis_name}, so X has {mx} examples and Y has {my}" + (hint[other] if fits else "")
        )
    return X, Y, mx


def _rng(seed: Any) -> np.random.Generator:
    """A Generator from an int seed, a Generator, or (None) tinygraph's shared random source."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        try:
            from tinygraph.random import generator
        except ImportError:  # pragma: no cover - tinygraph.random ships with tinygraph
            return np.random.default_rng()
        return generator()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, a numpy Generator or None, got {seed!r}")
    return np.random.default_rng(int(seed))


# ----- mini-batches ------------------------------------------------------------------------------


def minibatches(
    X: Any,
    Y: Any,
    batch_size: int = 64,
    *,
    shuffle: bool = True,
    seed: Any = None,
    layout: str = "rows",
    drop_last: bool = False,
    augment: Callable[..., np.ndarray] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffle (X, Y) with one permutation and cut it into mini-batches of ``batch_size`` examples.

    The course's recipe: shuffle the examples (the same permutation for X and
    Y), then partition; the last batch holds the remainder (300 examples at
    64 → 64, 64, 64, 64, 44) unless ``drop_last=True``. Every example appears
    in exactly one batch. ``seed`` (an int or a numpy Generator) fixes the
    permutation; pass a different seed each epoch (e.g. ``seed=epoch``) to
    reshuffle, or ``None`` to draw from tinygraph's shared generator
    (`tinygraph.random.manual_seed`). ``layout="columns"`` takes the course's
    X of shape (n_x, m), Y of shape (1, m), and gives (n_x, b), (1, b) batches.
    ``augment`` (an `Augment`, or any function of an X batch) is applied to
    each X batch; an `Augment` draws from the same seeded generator.

    Returns a list of (X_batch, Y_batch) ndarrays (copies: writing into a
    batch never changes X or Y).

    >>> import numpy as np
    >>> from tinygraph.data import minibatches
    >>> X, Y = np.arange(300 * 2).reshape(300, 2), np.arange(300)
    >>> [len(yb) for _, yb in minibatches(X, Y, 64, seed=0)]
    [64, 64, 64, 64, 44]
    >>> xb, yb = minibatches(X, Y, 64, seed=0)[0]
    >>> bool(np.all(xb[:, 0] == 2 * yb))     # rows of X stay paired with their labels
    True
    >>> Xc, Yc = np.zeros((5, 300)), np.zeros((1, 300))
    >>> [xb.shape for xb, _ in minibatches(Xc, Yc, 128, layout="columns")]
    [(5, 128), (5, 128), (5, 44)]
    """
    X, Y, m = _check_pair(X, Y, layout, "minibatches")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
        raise ValueError(f"minibatches: batch_size must be a positive integer, got {batch_size!r}")
    if m == 0:
        raise ValueError(f"minibatches: X (shape {X.shape}) has no examples")
    rng = _rng(seed) if (shuffle or augment is not None) else None
    order = rng.permutation(m) if shuffle else np.arange(m)
    stop = (m // batch_size) * batch_size if drop_last else m
    batches = []
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        xb, yb = _take(X, idx, layout), _take(Y, idx, layout)
        if augment is not None:
            if layout != "rows":
                raise ValueError("minibatches: augment needs layout='rows' (images as (m, H, W) or (m, H, W, C))")
            xb = augment(xb, rng=rng) if isinstance(augment, Augment) else np.asarray(augment(xb))
        batches.append((xb, yb))
    return batches


# ----- train / dev / test split --------------------------------------------------------------


def train_dev_test_split(
    X: Any,
    Y: Any,
    ratios: Sequence[float] = (0.98, 0.01, 0.01),
    seed: Any = 0,
    layout: str = "rows",
    shuffle: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Shuffle and split (X, Y) into train, dev (and test) sets by ``ratios``.

    ``ratios`` has two (train, dev) or three (train, dev, test) non-negative
    numbers summing to 1. The dev and test sizes are ``round(ratio·m)``
    (at least 1 when their ratio is positive), train gets the rest: with a
    million examples 98/1/1 leaves 10,000 each for dev and test, as the course
    suggests for big data; 60/20/20 is the small-data habit. The sets are
    disjoint and together hold every example once.

    Returns ``((X_train, Y_train), (X_dev, Y_dev), (X_test, Y_test))`` (two
    pairs for two ratios), ready for ``fit(..., train, dev_data=dev)``.

    >>> import numpy as np
    >>> from tinygraph.data import train_dev_test_split
    >>> X, Y = np.arange(1000).reshape(1000, 1), np.arange(1000)
    >>> train, dev, test = train_dev_test_split(X, Y, (0.6, 0.2, 0.2))
    >>> len(train[1]), len(dev[1]), len(test[1])
    (600, 200, 200)
    """
    X, Y, m = _check_pair(X, Y, layout, "train_dev_test_split")
    try:
        r = [float(v) for v in ratios]
    except (TypeError, ValueError):
        raise TypeError(f"train_dev_test_split: ratios must be a sequence of numbers, got {ratios!r}") from None
    if len(r) not in (2, 3):
        raise ValueError(f"train_dev_test_split: ratios needs 2 or 3 numbers (train, dev[, test]), got {ratios!r}")
    if any(not math.isfinite(v) or v < 0 for v in r):
        raise ValueError(f"train_dev_test_split: ratios must be non-negative, got {ratios!r}")
    if abs(sum(r) - 1.0) > 1e-6:
        raise ValueError(f"train_dev_test_split: ratios must sum to 1, got {ratios!r} (sum {sum(r)})")
    sizes = [max(1, round(v * m)) if v > 0 else 0 for v in r[1:]]
    n_train = m - sum(sizes)
    if n_train < 0 or (r[0] > 0 and n_train == 0):
        raise ValueError(
            f"train_dev_test_split: {m} examples are too few for ratios {ratios!r} "
            f"(dev/test would take {sizes}, leaving {n_train} for training)"
        )
    order = _rng(seed).permutation(m) if shuffle else np.arange(m)
    bounds = np.cumsum([n_train, *sizes])[:-1]
    return tuple((_take(X, idx, layout), _take(Y, idx, layout)) for idx in np.split(order, bounds))


# ----- standardization ---------------------------------------------------------------------------


class Standardizer:
    """Normalize inputs with the training set's mean μ and variance σ²: x ← (x − μ) / σ.

    Fit on the training set only, then transform train, dev and test with the
    *same* μ and σ² (the course's rule: otherwise the sets live on different
    scales). μ and σ² are per feature (per pixel for images), over the example
    axis; σ is floored at ``min_std``, and a constant feature gets μ its value and σ = 1 (its
    training values become 0, a dev value x becomes x − μ).
    `inverse_transform` undoes it.

    >>> import numpy as np
    >>> from tinygraph.data import Standardizer
    >>> X_train = np.array([[1.0, 10.0], [3.0, 10.0]])
    >>> s = Standardizer().fit(X_train)
    >>> s.mean_, s.var_
    (array([[ 2., 10.]]), array([[1., 0.]]))
    >>> s.transform(np.array([[5.0, 10.0]]))     # a dev example, scaled by the training numbers
    array([[3., 0.]])
    """

    def __init__(self, layout: str = "rows", min_std: float = 1e-8) -> None:
        _axis(layout, "Standardizer")
        if not (isinstance(min_std, numbers.Real) and min_std > 0):
            raise ValueError(f"Standardizer: min_std must be > 0, got {min_std!r}")
        self.layout = layout
        self.min_std = float(min_std)
        self.mean_: np.ndarray | None = None
        self.var_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def fit(self, X: Any) -> Standardizer:
        """Compute μ and σ² of the training inputs ``X``; returns self."""
        X = _as_array(X, "Standardizer.fit", "X")
        axis = _axis(self.layout, "Standardizer.fit")
        if X.shape[axis] == 0:
            raise ValueError(f"Standardizer.fit: X (shape {X.shape}) has no examples")
        Xf = X.astype(np.result_type(X.dtype, np.float32), copy=False)
        self.mean_ = Xf.mean(axis=axis, keepdims=True)
        self.var_ = Xf.var(axis=axis, keepdims=True)
        self.std_ = np.maximum(np.sqrt(self.var_), self.min_std).astype(self.var_.dtype)
        # a constant feature, found exactly: μ its value and σ² 0 (the mean's rounding left σ at the rounding
        # error, so its values became ±1, and a dev value near them millions), σ taken as 1 (scikit-learn's choice)
        low = Xf.min(axis=axis, keepdims=True)
        const = low == Xf.max(axis=axis, keepdims=True)
        if const.any():
            self.mean_ = np.where(const, low, self.mean_)
            self.var_ = np.where(const, 0, self.var_).astype(self.var_.dtype)
            self.std_ = np.where(const, 1, self.std_).astype(self.std_.dtype)
        return self

    def _check(self, X: Any, where: str) -> np.ndarray:
        if self.mean_ is None:
            raise RuntimeError(f"Standardizer.{where}: call fit(X_train) first")
        X = _as_array(X, f"Standardizer.{where}", "X")
        feat = self.mean_.shape[1:] if self.layout == "rows" else self.mean_.shape[:-1]
        got = X.shape[1:] if self.layout == "rows" else X.shape[:-1]
        if got != feat:
            raise ValueError(
                f"Standardizer.{where}: X has shape {X.shape}, but the standardizer was fitted on "
                f"features of shape {feat} (layout={self.layout!r})"
            )
        return X

    def transform(self, X: Any) -> np.ndarray:
        """(X − μ) / σ with the fitted μ, σ (a new array)."""
        X = self._check(X, "transform")
        return (X - self.mean_) / self.std_

    def fit_transform(self, X: Any) -> np.ndarray:
        """`fit` then `transform` the same (training) inputs."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """Z·σ + μ: back to the original units."""
        Z = self._check(Z, "inverse_transform")
        return Z * self.std_ + self.mean_

    def __repr__(self) -> str:
        state = "unfitted" if self.mean_ is None else f"fitted on features {self.mean_.shape}"
        return f"Standardizer(layout={self.layout!r}, {state})"


# ----- image augmentation ------------------------------------------------------------------------


def _check_images(images: Any, where: str) -> np.ndarray:
    arr = _as_array(images, where, "images")
    if arr.ndim not in (3, 4):
        raise ValueError(f"{where}: images must be (N, H, W) or (N, H, W, C), got shape {arr.shape}")
    return arr


def _per_image(values: Any, n: int, where: str, label: str) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if v.ndim == 0:
        v = np.full(n, float(v))
    if v.shape != (n,):
        raise ValueError(f"{where}: {label} must be a number or one per image ({n},), got shape {v.shape}")
    return v


def hflip(images: Any, mask: Any = None) -> np.ndarray:
    """Mirror images left-right (all of them, or those where ``mask`` is True); a new array.

    >>> import numpy as np
    >>> from tinygraph.data import hflip
    >>> hflip(np.array([[[1, 2, 3]]]))
    array([[[3, 2, 1]]])
    """
    arr = _check_images(images, "hflip")
    if mask is None:
        return arr[:, :, ::-1].copy()
    out = arr.copy()
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (arr.shape[0],):
        raise ValueError(f"hflip: mask must have shape ({arr.shape[0]},), got {mask.shape}")
    out[mask] = arr[mask][:, :, ::-1]
    return out


def shift(images: Any, dy: Any, dx: Any, fill: float = 0.0) -> np.ndarray:
    """Translate each image by whole pixels (dy down, dx right), filling uncovered pixels with ``fill``.

    ``dy``, ``dx`` are ints or one int per image.

    >>> import numpy as np
    >>> from tinygraph.data import shift
    >>> shift(np.array([[[1, 2, 3]]]), 0, 1)
    array([[[0, 1, 2]]])
    """
    arr = _check_images(images, "shift")
    n, h, w = arr.shape[:3]
    dys = _per_image(dy, n, "shift", "dy").astype(int)
    dxs = _per_image(dx, n, "shift", "dx").astype(int)
    out = np.full_like(arr, fill)
    for i in range(n):
        a, b = int(dys[i]), int(dxs[i])
        if abs(a) >= h or abs(b) >= w:
            continue
        out[i, max(a, 0) : h + min(a, 0), max(b, 0) : w + min(b, 0)] = arr[
            i, max(-a, 0) : h - max(a, 0), max(-b, 0) : w - max(b, 0)
        ]
    return out


def rotate(images: Any, degrees: Any, interpolation: str = "bilinear", fill: float = 0.0) -> np.ndarray:
    """Rotate each image about its centre by ``degrees`` (counter-clockwise as displayed, like ``np.rot90``).

    ``degrees`` is a number or one per image. Each output pixel looks up the
    source point it came from (the inverse rotation) and reads it with
    ``"nearest"`` or ``"bilinear"`` interpolation; points outside the image
    read ``fill``. Integer images come back rounded to their dtype.

    >>> import numpy as np
    >>> from tinygraph.data import rotate
    >>> img = np.arange(9.0).reshape(1, 3, 3)
    >>> bool(np.allclose(rotate(img, 90), np.rot90(img, axes=(1, 2))))
    True
    """
    arr = _check_images(images, "rotate")
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"rotate: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    n, h, w = arr.shape[:3]
    theta = np.deg2rad(_per_image(degrees, n, "rotate", "degrees"))
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    rr, cc = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    src_r = cos * rr + sin * cc + cy  # (n, h, w)
    src_c = -sin * rr + cos * cc + cx
    data = arr.astype(np.result_type(arr.dtype, np.float32), copy=False)
    batch = np.arange(n)[:, None, None]

    def read(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        vals = data[batch, np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)]
        return vals, inside

    def expand(m: np.ndarray) -> np.ndarray:
        return m.reshape(m.shape + (1,) * (arr.ndim - 3))

    if interpolation == "nearest":
        r, c = np.rint(src_r).astype(int), np.rint(src_c).astype(int)
        vals, inside = read(r, c)
        out = np.where(expand(inside), vals, fill)
    else:
        r0, c0 = np.floor(src_r).astype(int), np.floor(src_c).astype(int)
        fr, fc = src_r - r0, src_c - c0
        out = np.zeros(arr.shape, dtype=data.dtype)
        for dr, dc, wgt in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
            vals, inside = read(r0 + dr, c0 + dc)
            out += expand(wgt) * np.where(expand(inside), vals, fill)
    if arr.dtype.kind in "iub":
        info = np.iinfo(arr.dtype) if arr.dtype.kind != "b" else None
        out = np.rint(out)
        if info is not None:
            out = np.clip(out, info.min, info.max)
    return out.astype(arr.dtype)


class Augment:
    """Random image augmentation, as the course lists it: flips, small shifts and rotations, noise.

    Applied to a batch of images (N, H, W) or (N, H, W, C), each image gets,
    independently: a horizontal flip with probability ``flip``; a shift by
    whole pixels drawn from [−``shift``, ``shift``] in each direction; a
    rotation by an angle drawn from [−``rotate``, ``rotate``] degrees; and
    gaussian noise of standard deviation ``noise``. Draws come from ``rng``
    when given (``minibatches`` passes its seeded generator, so each
    mini-batch is augmented differently but reproducibly), else from the
    generator made from ``seed``. The input is never modified.

    >>> import numpy as np
    >>> from tinygraph.data import Augment
    >>> aug = Augment(flip=1.0, seed=0)
    >>> aug(np.array([[[1.0, 2.0]]]))
    array([[[2., 1.]]])
    """

    def __init__(
        self,
        flip: float = 0.5,
        shift: int = 0,
        rotate: float = 0.0,
        noise: float = 0.0,
        interpolation: str = "bilinear",
        fill: float = 0.0,
        seed: Any = None,
    ) -> None:
        if not 0.0 <= flip <= 1.0:
            raise ValueError(f"Augment: flip is a probability in [0, 1], got {flip!r}")
        if isinstance(shift, bool) or not isinstance(shift, numbers.Integral) or shift < 0:
            raise ValueError(f"Augment: shift must be a non-negative int (pixels), got {shift!r}")
        if rotate < 0 or noise < 0:
            raise ValueError(f"Augment: rotate and noise must be >= 0, got rotate={rotate!r}, noise={noise!r}")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"Augment: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.flip, self.shift, self.rotate, self.noise = float(flip), int(shift), float(rotate), float(noise)
        self.interpolation, self.fill = interpolation, float(fill)
        self._rng = _rng(seed)

    def __call__(self, images: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        arr = _check_images(images, "Augment")
        rng = self._rng if rng is None else rng
        n = arr.shape[0]
        out = arr.copy()
        if self.flip > 0:
            out = hflip(out, rng.random(n) < self.flip)
        if self.shift > 0:
            out = shift(
                out,
                rng.integers(-self.shift, self.shift + 1, n),
                rng.integers(-self.shift, self.shift + 1, n),
                self.fill,
            )
        if self.rotate > 0:
            out = rotate(out, rng.uniform(-self.rotate, self.rotate, n), self.interpolation, self.fill)
        if self.noise > 0:
            if out.dtype.kind != "f":
                out = out.astype(float)
            out = out + rng.normal(0.0, self.noise, out.shape).astype(out.dtype)
        return out

    def __repr__(self) -> str:
        return (
            f"Augment(flip={self.flip}, shift={self.shift}, rotate={self.rotate}, noise={self.noise}, "
            f"interpolation={self.interpolation!r})"
        )


def augment_images(images: Any, *, seed: Any = None, **options: Any) -> np.ndarray:
    """Augment a batch of images once: ``Augment(**options, seed=seed)(images)``.

    >>> import numpy as np
    >>> from tinygraph.data import augment_images
    >>> x = np.zeros((4, 8, 8))
    >>> bool(augment_images(x, noise=0.1, seed=0).std() > 0)
    True
    """
    return Augment(seed=seed, **options)(images)
