"""Random programs for differential testing: fuzz tinygraph (or your own ops) against a reference.

`random_program(seed)` builds a small random computation: random ops from the
whole op list, random shapes with broadcasting, reductions over random axes,
indexing, matmul, and intermediates used more than once. The generator runs the
program as it builds it and only picks an op where it is smooth (no kink of
``relu``, ``abs``, ``max`` or ``clip`` within ``margin`` of a value, no log of a
small number), so finite differences are a valid reference.

`check_program` compares a program's gradients with finite differences at first
and (optionally) second order, and with PyTorch when it is installed
(``pip install tinygraph[oracle]``). `programs()` is a hypothesis strategy.

>>> from tinygraph.testing import random_program, check_program
>>> p = random_program(7)
>>> out = p()                      # runs on tinygraph tensors made from p.inputs
>>> out.shape == p.output_shape
True
>>> check_program(p).passed
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tinygraph as tg
from tinygraph.ops.describe import Description, described_ops
from tinygraph.tensor import Tensor

# ----- the ops: their descriptions (tinygraph.ops.describe) -------------------------------------------
# A program step ``v[out] = op(v[args[0]], ..., **params)`` is run by the op's description: its
# ``params(rng, values, margin)`` proposes parameters (None where the op is not smooth or not
# defined on these values), ``call`` runs tinygraph, ``torch`` PyTorch, ``code`` writes the source;
# ``inputs`` counts value operands (an op of two may also make a new input: ``fits``, ``partner``).

# The order random_program draws ops in. A seed names one program (tests and bug reports cite
# random_program(377), (28613), (61637470), with ops=CITED_OPS), so these ops keep the places they
# had when the op list was a table here; ops described since follow in name order (each one added
# changes the programs of most seeds drawn from all the ops).
_SEED_ORDER = tuple(
    "add sub mul div pow pow_const neg exp log sqrt abs maximum minimum clip where astype sigmoid tanh relu "
    "leaky_relu softplus sum mean max min var logsumexp softmax log_softmax reshape transpose expand_dims "
    "squeeze flatten broadcast_to sum_to concatenate stack getitem matmul".split()
)


def _ops() -> dict[str, Description]:
    # (ops with integer or boolean results, argmax or any, have no gradient: programs leave them out)
    callable_ops = {d.name: d for d in described_ops() if d.call is not None and d.differentiable}
    names = [n for n in _SEED_ORDER if n in callable_ops] + sorted(set(callable_ops) - set(_SEED_ORDER))
    return {n: callable_ops[n] for n in names}


OPS: dict[str, Description] = _ops()  # name -> description, every op users call, in drawing order
OP_NAMES: tuple[str, ...] = tuple(OPS)
# The ops as they were before the numpy vocabulary (issue 20) joined them: the programs that tests
# and notes cite, random_program(377) and others, are random_program(seed, ops=CITED_OPS).
CITED_OPS: tuple[str, ...] = _SEED_ORDER


def _fmt(v: Any) -> str:
    if isinstance(v, float) and not np.isfinite(v):  # norm's ord=inf: repr gives "inf", not Python
        return f"float({repr(v)!r})"
    if isinstance(v, np.ndarray):
        return f"np.array({v.tolist()})"
    if isinstance(v, slice):
        return f"slice({v.start}, {v.stop}, {v.step})"
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(i) for i in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


@dataclass
class Step:
    """One instruction: ``v[out] = op(v[args[0]], ..., **params)``."""

    op: str
    args: tuple[int, ...]
    params: dict = field(default_factory=dict)


@dataclass
class Program:
    """A random straight-line program over float64 inputs; call it on tensors to run it.

    ``inputs`` are the input arrays (``v0``, ``v1``, ... in ``source()``);
    ``steps`` the instructions; each step's result is the next value. The output
    is the last value. ``program(*tensors)`` runs on tinygraph,
    ``program.run_torch(*torch_tensors)`` on PyTorch.

    >>> p = random_program(3, n_ops=4)
    >>> print(p.source())  # doctest: +SKIP
    v0 = tg.tensor(...)
    v2 = tg.tanh(v0) ...
    """

    inputs: list[np.ndarray]
    steps: list[Step]
    output_shape: tuple = ()

    def __call__(self, *xs: Any) -> Tensor:
        xs = xs or tuple(tg.tensor(x) for x in self.inputs)
        vals = list(xs)
        for s in self.steps:
            vals.append(OPS[s.op].call(*(vals[i] for i in s.args), **s.params))
        return vals[-1]

    def run_torch(self, *xs: Any) -> Any:
        """Run the same program on PyTorch tensors (``import torch`` must work)."""
        import torch

        vals = list(xs)
        for s in self.steps:
            vals.append(OPS[s.op].torch(torch, *(vals[i] for i in s.args), **s.params))
        return vals[-1]

    @property
    def ops(self) -> list[str]:
        """The op names of the steps, in order."""
        return [s.op for s in self.steps]

    def source(self) -> str:
        """The program as Python source using tinygraph, for a bug report."""
        lines = [f"v{i} = tg.tensor(np.array({x.tolist()}), requires_grad=True)" for i, x in enumerate(self.inputs)]
        for k, s in enumerate(self.steps):
            names = [f"v{i}" for i in s.args]
            params = {key: _fmt(v) for key, v in s.params.items()}
            lines.append(f"v{len(self.inputs) + k} = " + OPS[s.op].code(names, params))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.source()


def random_program(
    seed: int | np.random.Generator,
    *,
    n_ops: int | None = None,
    max_inputs: int = 3,
    max_dims: int = 3,
    max_side: int = 3,
    ops: Sequence[str] | None = None,
    margin: float = 1e-3,
    max_abs: float = 1e3,
) -> Program:
    """Build a random smooth program of ``n_ops`` steps (1-8 when None) from ``ops`` (all by default).

    Values stay below ``max_abs`` and at least ``margin`` away from every kink,
    so finite differences with a step well below ``margin`` are a valid reference.
    Intermediates that nothing else uses are then summed into the output (a
    ``sum`` and an ``add`` step each), so every step's gradient is checked.

    >>> p = random_program(0, n_ops=5)
    >>> len(p.steps) >= 5, all(op in OP_NAMES for op in p.ops)
    (True, True)
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    names = list(ops) if ops is not None else list(OP_NAMES)
    unknown = [n for n in names if n not in OPS]
    if unknown:  # an op described after this module was imported (your own): the register, read again
        OPS.update({k: d for k, d in _ops().items() if k not in OPS})
        unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(f"random_program: unknown ops {unknown}; choose from {list(OP_NAMES)}")
    if n_ops is None:
        n_ops = int(rng.integers(1, 9))

    def new_input(shape: tuple) -> np.ndarray:
        return np.asarray(np.round(rng.uniform(-2, 2, size=shape), 3), dtype=np.float64)

    nd = int(rng.integers(0, max_dims + 1))
    inputs = [new_input(tuple(int(n) for n in rng.integers(1, max_side + 1, size=nd)))]
    vals: list[np.ndarray] = [inputs[0]]
    steps: list[Step] = []
    attempts = 0
    while len(steps) < n_ops and attempts < 50 * n_ops:
        attempts += 1
        name = names[int(rng.integers(len(names)))]
        op = OPS[name]
        # prefer recent values, so chains get deep, but re-use older ones too
        first = len(vals) - 1 - min(int(rng.geometric(0.5)) - 1, len(vals) - 1)
        args = [first]
        if op.inputs == 2:
            candidates = [i for i in range(len(vals)) if op.fits(vals[first], vals[i])]
            if len(inputs) < max_inputs and (not candidates or rng.random() < 0.4):
                shape = op.partner(rng, vals[first].shape)
                inputs.append(new_input(shape))
                vals.insert(len(inputs) - 1, inputs[-1])
                steps = [
                    Step(s.op, tuple(i + 1 if i >= len(inputs) - 1 else i for i in s.args), s.params) for s in steps
                ]
                if first >= len(inputs) - 1:
                    first += 1
                args = [first, len(inputs) - 1]
            elif candidates:
                args.append(int(rng.choice(candidates)))
            else:
                continue
            if rng.random() < 0.5:
                args.reverse()
        operands = [vals[i] for i in args]
        try:
            params = op.params(rng, operands, margin)
        except ValueError:
            params = None
        if params is None:
            continue
        try:
            with tg.no_grad():
                out = op.call(*(Tensor._make(v) for v in operands), **params)
        except (ValueError, IndexError, TypeError):
            continue
        arr = out._data
        if arr.size == 0 or arr.size > 200 or not np.isfinite(arr).all() or np.abs(arr).max() > max_abs:
            continue
        steps.append(Step(name, tuple(args), params))
        vals.append(arr)
    # fold every dangling intermediate into the output, so every step's gradient is checked
    used = {i for s in steps for i in s.args}
    n_in = len(inputs)
    dangling = [n_in + k for k in range(len(steps) - 1) if n_in + k not in used]
    for d in dangling:
        steps.append(Step("sum", (d,), {"axis": None, "keepdims": False}))
        steps.append(Step("add", (n_in + len(steps) - 2, n_in + len(steps) - 1)))
        vals.append(vals[-1] + vals[d].sum())
    return Program(inputs, steps, vals[-1].shape)


