"""An optional training loop: mini-batches, schedules, history, early stopping, a bias/variance reading.

Everything `fit` does can be written as a plain loop (and the docs show it)::

    for epoch in range(epochs):
        for xb, yb in minibatches(X, Y, 64, seed=epoch):
            opt.zero_grad()
            loss = loss_fn(model(tg.tensor(xb)), tg.tensor(yb))
            loss.backward()
            opt.step()
        schedule.step()

`fit` adds the bookkeeping: per-epoch train and dev cost and accuracy, a
progress bar (tqdm, when installed), early stopping that restores the best
weights, and a closing line that reads the course's bias/variance recipe from
the numbers.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygraph.data import _check_pair, _take, minibatches
from tinygraph.mode import no_grad
from tinygraph.tensor import Tensor

__all__ = ["History", "accuracy", "diagnose", "fit"]


def accuracy(output: Any, target: Any, from_logits: bool = False, layout: str = "rows") -> float:
    """Fraction of examples classified correctly.

    One output per example (shape (m,), (m, 1), or (1, m) with ``layout="columns"``):
    binary classification, predicting 1 where the output is > 0.5 (a
    probability) or > 0 with ``from_logits=True``. Several outputs per example:
    the predicted class is the argmax; ``target`` holds class indices or one-hot rows.

    >>> import numpy as np
    >>> from tinygraph.train import accuracy
    >>> accuracy(np.array([[0.9], [0.2], [0.7]]), np.array([1, 0, 0]))
    0.6666666666666666
    >>> accuracy(np.array([[2.0, 0.1], [0.3, 0.4]]), np.array([0, 0]))
    0.5
    """
    out = np.asarray(output)
    tgt = np.asarray(target)
    if layout == "columns" and out.ndim == 2:
        out = out.T
        tgt = tgt.T if tgt.ndim == 2 else tgt
    m = out.shape[0] if out.ndim else 1
    if out.ndim <= 1 or out.shape[-1] == 1:
        pred = out.reshape(m) > (0.0 if from_logits else 0.5)
        truth = tgt.reshape(-1)
        if truth.size != m:
            raise ValueError(f"accuracy: output has shape {np.shape(output)}, target {np.shape(target)}: sizes differ")
        return float(np.mean(pred == (truth > 0.5)))
    pred = out.reshape(m, -1).argmax(axis=1)
    truth = tgt.reshape(m, -1).argmax(axis=1) if (tgt.ndim >= 2 and tgt.shape[-1] > 1) else tgt.reshape(-1)
    if truth.size != m:
        raise ValueError(f"accuracy: output has shape {np.shape(output)}, target {np.shape(target)}: sizes differ")
    return float(np.mean(pred == truth))


def diagnose(
    train_error: float | None,
    dev_error: float | None,
    bayes_error: float = 0.0,
    tol: float = 0.05,
    train_cost: float | None = None,
    dev_cost: float | None = None,
) -> str:
    """The course's bias/variance reading of train and dev error, with its recipe.

    Avoidable bias = train error − Bayes (≈ human) error; variance = dev error −
    train error. Either is "high" above ``tol`` (5 percentage points by
    default): high bias → a bigger network, train longer, a better optimizer or
    architecture; high variance → more data, regularization (L2, dropout,
    augmentation), early stopping. Without error rates (``None``), the costs
    are compared instead and bias cannot be judged.

    >>> from tinygraph.train import diagnose
    >>> diagnose(0.01, 0.11)
    'train error 1.0%, dev error 11.0%: high variance (dev error much higher than train) -> get more data, add regularization (L2, dropout, augmentation) or stop earlier'
    >>> diagnose(0.15, 0.16).split(": ")[1]
    'high bias (train error high) -> try a bigger network, train longer or a better optimizer'
    """
    bias_fix = "try a bigger network, train longer or a better optimizer"
    var_fix = "get more data, add regularization (L2, dropout, augmentation) or stop earlier"
    if train_error is None:
        if train_cost is None:
            return "no error rate or cost to diagnose"
        if dev_cost is None:
            return f"train cost {train_cost:.4g} (no dev set: variance cannot be judged; bias needs an error rate)"
        head = f"train cost {train_cost:.4g}, dev cost {dev_cost:.4g}: "
        if dev_cost > 1.5 * train_cost + 1e-12 and dev_cost - train_cost > tol:
            return head + f"dev cost much higher than train: high variance -> {var_fix}"
        return head + "no sign of high variance (bias needs an error rate: pass a metric)"
    bias = train_error - bayes_error > tol
    if dev_error is None:
        head = f"train error {100 * train_error:.1f}% (no dev set: variance cannot be judged): "
        return head + (f"high bias (train error high) -> {bias_fix}" if bias else "low bias")
    variance = dev_error - train_error > tol
    head = f"train error {100 * train_error:.1f}%, dev error {100 * dev_error:.1f}%: "
    if bias and variance:
        return head + f"high bias and high variance -> first {bias_fix}; then {var_fix}"
    if bias:
        return head + f"high bias (train error high) -> {bias_fix}"
    if variance:
        return head + f"high variance (dev error much higher than train) -> {var_fix}"
    return head + "low bias and low variance: good"


@dataclass
class History:
    """What `fit` recorded, one entry per epoch (lists indexed from 0).

    ``train_cost`` / ``dev_cost``: the cost over the whole train / dev set at
    the end of the epoch; ``batch_cost``: the mean mini-batch cost during the
    epoch; ``train_metric`` / ``dev_metric`` (also ``train_accuracy`` /
    ``dev_accuracy``): the metric, empty when there is none; ``lr``: the
    learning rate used in the epoch; ``best_epoch``: index of the lowest dev
    cost (train cost without dev data); ``stopped_early``; ``diagnosis``: the
    bias/variance line.

    >>> from tinygraph.train import History
    >>> h = History(train_cost=[0.9, 0.5], dev_cost=[1.0, 0.7], best_epoch=1)
    >>> h.epochs, h.dev_cost[h.best_epoch]
    (2, 0.7)
    """

    train_cost: list[float] = field(default_factory=list)
    dev_cost: list[float] = field(default_factory=list)
    batch_cost: list[float] = field(default_factory=list)
    train_metric: list[float] = field(default_factory=list)
    dev_metric: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    metric_name: str | None = None
    best_epoch: int | None = None
    stopped_early: bool = False
    restored_best: bool = False
    diagnosis: str = ""

    @property
    def epochs(self) -> int:
        """Number of epochs run."""
        return len(self.train_cost)

    @property
    def train_accuracy(self) -> list[float]:
        """Alias of ``train_metric``."""
        return self.train_metric

    @property
    def dev_accuracy(self) -> list[float]:
        """Alias of ``dev_metric``."""
        return self.dev_metric

    def as_dict(self) -> dict[str, Any]:
        """The per-epoch lists and summary fields as a plain dict."""
        return {
            "train_cost": list(self.train_cost),
            "dev_cost": list(self.dev_cost),
            "batch_cost": list(self.batch_cost),
            "train_metric": list(self.train_metric),
            "dev_metric": list(self.dev_metric),
            "lr": list(self.lr),
            "metric_name": self.metric_name,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "diagnosis": self.diagnosis,
        }


def _parameters(model: Any) -> list[Tensor]:
    if not hasattr(model, "parameters"):
        raise TypeError(f"fit: model must have a parameters() method, got {type(model).__name__}")
    params = list(model.parameters())
    if not params:
        raise ValueError("fit: model.parameters() is empty")
    return params


def _snapshot(model: Any, params: list[Tensor]) -> Any:
    if hasattr(model, "state_dict") and hasattr(model, "load_state_dict"):
        return ("state_dict", model.state_dict())
    return ("arrays", [p._data.copy() for p in params])


def _restore(model: Any, params: list[Tensor], snap: Any) -> None:
    kind, saved = snap
    if kind == "state_dict":
        model.load_state_dict(saved)
        return
    for p, arr in zip(params, saved):
        p._data[...] = arr
        p.mark_written("restoring the best weights")


def _set_mode(model: Any, training: bool) -> None:
    """Call ``model.train()`` / ``model.eval()`` on modules (objects with a ``training`` flag)."""
    if not hasattr(model, "training"):
        return
    method = getattr(model, "train" if training else "eval", None)
    if callable(method):
        method()


def _match_target(out: Tensor, y: np.ndarray, layout: str) -> np.ndarray:
    """A 1-D target next to an (m, 1) (or, columns, (1, m)) output is reshaped to the output's shape."""
    if y.ndim == 1 and out.ndim == 2 and out.size == y.size:
        if (layout == "rows" and out.shape[1] == 1) or (layout == "columns" and out.shape[0] == 1):
            return y.reshape(out.shape)
    return y


