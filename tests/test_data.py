"""Mini-batches, splits, the standardizer and image augmentation."""

import numpy as np
import pytest

from tinygraph.data import (
    Augment,
    Standardizer,
    augment_images,
    hflip,
    minibatches,
    rotate,
    shift,
    train_dev_test_split,
)


def rows_data(m=300, n=3):
    X = np.arange(m * n, dtype=float).reshape(m, n)
    Y = np.arange(m)
    return X, Y


@pytest.mark.parametrize(
    "m, bs, sizes",
    [(300, 64, [64, 64, 64, 64, 44]), (256, 64, [64] * 4), (10, 64, [10]), (1000, 512, [512, 488]), (5, 1, [1] * 5)],
)
def test_batch_sizes_rows_and_columns(m, bs, sizes):
    X, Y = rows_data(m)
    assert [len(y) for _, y in minibatches(X, Y, bs, seed=0)] == sizes
    Xc, Yc = X.T.copy(), Y.reshape(1, m)
    batches = minibatches(Xc, Yc, bs, seed=0, layout="columns")
    assert [xb.shape for xb, _ in batches] == [(3, s) for s in sizes]
    assert [yb.shape for _, yb in batches] == [(1, s) for s in sizes]


def test_drop_last():
    X, Y = rows_data(300)
    assert [len(y) for _, y in minibatches(X, Y, 64, seed=0, drop_last=True)] == [64] * 4


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_every_example_exactly_once_and_pairs_kept(layout):
    X, Y = rows_data(300)
    if layout == "columns":
        X, Y = X.T.copy(), Y.reshape(1, -1)
    for epoch in range(3):
        batches = minibatches(X, Y, 64, seed=epoch, layout=layout)
        ys = np.concatenate([yb.reshape(-1) for _, yb in batches])
        assert sorted(ys.tolist()) == list(range(300))
        for xb, yb in batches:
            first_feature = xb[:, 0] if layout == "rows" else xb[0, :]
            np.testing.assert_array_equal(first_feature, 3 * yb.reshape(-1))


def test_shuffling_is_seeded_and_differs_between_seeds():
    X, Y = rows_data(100)
    a = np.concatenate([y for _, y in minibatches(X, Y, 32, seed=1)])
    b = np.concatenate([y for _, y in minibatches(X, Y, 32, seed=1)])
    c = np.concatenate([y for _, y in minibatches(X, Y, 32, seed=2)])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, np.arange(100))
    d = np.concatenate([y for _, y in minibatches(X, Y, 32, shuffle=False)])
    np.testing.assert_array_equal(d, np.arange(100))


def test_batches_are_copies_and_inputs_untouched():
    X, Y = rows_data(20)
    X0, Y0 = X.copy(), Y.copy()
    for xb, yb in minibatches(X, Y, 8, shuffle=False):
        xb[...] = -1
        yb[...] = -1
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_minibatch_errors():
    X, Y = rows_data(10)
    with pytest.raises(ValueError, match=r"X has shape \(10, 3\) and Y has shape \(9,\).*10 examples and Y has 9"):
        minibatches(X, Y[:9])
    with pytest.raises(ValueError, match=r"X has shape \(3, 10\) and Y has shape \(1, 9\)"):
        minibatches(X.T, Y[:9].reshape(1, 9), layout="columns")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        minibatches(X, Y, 0)
    with pytest.raises(ValueError, match="layout must be 'rows' or 'columns'"):
        minibatches(X, Y, layout="cols")


# ----- splits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "m, ratios, sizes",
    [
        (1000, (0.6, 0.2, 0.2), (600, 200, 200)),
        (10000, (0.98, 0.01, 0.01), (9800, 100, 100)),
        (100, (0.98, 0.01, 0.01), (98, 1, 1)),
        (50, (0.8, 0.2), (40, 10)),
        (7, (0.9, 0.05, 0.05), (5, 1, 1)),
    ],
)
def test_split_sizes_disjoint_and_complete(m, ratios, sizes):
    X, Y = rows_data(m)
    parts = train_dev_test_split(X, Y, ratios, seed=3)
    assert tuple(len(y) for _, y in parts) == sizes
    all_ids = np.concatenate([y for _, y in parts])
    assert sorted(all_ids.tolist()) == list(range(m))  # disjoint and together everything
    for xb, yb in parts:
        np.testing.assert_array_equal(xb[:, 0], 3 * yb)


