"""tg.compile on long programs: their lines run from a table (tinygraph.compiler.interpret), not compiled.

The threshold (`program.LONG`, in lines) is lowered here so that a chain of a few thousand ops, or
any program, goes the long way; its results are checked against eager, against the same program
compiled as source (bit for bit), against a hand-written numpy chain and finite differences.
"""

import gc
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.compiler import interpret
from tinygraph.compiler import program as program_module

sys.path.insert(0, str(Path(__file__).parent))  # the check shared by the compile tests
from compile_checks import assert_random_program_compiles_as_eager  # noqa: E402


@pytest.fixture
def long_programs(monkeypatch):
    """Every program traced while this is active runs from a table."""
    monkeypatch.setattr(program_module, "LONG", 0)


def _chain_constants(n, rng):
    """Per op its own constant: a reordered or skipped op changes the result."""
    return [rng.uniform(0.5, 1.5, 3) for _ in range(n)]


def _chain(x, cs, tanh):
    """x -> tanh(x * c + c / 3), op after op (three kinds of ops, each with a constant of its own)."""
    for c in cs:
        x = tanh(x * c + c / 3)
    return x


def _chain_by_hand(x, cs):
    """The chain's sum and its gradient in x, written out in numpy (forward, then the chain rule backward)."""
    ys = []
    for c in cs:
        x = np.tanh(x * c + c / 3)
        ys.append(x)
    g = np.ones_like(x)
    for c, y in zip(reversed(cs), reversed(ys)):
        g = g * (1 - y * y) * c
    return x.sum(), g


def _step_for(cs):
    consts = [tg.tensor(c) for c in cs]
    return tg.compile(lambda x: _chain(x, consts, tg.tanh).sum()), consts


def test_a_long_chain_gives_eagers_loss_and_gradients_and_the_hand_written_chain(long_programs):
    rng = np.random.default_rng(0)
    cs = _chain_constants(1500, rng)  # 4,500 ops
    step, consts = _step_for(cs)
    x0 = rng.uniform(-1, 1, 3)
    x = tg.tensor(x0, requires_grad=True)
    eager = _chain(x, consts, tg.tanh).sum()
    eager.backward()
    want_grad = x.grad.data.copy()
    by_hand, by_hand_grad = _chain_by_hand(x0, cs)
    for _ in range(3):  # the trace's own replay, then replays
        x.grad = None
        loss = step(x)
        loss.backward()
        assert loss.item() == eager.item()  # the same numpy calls in the same order: bit for bit
        np.testing.assert_array_equal(x.grad.data, want_grad)
        assert abs(loss.item() - by_hand) <= 1e-12
        np.testing.assert_allclose(x.grad.data, by_hand_grad, rtol=1e-12, atol=1e-14)
    program = step._fast
    assert program.table is not None and program.code is None
    assert step.traces == 1 and step.eager_reason is None
    # the chain's 4,500 ops, forward and backward, run from a handful of line shapes
    assert len(program.table.forward) > 4500 and len(program.table.shapes) < 40


