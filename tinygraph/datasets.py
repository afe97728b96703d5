"""Small datasets with no download: seeded numpy generators, plus scikit-learn's handwritten digits.

Every function returns ``(X, y)`` as ndarrays in one of two layouts:

- ``layout="rows"`` (batch-first, as in numpy and PyTorch): ``X`` is ``(m, n_features)``,
  ``y`` is ``(m,)``;
- ``layout="columns"`` (the course's notation, examples are columns): ``X`` is
  ``(n_features, m)``, ``Y`` is ``(1, m)``.

The defaults differ on purpose: ``make_flower`` gives the course's columns, because the
course's planar exercise (and tinygraph's quick start, demo and examples 01-02) writes
``W @ X`` on it; every other generator gives rows, as its scikit-learn namesake does. Pass
``layout=`` to get the other one; `tinygraph.data`'s functions take the same ``layout=``, and
their error names it when the shapes fit the other layout.

Features are float64; labels are int64 class indices ``0 .. k-1``. The same ``seed``
always gives the same arrays; ``seed=None`` draws fresh randomness.

>>> from tinygraph import datasets
>>> X, Y = datasets.make_flower()
>>> X.shape, Y.shape, int(Y.sum())
((2, 400), (1, 400), 200)
>>> X, y = datasets.make_moons(n_samples=10, layout="rows")
>>> X.shape, y.shape
((10, 2), (10,))
"""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits", "make_blobs", "make_circles", "make_flower", "make_moons", "make_spirals"]

_LAYOUTS = ("rows", "columns")


def _check(fn: str, layout: str, **counts: int) -> None:
    if layout not in _LAYOUTS:
        raise ValueError(f"{fn}: layout must be 'rows' or 'columns', got {layout!r}")
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{fn}: {name} must be at least 1, got {value}")


def _check_nonneg(fn: str, **values: float) -> None:
    for name, value in values.items():
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{fn}: {name} must be a finite number >= 0, got {value}")


