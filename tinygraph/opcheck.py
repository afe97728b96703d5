"""`tinygraph gradcheck`: every built-in op on random shapes, broadcasting included, at first and second order.

The cases come from the ops' descriptions (`tinygraph.ops.describe`): each op at each of its
input shapes (scalar to 3-D, broadcasting pairs), with inputs and parameters from its sampler.
`run` checks them all with `gradcheck` and `gradgradcheck` (second order where the op is
smooth), prints a table (op, shapes, order, difference, pass) and returns 1 if any check failed.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

import tinygraph as tg
from tinygraph.gradcheck import gradcheck, gradgradcheck
from tinygraph.ops.describe import described_ops


@dataclass(frozen=True, eq=False)
class Case:
    """One check: ``fn`` at ``inputs`` (float64 arrays), labelled ``op`` (the op and its parameters)."""

    op: str
    fn: Callable
    inputs: tuple
    smooth: bool = True  # second-order checks apply

    @property
    def shapes(self) -> tuple:
        return tuple(x.shape for x in self.inputs)


@dataclass
class Row:
    """One line of the table: a case checked at one order."""

    op: str
    shapes: str
    order: int
    difference: float
    passed: bool
    max_abs: float = 0.0  # the largest absolute difference of one number


def _text(v: Any) -> str:
    """A parameter as short text for the table: ``0:3:2`` for a slice, ``array(3, 4)`` for an array."""
    if isinstance(v, np.ndarray):
        return f"array{v.shape}"
    if isinstance(v, np.generic):
        return _text(v.item())
    if isinstance(v, slice):
        return ":".join("" if x is None else str(x) for x in (v.start, v.stop, v.step))
    if isinstance(v, tuple):
        return "(" + ", ".join(_text(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return f"{v:g}" if isinstance(v, float) else repr(v)


def _label(name: str, params: dict) -> str:
    """``sum (axis=0, keepdims)``: the op and its parameters (None and False left out)."""
    parts = [k if v is True else f"{k}={_text(v)}" for k, v in params.items() if v is not None and v is not False]
    return f"{name} ({', '.join(parts)})" if parts else name


def builtin_cases(seed: int = 0) -> list[Case]:
    """Every op users call, at each of its description's input shapes, in op-name order.

    Inputs and parameters come from each op's description (`tinygraph.ops.describe`), drawn
    with a generator seeded by `seed`, the op's name and the case's number, so adding an op
    leaves the other ops' cases as they were.

    >>> cases = builtin_cases()
    >>> {"matmul", "softmax", "getitem", "broadcast_to"} <= {c.op.split(" ")[0] for c in cases}
    True
    >>> [c.shapes for c in cases if c.op.startswith("tanh")]
    [((),), ((4,),), ((3, 4),), ((1, 4),), ((3, 1),), ((2, 3, 4),)]
    """
    cases = []
    for d in described_ops():
        if d.call is None:  # an internal op: checked through the ops that use it
            continue
        if not d.differentiable:  # integer or boolean results (argmax, any): no gradient to check
            continue
        for i, shapes in enumerate(d.case_shapes):
            arrays, params = d.sample(np.random.default_rng([seed, i, *d.name.encode()]), shapes)
            cases.append(Case(_label(d.name, params), functools.partial(d.call, **params), tuple(arrays), d.smooth))
    return cases


def _shapes_label(shapes: tuple) -> str:
    return ", ".join(str(s) for s in shapes)


def check_ops(cases: list[Case] | None = None, seed: int = 0, orders: tuple = (1, 2)) -> list[Row]:
    """Check each case at each order; one `Row` per check.

    >>> rows = check_ops([c for c in builtin_cases() if c.op == "tanh"])
    >>> [(r.shapes, r.order, r.passed) for r in rows][:4]
    [('()', 1, True), ('()', 2, True), ('(4,)', 1, True), ('(4,)', 2, True)]
    """
    rows = []
    for case in builtin_cases(seed) if cases is None else cases:
        inputs = [tg.tensor(x) for x in case.inputs]
        for order in orders:
            if order == 2 and not case.smooth:
                continue
            check = gradcheck if order == 1 else gradgradcheck
            report = check(case.fn, inputs, seed=seed)
            rows.append(
                Row(case.op, _shapes_label(case.shapes), order, report.difference, report.passed, report.max_abs_error)
            )
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
    cases = builtin_cases(seed)
    if only:
        cases = [c for c in cases if any(c.op.startswith(o) for o in only)]
        if not cases:
            names = sorted({c.op.split(" ")[0] for c in builtin_cases(seed)})
            print(f"tinygraph gradcheck: no op matches {only}; ops: {', '.join(names)}", file=out)
            return 2
    start = time.perf_counter()
    rows = check_ops(cases, seed=seed)
    elapsed = time.perf_counter() - start
    failed = [r for r in rows if not r.passed]
    shown = failed if getattr(args, "failures_only", False) else rows
    if shown:
        print(format_table(shown), file=out)
    # a derivative that is exactly zero (a linear op's second order) leaves finite differences'
    # rounding alone: the relative difference is then ~1 and means nothing; the absolute one says it
    zero = [r for r in rows if r.passed and r.difference > 1e-6]  # passed on the absolute test only (rtol 1e-6)
    relative = [r for r in rows if r not in zero] or rows
    worst = max(relative, key=lambda r: r.difference)
    note = ""
    if zero:
        note = (
            f"; {len(zero)} checks of a derivative that is zero passed on the absolute difference "
            f"(at most {max(r.max_abs for r in zero):.1e})"
        )
    print(
        f"\n{len(rows)} checks of {len(cases)} cases (first and second order, float64, seed {seed}) in "
        f"{elapsed:.1f} s: {len(rows) - len(failed)} passed, {len(failed)} failed; largest difference "
        f"{worst.difference:.2e} ({worst.op}, {worst.shapes}, order {worst.order}){note}",
        file=out,
    )
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `tinygraph gradcheck`."""
    from tinygraph.cli import whole_number

    parser.add_argument("--seed", type=whole_number(0), default=0, help="seed of the random inputs")
    parser.add_argument(
        "--op",
        action="append",
        default=argparse.SUPPRESS,
        help="check only ops whose name starts with this (repeatable; default: every op)",
    )
    parser.add_argument("--failures-only", action="store_true", help="print only the failing rows")