@dataclass
class ProgramCheck:
    """What `check_program` found: ``passed`` and one line per failed comparison in ``failures``."""

    passed: bool
    failures: list[str]
    program: Program

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = "program check passed" if self.passed else "program check FAILED:\n  " + "\n  ".join(self.failures)
        return head + "\nprogram:\n" + self.program.source()


def _close(report: Any, threshold: float, atol: float) -> bool:
    if report.error is not None or not np.isfinite(report.difference):  # a backward that raised, or a NaN
        return False
    if report.difference <= threshold:
        return True
    # gradients that are (nearly) zero: finite differences give rounding noise, compare absolutely
    return all(abs(w[2] - w[3]) <= atol for w in report.worst)


def check_program(
    program: Program,
    *,
    second_order: bool = False,
    torch: bool | None = None,
    threshold: float = 1e-5,
    atol: float = 1e-6,
) -> ProgramCheck:
    """Compare a program's gradients with finite differences (and PyTorch, when it is importable).

    First order always (`tg.gradcheck`); second order with ``second_order=True``
    (`tg.gradgradcheck`). ``torch=None`` uses PyTorch if it imports, ``True``
    requires it. PyTorch is compared on the forward value, the vector-Jacobian
    product and a Hessian-vector product, all to float64 precision (a larger
    difference that PyTorch's own rounding explains passes: see `_compare_torch`).

    >>> check_program(random_program(1, n_ops=3), torch=False).passed
    True
    """
    failures: list[str] = []
    report = tg.gradcheck(program, program.inputs)
    if not _close(report, threshold, atol):
        failures.append(f"first order vs finite differences: {report}")
    if second_order:
        report2 = tg.gradgradcheck(program, program.inputs)
        if not _close(report2, threshold * 10, atol * 100):
            failures.append(f"second order vs finite differences: {report2}")
    if torch is not False:
        try:
            import torch as _torch  # noqa: F401
        except ImportError:
            if torch:
                raise ImportError("check_program: torch=True needs PyTorch: pip install tinygraph[oracle]") from None
        else:
            failures.extend(_compare_torch(program))
    return ProgramCheck(not failures, failures, program)


