"""Gradient checking: autodiff against two-sided finite differences, in float64, and which op is wrong.

The course's measure is the relative difference

    difference = ||g_num - g|| / (||g_num|| + ||g||)

over all checked numbers at once; below 1e-7 is great, above 1e-5 is probably
a bug. When a check fails, tinygraph does what the course tells a person to do
by hand ("look at the components"): it checks every node of the recorded graph
on its own (that op's vector-Jacobian product against finite differences of
that op's forward, at the inputs it actually saw) and names the first wrong op.

Pass rule, used by every check here: a check passes when

    difference <= rtol    or    max_i |g_num_i - g_i| <= atol

``rtol`` (default 1e-6) sits between the course's two marks: a result in
(1e-7, 1e-6] passes but the report calls it "look closer"; above 1e-5 the
report says "probably a bug". ``atol`` (default 1e-8) only matters when the
gradient is (nearly) all zeros, where the relative measure divides round-off
noise by round-off noise; pass ``atol=0`` to rely on the relative measure alone.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from tinygraph.autograd import grad, topo_order
from tinygraph.function import Context
from tinygraph.mode import enable_grad, no_grad, set_grad_enabled
from tinygraph.tensor import Tensor

GREAT = 1e-7
BUG = 1e-5
_BACKWARD_ERRORS = (RuntimeError, ValueError, TypeError, IndexError, ArithmeticError)


class GradcheckError(AssertionError):
    """Raised by a check with ``raise_exception=True`` when the gradients disagree.

    The message is the report's text; ``err.report`` is the `GradcheckReport`.
    """

    def __init__(self, message: str, report: GradcheckReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class WorstElement(NamedTuple):
    """One checked number that differs most: where it is and both values."""

    input: int
    index: tuple
    numeric: float
    analytic: float
    label: str = ""

    @property
    def error(self) -> float:
        return abs(self.numeric - self.analytic)


@dataclass
class NodeCheck:
    """The check of one graph node on its own (see `GradcheckReport.nodes`).

    ``status`` is "ok", "WRONG" or "skipped" (with the reason in ``note``);
    ``position`` is 1-based in forward order, out of ``total`` nodes.
    """

    node: Context
    position: int
    total: int
    name: str
    input_shapes: tuple
    feeding: tuple
    status: str
    difference: float | None = None
    note: str = ""

    @property
    def where(self) -> str:
        """The node's place, e.g. ``node 7 of 23, feeding `tanh```."""
        if not self.feeding:
            return f"node {self.position} of {self.total}, the output"
        return f"node {self.position} of {self.total}, feeding " + ", ".join(f"`{n}`" for n in self.feeding)

    def describe(self) -> str:
        shapes = ", ".join(str(s) for s in self.input_shapes)
        diff = "" if self.difference is None else f": its own difference {self.difference:.2e}"
        note = f" ({self.note})" if self.note else ""
        return f"op {self.name!r} (inputs {shapes}) at {self.where}{diff}{note}"


def _verdict(difference: float) -> str:
    if not np.isfinite(difference):
        return "probably a bug"
    if difference < GREAT:
        return "great"
    if difference <= BUG:
        return "look closer"
    return "probably a bug"