def test_split_columns_and_seed():
    X, Y = rows_data(200)
    (xt, yt), (xd, yd), (xs, ys) = train_dev_test_split(X.T, Y.reshape(1, -1), (0.5, 0.25, 0.25), layout="columns")
    assert xt.shape == (3, 100) and yd.shape == (1, 50) and xs.shape == (3, 50)
    a = train_dev_test_split(X, Y, (0.5, 0.5), seed=1)[1][1]
    b = train_dev_test_split(X, Y, (0.5, 0.5), seed=1)[1][1]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "ratios, match",
    [
        ((0.5, 0.3, 0.3), "must sum to 1"),
        ((1.2, -0.1, -0.1), "non-negative"),
        ((1.0,), "2 or 3 numbers"),
        ((0.25, 0.25, 0.25, 0.25), "2 or 3 numbers"),
    ],
)
def test_split_ratio_validation(ratios, match):
    X, Y = rows_data(20)
    with pytest.raises(ValueError, match=match):
        train_dev_test_split(X, Y, ratios)


def test_split_too_few_examples():
    X, Y = rows_data(2)
    with pytest.raises(ValueError, match="too few"):
        train_dev_test_split(X, Y, (0.9, 0.05, 0.05))


# ----- standardizer -----------------------------------------------------------------------------


def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    X_train = rng.normal(5.0, 3.0, size=(500, 4))
    X_dev = rng.normal(-20.0, 0.1, size=(50, 4))  # a very different distribution
    s = Standardizer().fit(X_train)
    np.testing.assert_allclose(s.mean_, X_train.mean(axis=0, keepdims=True))
    np.testing.assert_allclose(s.var_, X_train.var(axis=0, keepdims=True))
    Z_dev = s.transform(X_dev)
    np.testing.assert_allclose(Z_dev, (X_dev - X_train.mean(0)) / X_train.std(0))
    assert np.all(Z_dev.mean(axis=0) < -5)  # not re-centred on the dev set
    Z_train = s.transform(X_train)
    np.testing.assert_allclose(Z_train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(Z_train.var(0), 1, atol=1e-12)
    np.testing.assert_allclose(s.inverse_transform(Z_dev), X_dev)
    np.testing.assert_allclose(s.fit_transform(X_train), Z_train)


def test_standardizer_columns_constant_feature_and_no_mutation():
    X = np.array([[1.0, 2.0, 3.0], [7.0, 7.0, 7.0]])  # (n_x=2, m=3); feature 1 constant
    X0 = X.copy()
    s = Standardizer(layout="columns")
    Z = s.fit_transform(X)
    assert s.mean_.shape == (2, 1)
    np.testing.assert_allclose(Z[0], [-np.sqrt(1.5), 0, np.sqrt(1.5)])
    np.testing.assert_array_equal(Z[1], [0.0, 0.0, 0.0])  # no division by zero
    assert np.all(np.isfinite(Z))
    np.testing.assert_array_equal(X, X0)


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="call fit"):
        Standardizer().transform(np.ones((2, 2)))
    s = Standardizer().fit(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"X has shape \(5, 4\).*features of shape \(3,\)"):
        s.transform(np.ones((5, 4)))


# ----- augmentation ---------------------------------------------------------------------------


def test_hflip_and_shift():
    img = np.arange(12.0).reshape(1, 3, 4)
    np.testing.assert_array_equal(hflip(img), img[:, :, ::-1])
    two = np.stack([img[0], img[0]])
    out = hflip(two, mask=[True, False])
    np.testing.assert_array_equal(out[0], img[0, :, ::-1])
    np.testing.assert_array_equal(out[1], img[0])
    s = shift(img, 1, -1)
    want = np.zeros((3, 4))
    want[1:, :3] = img[0, :2, 1:]
    np.testing.assert_array_equal(s[0], want)
    assert s[0, 1, 0] == img[0, 0, 1]


def test_rotate_matches_rot90_and_identity():
    rng = np.random.default_rng(0)
    imgs = rng.random((2, 5, 5, 3))
    for mode in ("nearest", "bilinear"):
        np.testing.assert_allclose(rotate(imgs, 90, mode), np.rot90(imgs, 1, axes=(1, 2)), atol=1e-12)
        np.testing.assert_allclose(rotate(imgs, -90, mode), np.rot90(imgs, -1, axes=(1, 2)), atol=1e-12)
        np.testing.assert_allclose(rotate(imgs, 180, mode), np.rot90(imgs, 2, axes=(1, 2)), atol=1e-12)
        np.testing.assert_allclose(rotate(imgs, 0, mode), imgs, atol=1e-12)