def _torch_array(t: Any) -> np.ndarray:
    """A PyTorch tensor's values as a new ndarray.

    Copied first: a gradient PyTorch returns may be one of its internal "zero tensors", which
    own no memory, and ``.numpy()`` on those can crash the process (PyTorch 2.13: the second
    derivative of a program that stacks an input, `random_program(377, ops=CITED_OPS)`).
    """
    return t.detach().clone().numpy(force=True)


def _agree(a: np.ndarray, b: np.ndarray, tol: float = 1e-9) -> bool:
    """Equal to float64 rounding: each element within `tol` relative, or `tol` of the array's largest.

    Two correct engines sum the same terms in different orders, and the rounding is relative to
    the terms, not to a small result: a Hessian-vector product element of 4e-3 next to one of 7.45
    differs by 5e-10 between tinygraph and PyTorch on `random_program(28613, ops=CITED_OPS)`.
    """
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    return bool(np.allclose(a, b, rtol=tol, atol=tol * (1e-2 + scale)))


def _derivatives(program: Program, v: np.ndarray, u: list, dtype: Any) -> tuple[list, list]:
    """tinygraph's vector-Jacobian products (with `v`) and Hessian-vector products (with `u`), in `dtype`."""
    xs = [tg.tensor(np.asarray(x, dtype=dtype), requires_grad=True) for x in program.inputs]
    f = (program(*xs) * tg.tensor(np.asarray(v, dtype=dtype))).sum()
    gs = tg.grad(f, xs, create_graph=True, allow_unused=True, materialize_grads=True)
    h = sum((g * tg.tensor(np.asarray(ui, dtype=dtype))).sum() for g, ui in zip(gs, u))
    if not isinstance(h, Tensor) or not h.requires_grad:
        return [g._data for g in gs], [np.zeros(x.shape) for x in program.inputs]
    hs = tg.grad(h, xs, allow_unused=True, materialize_grads=True)
    return [g._data for g in gs], [g._data for g in hs]


