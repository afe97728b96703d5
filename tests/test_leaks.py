"""No leaks: long training keeps memory flat, and a finished graph is freed by reference counting alone."""

import gc
import sys
import tracemalloc
import weakref

import numpy as np

import tinygraph as tg


def _net(seed=0):
    rng = np.random.default_rng(seed)
    return [
        tg.tensor(rng.standard_normal((3, 6)) * 0.5, requires_grad=True),
        tg.tensor(rng.standard_normal((6, 1)) * 0.5, requires_grad=True),
    ]


def _step(params, X, Y, lr=0.02):
    W1, W2 = params
    loss = ((tg.tanh(X @ W1) @ W2 - Y) ** 2).mean()
    loss.backward()
    for t in params:
        t.data -= lr * t.grad.data  # manual SGD, in place: the graph is already released
        t.grad = None
    return loss


def _window(params, X, Y, steps):
    """Run `steps` steps under tracemalloc; bytes still held from what the last 90% of them allocated.

    The first tenth warms numpy's and Python's allocation caches, which would look like growth.
    """
    tracemalloc.start()
    try:
        for i in range(steps):
            if i == steps // 10:
                start = tracemalloc.get_traced_memory()[0]
            loss = _step(params, X, Y)
        del loss
        return tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()


def test_ten_thousand_training_steps_keep_memory_flat():
    rng = np.random.default_rng(1)
    X = tg.tensor(rng.standard_normal((8, 3)))
    Y = tg.tensor(np.sin(X.data.sum(axis=1, keepdims=True)))
    params = _net()
    first_loss = _step(params, X, Y).item()
    # the first thousand steps, traced: what they allocated and did not free
    held_first = _window(params, X, Y, 1000)
    gc.collect()
    blocks = sys.getallocatedblocks()
    for _ in range(8000):
        _step(params, X, Y)
    gc.collect()
    grown = sys.getallocatedblocks() - blocks  # every Python object still alive from the middle 8,000 steps
    held_last = _window(params, X, Y, 999)  # the last thousand steps, with the final one below
    last_loss = _step(params, X, Y).item()
    # one leaked tensor per step would hold > 200 kB in a window and ~16,000 blocks over 8,000
    # (Python's free lists keep a few tens of kB of small tuples alive: that is not growth)
    assert held_first < 100_000 and held_last < 100_000, (held_first, held_last)
    assert grown < 500, grown
    assert last_loss < 0.25 * first_loss  # and it did train


def test_a_finished_graph_is_freed_without_the_cycle_collector():
    gc.collect()
    gc.disable()
    try:
        x = tg.tensor(np.ones((3, 3)), requires_grad=True)
        h = tg.exp(x) * x  # exp saves its output: a node that points back at tensors
        y = tg.tanh(h).sum()
        ref = weakref.ref(h)
        out_ref = weakref.ref(y)
        y.backward()
        del h, y
        assert ref() is None and out_ref() is None
        # never backpropagated: dropping the output frees the whole graph too
        h = tg.sigmoid(x @ x)
        ref = weakref.ref(h)
        y = (h * h).sum()
        del h, y
        assert ref() is None
        # retained graph, kept by create_graph: freed once the gradients are dropped
        h = tg.tanh(x)
        ref = weakref.ref(h)
        (g,) = tg.grad(h.sum(), [x], create_graph=True)
        del h, g
        assert ref() is None
        np.testing.assert_allclose(x.grad.data, np.exp(1) * 2 * (1 - np.tanh(np.e) ** 2))
    finally:
        gc.enable()