def test_rotate_small_angle_bilinear_by_hand():
    # One bright pixel right of the centre of a 3x3 image, rotated 45 degrees counter-clockwise.
    # Output (0, 2) reads source (1, 1 + sqrt 2): 2 - sqrt 2 of pixel (1, 2), the rest outside (fill 0).
    # Output (1, 2) reads (1 + h, 1 + h) and (0, 1) reads (1 - h, 1 + h), h = 1/sqrt 2: weight (1 - h) h.
    img = np.zeros((1, 3, 3))
    img[0, 1, 2] = 1.0
    out = rotate(img, 45, "bilinear")[0]
    h = 1 / np.sqrt(2)
    assert out[0, 2] == pytest.approx(2 - np.sqrt(2), abs=1e-12)
    assert out[1, 2] == pytest.approx((1 - h) * h, abs=1e-12)
    assert out[0, 1] == pytest.approx((1 - h) * h, abs=1e-12)
    assert out[1, 1] == 0.0 and out[2, :].sum() == 0.0 and out[:, 0].sum() == 0.0
    nearest = rotate(img, 45, "nearest")[0]
    # (0, 2) reads round(1, 2.414) = (1, 2): the pixel itself
    assert nearest[0, 2] == 1.0 and nearest.sum() == 1.0


def test_augment_is_seeded_per_batch_and_never_mutates():
    rng = np.random.default_rng(0)
    X = rng.random((40, 8, 8))
    X0 = X.copy()
    aug = Augment(flip=0.5, shift=2, rotate=10, noise=0.05)
    a = minibatches(X, np.arange(40), 10, seed=5, augment=aug)
    b = minibatches(X, np.arange(40), 10, seed=5, augment=aug)
    for (xa, ya), (xb, _) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        assert xa.shape == (10, 8, 8)
        assert not np.allclose(xa, X[ya])  # changed
    np.testing.assert_array_equal(X, X0)
    c = minibatches(X, np.arange(40), 10, seed=6, augment=aug)
    assert not np.allclose(a[0][0], c[0][0])


def test_augment_noise_statistics_and_flip_probability():
    X = np.zeros((2000, 4, 4))
    noisy = augment_images(X, flip=0.0, noise=0.3, seed=0)
    assert noisy.std() == pytest.approx(0.3, rel=0.02)
    img = np.zeros((2000, 1, 2))
    img[:, 0, 0] = 1.0
    flipped = augment_images(img, flip=0.5, seed=1)
    frac = flipped[:, 0, 1].mean()
    assert 0.45 < frac < 0.55


def test_augment_errors():
    with pytest.raises(ValueError, match=r"images must be \(N, H, W\) or \(N, H, W, C\), got shape \(4, 4\)"):
        augment_images(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="flip is a probability"):
        Augment(flip=2.0)
    with pytest.raises(ValueError, match="layout='rows'"):
        minibatches(np.zeros((4, 4, 3)), np.zeros((1, 3)), layout="columns", augment=Augment())


def test_minibatches_on_the_flower_names_layout_columns():
    """make_flower() gives the course's columns while the other generators give rows: the error says what to pass."""
    from tinygraph.datasets import make_flower, make_moons

    X, Y = make_flower()
    for call in (lambda: minibatches(X, Y, 64), lambda: train_dev_test_split(X, Y, (0.8, 0.1, 0.1))):
        with pytest.raises(ValueError, match=r"X has shape \(2, 400\) and Y has shape \(1, 400\)") as e:
            call()
        assert "pass layout='columns'" in str(e.value) and "make_flower" in str(e.value)
    assert [xb.shape for xb, _ in minibatches(X, Y, 256, layout="columns")] == [(2, 256), (2, 144)]
    Xr, yr = make_moons()
    with pytest.raises(ValueError, match="pass layout='rows'"):
        minibatches(Xr, yr, 64, layout="columns")
    with pytest.raises(ValueError) as e:  # shapes that fit neither layout: no hint to follow
        minibatches(Xr, yr[:5], 64)
    assert "pass layout" not in str(e.value)


@pytest.mark.parametrize("value", [0.1, 3.3, 123.456])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_constant_feature_standardizes_to_zero_whatever_the_means_rounding(value, dtype):
    X = np.full((1000, 2), value, dtype)
    X[:, 1] = np.linspace(0.0, 1.0, 1000)  # a feature that varies, beside it
    s = Standardizer().fit(X)
    Z = s.transform(X)
    np.testing.assert_array_equal(Z[:, 0], 0.0)  # it was ±1 in float32 (σ the rounding error of the mean)
    assert s.var_[0, 0] == 0.0 and s.std_[0, 0] == 1.0 and s.mean_[0, 0] == dtype(value)
    dev = s.transform(np.array([[value + 0.1, 0.5]], dtype))
    assert dev[0, 0] == pytest.approx(0.1, rel=1e-4)  # x - mu, not millions
    assert abs(Z[:, 1].mean()) < 1e-6 and Z[:, 1].std() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(s.inverse_transform(Z), X, rtol=1e-6, atol=1e-6)
