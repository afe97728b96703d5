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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tinygraph as tg
from tinygraph.tensor import Tensor

# ----- op specifications ------------------------------------------------------------------------
# Each op spec: name -> (arity, propose, run_tinygraph, run_torch, text).
# propose(rng, vals, margin) returns params (a dict) or None when the op is not smooth or
# not defined on these values; arity counts value operands (binary ops may also make a new input).


def _axes_choice(rng: np.random.Generator, ndim: int) -> Any:
    """None, one axis (maybe negative) or a tuple of distinct axes."""
    if ndim == 0 or rng.random() < 0.25:
        return None
    if rng.random() < 0.6:
        ax = int(rng.integers(ndim))
        return ax - ndim if rng.random() < 0.3 else ax
    k = int(rng.integers(1, ndim + 1))
    return tuple(int(a) for a in sorted(rng.choice(ndim, size=k, replace=False)))


def _norm_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim for a in axes))


def _top_gap(x: np.ndarray, axis: Any, largest: bool) -> float:
    """Smallest gap between the extreme value and the next one along the reduced axes."""
    axes = _norm_axes(axis, x.ndim)
    if x.size < 2:
        return np.inf
    keep = [a for a in range(x.ndim) if a not in axes]
    y = np.transpose(x, keep + list(axes)).reshape(int(np.prod([x.shape[a] for a in keep])), -1)
    if y.shape[1] < 2:
        return np.inf
    s = np.sort(y, axis=1)
    gaps = (s[:, -1] - s[:, -2]) if largest else (s[:, 1] - s[:, 0])
    return float(gaps.min())


def _min_abs(x: np.ndarray) -> float:
    return float(np.abs(x).min()) if x.size else np.inf


def _p_none(rng, vals, margin):
    return {}


def _p_div(rng, vals, margin):
    return {} if _min_abs(vals[1]) > 0.3 else None


def _p_pow_const(rng, vals, margin):
    p = float(rng.choice([2.0, 3.0, -1.0, 0.5, 1.5]))
    x = vals[0]
    if p in (0.5, 1.5) and (x.size and x.min() < 0.2):
        return None
    if p == -1.0 and _min_abs(x) < 0.3:
        return None
    return {"p": p}


def _p_pow(rng, vals, margin):
    base, e = vals
    if base.size and base.min() < 0.2:
        return None
    return {} if _min_abs(e) < 3 or not e.size else None


def _p_exp(rng, vals, margin):
    return {} if not vals[0].size or vals[0].max() < 4 else None


def _p_log(rng, vals, margin):
    return {} if not vals[0].size or vals[0].min() > 0.1 else None


def _p_kink0(rng, vals, margin):
    return {} if _min_abs(vals[0]) > margin else None


def _p_leaky(rng, vals, margin):
    return {"slope": float(rng.choice([0.01, 0.1, 0.3]))} if _min_abs(vals[0]) > margin else None


def _p_maxmin2(rng, vals, margin):
    a, b = np.broadcast_arrays(*vals)
    return {} if _min_abs(a - b) > margin else None


def _p_clip(rng, vals, margin):
    x = vals[0]
    if not x.size:
        return None
    lo, hi = float(x.min()) - 0.5, float(x.max()) + 0.5
    for _ in range(5):
        a, b = sorted(np.round(rng.uniform(lo, hi, size=2), 2))
        a_min = None if rng.random() < 0.2 else float(a)
        a_max = None if (a_min is not None and rng.random() < 0.2) else float(b)
        bounds = [v for v in (a_min, a_max) if v is not None]
        if all(_min_abs(x - v) > margin for v in bounds):
            return {"a_min": a_min, "a_max": a_max}
    return None


def _p_where(rng, vals, margin):
    shape = np.broadcast_shapes(vals[0].shape, vals[1].shape)
    cshape = shape[int(rng.integers(len(shape) + 1)) :] if shape else ()
    return {"mask": rng.random(cshape) < 0.5}


def _p_reduce(rng, vals, margin):
    return {"axis": _axes_choice(rng, vals[0].ndim), "keepdims": bool(rng.random() < 0.4)}


