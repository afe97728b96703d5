"""Patterns: chains of ops whose vjp has a short closed form, used by a program's backward.

One pattern today, the course's: a sigmoid feeding binary cross-entropy,

    A = sigmoid(Z)
    T = sum(Y * log(A) + (1 - Y) * log(1 - A), ...)     # the terms in either order

whose gradient, from T's gradient ``gT``, is ``dZ = gT * (Y - A)`` (spread back over the summed
axes): 2 numpy calls where the chain rule through the eight ops takes about 12. When T is negated
(``-T``, the cost), the negation's gradient g gives ``dZ = g * (A - Y)``, one call fewer still. The forward is
untouched, so the loss is eager's bit for bit; the gradient equals eager's to rounding (a few
units in the last place: not bit for bit), except where eager's is not finite: where A rounds to
exactly 0 or 1 (|Z| above about 17 in float32, 37 in float64) eager's chain gives inf or nan and
the closed form gives the limit. Used only by programs compiled with ``tg.compile(f,
closed_forms=True)``: the few units in the last place are enough for a long run of gradient
descent to drift apart from eager's (example 02's 10,000 steps at learning rate 1.2: costs equal
for 7,700 steps, then 1e-4 apart). ``enabled = False`` (or the kernels off) turns it off there too.

A chain is matched only if nothing else takes a gradient from its intermediate arrays (A, log(A),
1 - A, ...: no other op that differentiates reads them, no output that needs a gradient is one),
Y needs no gradient, the two ``1``s are ones, the arrays have one float dtype and the shape of Z,
and the ``1 - Y`` is of the same Y.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygraph.compiler import kernels

# False: no pattern is matched; every vjp runs as the ops' (kernels') own
enabled = True


@dataclass
class SigmoidBCE:
    """One matched chain: Z, A and Y's slots (Y as an argument spec), the sum step, and the steps it covers."""

    z: Any
    a: Any
    y: tuple
    total: Any  # the sum step
    covered: set  # indices of the steps whose vjps the closed form replaces (the sigmoid's not among them)
    neg: Any = None  # the step negating the sum, when its gradient is where the closed form starts


def _is_one(spec: tuple) -> bool:
    if spec[0] != "const":
        return False
    v = spec[1]
    try:
        return np.ndim(v) == 0 and bool(np.asarray(v) == 1)
    except (TypeError, ValueError):
        return False


def _op(step: Any, name: str, n: int) -> bool:
    return step is not None and step.kind == "op" and step.fn.name == name and len(step.args) == n


def find(steps: list, grad_slots: set, grad_outputs: set) -> dict:
    """The matched chains, keyed by their sigmoid step's index (see the module's docstring)."""
    if not (enabled and kernels.enabled):
        return {}
    users: dict = {}  # slot index -> [(step, argument position)] of the ops that send it a gradient
    for st in steps:
        if st.kind == "op" and st.needs and st.out.index in grad_slots:
            for k, (kind, v) in enumerate(st.args):
                if kind == "slot" and k < len(st.needs) and st.needs[k]:
                    users.setdefault(v.index, []).append((st, k))
    found = {}
    for st in steps:
        if _op(st, "sigmoid", 1) and st.args[0][0] == "slot":
            m = _match(st, users, grad_slots, grad_outputs)
            if m is not None:
                found[st.index] = m
    return found


def _only_user(slot: Any, users: dict, grad_outputs: set) -> Any:
    """The one (step, position) that takes a gradient from `slot`, or None if there are more (or it is an output)."""
    u = users.get(slot.index, [])
    return u[0] if len(u) == 1 and slot.index not in grad_outputs else (None, None)


def _match(sig: Any, users: dict, grad_slots: set, grad_outputs: set) -> SigmoidBCE | None:
    z, a = sig.args[0][1], sig.out
    if z.index not in grad_slots or not sig.needs or not sig.needs[0]:
        return None
    a_users = users.get(a.index, [])
    if a.index in grad_outputs or len(a_users) != 2:
        return None
    log_a = next((s for s, _ in a_users if _op(s, "log", 1)), None)
    one_minus_a = next((s for s, k in a_users if _op(s, "sub", 2) and k == 1 and _is_one(s.args[0])), None)
    if log_a is None or one_minus_a is None:
        return None
    log_r, _ = _only_user(one_minus_a.out, users, grad_outputs)
    if not _op(log_r, "log", 1):
        return None
    p1, k1 = _only_user(log_a.out, users, grad_outputs)
    p2, k2 = _only_user(log_r.out, users, grad_outputs)
    if not (_op(p1, "mul", 2) and _op(p2, "mul", 2)) or p1 is p2:
        return None
    y = p1.args[1 - k1]  # Y * log(A): Y, a slot that needs no gradient
    q = p2.args[1 - k2]  # (1 - Y) * log(1 - A): 1 - Y, made by a step from the same Y
    if y[0] != "slot" or y[1].index in grad_slots or q[0] != "slot":
        return None
    made_q = q[1].producer
    if not (_op(made_q, "sub", 2) and _is_one(made_q.args[0]) and made_q.args[1] == ("slot", y[1])):
        return None
    s, _ = _only_user(p1.out, users, grad_outputs)
    if not _op(s, "add", 2) or _only_user(p2.out, users, grad_outputs)[0] is not s:
        return None
    total, k = _only_user(s.out, users, grad_outputs)
    if not _op(total, "sum", 3) or k != 0:
        return None
    chain = [sig, log_a, one_minus_a, log_r, p1, p2, s]
    if any(c.out.shape != z.shape for c in chain) or not all(kernels._same_dtype(c) for c in [*chain, total]):
        return None
    covered = {c.index for c in chain[1:]} | {total.index}
    neg, _ = _only_user(total.out, users, grad_outputs)
    if _op(neg, "neg", 1) and kernels._same_dtype(neg):  # -sum(...): its gradient taken as is, the sign in A - Y
        covered.add(neg.index)
    else:
        neg = None
    return SigmoidBCE(z, a, y, total, covered, neg)


def start(m: SigmoidBCE) -> Any:
    """The slot whose gradient the closed form starts from: the sum's, or its negation's."""
    return (m.neg or m.total).out


def backward(m: SigmoidBCE, g: str, y: str, dst: str | None) -> tuple[list[str], str, str]:
    """Z's gradient from `g`, `start`'s gradient: (the lines before it, its expression, what it is).

    ``g * (Y - A)`` from the sum's gradient; ``g * (A - Y)`` from the gradient of its negation.
    """
    a_shape, axes, keep = m.total.args[0][1].shape, m.total.args[1][1], m.total.args[2][1]
    g = kernels.summed_back(g, a_shape, axes, keep)
    first, second = (f"v{m.a.index}", y) if m.neg is not None else (y, f"v{m.a.index}")
    if dst is None:
        return [], f"np.multiply(np.subtract({first}, {second}), {g})", "fresh"
    return [f"np.subtract({first}, {second}, {dst})"], f"np.multiply({dst}, {g}, {dst})", "buffer"
