"""The training loop: history, schedules, early stopping, the bias/variance line, two moons with Adam."""

import sys

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.data import train_dev_test_split
from tinygraph.optim import SGD, Adam, ExponentialDecay
from tinygraph.train import History, accuracy, diagnose, fit


class MLP:
    """A small network with raw tinygraph tensors (batch-first): tanh hidden layers, sigmoid output."""

    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.W = [
            tg.tensor(rng.standard_normal((a, b)) * np.sqrt(1.0 / a), requires_grad=True)
            for a, b in zip(sizes[:-1], sizes[1:])
        ]
        self.b = [tg.tensor(np.zeros(b), requires_grad=True) for b in sizes[1:]]

    def parameters(self):
        return [*self.W, *self.b]

    def __call__(self, x):
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            x = x @ W + b
            x = tg.sigmoid(x) if i == len(self.W) - 1 else tg.tanh(x)
        return x


def bce(a, y):
    a = tg.clip(a, 1e-12, 1 - 1e-12)
    return -(y * tg.log(a) + (1 - y) * tg.log(1 - a)).mean()


def two_moons(n=400, noise=0.2, seed=0):
    rng = np.random.default_rng(seed)
    n_out = n // 2
    t_out = rng.uniform(0, np.pi, n_out)
    t_in = rng.uniform(0, np.pi, n - n_out)
    X = np.concatenate(
        [np.stack([np.cos(t_out), np.sin(t_out)], 1), np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)]
    )
    X += rng.normal(0, noise, X.shape)
    y = np.concatenate([np.zeros(n_out), np.ones(n - n_out)])
    return X, y.reshape(-1, 1)


def test_two_moons_reaches_90_percent_dev_accuracy_with_adam():
    X, Y = two_moons(400, 0.2)
    train, dev = train_dev_test_split(X, Y, (0.75, 0.25), seed=0)
    model = MLP([2, 16, 16, 1])
    opt = Adam(model.parameters(), lr=0.01)
    h = fit(model, bce, opt, train, epochs=60, dev_data=dev, batch_size=32, progress=False, verbose=False)
    assert h.epochs == 60 and len(h.dev_cost) == 60 and len(h.train_accuracy) == 60
    assert h.dev_accuracy[-1] > 0.9
    assert h.train_cost[-1] < 0.5 * h.train_cost[0]
    # the history's accuracy is the model's real accuracy on the dev set
    with tg.no_grad():
        out = model(tg.tensor(dev[0])).data
    assert h.dev_accuracy[-1] == pytest.approx(np.mean((out > 0.5) == (dev[1] > 0.5)))
    assert h.dev_cost[-1] == pytest.approx(bce(tg.tensor(out), tg.tensor(dev[1])).item())
    assert "dev error" in h.diagnosis


class Scalar:
    """y = w x with one weight (for hand-checkable runs)."""

    def __init__(self, w0=0.0):
        self.w = tg.tensor([[w0]], requires_grad=True)

    def parameters(self):
        return [self.w]

    def __call__(self, x):
        return x @ self.w


def mse(out, y):
    return ((out - y) ** 2).mean()


def test_early_stopping_restores_best_epoch_weights():
    # Training pulls w from 0 towards 2 (train y = 2x); the dev set has y = x, so the dev cost
    # falls until w passes 1 and then rises: the best epoch is where w is nearest 1.
    x = np.linspace(-1, 1, 40).reshape(-1, 1)
    model = Scalar(0.0)
    weights = []
    h = fit(
        model,
        mse,
        SGD(model.parameters(), lr=0.1),
        (x, 2 * x),
        epochs=100,
        dev_data=(x, x),
        batch_size=40,
        metric=None,
        patience=3,
        callbacks=[lambda epoch, hist: weights.append(model.w.item())],
        progress=False,
        verbose=False,
    )
    dev = np.array(h.dev_cost)
    best = int(np.argmin(dev))
    assert h.stopped_early and h.restored_best
    assert h.best_epoch == best
    assert h.epochs == best + 1 + 3  # three epochs without improvement, then stop
    assert np.all(np.diff(dev[best:]) > 0)  # the dev cost really rose
    assert model.w.item() == weights[best]  # restored exactly
    assert weights[-1] > weights[best]
    assert abs(weights[best] - 1) == min(abs(w - 1) for w in weights)


def test_no_restore_without_patience_or_when_disabled():
    x = np.linspace(-1, 1, 40).reshape(-1, 1)
    for patience, restore in [(None, True), (3, False)]:
        model = Scalar(0.0)
        h = fit(
            model,
            mse,
            SGD(model.parameters(), lr=0.1),
            (x, 2 * x),
            epochs=30,
            dev_data=(x, x),
            batch_size=40,
            metric=None,
            patience=patience,
            restore_best=restore,
            progress=False,
            verbose=False,
        )
        assert not h.restored_best
        assert model.w.item() > 1.2  # the last weights, past the best one


def test_schedule_stepped_once_per_epoch_and_callbacks_can_stop():
    x = np.ones((8, 1))
    model = Scalar(0.0)
    opt = SGD(model.parameters(), lr=0.1)
    sched = ExponentialDecay(opt, 0.5)
    h = fit(
        model,
        mse,
        opt,
        (x, x),
        epochs=10,
        schedule=sched,
        batch_size=4,
        metric=None,
        callbacks=[lambda epoch, hist: epoch == 3],
        progress=False,
        verbose=False,
    )
    assert h.epochs == 4
    assert h.lr == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    # hand-check of the weight: two batches per epoch, each w <- w - lr*2(w - 1) (x = 1)
    w = 0.0
    for lr in h.lr:
        for _ in range(2):
            w -= lr * 2 * (w - 1)
    assert model.w.item() == pytest.approx(w, abs=1e-14)


