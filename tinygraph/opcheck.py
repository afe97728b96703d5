"""`tinygraph gradcheck`: every built-in op on random shapes, broadcasting included, at first and second order.

Each case is one row of a plain table below (op, a function of tensors, the
input shapes and how to draw the inputs). `run` checks them all with
`gradcheck` and `gradgradcheck`, prints a table (op, shapes, order,
difference, pass) and returns 1 if any check failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

import tinygraph as tg
from tinygraph.gradcheck import gradcheck, gradgradcheck


def _normal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.standard_normal(shape)


def _positive(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return np.abs(rng.standard_normal(shape)) + 0.5


def _away(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Normal draws kept at least 0.3 away from 0, the kink of relu, abs and friends."""
    x = rng.standard_normal(shape)
    return np.sign(x) * (np.abs(x) + 0.3)


@dataclass(frozen=True)
class Case:
    """One check: ``fn`` applied to inputs of ``shapes`` drawn by ``draws`` (one drawing function per input)."""

    op: str
    fn: Callable
    shapes: tuple
    draws: tuple


@dataclass
class Row:
    """One line of the table: a case checked at one order."""

    op: str
    shapes: str
    order: int
    difference: float
    passed: bool


BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (1, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (3, 4))]
UNARY_SHAPES = [(), (3, 4)]

# op -> (function, how to draw its input)
UNARY: dict[str, tuple[Callable, Callable]] = {
    "neg": (lambda x: -x, _normal),
    "exp": (tg.exp, _normal),
    "log": (tg.log, _positive),
    "sqrt": (tg.sqrt, _positive),
    "abs": (tg.abs, _away),
    "pow (x**3)": (lambda x: x**3, _normal),
    "sigmoid": (tg.sigmoid, _normal),
    "tanh": (tg.tanh, _normal),
    "relu": (tg.relu, _away),
    "leaky_relu": (lambda x: tg.leaky_relu(x, 0.1), _away),
    "softplus": (tg.softplus, _normal),
    "clip": (lambda x: tg.clip(x, -0.15, 0.15), _away),
    "astype": (lambda x: tg.astype(x, np.float64) * 2, _normal),
}

# op -> (function, draw a, draw b); every pair of BROADCAST_PAIRS
BINARY: dict[str, tuple[Callable, Callable, Callable]] = {
    "add": (lambda a, b: a + b, _normal, _normal),
    "sub": (lambda a, b: a - b, _normal, _normal),
    "mul": (lambda a, b: a * b, _normal, _normal),
    "div": (lambda a, b: a / b, _normal, _away),
    "pow": (lambda a, b: a**b, _positive, _normal),
    "maximum": (tg.maximum, _normal, _normal),
    "minimum": (tg.minimum, _normal, _normal),
    "where": (lambda a, b: tg.where(a > 0, a * b, b - a), _away, _normal),
}

REDUCTIONS: dict[str, Callable] = {
    "sum": lambda x, axis, kd: tg.sum(x, axis=axis, keepdims=kd),
    "mean": lambda x, axis, kd: tg.mean(x, axis=axis, keepdims=kd),
    "max": lambda x, axis, kd: tg.max(x, axis=axis, keepdims=kd),
    "min": lambda x, axis, kd: tg.min(x, axis=axis, keepdims=kd),
    "var": lambda x, axis, kd: tg.var(x, axis=axis, keepdims=kd),
    "logsumexp": lambda x, axis, kd: tg.logsumexp(x, axis=axis, keepdims=kd),
}
REDUCTION_AXES = [(None, False), (0, False), (-1, True)]


def _weights(shape: tuple) -> tg.Tensor:
    """Fixed weights, so that shape ops (whose output sum has a trivial gradient) are checked element by element."""
    return tg.tensor(np.random.default_rng(99).standard_normal(shape))


def _weighted(f: Callable) -> Callable:
    def g(*xs: Any) -> tg.Tensor:
        y = f(*xs)
        return y * _weights(y.shape)

    return g