def test_the_table_and_the_compiled_source_agree_bit_for_bit(monkeypatch):
    rng = np.random.default_rng(1)
    cs = _chain_constants(400, rng)
    x = tg.tensor(rng.uniform(-1, 1, 3), requires_grad=True)
    results = []
    for long in (10**9, 0):  # the generated source compiled, then the same lines from a table
        monkeypatch.setattr(program_module, "LONG", long)
        step, _ = _step_for(cs)
        x.grad = None
        loss = step(x)
        loss.backward()
        assert (step._fast.table is None) == (long > 0)
        results.append((loss.item(), x.grad.data.copy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_a_long_chains_gradient_matches_finite_differences(long_programs):
    rng = np.random.default_rng(2)
    cs = _chain_constants(300, rng)
    step, consts = _step_for(cs)
    x0 = rng.uniform(-1, 1, 3)
    x = tg.tensor(x0, requires_grad=True)
    step(x).backward()
    eps = 1e-6
    for i in range(3):
        d = np.zeros(3)
        d[i] = eps
        f = [_chain(x0 + s * d, cs, np.tanh).sum() for s in (1, -1)]
        assert abs((f[0] - f[1]) / (2 * eps) - x.grad.data[i]) < 1e-7


def test_a_skipped_or_reordered_step_would_change_the_result(long_programs):
    # an affine chain forgets nothing (tanh's would forget its first steps): every op, in its order, counts
    rng = np.random.default_rng(3)
    cs = [rng.uniform(0.9, 1.1, 3) for _ in range(300)]
    consts = [tg.tensor(c) for c in cs]

    def affine(x, cs):
        for c in cs:
            x = x * c + c / 3
        return x.sum()

    step = tg.compile(lambda x: affine(x, consts))
    x0 = rng.uniform(-1, 1, 3)
    loss = step(tg.tensor(x0)).item()
    assert loss == affine(x0, cs)
    for changed in (cs[::-1], cs[:-1], cs[1:], cs[:100] + cs[101:], cs[:100] + [cs[101], cs[100]] + cs[102:]):
        assert abs(loss - affine(x0, changed)) > 1e-12


def test_new_shapes_retrace_and_a_new_value_is_read_each_call(long_programs):
    rng = np.random.default_rng(4)
    cs = _chain_constants(300, rng)
    consts = [tg.tensor(c[:1]) for c in cs]  # (1,): broadcast against any length
    step = tg.compile(lambda x: _chain(x, consts, tg.tanh).sum())
    for n in (3, 5, 3, 5):
        x0 = rng.uniform(-1, 1, n)
        x = tg.tensor(x0, requires_grad=True)
        loss = step(x)
        loss.backward()
        want, want_grad = _chain_by_hand(x0, [c[:1] for c in cs])
        assert abs(loss.item() - want) <= 1e-12
        np.testing.assert_allclose(x.grad.data, want_grad, rtol=1e-12, atol=1e-14)
    assert step.traces == 2


def test_two_calls_before_backward_and_retain_graph_use_their_own_frames(long_programs):
    w = tg.tensor([0.5, -1.0], requires_grad=True)
    step = tg.compile(lambda x: (tg.tanh(x * w) * x).sum())
    x1, x2 = tg.tensor([1.0, 2.0]), tg.tensor([3.0, -1.0])
    a, b = step(x1), step(x2)  # two frames, each with its own entries
    b.backward(retain_graph=True)
    b.backward()
    g2 = w.grad.data.copy()
    w.grad = None
    a.backward()
    for x, g, k in ((x1, w.grad.data, 1), (x2, g2, 2)):  # d/dw sum(tanh(x w) x) = x^2 (1 - tanh(x w)^2)
        np.testing.assert_allclose(g, k * x.data**2 * (1 - np.tanh(x.data * w.data) ** 2), rtol=1e-14)
    assert len(step._fast.frames) == 2


def test_random_programs_from_a_table_match_eager(long_programs):
    for seed in range(60):
        assert_random_program_compiles_as_eager(seed)


def test_the_program_text_of_a_long_program(long_programs):
    w = tg.tensor([1.0, 2.0], requires_grad=True, name="w")
    step = tg.compile(lambda x: tg.tanh(x * w).sum())
    text = step.program(tg.tensor([1.0, 1.0]))
    assert "# a long program:" in text and "line shapes" in text
    assert "def forward(ins):" in text and "def backward(seeds):" in text
    assert "np.tanh(" in text and "leaf w (2,) float64, requires grad" in text


def test_line_shapes_keep_strings_keywords_attributes_and_comments_apart():
    lines = [
        "    T3[...] = 10.0",
        "    v1 = f(v0, 'v0 # not a comment', key1='x')  # a comment with v7 in it",
        "    v2 = np.float32(v1.real2) + T3  # another",
        '    v3 = g(v2, "it\'s v2")',
        "    # only a comment: 's",
        "    v4 = 1e5 * v3",
        "    return (v4, v1)",
    ]
    table = interpret.Table(lines, None)
    assert table.blocks == {"T": (0, 4), "v": (4, 5)}  # entries of R: T0 ... T3, then v0 ... v4
    operands = [ix for _, ix in table.forward]  # the comment-only line is dropped
    assert operands == [(3,), (5, 4), (6, 5, 3), (7, 6), (8, 7), (8, 5)]

    class Real:
        real2 = 2.0

    def f(a, s, key1):
        assert s == "v0 # not a comment" and key1 == "x"
        return Real()

    def g(a, s):
        assert s == "it's v2"
        return a + 1

    ns = {"f": f, "g": g, "np": np, "v0": None}
    forward, backward = table.bind(ns, {"T3": ((), np.float64), "T4": ((2,), np.float64)})  # (T4: not used)
    v4, v1 = forward(())
    assert backward is None and isinstance(v1, Real)
    assert v4 == 1e5 * (2.0 + 10.0 + 1)


def test_the_cycle_collector_is_on_again_after_a_trace_a_failing_one_included():
    assert gc.isenabled()
    refused = tg.compile(lambda x: x * 2 if float(x.sum()) > 0 else x)
    with pytest.raises(tg.TraceError):
        refused(tg.tensor([1.0]))
    assert gc.isenabled()
    assert tg.compile(lambda x: (x * 2).sum())(tg.tensor([1.5])).item() == 3.0
    assert gc.isenabled()
    gc.disable()  # switched off by the user: it stays off
    try:
        assert tg.compile(lambda x: (x * 3).sum())(tg.tensor([1.5])).item() == 4.5
        assert not gc.isenabled()
    finally:
        gc.enable()
