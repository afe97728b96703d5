"""The check shared by the tg.compile tests: a random program compiled gives eager's loss and gradients."""

import numpy as np

import tinygraph as tg
from tinygraph.testing import random_program


def assert_random_program_compiles_as_eager(seed: int) -> None:
    """`tinygraph.testing.random_program(seed)`, summed, compiled: the trace's own replay and a plain
    replay give eager's loss and every input's gradient, to 1e-12. For an odd seed the compiled function
    also returns the program's output the loss was summed from, and backward starts from the loss plus a
    weighted sum of that output, taken outside the compiled function (gradients from two outputs, one
    computed from the other)."""
    p = random_program(seed)
    xs = [tg.tensor(x, requires_grad=True) for x in p.inputs]
    both = seed % 2 == 1

    def f(*a):
        o = p(*a)
        loss = o.sum() if o.shape != () else o
        return (loss, o) if both else loss

    def scalar(results):
        if not both:
            return results
        loss, o = results
        weights = np.linspace(0.5, 1.5, o.size).reshape(o.shape).astype(o.dtype)
        return loss + (o * weights).sum()

    out = scalar(f(*xs))
    out.backward()
    expected = [None if x.grad is None else x.grad.data.copy() for x in xs]
    step = tg.compile(f)
    for _ in range(2):  # the trace's own replay, then a plain replay
        for x in xs:
            x.grad = None
        o = scalar(step(*xs))
        o.backward()
        assert step.eager_reason is None, (seed, step.eager_reason)
        assert abs(o.item() - out.item()) <= 1e-12 * max(1.0, abs(out.item())), (seed, p.source())
        for e, x in zip(expected, xs):
            assert (e is None) == (x.grad is None), (seed, p.source())
            if e is not None:
                np.testing.assert_allclose(x.grad.data, e, rtol=1e-12, atol=1e-12, err_msg=p.source())