@dataclass
class GradcheckReport:
    """What a gradient check found: truthy when it passed.

    ``difference`` is the course's relative difference over all inputs (for a
    model: over the one flattened θ); ``per_input`` the same per input (None for
    inputs without gradient) and ``input_names`` their labels; ``worst`` the
    numbers that differ most (`WorstElement`: input, index, numeric, analytic,
    label). After a failure, ``nodes`` lists every graph node checked on its own
    (`NodeCheck`), ``culprit`` is the first wrong node (a `Context`, or None)
    and ``culprit_check`` its `NodeCheck`. ``upcast`` says the inputs were not
    all float64 and were checked as float64 copies. ``error`` holds the message
    of an exception the backward pass raised, if any.

    >>> import tinygraph as tg
    >>> from tinygraph.gradcheck import gradcheck
    >>> r = gradcheck(lambda x: (x ** 3).sum(), [tg.tensor([1.0, 2.0])])
    >>> r.passed, r.difference < 1e-7, r.culprit is None
    (True, True, True)
    """

    passed: bool
    difference: float
    per_input: list
    worst: list = field(default_factory=list)
    upcast: bool = False
    rtol: float = 1e-6
    atol: float = 1e-8
    eps: float = 1e-6
    order: int = 1
    input_names: list = field(default_factory=list)
    input_shapes: list = field(default_factory=list)
    max_abs_error: float = 0.0
    kinks: int = 0
    error: str | None = None
    culprit: Context | None = None
    culprit_check: NodeCheck | None = None
    nodes: list = field(default_factory=list)
    random_ops: list = field(default_factory=list)
    kink_ops: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def threshold(self) -> float:
        """The older name of ``rtol``."""
        return self.rtol

    @property
    def verdict(self) -> str:
        """The course's reading of ``difference``: "great", "look closer" or "probably a bug"."""
        return _verdict(self.difference)

    def __str__(self) -> str:
        what = "gradcheck" if self.order == 1 else "gradgradcheck"
        state = "passed" if self.passed else "FAILED"
        lines = [
            f"{what} {state}: difference {self.difference:.2e} ({self.verdict})",
            f"  course: below {GREAT:.0e} great, above {BUG:.0e} probably a bug; passes if difference <= "
            f"rtol {self.rtol:.0e} or max |num - ana| <= atol {self.atol:.0e}; eps {self.eps:.0e}, float64",
        ]
        if self.upcast:
            lines.append("  the inputs were not all float64: they were checked as float64 copies (upcast)")
        if self.error:
            lines.append(f"  backward raised: {self.error}")
        if self.random_ops:
            lines.append(
                "  warning: random ops in the graph (" + ", ".join(self.random_ops) + "): checks are unreliable"
            )
        names = self.input_names or [f"input {i}" for i in range(len(self.per_input))]
        if len(self.per_input) > 1 and not self.error:
            shapes = self.input_shapes or [""] * len(names)
            nw = max(5, max(len(n) for n in names))
            sw = max(5, max(len(str(s)) for s in shapes))
            lines.append(f"  {'input':<{nw}}  {'shape':<{sw}}  difference")
            for n, sh, d in zip(names, shapes, self.per_input):
                lines.append(f"  {n:<{nw}}  {str(sh):<{sw}}  " + ("no gradient" if d is None else f"{d:.2e}"))
        if not self.passed and self.worst:
            labels = [w.label or f"{names[w.input]}{_index_str(w.index)}" for w in self.worst]
            width = max(8, max(len(s) for s in labels))
            lines.append(f"  {'element':<{width}}  {'numeric':>15}  {'analytic':>15}")
            for s, w in zip(labels, self.worst):
                lines.append(f"  {s:<{width}}  {w.numeric:>15.8e}  {w.analytic:>15.8e}")
        if self.kinks and self.kink_ops:
            lines.append(
                f"  {self.kinks} checked number(s) sit at a kink (" + ", ".join(self.kink_ops) + "): "
                "finite differences are not meaningful there"
            )
        elif self.kinks:
            lines.append(
                f"  {self.kinks} checked number(s) sit where the function bends sharply within ±eps "
                f"(eps {self.eps:.0e}; no op of the graph has a kink): finite differences are less accurate there"
            )
        if self.nodes:
            wrong = [c for c in self.nodes if c.status == "WRONG"]
            skipped = sum(c.status == "skipped" for c in self.nodes)
            lines.append(
                f"  checked the {len(self.nodes)} graph nodes one by one: {len(wrong)} wrong, {skipped} skipped"
            )
            if self.culprit_check is not None:
                lines.append(f"  culprit: {self.culprit_check.describe()}")
                for c in wrong[1:4]:
                    lines.append(f"  also wrong: {c.describe()}")
            elif not self.passed:
                lines.append(
                    "  no single op is wrong at the inputs it saw: suspect "
                    + ("a kink, " if self.kink_ops else "")
                    + "random ops, a too large or too small eps, or code outside tinygraph ops (numpy on .data)"
                )
        return "\n".join(lines)


