"""Thread safety: grad mode is per thread; two threads training at once match one after the other."""

import threading

import numpy as np

import tinygraph as tg


def test_grad_mode_is_per_thread():
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def quiet():
        with tg.no_grad():
            inside.set()
            done.wait(5)
            seen["quiet"] = (tg.tensor(1.0, requires_grad=True) * 2).requires_grad
            seen["quiet_enabled"] = tg.is_grad_enabled()

    t = threading.Thread(target=quiet)
    t.start()
    inside.wait(5)
    x = tg.tensor(1.0, requires_grad=True)
    assert tg.is_grad_enabled() and (x * 2).requires_grad  # the other thread's no_grad is not ours
    done.set()
    t.join()
    assert seen == {"quiet": False, "quiet_enabled": False}
    assert tg.is_grad_enabled()


def _train(seed, steps, barrier=None):
    rng = np.random.default_rng(seed)
    X = tg.tensor(rng.standard_normal((32, 3)))
    Y = tg.tensor(rng.standard_normal((32, 1)))
    W1 = tg.tensor(rng.standard_normal((3, 6)) * 0.5, requires_grad=True)
    W2 = tg.tensor(rng.standard_normal((6, 1)) * 0.5, requires_grad=True)
    losses = []
    for i in range(steps):
        if barrier is not None and i % 20 == 0:
            barrier.wait(5)  # force the two trainings to interleave
        with tg.no_grad() if i % 7 == 3 else tg.enable_grad():
            loss = ((tg.relu(X @ W1) @ W2 - Y) ** 2).mean()
        if loss.requires_grad:
            loss.backward()
            for W in (W1, W2):
                W.data = W.data - 0.05 * W.grad.data
                W.grad = None
        losses.append(loss.item())
    return losses, W1.data.copy(), W2.data.copy()


def test_two_threads_training_at_once_match_sequential_training():
    sequential = [_train(0, 200), _train(1, 200)]
    results: dict = {}
    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, _train(s, 200, barrier))) for s in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in (0, 1):
        assert results[s][0] == sequential[s][0]
        np.testing.assert_array_equal(results[s][1], sequential[s][1])
        np.testing.assert_array_equal(results[s][2], sequential[s][2])
    assert sequential[0][0][-1] < 0.8 * sequential[0][0][0]  # and it did train


def test_threads_sharing_a_parameter_lose_no_gradient():
    # Each backward adds exactly k (an integer, so float sums are exact) into the shared weight's
    # .grad; a lost update shows as a total below the exact sum.
    import sys

    W = tg.tensor(np.zeros(4), requires_grad=True)
    threads_n, steps = 4, 300
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: a race shows in every run
    try:
        for _ in range(3):
            W.grad = None
            start = threading.Barrier(threads_n)

            def work(k, start=start):
                x = tg.tensor(np.full(4, float(k)))
                start.wait(5)
                for _ in range(steps):
                    (W * x).sum().backward()

            threads = [threading.Thread(target=work, args=(k,)) for k in range(1, threads_n + 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            expected = steps * sum(range(1, threads_n + 1))
            np.testing.assert_array_equal(W.grad.data, np.full(4, float(expected)))
    finally:
        sys.setswitchinterval(old)


def test_default_dtype_and_seed_are_process_wide():
    # the README's limit: these two settings are not per thread
    seen = {}

    def other():
        seen["dtype"] = tg.tensor([1.0]).dtype
        seen["draw"] = tg.random.generator().random()

    tg.set_default_dtype(np.float32)
    tg.manual_seed(5)
    try:
        t = threading.Thread(target=other)
        t.start()
        t.join()
    finally:
        tg.set_default_dtype(np.float64)
    tg.manual_seed(5)
    assert seen == {"dtype": np.float32, "draw": tg.random.generator().random()}