def _p_maxmin(largest):
    def propose(rng, vals, margin):
        params = _p_reduce(rng, vals, margin)
        return params if _top_gap(vals[0], params["axis"], largest) > margin else None

    return propose


def _p_var(rng, vals, margin):
    params = _p_reduce(rng, vals, margin)
    x = vals[0]
    count = int(np.prod([x.shape[a] for a in _norm_axes(params["axis"], x.ndim)]))
    params["ddof"] = int(rng.integers(2)) if count > 1 else 0
    return params


def _p_softmax(rng, vals, margin):
    nd = vals[0].ndim
    return {"axis": int(rng.integers(-nd, nd))} if nd else None


def _p_reshape(rng, vals, margin):
    n = vals[0].size
    factors = [d for d in range(1, n + 1) if n % d == 0]
    shape: list = []
    rest = n
    for _ in range(int(rng.integers(0, 4))):
        d = int(rng.choice([f for f in factors if rest % f == 0]))
        shape.append(d)
        rest //= d
    if rest != 1 or not shape:
        shape.append(rest)
    if rng.random() < 0.3:
        shape[int(rng.integers(len(shape)))] = -1
    return {"shape": tuple(shape)}


def _p_transpose(rng, vals, margin):
    nd = vals[0].ndim
    return {"axes": None if rng.random() < 0.3 else tuple(int(a) for a in rng.permutation(nd))}


def _p_expand(rng, vals, margin):
    nd = vals[0].ndim
    return {"axis": int(rng.integers(-nd - 1, nd + 1))} if nd < 4 else None


def _p_squeeze(rng, vals, margin):
    ones = [i for i, n in enumerate(vals[0].shape) if n == 1]
    if not ones:
        return None
    return {"axis": None if rng.random() < 0.3 else int(rng.choice(ones))}


def _p_broadcast(rng, vals, margin):
    shape = list(vals[0].shape)
    shape = [int(rng.integers(2, 4)) if n == 1 and rng.random() < 0.7 else n for n in shape]
    if len(shape) < 3 and rng.random() < 0.5:
        shape.insert(0, int(rng.integers(1, 4)))
    return {"shape": tuple(shape)} if tuple(shape) != vals[0].shape else None


def _p_sum_to(rng, vals, margin):
    shape = list(vals[0].shape)
    drop = int(rng.integers(len(shape) + 1))
    target = [1 if rng.random() < 0.5 else n for n in shape[drop:]]
    return {"shape": tuple(target)}


def _p_concat(rng, vals, margin):
    a, b = vals
    nd = a.ndim
    if nd == 0 or b.ndim != nd:
        return None
    axes = [ax for ax in range(nd) if all(a.shape[i] == b.shape[i] for i in range(nd) if i != ax)]
    return {"axis": int(rng.choice(axes)) - (nd if rng.random() < 0.3 else 0)} if axes else None


def _p_stack(rng, vals, margin):
    a, b = vals
    if a.shape != b.shape or a.ndim > 2:
        return None
    return {"axis": int(rng.integers(-a.ndim - 1, a.ndim + 1))}


def _p_getitem(rng, vals, margin):
    x = vals[0]
    if x.ndim == 0:
        return None
    kind = rng.choice(["int", "slices", "intarray", "mask"])
    if kind == "int":
        n = x.shape[0]
        return {"index": int(rng.integers(-n, n))}
    if kind == "slices":
        parts = []
        for n in x.shape[: int(rng.integers(1, x.ndim + 1))]:
            start = int(rng.integers(0, n))
            stop = int(rng.integers(start + 1, n + 1))
            parts.append(slice(start, stop, int(rng.integers(1, 3))))
        return {"index": tuple(parts)}
    if kind == "intarray":
        ax = int(rng.integers(x.ndim))
        idx = rng.integers(0, x.shape[ax], size=int(rng.integers(1, 5)))  # repeats accumulate in backward
        return {"index": (slice(None),) * ax + (idx,)}
    mask = rng.random(x.shape) < 0.6
    if not mask.any():
        return None
    return {"index": mask}


def _p_matmul(rng, vals, margin):
    a, b = vals
    if a.ndim == 0 or b.ndim == 0:
        return None
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        return None
    try:
        np.matmul(a, b)
    except ValueError:
        return None
    return {}