def _index_str(index: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _relative_difference(num: np.ndarray, ana: np.ndarray) -> float:
    denom = np.linalg.norm(num) + np.linalg.norm(ana)
    return 0.0 if denom == 0 else float(np.linalg.norm(num - ana) / denom)


def _as_inputs(inputs: Any) -> list:
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def _float64_copy(x: Any, requires_grad: bool = True) -> Any:
    if isinstance(x, Tensor):
        data = x._data
    elif isinstance(x, np.ndarray):
        data = x
    else:
        return x
    if data.dtype.kind == "f":
        # C order, so that finite differences can nudge elements through a flat view
        t = Tensor._make(np.array(data, dtype=np.float64, order="C"))
        return t.requires_grad_(True) if requires_grad else t
    return Tensor._make(data.copy())


def _is_upcast(xs: Sequence[Any]) -> bool:
    return any(isinstance(x, (Tensor, np.ndarray)) and x.dtype.kind == "f" and x.dtype != np.float64 for x in xs)


def _project(out: Any, v: np.ndarray | None, who: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{who}: fn must return a Tensor, got {type(out).__name__}")
    if v is None:
        return out.sum() if out.size != 1 else out.reshape(())
    if out.shape != v.shape:
        raise ValueError(f"{who}: fn returned shape {out.shape} on one call and {v.shape} on another")
    return (out * Tensor._make(v)).sum()


def _numeric(evaluate: Callable[[], float], arrays: Sequence[np.ndarray], eps: float) -> tuple[list, list]:
    """Central differences of ``evaluate()`` w.r.t. every element of ``arrays`` (changed in place, then restored).

    Also returns, per array, a mask of the elements at a kink: where the
    one-sided slopes disagree by much more than curvature explains.
    """
    f0 = evaluate()
    grads, kinks = [], []
    for arr in arrays:
        flat = arr.reshape(-1)
        if arr.size and not np.shares_memory(flat, arr):
            raise RuntimeError("gradcheck: cannot perturb a non-contiguous array in place")
        g = np.zeros(flat.shape)
        k = np.zeros(flat.shape, dtype=bool)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            plus = evaluate()
            flat[i] = old - eps
            minus = evaluate()
            flat[i] = old
            g[i] = (plus - minus) / (2 * eps)
            k[i] = abs(plus - 2 * f0 + minus) / (2 * eps) > 1e-3 * (1.0 + abs(g[i]))
        grads.append(g.reshape(arr.shape))
        kinks.append(k.reshape(arr.shape))
    return grads, kinks


def numerical_grad(fn: Callable, inputs: Any, eps: float = 1e-6, grad_output: Any = None) -> list[np.ndarray]:
    """Two-sided finite differences of ``sum(fn(*inputs) * grad_output)`` for each floating input.

    ``grad_output`` defaults to ones (so a scalar ``fn`` gives its plain gradient).
    Works on float64 copies; the caller's tensors are not changed. Non-float
    inputs (indices, labels) get ``None``.

    >>> import tinygraph as tg
    >>> [g] = tg.numerical_grad(lambda x: (x ** 2).sum(), [tg.tensor([1.0, 3.0])])
    >>> [round(float(v), 6) for v in g]
    [2.0, 6.0]
    """
    args = [_float64_copy(x) for x in _as_inputs(inputs)]
    v = (
        None
        if grad_output is None
        else np.asarray(grad_output._data if isinstance(grad_output, Tensor) else grad_output, dtype=np.float64)
    )
    diff = [x for x in args if isinstance(x, Tensor) and x._data.dtype.kind == "f"]
    # grad mode stays as the caller set it: fn may itself take gradients (gradgradcheck)
    grads, _ = _numeric(lambda: _project(fn(*args), v, "numerical_grad").item(), [x._data for x in diff], eps)
    it = iter(grads)
    return [next(it) if any(x is d for d in diff) else None for x in args]


# ----- the comparison shared by every check ---------------------------------------------------


def _compare(
    analytic: list | None,
    numeric: list,
    kinks: list,
    rtol: float,
    atol: float,
    labeler: Callable[[int, tuple], str] | None = None,
    mask_kinks: bool = False,
) -> dict:
    per_input: list = []
    worst: list = []
    nums, anas = [], []
    n_kinks = 0
    for i, num in enumerate(numeric):
        if num is None:
            per_input.append(None)
            continue
        ana = analytic[i] if analytic is not None else np.full(num.shape, np.nan)
        k = kinks[i]
        n_kinks += int(k.sum())
        if mask_kinks and k.any():
            num, ana = np.where(k, 0.0, num), np.where(k, 0.0, ana)
        per_input.append(_relative_difference(num, ana) if analytic is not None else float("inf"))
        nums.append(num.ravel())
        anas.append(ana.ravel())
        if analytic is None:
            continue
        err = np.abs(num - ana).ravel()
        for j in np.argsort(err)[::-1][:5]:
            if err[j] > 0:
                idx = tuple(int(a) for a in np.unravel_index(j, num.shape)) if num.ndim else ()
                label = labeler(i, idx) if labeler else ""
                worst.append(WorstElement(i, idx, float(num.ravel()[j]), float(ana.ravel()[j]), label))
    if analytic is None:
        difference, max_abs = float("inf"), float("inf")
    elif nums:
        n, a = np.concatenate(nums), np.concatenate(anas)
        difference = _relative_difference(n, a)
        max_abs = float(np.max(np.abs(n - a))) if n.size else 0.0
    else:
        difference, max_abs = 0.0, 0.0
    worst.sort(key=lambda w: -w.error)
    # round-off-sized errors next to a real one are noise, not leads
    worst = [w for w in worst if w.error >= 1e-3 * worst[0].error]
    passed = analytic is not None and bool(difference <= rtol or max_abs <= atol)
    return {
        "passed": passed,
        "difference": difference,
        "per_input": per_input,
        "worst": worst[:5],
        "max_abs_error": max_abs,
        "kinks": n_kinks,
    }


def _random_ops(out: Tensor) -> list[str]:
    found = []
    for t in topo_order([out]):
        if getattr(t.grad_fn.fn, "is_random", False) and t.grad_fn.name not in found:
            found.append(t.grad_fn.name)
    return found


def _kink_ops(out: Tensor) -> list[str]:
    """The graph's ops that have a kink, each once, with where it is: ``["relu at 0"]``."""
    found = []
    for t in topo_order([out]):
        kink = getattr(getattr(t.grad_fn.fn, "description", None), "kink", "")
        if kink and f"{t.grad_fn.name} {kink}" not in found:
            found.append(f"{t.grad_fn.name} {kink}")
    return found


def _warn_random(found: list[str], who: str) -> None:
    if found:
        warnings.warn(
            f"{who}: the graph holds random op(s) {', '.join(repr(n) for n in found)} (is_random=True), so every "
            "evaluation draws new randomness and finite differences are meaningless; check with dropout "
            "off (model.eval() or p=0), then turn it back on",
            stacklevel=3,
        )


def _first_order(
    fn: Callable, args: list, diff: list, eps: float, rtol: float, atol: float, seed: int, **kw: Any
) -> dict:
    """Analytic (by tg.grad) against numeric gradient of ``fn(*args)`` w.r.t. the tensors ``diff``."""
    who = kw.pop("who", "gradcheck")
    numeric_grad_mode = kw.pop("numeric_grad_mode", False)
    with enable_grad():
        out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"{who}: fn must return a Tensor, got {type(out).__name__}")
    v = None if out.size == 1 else np.random.default_rng(seed).standard_normal(out.shape)
    random_ops = _random_ops(out) if out.grad_fn is not None else []
    kink_ops = _kink_ops(out) if out.grad_fn is not None else []
    f = _project(out, v, who)
    error = None
    analytic: list | None
    if not diff:
        analytic = []
    elif not f.requires_grad:
        analytic = [np.zeros_like(x._data) for x in diff]
    else:
        try:
            analytic = [g._data for g in grad(f, diff, allow_unused=True, materialize_grads=True)]
        except _BACKWARD_ERRORS as e:
            analytic, error = None, f"{type(e).__name__}: {e}"

    def evaluate() -> float:
        with set_grad_enabled(numeric_grad_mode):
            return _project(fn(*args), v, who).item()

    numeric, kinks = _numeric(evaluate, [x._data for x in diff], eps)
    result = _compare(analytic, numeric, kinks, rtol, atol, **kw)
    result["error"] = error
    result["random_ops"] = random_ops
    result["kink_ops"] = kink_ops
    return result


def _hvp_fn(fn: Callable, args: list, diff_pos: list, seed: int) -> Callable:
    """A function whose value is u · grad(v · fn(*args)), built with create_graph (a Hessian-vector product)."""
    rng = np.random.default_rng(seed + 1)
    u = [rng.standard_normal(args[p]._data.shape) for p in diff_pos]
    v_holder: list = []

    def first_order(*xs: Any) -> Tensor:
        out = fn(*xs)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradgradcheck: fn must return a Tensor, got {type(out).__name__}")
        if not v_holder:
            v_holder.append(None if out.size == 1 else np.random.default_rng(seed).standard_normal(out.shape))
        f = _project(out, v_holder[0], "gradgradcheck")
        diff = [xs[p] for p in diff_pos]
        if not f.requires_grad or not diff:
            return Tensor._make(np.zeros(()))
        grads = grad(f, diff, create_graph=True, allow_unused=True, materialize_grads=True)
        total = None
        for g, ui in zip(grads, u):
            term = (g * Tensor._make(ui)).sum()
            total = term if total is None else total + term
        return total

    return first_order


def _check(fn: Callable, args: list, order: int, eps: float, rtol: float, atol: float, seed: int, **kw: Any) -> dict:
    diff_pos = [i for i, x in enumerate(args) if isinstance(x, Tensor) and x.requires_grad]
    diff = [args[p] for p in diff_pos]
    if order == 1:
        return _first_order(fn, args, diff, eps, rtol, atol, seed, **kw)
    kw.setdefault("who", "gradgradcheck")
    hvp = _hvp_fn(fn, args, diff_pos, seed)
    try:
        return _first_order(hvp, args, diff, eps, rtol, atol, seed, numeric_grad_mode=True, **kw)
    except _BACKWARD_ERRORS as e:  # the first-order backward raised (inside the Hessian-vector product): report it
        r = _first_order(fn, args, diff, eps, rtol, atol, seed, **kw)
        r["passed"], r["error"] = False, r["error"] or f"{type(e).__name__}: {e}"
        return r


# ----- localization: every node on its own ------------------------------------------------------


def _node_inputs(node: Context) -> tuple[list, list[int]]:
    """float64 copies of the node's inputs (differentiable where the node needed a gradient) and their positions."""
    args, pos = [], []
    for i, (a, need) in enumerate(zip(node.inputs, node.needs_input_grad)):
        if isinstance(a, Tensor) and a._data.dtype.kind == "f":
            args.append(_float64_copy(a, requires_grad=bool(need)))
            if need:
                pos.append(i)
        else:
            args.append(a)
    return args, pos


def _check_node(node: Context, order: int, eps: float, rtol: float, atol: float, seed: int) -> tuple[str, Any, str]:
    """(status, difference, note) of one node's vjp against finite differences of its own forward."""
    if getattr(node.fn, "is_random", False):
        return "skipped", None, "random op"
    args, pos = _node_inputs(node)
    if not pos:
        return "skipped", None, "no float input needs a gradient"
    fn = node.fn

    def one_op(*xs: Any) -> Tensor:
        return fn.apply(*xs)

    try:
        with enable_grad():
            trial = one_op(*args)
    except Exception as e:  # a forward that cannot run again on float64 copies: say so, keep going
        return "skipped", None, f"forward raised {type(e).__name__}: {e}"
    if trial.dtype != np.float64:
        return "skipped", None, f"output is {trial.dtype}, too coarse for finite differences"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(1, order + 1):
            r = _check(one_op, args, k, eps, rtol, atol, seed, mask_kinks=True)
            if r["error"] is not None:
                return "WRONG", float("inf"), "backward raised " + r["error"]
            if not r["passed"]:
                return "WRONG", r["difference"], "" if order == 1 else f"wrong at order {k}"
    return "ok", r["difference"], ""


def _shapes(node: Context) -> tuple:
    return tuple(tuple(a.shape) for a in node.inputs if isinstance(a, Tensor))


def localize(out: Tensor, *, order: int = 1, eps: float = 1e-6, rtol: float = 1e-6, atol: float = 1e-8, seed: int = 0):
    """Check every node of the graph that made ``out`` on its own; return (first wrong node or None, checks).

    Each node's vjp (second order: also its double backward) is compared with
    finite differences of that op's forward at the inputs it saw, in float64;
    non-tensor arguments (axes, shapes, indices) are passed through unchanged
    and integer or boolean inputs are not differentiated. Random ops are
    skipped. The checks are `NodeCheck` rows in forward order.

    >>> import tinygraph as tg
    >>> class Twice(tg.Function):       # backward off by a factor of 2
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         return x.data * 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         return g * 6
    >>> x = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> from tinygraph.gradcheck import localize
    >>> node, checks = localize(tg.tanh(Twice.apply(x)).sum())
    >>> node.name, checks[0].where, round(checks[0].difference, 3)
    ('Twice', 'node 1 of 3, feeding `tanh`', 0.333)
    """
    order_list = topo_order([out])
    consumers: dict = {}
    for t in order_list:
        for p in t.grad_fn.inputs:
            if isinstance(p, Tensor) and p.grad_fn is not None:
                names = consumers.setdefault(id(p.grad_fn), [])
                if t.grad_fn.name not in names:
                    names.append(t.grad_fn.name)
    total = len(order_list)
    checks = []
    culprit = None
    for k, t in enumerate(order_list):
        node = t.grad_fn
        status, d, note = _check_node(node, order, eps, rtol, atol, seed)
        c = NodeCheck(node, k + 1, total, node.name, _shapes(node), tuple(consumers.get(id(node), ())), status, d, note)
        checks.append(c)
        if status == "WRONG" and culprit is None:
            culprit = node
    return culprit, checks


def _finish(report: GradcheckReport, build: Callable[[], Tensor], raise_exception: bool, loc_kw: dict):
    if not report.passed:
        with enable_grad():
            out = build()
        if isinstance(out, Tensor) and out.grad_fn is not None:
            report.culprit, report.nodes = localize(out, **loc_kw)
            report.culprit_check = next((c for c in report.nodes if c.node is report.culprit), None)
    if raise_exception and not report.passed:
        raise GradcheckError(str(report), report)
    return report


def _run_check(fn, inputs, order, eps, rtol, atol, raise_exception, seed, who) -> GradcheckReport:
    if eps <= 0:
        raise ValueError(f"{who}: eps must be positive, got {eps}")
    originals = _as_inputs(inputs)
    args = [_float64_copy(x) for x in originals]
    r = _check(fn, args, order, eps, rtol, atol, seed, who=who)
    random_ops = r.pop("random_ops")
    _warn_random(random_ops, who)
    # report per input as the caller numbered them (None for non-float inputs)
    it = iter(r["per_input"])
    per_input = [next(it) if isinstance(a, Tensor) and a.requires_grad else None for a in args]
    pos = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    worst = [w._replace(input=pos[w.input]) for w in r["worst"]]
    names = [f"input {i}" + (f" ({o.name})" if getattr(o, "name", None) else "") for i, o in enumerate(originals)]
    report = GradcheckReport(
        passed=r["passed"], difference=r["difference"], per_input=per_input, worst=worst,
        upcast=_is_upcast(originals), rtol=rtol, atol=atol, eps=eps, order=order, input_names=names,
        input_shapes=[tuple(a.shape) if isinstance(a, Tensor) else "" for a in args],
        max_abs_error=r["max_abs_error"], kinks=r["kinks"], error=r["error"], random_ops=random_ops,
        kink_ops=r["kink_ops"],
    )  # fmt: skip
    loc = {"order": order, "eps": eps, "rtol": rtol, "atol": atol, "seed": seed}
    return _finish(report, lambda: fn(*args), raise_exception, loc)


def gradcheck(
    fn: Callable,
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-8,
    rtol: float = 1e-6,
    raise_exception: bool = False,
    seed: int = 0,
    threshold: float | None = None,
) -> GradcheckReport:
    """Compare autodiff gradients of ``fn(*inputs)`` with finite differences, in float64; name the wrong op.

    ``inputs`` is a list (or one value) of Tensors, arrays and other arguments;
    every floating one is checked, as a float64 copy (the report says when
    that was an upcast). A non-scalar output is projected on a fixed random
    direction, so every element of the vector-Jacobian product is checked.
    Passes when ``difference <= rtol`` or the largest absolute error is
    ``<= atol`` (see the module docstring; ``threshold`` is the older name of
    ``rtol``). On failure every node of the graph is checked on its own and the
    first wrong one is the report's ``culprit``. With ``raise_exception`` a
    failure raises `GradcheckError` with the report's text. Warns when the graph
    holds random ops. The caller's tensors and their ``.grad`` are not changed.

    >>> import tinygraph as tg
    >>> from tinygraph.gradcheck import gradcheck
    >>> x = tg.tensor([0.5, -1.0, 2.0])
    >>> bool(gradcheck(lambda x: tg.tanh(x) * x, [x]))
    True
    >>> theta = tg.tensor(4.0)   # the course's J = theta * x at x = 3
    >>> gradcheck(lambda t: t * 3.0, [theta], eps=1e-7).difference < 1e-9
    True
    """
    rtol = rtol if threshold is None else threshold
    return _run_check(fn, inputs, 1, eps, rtol, atol, raise_exception, seed, "gradcheck")


def gradgradcheck(
    fn: Callable,
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-8,
    rtol: float = 1e-6,
    raise_exception: bool = False,
    seed: int = 0,
    threshold: float | None = None,
) -> GradcheckReport:
    """Check second derivatives: gradcheck of the first-order gradient built with ``create_graph=True``.

    The gradient of ``fn`` (projected on a fixed random direction when not
    scalar) is itself projected on random directions, giving a scalar whose
    gradient is a Hessian-vector product; that is compared with finite
    differences of the first-order gradient. On failure each node of ``fn``'s
    graph is checked on its own at first and second order, and the first wrong
    one is the ``culprit``. Parameters as in `gradcheck`.

    >>> import tinygraph as tg
    >>> from tinygraph.gradcheck import gradgradcheck
    >>> bool(gradgradcheck(lambda x: tg.tanh(x) ** 3, [tg.tensor([0.3, -0.7])]))
    True
    """
    rtol = rtol if threshold is None else threshold
    return _run_check(fn, inputs, 2, eps, rtol, atol, raise_exception, seed, "gradgradcheck")


# ----- a whole model ------------------------------------------------------------------------------------


def gradcheck_module(
    model: Any,
    loss_fn: Callable,
    *,
    eps: float = 1e-6,
    atol: float = 1e-8,
    rtol: float = 1e-6,
    raise_exception: bool = False,
) -> GradcheckReport:
    """Gradient check of a model, as the course does it: all parameters flattened into one θ.

    ``model`` is anything with ``named_parameters()`` yielding (name, Tensor)
    (a `tinygraph.nn.Module`); ``loss_fn`` computes the scalar cost, called as
    ``loss_fn(model)`` or, if it takes no arguments, ``loss_fn()``. Include any
    regularization term (e.g. L2) in it and it is checked too. θ is every
    parameter that requires grad, in ``named_parameters()`` order; the report's
    ``per_input`` holds the difference per parameter, and its worst entries
    are named like ``layers.1.weight[3, 0]``. Computation runs on float64
    copies swapped in for the parameters' data during the check; afterwards
    every parameter has its own array and ``.grad`` back, unchanged. Warns when
    the graph holds random ops (dropout in training mode). Layers that update
    running statistics while training (batch norm) update them during the
    check too: put the model in eval mode first if that matters.

    >>> import numpy as np, tinygraph as tg
    >>> class Line:                      # any object with named_parameters() works
    ...     def __init__(self):
    ...         self.weight = tg.tensor([[0.5, -1.0]], requires_grad=True)
    ...         self.bias = tg.tensor([0.1], requires_grad=True)
    ...     def named_parameters(self):
    ...         return [("weight", self.weight), ("bias", self.bias)]
    >>> X, y = tg.tensor(np.array([[1.0, 2.0], [3.0, -1.0]])), tg.tensor(np.array([0.0, 1.0]))
    >>> line = Line()
    >>> from tinygraph.gradcheck import gradcheck_module
    >>> report = gradcheck_module(line, lambda m: (((X @ m.weight.T).reshape(-1) + m.bias - y) ** 2).mean())
    >>> report.passed, report.input_names
    (True, ['weight', 'bias'])
    """
    who = "gradcheck_module"
    if not hasattr(model, "named_parameters"):
        raise TypeError(
            f"{who}: model must have named_parameters() (a tinygraph.nn.Module), got {type(model).__name__}"
        )
    if eps <= 0:
        raise ValueError(f"{who}: eps must be positive, got {eps}")
    named = []
    for item in model.named_parameters():
        name, p = item
        if not isinstance(p, Tensor):
            raise TypeError(f"{who}: parameter {name!r} is a {type(p).__name__}, not a Tensor")
        if p.requires_grad and p._data.dtype.kind == "f":
            named.append((name, p))
    if not named:
        raise ValueError(f"{who}: the model has no floating-point parameters that require grad")
    takes_model = _takes_argument(loss_fn)
    params = [p for _, p in named]
    names = [n for n, _ in named]
    saved = [(p._data, p.grad, p._mem, p._handle) for p in params]
    upcast = any(p._data.dtype != np.float64 for p in params)
    try:
        for p in params:
            # a fresh array (the parameter's own is never written to), with a counter and a handle of its own
            p._data, p._mem, p._handle = np.array(p._data, dtype=np.float64, order="C"), None, None

        def cost(*_: Any) -> Tensor:
            out = loss_fn(model) if takes_model else loss_fn()
            if not isinstance(out, Tensor) or out.size != 1:
                what = f"shape {out.shape}" if isinstance(out, Tensor) else type(out).__name__
                raise TypeError(f"{who}: loss_fn must return a scalar Tensor, got {what}")
            return out

        r = _first_order(cost, [], params, eps, rtol, atol, 0, who=who,
                         labeler=lambda i, idx: f"{names[i]}{_index_str(idx) if idx else ''}")  # fmt: skip
        random_ops = r.pop("random_ops")
        _warn_random(random_ops, who)
        report = GradcheckReport(
            passed=r["passed"], difference=r["difference"], per_input=r["per_input"], worst=r["worst"],
            upcast=upcast, rtol=rtol, atol=atol, eps=eps, order=1, input_names=names,
            input_shapes=[tuple(p.shape) for p in params],
            max_abs_error=r["max_abs_error"], kinks=r["kinks"], error=r["error"], random_ops=random_ops,
            kink_ops=r["kink_ops"],
        )  # fmt: skip
        loc = {"order": 1, "eps": eps, "rtol": rtol, "atol": atol, "seed": 0}
        return _finish(report, cost, raise_exception, loc)
    finally:
        for p, (data, g, mem, handle) in zip(params, saved):
            p._data, p.grad, p._mem, p._handle = data, g, mem, handle


def _takes_argument(f: Callable) -> bool:
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return True
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in sig.parameters.values()
    )


