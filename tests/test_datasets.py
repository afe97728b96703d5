"""tinygraph.datasets: shapes in both layouts, balance, seeds, and each generator's geometry."""

import sys

import numpy as np
import pytest

from tinygraph import datasets

GENERATORS = [
    (datasets.make_flower, {"m": 400}, 2, 2),
    (datasets.make_moons, {"n_samples": 300}, 2, 2),
    (datasets.make_circles, {"n_samples": 300}, 2, 2),
    (datasets.make_moons, {"n_samples": 300, "legacy": True}, 2, 2),
    (datasets.make_circles, {"n_samples": 300, "legacy": True}, 2, 2),
    (datasets.make_spirals, {"n_samples": 300, "n_classes": 3}, 2, 3),
    (datasets.make_blobs, {"n_samples": 300, "centers": 3, "n_features": 5}, 5, 3),
]


@pytest.mark.parametrize("fn, kw, n_features, k", GENERATORS, ids=lambda v: getattr(v, "__name__", ""))
def test_layouts_shapes_dtypes_and_balance(fn, kw, n_features, k):
    m = next(iter(kw.values()))
    Xr, yr = fn(**kw, layout="rows")
    Xc, Yc = fn(**kw, layout="columns")
    assert Xr.shape == (m, n_features) and yr.shape == (m,)
    assert Xc.shape == (n_features, m) and Yc.shape == (1, m)
    assert Xr.dtype == np.float64 and yr.dtype == np.int64
    np.testing.assert_array_equal(Xr.T, Xc)  # same data, same seed, the other layout
    np.testing.assert_array_equal(yr, Yc[0])
    assert np.bincount(yr).tolist() == [m // k] * k
    assert Xc.flags.c_contiguous


@pytest.mark.parametrize("fn, kw, n_features, k", GENERATORS, ids=lambda v: getattr(v, "__name__", ""))
def test_seeds_reproduce_and_differ(fn, kw, n_features, k):
    X1, y1 = fn(**kw, seed=5)
    X2, y2 = fn(**kw, seed=5)
    X3, _ = fn(**kw, seed=6)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)
    X1[0, 0] = 1e9  # the caller owns the arrays: no shared cache
    assert fn(**kw, seed=5)[0][0, 0] != 1e9


def test_flower_is_the_courses_dataset():
    """The course's load_planar_dataset, written out here as the reference."""
    rs = np.random.RandomState(1)
    X, Y = np.zeros((400, 2)), np.zeros((400, 1), dtype=int)
    for j in range(2):
        ix = slice(200 * j, 200 * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, 200) + rs.randn(200) * 0.2
        r = 4 * np.sin(4 * t) + rs.randn(200) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    Xf, Yf = datasets.make_flower()
    np.testing.assert_array_equal(Xf, X.T)
    np.testing.assert_array_equal(Yf, Y.T)
    assert Yf[0, :200].sum() == 0 and Yf[0, 200:].sum() == 200


def test_flower_radius_and_angle_structure_without_noise():
    X, y = datasets.make_flower(m=100, noise=0.0, layout="rows", a=2.5)
    for j in (0, 1):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, 50)
        pts = X[y == j]
        r = 2.5 * np.sin(4 * t)
        np.testing.assert_allclose(pts[:, 0], r * np.sin(t), atol=1e-12)
        np.testing.assert_allclose(pts[:, 1], r * np.cos(t), atol=1e-12)
        np.testing.assert_allclose(np.hypot(pts[:, 0], pts[:, 1]), np.abs(r), atol=1e-12)
    assert np.hypot(*X.T).max() <= 2.5 + 1e-12


def test_flower_noise_scales_the_deviation():
    X0, _ = datasets.make_flower(noise=0.0, layout="rows")
    X1, _ = datasets.make_flower(noise=0.2, layout="rows")
    d = np.hypot(*(X1 - X0).T)
    assert 0.05 < np.median(d) < 2.0


def test_flower_odd_m_gives_class_1_the_extra_point():
    _, y = datasets.make_flower(m=7, layout="rows")
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 1]


def test_moons_geometry_without_noise():
    X, y = datasets.make_moons(n_samples=200, noise=0.0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    assert upper[:, 1].min() >= -1e-12
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert lower[:, 1].max() <= 0.5 + 1e-12


def test_circles_geometry_and_noise():
    X, y = datasets.make_circles(n_samples=100, noise=0.0, factor=0.4)
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1.0)
    np.testing.assert_allclose(np.hypot(*X[y == 1].T), 0.4)
    Xn, yn = datasets.make_circles(n_samples=2000, noise=0.05, factor=0.4)
    dev = np.hypot(*Xn[yn == 0].T) - 1.0
    assert abs(dev.std() - 0.05) < 0.01