def _probability_accuracy(out: np.ndarray, y: Any, layout: str) -> float:
    """`fit`'s ``metric="accuracy"``: one output per example is a probability (1 where > 0.5), so outputs
    outside [0, 1] are logits, which that threshold would score wrongly: refused, naming the fix."""
    one = out.ndim <= 1 or (out.shape[0] if layout == "columns" and out.ndim == 2 else out.shape[-1]) == 1
    if one and out.size and (out.min() < 0 or out.max() > 1):
        raise ValueError(
            f"fit: metric 'accuracy' predicts 1 where the output is > 0.5 (a probability), but the model's "
            f"outputs run from {out.min():.4g} to {out.max():.4g}: logits. Pass metric='accuracy_logits' "
            "(1 where the output is > 0), or end the model with a sigmoid"
        )
    return accuracy(out, y, layout=layout)


def _evaluate(model, loss_fn, X, Y, metric_fn, layout, batch_size) -> tuple[float, float | None]:
    """Cost and metric over a whole set, in eval mode, without a graph (in batches to bound memory)."""
    m = X.shape[0] if layout == "rows" else X.shape[-1]
    total, outs = 0.0, []
    with no_grad():
        for xb, yb in minibatches(X, Y, max(batch_size, 1024), shuffle=False, layout=layout):
            out = model(Tensor(xb))
            yb = _match_target(out, yb, layout)
            n = yb.shape[0] if (layout == "rows" or yb.ndim == 1) else yb.shape[-1]
            total += float(np.asarray(loss_fn(out, Tensor(yb)))) * n
            if metric_fn is not None:
                outs.append(np.asarray(out))
    value = None
    if metric_fn is not None:
        full = np.concatenate(outs, axis=0 if layout == "rows" else -1)
        value = float(metric_fn(full, _match_target(Tensor(full), Y, layout)))
    return total / m, value