def test_same_seed_same_run_and_batch_cost():
    X, Y = two_moons(100)
    runs = []
    for _ in range(2):
        model = MLP([2, 4, 1])
        h = fit(
            model, bce, Adam(model.parameters(), 0.01), (X, Y), epochs=3, batch_size=16, progress=False, verbose=False
        )
        runs.append((h.train_cost, [p.data.copy() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    assert len(h.batch_cost) == 3


def test_progress_output(capsys, monkeypatch):
    x = np.ones((4, 1))
    model = Scalar(0.0)
    fit(model, mse, SGD(model.parameters(), 0.1), (x, x), epochs=2, metric=None, progress=False, verbose=False)
    assert capsys.readouterr().out == ""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    fit(model, mse, SGD(model.parameters(), 0.1), (x, x), epochs=2, metric=None, progress=True, verbose=True)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("epoch 1/2: train cost") and out[1].startswith("epoch 2/2")
    assert out[-1].startswith("train cost")


def test_1d_targets_are_matched_to_column_output():
    X, Y = two_moons(120)
    model = MLP([2, 8, 1])
    h = fit(model, bce, Adam(model.parameters(), 0.02), (X, Y.ravel()), epochs=5, progress=False, verbose=False)
    model2 = MLP([2, 8, 1])
    h2 = fit(model2, bce, Adam(model2.parameters(), 0.02), (X, Y), epochs=5, progress=False, verbose=False)
    assert h.train_cost == pytest.approx(h2.train_cost)


def test_fit_errors():
    x = np.ones((4, 1))
    model = Scalar()
    opt = SGD(model.parameters(), 0.1)
    with pytest.raises(ValueError, match=r"fit \(train_data\): X has shape \(4, 1\) and Y has shape \(3, 1\)"):
        fit(model, mse, opt, (x, x[:3]), epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(model, mse, opt, (x, x), epochs=0)
    with pytest.raises(TypeError, match="parameters"):
        fit(lambda t: t, mse, opt, (x, x), epochs=1)
    with pytest.raises(ValueError, match="metric must be"):
        fit(model, mse, opt, (x, x), epochs=1, metric="f1")
    with (
        pytest.raises(FloatingPointError, match="lower the learning rate"),
        np.errstate(over="ignore", invalid="ignore"),
    ):
        big = Scalar(1.0)
        fit(big, mse, SGD(big.parameters(), 0.1), (x * 1e200, x), epochs=3, progress=False, verbose=False)


def test_accuracy():
    assert accuracy(np.array([[0.9], [0.2], [0.7], [0.4]]), np.array([[1], [0], [0], [0]])) == 0.75
    assert accuracy(np.array([[1.5], [-0.2]]), np.array([1, 0]), from_logits=True) == 1.0
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([[0, 1], [0, 1]])) == 0.5
    assert accuracy(np.array([[0.9, 0.1, 0.6]]), np.array([[1, 1, 1]]), layout="columns") == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "train, dev, verdict",
    [  # the course's four cases (Bayes error ~0%)
        (0.01, 0.11, "high variance"),
        (0.15, 0.16, "high bias (train"),
        (0.15, 0.30, "high bias and high variance"),
        (0.005, 0.01, "low bias and low variance"),
    ],
)
def test_diagnose_course_cases(train, dev, verdict):
    line = diagnose(train, dev)
    assert verdict in line
    if verdict == "high variance":
        assert "more data" in line and "regularization" in line
    if verdict.startswith("high bias"):
        assert "bigger network" in line and "train longer" in line


def test_diagnose_with_bayes_error_and_costs():
    assert "low bias" in diagnose(0.15, 0.16, bayes_error=0.14)
    assert "high variance" in diagnose(None, None, train_cost=0.1, dev_cost=0.9)
    assert "no sign of high variance" in diagnose(None, None, train_cost=0.1, dev_cost=0.11)


def test_history_fields():
    h = History(train_cost=[1.0], train_metric=[0.5], metric_name="accuracy", best_epoch=0)
    d = h.as_dict()
    assert d["train_metric"] == [0.5] and h.train_accuracy is h.train_metric and h.epochs == 1


def test_fit_refuses_to_score_logits_as_probabilities_and_scores_them_as_logits():
    from tinygraph import nn
    from tinygraph.nn import functional as F

    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    model = nn.Linear(1, 1)
    model.weight.data[...] = 0.3  # logits -0.6, -0.3, 0.3, 0.6: all four on the right side of 0
    model.bias.data[...] = 0.0
    opt = SGD(model.parameters(), lr=0.0)
    loss = F.binary_cross_entropy_with_logits
    with pytest.raises(ValueError, match=r"metric 'accuracy' .* outputs run from -0.6 to 0.6: logits.*accuracy_logits"):
        fit(model, loss, opt, (X, y), epochs=1, progress=False, verbose=False)
    h = fit(model, loss, opt, (X, y), epochs=1, metric="accuracy_logits", progress=False, verbose=False)
    assert h.train_metric == [1.0]  # the 0.5 threshold would give 0.75