@pytest.mark.parametrize("fn", [datasets.make_moons, datasets.make_circles])
def test_legacy_recipe_same_curves_then_permute_then_noise(fn):
    """legacy=True: the noiseless points of the default recipe, one RandomState permutation, then the noise."""
    X0, y0 = fn(n_samples=40, noise=0.0, legacy=True, seed=7)
    Xd, yd = fn(n_samples=40, noise=0.0, seed=0)  # the same point set, in another order
    key = lambda X, y: sorted(zip(y.tolist(), np.round(X, 12).tolist()))  # noqa: E731
    assert key(X0, y0) == key(Xd, yd)
    Xn, yn = fn(n_samples=40, noise=0.1, legacy=True, seed=7)
    np.testing.assert_array_equal(yn, y0)  # the noise does not reorder
    rs = np.random.RandomState(7)
    rs.permutation(40)
    np.testing.assert_allclose(Xn - X0, rs.normal(0.0, 0.1, (40, 2)), atol=1e-14)
    _, y_odd = fn(n_samples=7, noise=0.0, legacy=True)
    assert np.bincount(y_odd).tolist() == [3, 4]  # the classic split: class 1 gets the odd point


def test_legacy_gives_the_courses_data_sets():
    """First points of the course's moons (seed 3) and circles (train seed 1, test seed 2), checked against
    scikit-learn 1.9's generators with numpy's global seed set."""
    X, y = datasets.make_moons(300, 0.2, seed=3, legacy=True)
    np.testing.assert_allclose(X[0], [-0.21687013460912397, 1.0154493742029873], rtol=0, atol=1e-15)
    assert y[:8].tolist() == [0, 1, 1, 1, 0, 0, 1, 1]
    X, y = datasets.make_circles(300, 0.05, seed=1, legacy=True)
    np.testing.assert_allclose(X[0], [-0.07741354010048114, 0.8526022642742742], rtol=0, atol=1e-15)
    assert y[:8].tolist() == [1, 0, 1, 1, 0, 0, 1, 0]
    X, y = datasets.make_circles(100, 0.05, seed=2, legacy=True, layout="columns")
    np.testing.assert_allclose(X[:, 0], [-0.5242373850862546, -0.6091036148461817], rtol=0, atol=1e-15)
    assert X.shape == (2, 100) and y[0, :8].tolist() == [1, 0, 1, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("n", [1, 7, 100, 300])
def test_legacy_matches_scikit_learn_bit_for_bit(n):
    sk = pytest.importorskip("sklearn.datasets")
    for seed in (1, 2, 3):
        for ours, theirs, noise in (
            (datasets.make_moons, sk.make_moons, 0.2),
            (datasets.make_circles, sk.make_circles, 0.05),
        ):
            X, y = ours(n, noise, seed=seed, legacy=True)
            Xs, ys = theirs(n_samples=n, noise=noise, random_state=seed)
            np.testing.assert_array_equal(X, Xs)
            np.testing.assert_array_equal(y, ys)


def test_spirals_angles_without_noise():
    X, y = datasets.make_spirals(n_samples=60, noise=0.0, n_classes=2, turns=1.0)
    for k in (0, 1):
        pts = X[y == k]
        order = np.argsort(np.hypot(*pts.T))
        r = np.hypot(*pts[order].T)
        np.testing.assert_allclose(r, np.linspace(0, 1, 30), atol=1e-12)
        angle = 2 * np.pi * (k / 2 + r[1:])
        np.testing.assert_allclose(pts[order][1:, 0], r[1:] * np.cos(angle), atol=1e-12)


def test_blobs_centers_and_spread():
    centers = np.array([[0.0, 0.0], [10.0, -5.0]])
    X, y = datasets.make_blobs(n_samples=4000, centers=centers, cluster_std=0.5)
    for k in (0, 1):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centers[k], atol=0.05)
        np.testing.assert_allclose(X[y == k].std(axis=0), 0.5, atol=0.03)
    Xr, _ = datasets.make_blobs(n_samples=50, centers=4, center_box=(-1.0, 1.0), cluster_std=0.0)
    assert np.abs(Xr).max() <= 1.0


def test_inputs_are_not_modified():
    centers = np.array([[0.0, 0.0], [1.0, 1.0]])
    before = centers.copy()
    datasets.make_blobs(n_samples=10, centers=centers)
    np.testing.assert_array_equal(centers, before)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: datasets.make_flower(layout="cols"), ValueError, ["make_flower", "layout", "'cols'"]),
        (lambda: datasets.make_flower(m=0), ValueError, ["make_flower", "m", "0"]),
        (lambda: datasets.make_flower(m=10.0), TypeError, ["make_flower", "m", "float"]),
        (lambda: datasets.make_moons(noise=-1), ValueError, ["make_moons", "noise", "-1"]),
        (lambda: datasets.make_circles(factor=1.5), ValueError, ["make_circles", "factor", "1.5"]),
        (lambda: datasets.make_spirals(n_classes=0), ValueError, ["make_spirals", "n_classes"]),
        (lambda: datasets.make_blobs(centers=np.zeros(3)), ValueError, ["make_blobs", "centers", "(3,)"]),
        (lambda: datasets.load_digits(n_class=11), ValueError, ["load_digits", "n_class", "11"]),
    ],
)
def test_bad_input_errors_name_the_function_and_value(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value)


def test_load_digits_shapes_and_scale():
    pytest.importorskip("sklearn")
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.min() == 0.0 and X.max() == 1.0
    assert sorted(set(y.tolist())) == list(range(10))
    Xc, Yc = datasets.load_digits(layout="columns", n_class=2, scale=False)
    assert Xc.shape[0] == 64 and Yc.shape == (1, Xc.shape[1]) and set(Yc.ravel().tolist()) == {0, 1}
    assert Xc.max() == 16.0


def test_load_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install tinygraph\[digits\]"):
        datasets.load_digits()