def _t_reduce(name: str) -> Callable:
    def run(torch, x, axis, keepdims, **kw):
        if x.ndim == 0:
            return x * 1.0 if name != "var" else x * 0.0
        dims = _norm_axes(axis, x.ndim)
        if name == "var":
            return torch.var(x, dim=dims, correction=kw["ddof"], keepdim=keepdims)
        fn = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin, "lse": torch.logsumexp}
        return fn[name](x, dim=dims, keepdim=keepdims)

    return run


def _t_index(torch, index):
    def part(i):
        if isinstance(i, np.ndarray):
            return torch.as_tensor(i)
        return i

    return tuple(part(i) for i in index) if isinstance(index, tuple) else part(index)


def _t_sum_to(torch, x, shape):
    lead = x.ndim - len(shape)
    if lead:
        x = x.sum(dim=tuple(range(lead)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(dim=dims, keepdim=True) if dims else x


def _fmt(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"np.array({v.tolist()})"
    if isinstance(v, slice):
        return f"slice({v.start}, {v.stop}, {v.step})"
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(i) for i in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


_UNARY = "tg.{name}({0})"

OPS: dict[str, tuple] = {
    "add": (2, _p_none, lambda t, a, b: a + b, lambda torch, a, b: a + b, "{0} + {1}"),
    "sub": (2, _p_none, lambda t, a, b: a - b, lambda torch, a, b: a - b, "{0} - {1}"),
    "mul": (2, _p_none, lambda t, a, b: a * b, lambda torch, a, b: a * b, "{0} * {1}"),
    "div": (2, _p_div, lambda t, a, b: a / b, lambda torch, a, b: a / b, "{0} / {1}"),
    "pow": (2, _p_pow, lambda t, a, b: a**b, lambda torch, a, b: a**b, "{0} ** {1}"),
    "pow_const": (1, _p_pow_const, lambda t, a, p: a**p, lambda torch, a, p: a**p, "{0} ** {p}"),
    "neg": (1, _p_none, lambda t, a: -a, lambda torch, a: -a, "-{0}"),
    "exp": (1, _p_exp, lambda t, a: t.exp(a), lambda torch, a: torch.exp(a), _UNARY),
    "log": (1, _p_log, lambda t, a: t.log(a), lambda torch, a: torch.log(a), _UNARY),
    "sqrt": (1, _p_log, lambda t, a: t.sqrt(a), lambda torch, a: torch.sqrt(a), _UNARY),
    "abs": (1, _p_kink0, lambda t, a: t.abs(a), lambda torch, a: torch.abs(a), _UNARY),
    "maximum": (2, _p_maxmin2, lambda t, a, b: t.maximum(a, b), lambda torch, a, b: torch.maximum(a, b), None),
    "minimum": (2, _p_maxmin2, lambda t, a, b: t.minimum(a, b), lambda torch, a, b: torch.minimum(a, b), None),
    "clip": (
        1,
        _p_clip,
        lambda t, a, a_min, a_max: t.clip(a, a_min, a_max),
        lambda torch, a, a_min, a_max: torch.clamp(a, a_min, a_max),
        "tg.clip({0}, {a_min}, {a_max})",
    ),
    "where": (
        2,
        _p_where,
        lambda t, a, b, mask: t.where(mask, a, b),
        lambda torch, a, b, mask: torch.where(torch.as_tensor(mask), a, b),
        "tg.where({mask}, {0}, {1})",
    ),
    "astype": (
        1,
        _p_none,
        lambda t, a: t.astype(a, np.float64),
        lambda torch, a: a.to(torch.float64),
        "tg.astype({0}, np.float64)",
    ),
    "sigmoid": (1, _p_none, lambda t, a: t.sigmoid(a), lambda torch, a: torch.sigmoid(a), _UNARY),
    "tanh": (1, _p_none, lambda t, a: t.tanh(a), lambda torch, a: torch.tanh(a), _UNARY),
    "relu": (1, _p_kink0, lambda t, a: t.relu(a), lambda torch, a: torch.relu(a), _UNARY),
    "leaky_relu": (
        1,
        _p_leaky,
        lambda t, a, slope: t.leaky_relu(a, slope),
        lambda torch, a, slope: torch.nn.functional.leaky_relu(a, slope),
        "tg.leaky_relu({0}, {slope})",
    ),
    "softplus": (
        1,
        _p_none,
        lambda t, a: t.softplus(a),
        lambda torch, a: torch.nn.functional.softplus(a),
        _UNARY,
    ),
    "sum": (1, _p_reduce, lambda t, a, **k: t.sum(a, **k), _t_reduce("sum"), "tg.sum({0}, {axis}, {keepdims})"),
    "mean": (1, _p_reduce, lambda t, a, **k: t.mean(a, **k), _t_reduce("mean"), "tg.mean({0}, {axis}, {keepdims})"),
    "max": (1, _p_maxmin(True), lambda t, a, **k: t.max(a, **k), _t_reduce("max"), "tg.max({0}, {axis}, {keepdims})"),
    "min": (1, _p_maxmin(False), lambda t, a, **k: t.min(a, **k), _t_reduce("min"), "tg.min({0}, {axis}, {keepdims})"),
    "var": (1, _p_var, lambda t, a, **k: t.var(a, **k), _t_reduce("var"), "tg.var({0}, {axis}, {keepdims}, {ddof})"),
    "logsumexp": (
        1,
        _p_reduce,
        lambda t, a, **k: t.logsumexp(a, **k),
        _t_reduce("lse"),
        "tg.logsumexp({0}, {axis}, {keepdims})",
    ),
    "softmax": (
        1,
        _p_softmax,
        lambda t, a, axis: t.softmax(a, axis),
        lambda torch, a, axis: torch.softmax(a, axis),
        "tg.softmax({0}, {axis})",
    ),
    "log_softmax": (
        1,
        _p_softmax,
        lambda t, a, axis: t.log_softmax(a, axis),
        lambda torch, a, axis: torch.log_softmax(a, axis),
        "tg.log_softmax({0}, {axis})",
    ),
    "reshape": (
        1,
        _p_reshape,
        lambda t, a, shape: t.reshape(a, shape),
        lambda torch, a, shape: a.reshape(shape),
        "tg.reshape({0}, {shape})",
    ),
    "transpose": (
        1,
        _p_transpose,
        lambda t, a, axes: t.transpose(a, axes),
        lambda torch, a, axes: a.permute(tuple(axes) if axes is not None else tuple(range(a.ndim - 1, -1, -1))),
        "tg.transpose({0}, {axes})",
    ),
    "expand_dims": (
        1,
        _p_expand,
        lambda t, a, axis: t.expand_dims(a, axis),
        lambda torch, a, axis: a.unsqueeze(axis),
        "tg.expand_dims({0}, {axis})",
    ),
    "squeeze": (
        1,
        _p_squeeze,
        lambda t, a, axis: t.squeeze(a, axis),
        lambda torch, a, axis: a.squeeze() if axis is None else a.squeeze(axis),
        "tg.squeeze({0}, {axis})",
    ),
    "flatten": (1, _p_none, lambda t, a: t.flatten(a), lambda torch, a: a.reshape(-1), _UNARY),
    "broadcast_to": (
        1,
        _p_broadcast,
        lambda t, a, shape: t.broadcast_to(a, shape),
        lambda torch, a, shape: torch.broadcast_to(a, shape),
        "tg.broadcast_to({0}, {shape})",
    ),
    "sum_to": (
        1,
        _p_sum_to,
        lambda t, a, shape: t.sum_to(a, shape),
        _t_sum_to,
        "tg.sum_to({0}, {shape})",
    ),
    "concatenate": (
        2,
        _p_concat,
        lambda t, a, b, axis: t.concatenate([a, b], axis),
        lambda torch, a, b, axis: torch.cat([a, b], axis),
        "tg.concatenate([{0}, {1}], {axis})",
    ),
    "stack": (
        2,
        _p_stack,
        lambda t, a, b, axis: t.stack([a, b], axis),
        lambda torch, a, b, axis: torch.stack([a, b], axis),
        "tg.stack([{0}, {1}], {axis})",
    ),
    "getitem": (
        1,
        _p_getitem,
        lambda t, a, index: a[index],
        lambda torch, a, index: a[_t_index(torch, index)],
        "{0}[{index}]",
    ),
    "matmul": (2, _p_matmul, lambda t, a, b: a @ b, lambda torch, a, b: a @ b, "{0} @ {1}"),
}

OP_NAMES: tuple[str, ...] = tuple(OPS)


def _partner_shape(rng: np.random.Generator, op: str, shape: tuple) -> tuple:
    """A shape for a fresh input that fits `shape` as the second operand of `op`."""
    if op == "matmul":
        k = shape[-1] if shape else 2
        n = int(rng.integers(1, 4))
        return (k,) if rng.random() < 0.3 else (k, n)
    if op in ("concatenate", "stack"):
        if op == "concatenate" and shape:
            ax = int(rng.integers(len(shape)))
            return shape[:ax] + (int(rng.integers(1, 3)),) + shape[ax + 1 :]
        return shape
    drop = int(rng.integers(len(shape) + 1)) if rng.random() < 0.5 else 0
    out = tuple(1 if rng.random() < 0.3 else n for n in shape[drop:])
    if drop == 0 and len(out) < 3 and rng.random() < 0.15:
        out = (int(rng.integers(1, 3)),) + out  # the new input is the one that broadcasts up
    return out


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
            fn = OPS[s.op][2]
            vals.append(fn(tg, *(vals[i] for i in s.args), **s.params))
        return vals[-1]

    def run_torch(self, *xs: Any) -> Any:
        """Run the same program on PyTorch tensors (``import torch`` must work)."""
        import torch

        vals = list(xs)
        for s in self.steps:
            fn = OPS[s.op][3]
            vals.append(fn(torch, *(vals[i] for i in s.args), **s.params))
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
            tmpl = OPS[s.op][4] or f"tg.{s.op}(" + ", ".join(f"{{{i}}}" for i in range(len(names))) + ")"
            params = {key: _fmt(v) for key, v in s.params.items()}
            lines.append(f"v{len(self.inputs) + k} = " + tmpl.format(*names, name=s.op, **params))
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
        arity, propose, run = OPS[name][:3]
        # prefer recent values, so chains get deep, but re-use older ones too
        first = len(vals) - 1 - min(int(rng.geometric(0.5)) - 1, len(vals) - 1)
        args = [first]
        if arity == 2:
            candidates = [i for i in range(len(vals)) if _fits(name, vals[first], vals[i])]
            if len(inputs) < max_inputs and (not candidates or rng.random() < 0.4):
                shape = _partner_shape(rng, name, vals[first].shape)
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
            params = propose(rng, operands, margin)
        except ValueError:
            params = None
        if params is None:
            continue
        try:
            with tg.no_grad():
                out = run(tg, *(Tensor._make(v) for v in operands), **params)
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


def _fits(op: str, a: np.ndarray, b: np.ndarray) -> bool:
    if op == "matmul":
        return a.ndim > 0 and b.ndim > 0 and a.shape[-1] == (b.shape[0] if b.ndim == 1 else b.shape[-2])
    if op == "concatenate":
        return a.ndim > 0 and a.ndim == b.ndim and sum(x != y for x, y in zip(a.shape, b.shape)) <= 1
    if op == "stack":
        return a.shape == b.shape
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return False
    return True


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
    derivative of a program that stacks an input, `random_program(377)`).
    """
    return t.detach().clone().numpy(force=True)


def _agree(a: np.ndarray, b: np.ndarray, tol: float = 1e-9) -> bool:
    """Equal to float64 rounding: each element within `tol` relative, or `tol` of the array's largest.

    Two correct engines sum the same terms in different orders, and the rounding is relative to
    the terms, not to a small result: a Hessian-vector product element of 4e-3 next to one of 7.45
    differs by 5e-10 between tinygraph and PyTorch on `random_program(28613)`.
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
    `random_program(61637470)` PyTorch's Hessian-vector product is 5e-9 off the extended-precision
    value and tinygraph's 4e-15. (Where longdouble is float64, only the looser bound is checked.)
    """
    import torch

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
            extended.extend(_derivatives(program, v, u, np.longdouble))
        return _agree(ours, extended[kind][i].astype(np.float64), 1e-12)

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