# ----- the ε sweep --------------------------------------------------------------------------------------


@dataclass
class EpsilonSweep:
    """The relative difference for each ε (`epsilon_sweep`): ``rows`` of (eps, difference), ``best`` ε.

    Its ``str`` is a small table with a log-scale bar per row.
    """

    rows: list

    @property
    def best(self) -> float:
        return min(self.rows, key=lambda r: r[1])[0]

    def __str__(self) -> str:
        lines = ["     eps   difference  (truncation error ~ eps^2 falls, round-off ~ 1/eps rises)"]
        for e, d in self.rows:
            bar = "#" * max(1, int(round(17 + np.log10(max(d, 1e-17))))) if d > 0 else ""
            mark = "  <- best" if e == self.best else ""
            lines.append(f"  {e:6.0e}   {d:10.2e}  {bar}{mark}")
        return "\n".join(lines)


def epsilon_sweep(
    fn: Callable, inputs: Any, eps: Sequence[float] = tuple(10.0**-k for k in range(2, 11)), seed: int = 0
) -> EpsilonSweep:
    """The course's difference for each ε: truncation error falls as ε shrinks, then round-off error rises.

    The analytic gradient is computed once; only the finite differences are
    repeated per ε.

    >>> import tinygraph as tg
    >>> from tinygraph.gradcheck import epsilon_sweep
    >>> sweep = epsilon_sweep(lambda x: tg.tanh(x).sum(), [tg.tensor([0.3, 1.2])])
    >>> d = dict(sweep.rows)
    >>> d[1e-2] > d[1e-5] < d[1e-10]
    True
    """
    originals = _as_inputs(inputs)
    args = [_float64_copy(x) for x in originals]
    diff = [x for x in args if isinstance(x, Tensor) and x.requires_grad]
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"epsilon_sweep: fn must return a Tensor, got {type(out).__name__}")
    v = None if out.size == 1 else np.random.default_rng(seed).standard_normal(out.shape)
    f = _project(out, v, "epsilon_sweep")
    if not f.requires_grad:
        raise ValueError("epsilon_sweep: fn's output does not depend on any floating input")
    analytic = np.concatenate([g._data.ravel() for g in grad(f, diff, allow_unused=True, materialize_grads=True)])
    rows = []
    for e in eps:
        if e <= 0:
            raise ValueError(f"epsilon_sweep: every eps must be positive, got {e}")

        def evaluate() -> float:
            with no_grad():
                return _project(fn(*args), v, "epsilon_sweep").item()

        numeric, _ = _numeric(evaluate, [x._data for x in diff], e)
        rows.append((float(e), _relative_difference(np.concatenate([n.ravel() for n in numeric]), analytic)))
    return EpsilonSweep(rows)