def _evaluate_share(dist, model, loss_fn, X, Y, metric_fn, layout, batch_size) -> tuple[float, float | None]:
    """`_evaluate` on this rank's share of the set, averaged over the ranks (weighted by the shares' sizes)."""
    m = X.shape[0] if layout == "rows" else X.shape[-1]
    idx = np.arange(m)[dist.share(m)]
    if len(idx):
        cost, value = _evaluate(
            model, loss_fn, _take(X, idx, layout), _take(Y, idx, layout), metric_fn, layout, batch_size
        )
    else:
        cost, value = 0.0, (None if metric_fn is None else 0.0)
    return dist.average(cost, len(idx)), (None if value is None else dist.average(value, len(idx)))


def fit(
    model: Any,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: Any,
    train_data: tuple[Any, Any],
    epochs: int,
    dev_data: tuple[Any, Any] | None = None,
    schedule: Any = None,
    batch_size: int = 64,
    seed: int = 0,
    metric: str | Callable[[np.ndarray, np.ndarray], float] | None = "accuracy",
    patience: int | None = None,
    restore_best: bool = True,
    callbacks: Iterable[Callable[[int, History], Any]] = (),
    progress: bool = True,
    verbose: bool = True,
    layout: str = "rows",
    augment: Any = None,
    bayes_error: float = 0.0,
    distributed: bool = False,
) -> History:
    """Train ``model`` with mini-batch gradient descent and return a `History`.

    Each epoch shuffles ``train_data = (X, Y)`` with seed ``seed + epoch`` into
    mini-batches of ``batch_size`` (`tinygraph.data.minibatches`; ``layout``
    and ``augment`` are passed on), and for each batch runs
    ``optimizer.zero_grad()``, ``loss = loss_fn(model(x), y)``,
    ``loss.backward()``, ``optimizer.step()``. ``model`` is any callable with
    ``parameters()`` (a `tinygraph.nn.Module` or your own object); it gets
    ``tg.Tensor`` inputs, and ``train()`` / ``eval()`` are called if it has
    them. A 1-D target next to an (m, 1) output is reshaped to (m, 1).

    After each epoch: the cost (and ``metric``: ``"accuracy"`` for
    probabilities, ``"accuracy_logits"`` for logits, any function
    ``f(output, Y) -> float``, or None) over the whole train and dev sets
    goes into the history; ``schedule.step()`` is called; each callback is
    called as ``cb(epoch, history)`` and training stops if one returns True.

    Early stopping: with ``patience=k``, training stops after k epochs without
    a lower dev cost (train cost without dev data), and with ``restore_best``
    the parameters are set back to the best epoch's values (copies taken at
    that epoch; through ``state_dict`` when the model has one).

    ``progress`` shows a tqdm bar when tqdm is installed (``pip install
    tinygraph[train]``), one line per epoch otherwise; ``verbose`` prints the
    closing bias/variance line (also in ``history.diagnosis``).

    ``distributed=True`` trains data-parallel over the processes started by
    ``mpiexec`` (`tinygraph.distributed`, ``pip install tinygraph[distributed]``):
    rank 0's parameters and buffers are broadcast first; each mini-batch is
    the one the one-process run would use, split into one share per rank;
    each rank's gradient is averaged with its share's size as weight, so
    every step is the whole batch's step (``loss_fn`` must be a mean over
    the examples, as the losses in `tinygraph.nn.functional` are); the costs
    and the metric (a mean over examples, such as accuracy) are each rank's
    share of the sets, averaged over the ranks. The bar and the printed lines
    come from rank 0 only; callbacks run on every rank. In a world of one it
    is the ordinary run.

    >>> import numpy as np, tinygraph as tg
    >>> from tinygraph.optim import SGD
    >>> from tinygraph.train import fit
    >>> class Line:                       # y = w x + b, any object with parameters() works
    ...     def __init__(self):
    ...         self.w = tg.tensor([[0.0]], requires_grad=True); self.b = tg.tensor([0.0], requires_grad=True)
    ...     def parameters(self): return [self.w, self.b]
    ...     def __call__(self, x): return x @ self.w + self.b
    >>> X = np.linspace(-1, 1, 50).reshape(50, 1); Y = 3 * X + 1
    >>> model = Line()
    >>> h = fit(model, lambda out, y: ((out - y) ** 2).mean(), SGD(model.parameters(), lr=0.5), (X, Y),
    ...         epochs=30, batch_size=10, metric=None, progress=False, verbose=False)
    >>> round(model.w.item(), 3), round(model.b.item(), 3), h.train_cost[-1] < 1e-6
    (3.0, 1.0, True)
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs <= 0:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if patience is not None and (
        isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 1
    ):
        raise ValueError(f"fit: patience must be a positive integer or None, got {patience!r}")
    if not callable(model):
        raise TypeError(f"fit: model must be callable, got {type(model).__name__}")
    params = _parameters(model)
    try:
        X, Y = train_data
    except (TypeError, ValueError):
        raise TypeError("fit: train_data must be a pair (X, Y) of arrays") from None
    X, Y, m = _check_pair(X, Y, layout, "fit (train_data)")
    if dev_data is not None:
        try:
            Xd, Yd = dev_data
        except (TypeError, ValueError):
            raise TypeError("fit: dev_data must be a pair (X, Y) of arrays or None") from None
        Xd, Yd, _ = _check_pair(Xd, Yd, layout, "fit (dev_data)")
    if metric == "accuracy":
        metric_fn, metric_name = (lambda o, y: _probability_accuracy(o, y, layout)), "accuracy"
    elif metric == "accuracy_logits":
        metric_fn, metric_name = (lambda o, y: accuracy(o, y, from_logits=True, layout=layout)), "accuracy"
    elif metric is None:
        metric_fn, metric_name = None, None
    elif callable(metric):
        metric_fn, metric_name = metric, getattr(metric, "__name__", "metric")
    else:
        raise ValueError(f"fit: metric must be 'accuracy', 'accuracy_logits', a function or None, got {metric!r}")
    callbacks = list(callbacks)
    dist = None
    if distributed:
        from tinygraph import distributed as dist  # without mpi4py: ImportError naming the extra to install

        dist.init()
        dist.broadcast_parameters(model if hasattr(model, "named_parameters") else params)
        if dist.rank() != 0:
            progress = verbose = False
    batcher = minibatches if dist is None else dist.minibatches
    evaluate = _evaluate if dist is None else (lambda *a: _evaluate_share(dist, *a))
    state = model if hasattr(model, "named_parameters") else params

    history = History(metric_name=metric_name)
    n_batches = len(range(0, m, batch_size))
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=epochs * n_batches, desc="fit", unit="batch", leave=True)
    best_cost, best_snap, since_best = np.inf, None, 0
    try:
        for epoch in range(epochs):
            _set_mode(model, True)
            lr_now = (
                optimizer.param_groups[0]["lr"]
                if hasattr(optimizer, "param_groups")
                else getattr(optimizer, "lr", None)
            )
            history.lr.append(lr_now)
            total, seen = 0.0, 0
            for xb, yb in batcher(X, Y, batch_size, seed=seed + epoch, layout=layout, augment=augment):
                optimizer.zero_grad()
                n = yb.shape[0] if (layout == "rows" or yb.ndim == 1) else yb.shape[-1]
                if n:  # (a rank's share of a batch smaller than the world is empty)
                    out = model(Tensor(xb))
                    yb = _match_target(out, yb, layout)
                    loss = loss_fn(out, Tensor(yb))
                    if not isinstance(loss, Tensor) or loss.size != 1:
                        raise ValueError(
                            f"fit: loss_fn must return a one-element Tensor, got {type(loss).__name__} {getattr(loss, 'shape', '')}"
                        )
                    loss.backward()
                if dist is not None:
                    dist.all_reduce_gradients(state, weight=n)
                optimizer.step()
                value = loss.item() if n else 0.0
                if not np.isfinite(value):
                    raise FloatingPointError(
                        f"fit: the cost became {value} in epoch {epoch + 1}; lower the learning rate "
                        "(tg.detect_anomaly() finds the op that made it)"
                    )
                total += value * n
                seen += n
                if bar is not None:
                    bar.update(1)
            history.batch_cost.append(total / m if dist is None else dist.average(total / max(seen, 1), seen))
            _set_mode(model, False)
            tc, tm = evaluate(model, loss_fn, X, Y, metric_fn, layout, batch_size)
            history.train_cost.append(tc)
            if tm is not None:
                history.train_metric.append(tm)
            monitored = tc
            if dev_data is not None:
                dc, dm = evaluate(model, loss_fn, Xd, Yd, metric_fn, layout, batch_size)
                history.dev_cost.append(dc)
                if dm is not None:
                    history.dev_metric.append(dm)
                monitored = dc
            _set_mode(model, True)
            if dist is not None:
                dist.check_in_step(state)  # the ranks hold the same parameters, bit for bit
            if monitored < best_cost:
                best_cost, history.best_epoch, since_best = monitored, epoch, 0
                if patience is not None and restore_best:
                    best_snap = _snapshot(model, params)
            else:
                since_best += 1
            line = _epoch_line(history, epoch, epochs)
            if bar is not None:
                bar.set_postfix_str(line.split(": ", 1)[1])
            elif progress:
                print(line, file=sys.stdout)
            if schedule is not None:
                schedule.step()
            stop = any(cb(epoch, history) is True for cb in callbacks)
            if patience is not None and since_best >= patience:
                history.stopped_early = True
                stop = True
            if stop:
                break
    except BaseException as e:
        if dist is not None:
            dist.world().notify_failure(e)  # the other ranks stop with an error naming this one
        raise
    finally:
        if bar is not None:
            bar.close()
    if patience is not None and restore_best and best_snap is not None and history.best_epoch != history.epochs - 1:
        _restore(model, params, best_snap)
        history.restored_best = True
    history.diagnosis = _diagnosis(history, bayes_error)
    if verbose:
        b = history.best_epoch
        if history.stopped_early:
            print(f"early stopping after epoch {history.epochs}: best epoch {b + 1}", file=sys.stdout)
        if history.restored_best:
            print(f"restored the weights of epoch {b + 1}", file=sys.stdout)
        print(history.diagnosis, file=sys.stdout)
    return history


def _epoch_line(h: History, epoch: int, epochs: int) -> str:
    parts = [f"train cost {h.train_cost[-1]:.4f}"]
    if h.train_metric:
        parts.append(f"train {h.metric_name} {h.train_metric[-1]:.4f}")
    if h.dev_cost:
        parts.append(f"dev cost {h.dev_cost[-1]:.4f}")
    if h.dev_metric:
        parts.append(f"dev {h.metric_name} {h.dev_metric[-1]:.4f}")
    return f"epoch {epoch + 1}/{epochs}: " + ", ".join(parts)


def _diagnosis(h: History, bayes_error: float) -> str:
    i = h.best_epoch if h.restored_best else h.epochs - 1
    if h.metric_name == "accuracy" and h.train_metric:
        tr = 1.0 - h.train_metric[i]
        dv = 1.0 - h.dev_metric[i] if h.dev_metric else None
        return diagnose(tr, dv, bayes_error=bayes_error)
    return diagnose(None, None, train_cost=h.train_cost[i], dev_cost=h.dev_cost[i] if h.dev_cost else None)