def builtin_cases() -> list[Case]:
    """Every built-in op in the cases the command checks (in table order).

    >>> cases = builtin_cases()
    >>> {"matmul", "softmax", "getitem", "broadcast_to"} <= {c.op.split(" ")[0] for c in cases}
    True
    """
    cases = [Case(op, f, (s,), (draw,)) for op, (f, draw) in UNARY.items() for s in UNARY_SHAPES]
    cases += [Case(op, f, pair, (da, db)) for op, (f, da, db) in BINARY.items() for pair in BROADCAST_PAIRS]
    for op, f in REDUCTIONS.items():
        for axis, kd in REDUCTION_AXES:
            label = f"{op} (axis={axis}{', keepdims' if kd else ''})"
            cases.append(Case(label, _weighted(lambda x, f=f, a=axis, k=kd: f(x, a, k)), ((2, 3, 4),), (_normal,)))
    for axis in (0, -1):
        cases.append(Case(f"softmax (axis={axis})", _weighted(lambda x, a=axis: tg.softmax(x, axis=a)), ((3, 4),), (_normal,)))  # fmt: skip
        cases.append(Case(f"log_softmax (axis={axis})", _weighted(lambda x, a=axis: tg.log_softmax(x, axis=a)), ((3, 4),), (_normal,)))  # fmt: skip
    for sa, sb in [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2))]:
        cases.append(Case("matmul", _weighted(tg.matmul), (sa, sb), (_normal, _normal)))
    shape_ops: list[tuple[str, Callable, tuple]] = [
        ("reshape", lambda x: tg.reshape(x, (4, 3)), (3, 4)),
        ("transpose", lambda x: tg.transpose(x), (3, 4)),
        ("transpose (axes)", lambda x: tg.transpose(x, (1, 2, 0)), (2, 3, 4)),
        ("broadcast_to", lambda x: tg.broadcast_to(x, (2, 3, 4)), (3, 1)),
        ("sum_to", lambda x: tg.sum_to(x, (3, 1)), (2, 3, 4)),
        ("expand_dims", lambda x: tg.expand_dims(x, 1), (3, 4)),
        ("squeeze", lambda x: tg.squeeze(x), (3, 1, 4)),
        ("flatten", lambda x: tg.flatten(x), (2, 3, 4)),
        ("getitem (slices)", lambda x: x[1:, ::-2], (3, 4)),
        ("getitem (int array)", lambda x: x[np.array([2, 0, 2])], (3, 4)),
        ("getitem (bool mask)", lambda x: x[np.array([[True, False, True, True]] * 3)], (3, 4)),
    ]
    cases += [Case(op, _weighted(f), (s,), (_normal,)) for op, f, s in shape_ops]
    cases.append(Case("concatenate", _weighted(lambda a, b: tg.concatenate([a, b, a], axis=0)), ((2, 3), (4, 3)), (_normal, _normal)))  # fmt: skip
    cases.append(Case("stack", _weighted(lambda a, b: tg.stack([a, b], axis=1)), ((2, 3), (2, 3)), (_normal, _normal)))  # fmt: skip
    return cases


def _shapes_label(shapes: tuple) -> str:
    return ", ".join(str(s) for s in shapes)


def check_ops(cases: list[Case] | None = None, seed: int = 0, orders: tuple = (1, 2)) -> list[Row]:
    """Check each case at each order; one `Row` per check.

    >>> rows = check_ops([c for c in builtin_cases() if c.op == "tanh"])
    >>> [(r.shapes, r.order, r.passed) for r in rows]
    [('()', 1, True), ('()', 2, True), ('(3, 4)', 1, True), ('(3, 4)', 2, True)]
    """
    rows = []
    for k, case in enumerate(builtin_cases() if cases is None else cases):
        rng = np.random.default_rng(seed + k)
        inputs = [tg.tensor(draw(rng, s)) for draw, s in zip(case.draws, case.shapes)]
        for order in orders:
            check = gradcheck if order == 1 else gradgradcheck
            report = check(case.fn, inputs, seed=seed)
            rows.append(Row(case.op, _shapes_label(case.shapes), order, report.difference, report.passed))
    return rows


def format_table(rows: list[Row]) -> str:
    """The rows as a plain-text table: op, shapes, order, difference, pass.

    >>> print(format_table([Row("exp", "(3, 4)", 1, 1.2e-11, True)]))
    op   shapes  order  difference  pass
    exp  (3, 4)      1    1.20e-11  ok
    """
    ow = max(2, *(len(r.op) for r in rows))
    sw = max(6, *(len(r.shapes) for r in rows))
    lines = [f"{'op':<{ow}}  {'shapes':<{sw}}  order  difference  pass"]
    for r in rows:
        lines.append(
            f"{r.op:<{ow}}  {r.shapes:<{sw}}  {r.order:>5}  {r.difference:>10.2e}  {'ok' if r.passed else 'FAIL'}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace | None = None, out: TextIO | None = None) -> int:
    """The `tinygraph gradcheck` command: print the table and a summary; 1 if any check failed, else 0.

    ``args`` may carry ``seed`` (int), ``op`` (only cases whose op name starts
    with one of these) and ``failures_only`` (print only failing rows).
    """
    out = sys.stdout if out is None else out
    seed = getattr(args, "seed", 0) or 0
    only = getattr(args, "op", None)
    cases = builtin_cases()
    if only:
        cases = [c for c in cases if any(c.op.startswith(o) for o in only)]
        if not cases:
            names = sorted({c.op.split(" ")[0] for c in builtin_cases()})
            print(f"tinygraph gradcheck: no op matches {only}; ops: {', '.join(names)}", file=out)
            return 2
    start = time.perf_counter()
    rows = check_ops(cases, seed=seed)
    elapsed = time.perf_counter() - start
    failed = [r for r in rows if not r.passed]
    shown = failed if getattr(args, "failures_only", False) else rows
    if shown:
        print(format_table(shown), file=out)
    worst = max(rows, key=lambda r: r.difference)
    print(
        f"\n{len(rows)} checks of {len(cases)} cases (first and second order, float64, seed {seed}) in "
        f"{elapsed:.1f} s: {len(rows) - len(failed)} passed, {len(failed)} failed; largest difference "
        f"{worst.difference:.2e} ({worst.op}, {worst.shapes}, order {worst.order})",
        file=out,
    )
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tinygraph gradcheck`."""
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--op", action="append", help="check only ops whose name starts with this (repeatable)")
    parser.add_argument("--failures-only", action="store_true", help="print only the failing rows")