def _compare_torch(program: Program, seed: int = 0) -> list[str]:
    """tinygraph against PyTorch on the forward value, a vjp and a Hessian-vector product (float64).

    Values must agree to float64 rounding (`_agree`). A larger difference, up to 1e-6 of the
    array's scale, is PyTorch's rounding rather than a tinygraph bug when tinygraph's float64 value
    equals the one it computes in extended precision (``np.longdouble``) to 1e-12: on
    `random_program(61637470, ops=CITED_OPS)` PyTorch's Hessian-vector product is 5e-9 off the extended-precision
    value and tinygraph's 4e-15. (Where longdouble is float64, or the program has an op of
    ``tinygraph.linalg``, which numpy computes in float64 at most, only the looser bound is checked.)
    """
    import torch

    if any(OPS[s.op].torch is None for s in program.steps):
        return []  # an op without a PyTorch reference: finite differences only
    failures = []
    rng = np.random.default_rng(seed)
    txs = [torch.tensor(x, requires_grad=True) for x in program.inputs]
    out = program(*[tg.tensor(x) for x in program.inputs])
    tout = program.run_torch(*txs)
    ref = tout.detach().numpy()
    if out.shape != tuple(ref.shape) or not np.allclose(out._data, ref, rtol=1e-10, atol=1e-12):
        failures.append(f"forward vs torch: {out._data} vs {ref}")
        return failures
    v = rng.standard_normal(out.shape)
    u = [rng.standard_normal(x.shape) for x in program.inputs]
    gs, hs = _derivatives(program, v, u, np.float64)
    extended: list = []  # the same in extended precision, computed only when needed

    def close(kind: int, i: int, ours: np.ndarray, theirs: np.ndarray) -> bool:
        if _agree(ours, theirs):
            return True
        if not _agree(ours, theirs, 1e-6):
            return False
        if not extended:
            try:
                extended.extend(_derivatives(program, v, u, np.longdouble))
            except TypeError:  # numpy.linalg has no extended precision: the looser bound alone
                extended.extend([None, None])
        return extended[kind] is None or _agree(ours, extended[kind][i].astype(np.float64), 1e-12)

    tf = (tout * torch.tensor(v)).sum()
    tgs = torch.autograd.grad(tf, txs, create_graph=True, allow_unused=True)
    tgs = [torch.zeros_like(x) if t is None else t for x, t in zip(txs, tgs)]
    for i, (g, tgr) in enumerate(zip(gs, tgs)):
        theirs = _torch_array(tgr)
        if not close(0, i, g, theirs):
            failures.append(f"gradient of input {i} vs torch: {g} vs {theirs}")
    if failures:
        return failures
    th = sum((tgr * torch.tensor(ui)).sum() for tgr, ui in zip(tgs, u))
    if not th.requires_grad:
        ths = [np.zeros(x.shape) for x in program.inputs]
    else:
        ths = [
            np.zeros(x.shape) if t is None else _torch_array(t)
            for x, t in zip(program.inputs, torch.autograd.grad(th, txs, allow_unused=True))
        ]
    for i, (g, tgr) in enumerate(zip(hs, ths)):
        if not close(1, i, g, tgr):
            failures.append(f"Hessian-vector product for input {i} vs torch: {g} vs {tgr}")
    return failures


def programs(**kwargs: Any) -> Any:
    """A hypothesis strategy of random programs (keyword arguments go to `random_program`).

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5, deadline=None)
    ... @given(programs(n_ops=3))
    ... def test(p):
    ...     assert check_program(p, torch=False)
    >>> test()
    """
    from hypothesis import strategies as st

    return st.integers(0, 2**32 - 1).map(lambda s: random_program(s, **kwargs))