def _arrange(X: np.ndarray, y: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if layout == "columns":
        return np.ascontiguousarray(X.T), y.reshape(1, -1).copy()
    return X, y


def _shuffle(rng: np.random.Generator, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return X[order], y[order]


def _legacy_noise_after_shuffle(
    seed: int | None, X: np.ndarray, y: np.ndarray, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """The classic order of draws: one ``RandomState(seed)`` permutes the points, then adds the noise."""
    rs = np.random.RandomState(seed)
    order = rs.permutation(len(y))
    X, y = X[order], y[order]
    return X + rs.normal(0.0, noise, X.shape), y


def _noisy_shuffled(
    X: np.ndarray, y: np.ndarray, noise: float, seed: int | None, legacy: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Noise then shuffle from one Generator, or the legacy RandomState order (shuffle, then noise)."""
    if legacy:
        return _legacy_noise_after_shuffle(seed, X, y, noise)
    rng = np.random.default_rng(seed)
    X = X + rng.normal(0.0, noise, X.shape) if noise else X
    return _shuffle(rng, X, y)


def _split(m: int, k: int) -> list[int]:
    """Sizes of k classes that add up to m and differ by at most one."""
    return [m // k + (1 if j < m % k else 0) for j in range(k)]


def make_flower(
    m: int = 400, noise: float = 0.2, seed: int | None = 1, layout: str = "columns", *, a: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """The course's planar "flower": two classes of ``m/2`` points on the petals of a rose curve.

    Class ``j`` (0 or 1) takes angles ``t = linspace(3.12 j, 3.12 (j+1), m/2) + noise * N(0, 1)``
    and radii ``r = a sin(4t) + noise * N(0, 1)``; a point is ``(r sin t, r cos t)``. Points
    are ordered by class (all of class 0, then class 1), as in the course.

    The random numbers come from ``numpy.random.RandomState(seed)`` in the course's order, so the
    default ``seed=1`` gives the course's very dataset: logistic regression reaches 47% on it and a
    4-unit tanh network about 90%.

    Args:
        m: number of points (an odd ``m`` gives class 1 the extra point).
        noise: standard deviation of the noise added to angles and radii.
        seed: seed of the random numbers; ``None`` for fresh ones.
        layout: ``"columns"`` (default; ``X`` is ``(2, m)``, ``Y`` is ``(1, m)``) or ``"rows"``.
        a: the petals' length (maximum radius before noise).

    >>> X, Y = make_flower()
    >>> X.shape, Y.shape, X.dtype, Y.dtype
    ((2, 400), (1, 400), dtype('float64'), dtype('int64'))
    >>> [int((Y == j).sum()) for j in (0, 1)]
    [200, 200]
    >>> X, y = make_flower(m=10, layout="rows")
    >>> X.shape, y.tolist()
    ((10, 2), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    _check("make_flower", layout, m=m)
    _check_nonneg("make_flower", noise=noise)
    rng = np.random.RandomState(seed)
    X, y = [], []
    for j, n in enumerate(_split(m, 2)[::-1]):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, n) + rng.randn(n) * noise
        r = a * np.sin(4 * t) + rng.randn(n) * noise
        X.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        y.append(np.full(n, j))
    return _arrange(np.concatenate(X), np.concatenate(y), layout)


def make_moons(
    n_samples: int = 300, noise: float = 0.2, seed: int | None = 0, layout: str = "rows", *, legacy: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles ("two moons"), shuffled.

    Class 0 lies on ``(cos s, sin s)``, class 1 on ``(1 - cos s, 0.5 - sin s)`` for ``s`` evenly
    spread over ``[0, pi]``; Gaussian noise of standard deviation ``noise`` is added to both
    coordinates. Class sizes differ by at most one.

    Args:
        n_samples: number of points.
        noise: standard deviation of the noise on each coordinate.
        seed: the seed; ``None`` for fresh randomness.
        layout: ``"rows"`` (default; ``X`` is ``(m, 2)``, ``y`` is ``(m,)``) or ``"columns"``.
        legacy: ``False`` (default): a ``numpy.random.default_rng(seed)`` adds the noise, then
            shuffles; class 0 gets the odd point. ``True``: the classic recipe the course's data
            came from (scikit-learn's generator, with numpy's global seed set to ``seed``):
            ``numpy.random.RandomState(seed)`` first shuffles the points with one permutation,
            then draws the noise for the shuffled ``(m, 2)`` array; class 1 gets the odd point.
            ``make_moons(300, 0.2, seed=3, legacy=True)`` is the course's optimization data set.

    >>> X, y = make_moons(n_samples=7, noise=0.0)
    >>> X.shape, int((y == 0).sum()), int((y == 1).sum())
    ((7, 2), 4, 3)
    >>> bool(np.allclose(np.hypot(*X[y == 0].T), 1.0))
    True
    >>> X, y = make_moons(n_samples=7, noise=0.0, legacy=True)
    >>> int((y == 0).sum()), int((y == 1).sum())
    (3, 4)
    """
    _check("make_moons", layout, n_samples=n_samples)
    _check_nonneg("make_moons", noise=noise)
    n0, n1 = _split(n_samples, 2)
    if legacy:
        n0, n1 = n1, n0
    s0, s1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n1)
    # (1 - sin) - 0.5 rather than 0.5 - sin: the legacy recipe's rounding, so its arrays match to the last bit
    lower_y = (1 - np.sin(s1)) - 0.5 if legacy else 0.5 - np.sin(s1)
    X = np.concatenate([np.stack([np.cos(s0), np.sin(s0)], 1), np.stack([1 - np.cos(s1), lower_y], 1)])
    y = np.repeat([0, 1], [n0, n1])
    return _arrange(*_noisy_shuffled(X, y, noise, seed, legacy), layout)


def make_circles(
    n_samples: int = 300,
    noise: float = 0.05,
    factor: float = 0.8,
    seed: int | None = 0,
    layout: str = "rows",
    *,
    legacy: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles, shuffled: class 0 on the unit circle, class 1 on radius ``factor``.

    Angles are evenly spread around each circle; Gaussian noise of standard deviation ``noise``
    is added to both coordinates. Class sizes differ by at most one. The defaults
    (``noise=0.05``, ``factor=0.8``, as scikit-learn's) are the course's initialization exercise.

    Args:
        n_samples: number of points.
        noise: standard deviation of the noise on each coordinate.
        factor: radius of the inner circle, between 0 and 1 (exclusive).
        seed: the seed; ``None`` for fresh randomness.
        layout: ``"rows"`` (default) or ``"columns"``.
        legacy: ``False`` (default): a ``numpy.random.default_rng(seed)`` adds the noise, then
            shuffles; class 0 gets the odd point. ``True``: the classic recipe the course's data
            came from (see `make_moons`): ``numpy.random.RandomState(seed)`` shuffles, then adds
            the noise; class 1 gets the odd point. ``make_circles(300, seed=1, legacy=True)`` and
            ``make_circles(100, seed=2, legacy=True)`` are the course's initialization train and
            test sets.

    >>> X, y = make_circles(n_samples=8, noise=0.0, factor=0.3)
    >>> sorted(set(np.round(np.hypot(*X.T), 6).tolist()))
    [0.3, 1.0]
    >>> np.round(np.hypot(*X[y == 1].T), 6).tolist()
    [0.3, 0.3, 0.3, 0.3]
    >>> X, y = make_circles(n_samples=5, noise=0.0, legacy=True)
    >>> np.bincount(y).tolist()
    [2, 3]
    """
    _check("make_circles", layout, n_samples=n_samples)
    _check_nonneg("make_circles", noise=noise)
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must be between 0 and 1 (exclusive), got {factor}")
    n0, n1 = _split(n_samples, 2)
    if legacy:
        n0, n1 = n1, n0
    s0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    s1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.concatenate([np.stack([np.cos(s0), np.sin(s0)], 1), factor * np.stack([np.cos(s1), np.sin(s1)], 1)])
    y = np.repeat([0, 1], [n0, n1])
    return _arrange(*_noisy_shuffled(X, y, noise, seed, legacy), layout)


def make_spirals(
    n_samples: int = 300,
    noise: float = 0.2,
    n_classes: int = 2,
    turns: float = 1.0,
    seed: int | None = 0,
    layout: str = "rows",
) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms, shuffled (the classic "spirals" a linear model cannot split).

    Arm ``k`` has radii ``r`` evenly spread over ``[0, 1]`` and angles
    ``2 pi (k / n_classes + turns r) + noise * N(0, 1)``; a point is ``(r cos angle, r sin angle)``.
    Noise is on the angle (in radians), so it grows with ``r`` as in the usual picture.

    Args:
        n_samples: number of points, shared out between the arms (sizes differ by at most one).
        noise: standard deviation of the angle noise, in radians.
        n_classes: number of arms (classes).
        turns: how many full turns each arm makes.
        seed: seed of a ``numpy.random.default_rng``; ``None`` for fresh randomness.
        layout: ``"rows"`` (default) or ``"columns"``.

    >>> X, y = make_spirals(n_samples=90, n_classes=3)
    >>> X.shape, np.bincount(y).tolist()
    ((90, 2), [30, 30, 30])
    >>> bool(np.hypot(*X.T).max() <= 1.0)
    True
    """
    _check("make_spirals", layout, n_samples=n_samples, n_classes=n_classes)
    _check_nonneg("make_spirals", noise=noise, turns=turns)
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k, n in enumerate(_split(n_samples, n_classes)):
        r = np.linspace(0.0, 1.0, n)
        angle = 2 * np.pi * (k / n_classes + turns * r) + rng.normal(0.0, noise, n)
        X.append(np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1))
        y.append(np.full(n, k))
    return _arrange(*_shuffle(rng, np.concatenate(X), np.concatenate(y)), layout)


def make_blobs(
    n_samples: int = 300,
    centers: int | np.ndarray = 3,
    n_features: int = 2,
    cluster_std: float = 1.0,
    seed: int | None = 0,
    layout: str = "rows",
    *,
    center_box: tuple[float, float] = (-10.0, 10.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs, one class per center, shuffled.

    Args:
        n_samples: number of points, shared out between the blobs (sizes differ by at most one).
        centers: the number of blobs (their centers are drawn uniformly from ``center_box`` in
            each coordinate), or an array ``(k, n_features)`` of centers.
        n_features: the dimension of the points (ignored when ``centers`` is an array).
        cluster_std: standard deviation of each blob.
        seed: seed of a ``numpy.random.default_rng``; ``None`` for fresh randomness.
        layout: ``"rows"`` (default) or ``"columns"``.
        center_box: the range the random centers are drawn from.

    >>> X, y = make_blobs(n_samples=6, centers=[[0.0, 0.0], [5.0, 5.0]], cluster_std=0.0)
    >>> X[y == 1].tolist()
    [[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]
    >>> X, Y = make_blobs(n_samples=50, n_features=4, layout="columns")
    >>> X.shape, Y.shape
    ((4, 50), (1, 50))
    """
    if np.ndim(centers) == 0:
        _check("make_blobs", layout, n_samples=n_samples, centers=centers, n_features=n_features)
        rng = np.random.default_rng(seed)
        centers_arr = rng.uniform(center_box[0], center_box[1], size=(int(centers), n_features))
    else:
        centers_arr = np.array(centers, dtype=np.float64)
        if centers_arr.ndim != 2 or len(centers_arr) == 0:
            raise ValueError(
                f"make_blobs: centers must be an int or an array (k, n_features), got shape {centers_arr.shape}"
            )
        _check("make_blobs", layout, n_samples=n_samples)
        rng = np.random.default_rng(seed)
    _check_nonneg("make_blobs", cluster_std=cluster_std)
    sizes = _split(n_samples, len(centers_arr))
    y = np.repeat(np.arange(len(centers_arr)), sizes)
    X = centers_arr[y] + rng.normal(0.0, cluster_std, (n_samples, centers_arr.shape[1]))
    return _arrange(*_shuffle(rng, X, y), layout)


def load_digits(layout: str = "rows", *, n_class: int = 10, scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The handwritten digits scikit-learn ships (1,797 images of 8x8 pixels, 10 classes); no download.

    Needs scikit-learn: ``pip install tinygraph[digits]``.

    Args:
        layout: ``"rows"`` (default; ``X`` is ``(m, 64)``, ``y`` is ``(m,)``) or ``"columns"``.
        n_class: keep only the digits ``0 .. n_class-1`` (``n_class=2`` gives a 0-vs-1 task).
        scale: divide the pixel values (0 to 16) by 16, so features lie in ``[0, 1]``.

    >>> X, y = load_digits()  # doctest: +SKIP
    >>> X.shape, y.shape, float(X.max())  # doctest: +SKIP
    ((1797, 64), (1797,), 1.0)
    """
    _check("load_digits", layout, n_class=n_class)
    if n_class > 10:
        raise ValueError(f"load_digits: n_class must be between 1 and 10, got {n_class}")
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise ImportError(
            "load_digits needs scikit-learn, which ships the digits: pip install tinygraph[digits]"
        ) from None
    bunch = sk_load_digits(n_class=n_class)
    X = np.asarray(bunch.data, dtype=np.float64)
    if scale:
        X = X / 16.0
    return _arrange(X, bunch.target, layout)
