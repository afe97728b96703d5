"""A traced function as a program: two straight-line Python functions over numpy, generated once.

`Program` takes a `trace.Trace`, drops the steps no output needs, works out which slots need a
gradient, and writes the forward and the backward as Python source (``program.source``, what
``step.program(...)`` prints). Each step is one line: an op's own ``forward`` or vjp (``backward``)
called on arrays, a numpy call, an assignment to a leaf's ``.data``, or a kernel of
`tinygraph.compiler.kernels` that writes into a buffer. Gradients are summed per slot in the order
eager's walk sums them (newest node first), so results are eager's, bit for bit where the same
numpy calls run.

A `Frame` is one set of buffers and saved values with the two functions compiled into it. A frame
stays with the results of the call that filled it until their backward has run (or they are
gone), so a second call before the first call's backward uses another frame.

A program of more than ``LONG`` lines is not compiled (CPython's ``compile()`` of one takes more
than linear time: minutes for a 200,000-op chain): the same lines run from an `interpret.Table`,
each distinct line shape compiled once, and ``program.source`` is still their text.
"""

from __future__ import annotations

import contextlib
import gc
import re
import sys
from typing import Any

import numpy as np

from tinygraph import factories
from tinygraph.compiler import interpret, kernels, patterns
from tinygraph.compiler.trace import Slot, Step, Trace


class ReplayContext:
    """What an op's forward and vjp get as ``ctx`` in a replay: the node's fields they read."""

    __slots__ = ("needs_input_grad", "saved", "output", "__dict__")

    def __init__(self, needs: tuple | None) -> None:
        self.needs_input_grad = needs or ()
        self.saved = ()
        self.output = None

    def save_for_backward(self, *items: Any) -> None:
        self.saved = items

    @property
    def saved_tensors(self) -> tuple:
        return self.saved


def _first(r: Any) -> Any:
    return r[0] if type(r) is tuple else r


class Program:
    """The forward and backward of one trace, as source, and the frames that run them."""

    def __init__(self, trace: Trace, with_grad: bool, closed_forms: bool = False) -> None:
        self.closed_forms = closed_forms  # the backward may use `patterns`' closed forms (tg.compile's keyword)
        with _collector_paused():
            self._build(trace, with_grad)

    def _build(self, trace: Trace, with_grad: bool) -> None:
        self.trace = trace
        self.steps = _live(trace)
        self.args = [s for s in trace.inputs if s is not None]
        self.leaves = trace.leaves
        self.reads = self.args + self.leaves  # the arrays each call passes in, in this order
        self.random = any((s.kind == "op" and s.fn.is_random) or s.fn is factories._draw for s in self.steps)
        # the outputs a gradient can start from: those returned as tensors that require grad (`y.detach()` does not)
        outs = [o[1] for o, r in zip(trace.outputs, trace.output_requires) if o[0] == "slot" and r]
        self.grad_slots = _needing_grad(self.steps, outs) if with_grad else set()
        self.out_grad = [
            o[0] == "slot" and r and o[1].index in self.grad_slots for o, r in zip(trace.outputs, trace.output_requires)
        ]
        self.targets = [s for s in self.reads if s.requires_grad and s.index in self.grad_slots]
        # with several outputs, per output the targets its gradient reaches (the others get None from it, as eager)
        self.reach = None
        if sum(self.out_grad) > 1:
            reached = [
                _needing_grad(self.steps, [o[1]]) if need else set() for o, need in zip(trace.outputs, self.out_grad)
            ]
            self.reach = [[s.index in r for s in self.targets] for r in reached]
        self.consts: dict[str, Any] = {}
        self._const_names: dict[int, str] = {}
        self.buffers: dict[str, tuple] = {}  # name -> (shape, dtype) of the arrays each frame keeps
        self.fresh = {o[1].index for o in trace.outputs if o[0] == "slot"}  # slots that must not be buffers
        self.fresh |= {st.args[0][1].index for st in self.steps if st.kind == "assign"}
        self.in_buffer: set = set()  # slots whose array may be (a view of) a buffer
        self.recycled: dict = {}  # leaf slot -> (shape, dtype) of the gradient array `Recycler` hands out
        self.sole_grads = False  # the backward returns a new ndarray per target, which nothing else holds
        self.calls: set = set()  # the steps whose op's own forward or vjp the source calls (F, B, C):
        # a long program's frame makes those three for these steps only (a kernel writing F/B/C must add its step)
        fwd = self._forward_source()
        bwd = self._backward_source() if any(self.out_grad) else ([], "", [])
        fwd_body, bwd_body = _share_buffers(fwd[0] + [fwd[1]], bwd[0] + [bwd[1]], self.buffers)
        fwd_lines = [line for block in fwd_body for line in block.split("\n")]
        bwd_lines = [line for block in bwd_body for line in block.split("\n")] if bwd[1] else []
        # the slots the backward reads: named in its lines, or given to an op whose own forward or vjp
        # runs (what its ctx keeps is not named); a call's node guards these arguments and leaves only
        named = {int(n) for line in bwd_lines for n in _SLOT_NAME.findall(line)}
        reads = set(named)
        for step in self.steps:
            if step.index in self.calls:
                reads |= {a.index for a in step.slots()}
        for step in reversed(
            self.steps
        ):  # a read view reads what it views (an op's input 0; any input of a numpy call)
            if step.out is not None and step.out.index in reads and step.kind != "assign":
                if step.kind == "numpy":
                    reads |= {a.index for a in step.slots()}
                elif step.fn.shares_memory and step.args and step.args[0][0] == "slot":
                    reads.add(step.args[0][1].index)
        self.backward_reads = reads
        self.read_outputs = self._read_outputs(reads)
        self.table = None  # a long program's lines as shapes and operands (`interpret.Table`), else None
        if len(fwd_lines) + len(bwd_lines) > LONG:
            self.table = interpret.Table(fwd_lines, bwd_lines)
            self.forward_source = _listing("forward", "ins", fwd_lines)
            self.backward_source = _listing("backward", "seeds", bwd_lines) if bwd_lines else ""
        else:
            kept = [f"v{i}" for i in fwd[2] if i in named]  # the values the backward names; the rest stay locals
            self.forward_source = _assemble("forward", "ins", fwd_lines[:-1], fwd_lines[-1], kept)
            self.backward_source = (
                _assemble("backward", "seeds", bwd_lines[:-1], bwd_lines[-1], []) if bwd_lines else ""
            )
        self.source = self.forward_source + ("\n" + self.backward_source if self.backward_source else "")
        if self.table is not None:
            self.source = self.table.describe() + "\n" + self.source
        self.code = compile(self.source, "<tg.compile program>", "exec") if self.table is None else None
        self.frames: list[Frame] = []

    # ----- source
    def _const(self, value: Any) -> str:
        name = self._const_names.get(id(value))
        if name is None:
            name = self._const_names[id(value)] = f"K{len(self.consts)}"
            self.consts[name] = value
        return name

    def _alloc(self, shape: tuple, dtype: Any) -> str:
        name = f"T{len(self.buffers)}"
        self.buffers[name] = (tuple(shape), np.dtype(dtype))
        return name

    def _arg(self, spec: tuple) -> str:
        kind, v = spec
        if kind == "slot":
            return f"v{v.index}"
        if kind == "list":
            typ, items = v
            inner = ", ".join(self._arg(i) for i in items)
            return f"[{inner}]" if typ is list else f"({inner},)"
        if (
            v is None
            or isinstance(v, (bool, int, float, str))
            or (isinstance(v, tuple) and all(isinstance(i, (int, type(None))) for i in v))
        ):
            return repr(v)
        return self._const(v)

    def _forward_source(self) -> str:
        # what the backward reads from the forward (globals of the compiled source; a program of
        # more steps than LONG is long for sure: its lines run from a table, which needs no list)
        saved = sorted(self._saved_for_backward()) if len(self.steps) <= LONG else []
        lines = []
        for s in self.args:  # this call's arguments
            lines.append(f"    v{s.index} = ins[{s.source}]" + ("._data" if s.kind == "input" else ""))
        for s in self.leaves:  # the leaves, read afresh
            lines.append(f"    v{s.index} = L_{s.index}._data")
        for step in self.steps:
            lines.append("    " + self._forward_line(step))
        outs = []
        for kind, v in self.trace.outputs:
            if kind != "slot":  # a tensor made inside without traced data: a new copy each call, as eager makes it
                outs.append(f"{self._const(v)}.copy()" if isinstance(v, np.ndarray) else self._const(v))
            else:
                outs.append(f"v{v.index}.copy()" if v.index in self.in_buffer else f"v{v.index}")
        return lines, f"    return ({', '.join(outs)},)", saved

    def _read_outputs(self, reads: set) -> list[int]:
        """The outputs whose array (or what it views) the backward reads: a write to one of those results
        before backward must raise, as eager's in-place guard makes it (`node._results` watches them)."""
        group = {s.index: {s.index} for s in self.trace.slots}
        for step in self.steps:  # a numpy call or a view op may return a view of its inputs: one group
            if step.out is not None and step.kind != "assign" and (step.kind == "numpy" or step.fn.shares_memory):
                merged = set().union(group[step.out.index], *(group[a.index] for a in step.slots()))
                for i in merged:
                    group[i] = merged
        return [
            k
            for k, (kind, v) in enumerate(self.trace.outputs)
            if kind == "slot" and v.index not in self.in_buffer and group[v.index] & reads
        ]

    def _forward_line(self, step: Step) -> str:
        i = step.index
        names = [self._arg(a) for a in step.args]
        args = ", ".join(names)
        out = f"v{step.out.index}" if step.out is not None else ""
        views = any(s.index in self.in_buffer for s in step.slots())
        if step.kind == "assign":
            copy = ".copy()" if views else ""
            return f"L{i}.data = {args}{copy}  # {step.fn.name or 'a tensor'}.data ="
        if views and (step.kind == "numpy" or step.fn.shares_memory):
            self.in_buffer.add(step.out.index)
        if step.kind == "numpy":
            kw = "".join(f", {k}={self._arg(v)}" for k, v in step.kwargs.items())
            call = f"N{i}({args}{kw})"
            return f"{out} = " + (f"asarray({call})" if step.wrap else call) + f"  # {step.line}"
        into = None
        if step.out.index not in self.fresh and step.out.shape != ():  # (a 0-d value stays a numpy scalar)
            into = f"Y{step.out.index}"
        fast = kernels.forward(step, names, out, into, self._const, self._alloc)
        if fast is not None:
            if into:
                self.buffers[into] = (step.out.shape, step.out.dtype)
                self.in_buffer.add(step.out.index)
            return "\n    ".join(fast)
        self.calls.add(i)
        call = f"F{i}(C{i}, {args})"
        return f"{out} = " + (f"asarray({call})" if step.wrap else call) + f"  # {step.fn.name}"

    def _saved_for_backward(self) -> set:
        if not self.grad_slots:
            return set()
        used = set()
        for step in self.steps:
            if step.kind == "op" and step.out.index in self.grad_slots:
                used |= {s.index for s in step.slots()}
                used.add(step.out.index)
        return used

    def _backward_source(self) -> str:
        lines = []
        seeds, extra, have = [], [], set()
        for k, (o, need) in enumerate(zip(self.trace.outputs, self.out_grad)):
            if not need:
                seeds.append("_")
            elif o[1].index in have:  # the same tensor returned twice: its seeds add up, in order
                seeds.append(f"s{k}")
                extra.append(f"    g{o[1].index} = g{o[1].index} + s{k}")
            else:
                seeds.append(f"g{o[1].index}")
                have.add(o[1].index)
        lines += [f"    {', '.join(seeds)}, = seeds", *extra]
        # slot -> whether its gradient's array is one this backward made (may be summed into), and whether it is a
        # new ndarray that nothing else holds (none of `buf`); neither for a seed, the caller's (an output that
        # another output is computed from gets the vjps' terms added to its seed as a new array)
        own: dict = dict.fromkeys(have, False)
        sole: dict = dict.fromkeys(have, False)
        buf: dict = {o[1].index: False for o, need in zip(self.trace.outputs, self.out_grad) if need}
        targets = {s.index for s in self.targets}

        given: set = set()

        def into(j: int) -> str | None:
            if j in have or j in given:
                return None
            given.add(j)
            if j in targets:  # a leaf's gradient: an array nobody else holds any more, or a new one
                self.recycled[j] = (self.trace.slots[j].shape, self.trace.slots[j].dtype)
                lines.append(f"    R{j} = take({j})")
                return f"R{j}"
            name = f"G{j}"
            self.buffers[name] = (self.trace.slots[j].shape, self.trace.slots[j].dtype)
            return name

        def add(j: int, expr: str, what: str, g_buf: bool) -> None:
            if what == "buffer" and j in self.recycled and j not in have:
                what = "fresh"  # (the recycled array is handed out: it is not the frame's)
            if j not in have:
                lines.append(f"    g{j} = {expr}")
                own[j] = what == "buffer" or (what == "fresh" and self.trace.slots[j].shape != ())
                buf[j] = what == "buffer" or (what == "alias" and g_buf)
                sole[j] = what == "fresh" and self.trace.slots[j].shape != ()
                have.add(j)
            elif own[j]:
                lines.append(f"    np.add(g{j}, {expr}, out=g{j})")
            else:
                lines.append(f"    g{j} = g{j} + {expr}")
                own[j], buf[j] = self.trace.slots[j].shape != (), False
                sole[j] = own[j]

        grad_outs = {o[1].index for o, need in zip(self.trace.outputs, self.out_grad) if need}
        fused = patterns.find(self.steps, self.grad_slots, grad_outs) if self.closed_forms else {}  # sigmoid -> chain
        covered = {i for m in fused.values() for i in m.covered}
        for step in reversed(self.steps):
            if step.index in covered:
                continue
            m = fused.get(step.index)
            if m is not None:
                if patterns.start(m).index in have:
                    g = f"g{patterns.start(m).index}"
                    pre, expr, what = patterns.backward(m, g, self._arg(m.y), into(m.z.index))
                    lines.append("    # sigmoid + binary cross-entropy's vjp in closed form (patterns.py)")
                    lines += ["    " + p for p in pre]
                    add(m.z.index, expr, what, False)
                continue
            if step.kind != "op" or step.out.index not in self.grad_slots or step.out.index not in have:
                continue
            i = step.index
            g = f"g{step.out.index}"
            g_buf = buf.get(step.out.index, False)
            wanted = [
                (k, a[1].index)
                for k, a in enumerate(step.args)
                if a[0] == "slot" and step.needs and step.needs[k] and a[1].index in self.grad_slots
            ]
            arg_names = [self._arg(a) for a in step.args]
            fast = kernels.backward(step, g, wanted, arg_names, f"v{step.out.index}", into, self._alloc, self._const)
            if fast is not None:
                lines.append(f"    # {step.fn.name}'s vjp")
                for (_k, expr, pre, what), (_, j) in zip(fast, wanted):
                    lines += ["    " + p for p in pre]
                    add(j, expr, what, g_buf)
                continue
            args = ", ".join(arg_names)
            self.calls.add(i)
            if step.fn.saves_output:
                lines.append(f"    C{i}.output = v{step.out.index}")
            if len(step.args) == 1:
                lines.append(f"    t0 = first(B{i}(C{i}, {g}, {args}))  # {step.fn.name}'s vjp")
            else:
                temps = ", ".join(f"t{k}" for k in range(len(step.args)))
                lines.append(f"    {temps}, = B{i}(C{i}, {g}, {args})  # {step.fn.name}'s vjp")
            for k, j in wanted:
                add(j, f"t{k}", "alias", g_buf)
        rets = []
        # in a program that computes in more than one float dtype (float32 * float64, anywhere downstream), a
        # target's gradient is cast back to its own dtype, as eager's walk gives it
        floats = {st.out.dtype for st in self.steps if st.out is not None and st.out.dtype.kind == "f"}
        for s in self.targets:
            if s.index not in have:
                rets.append("None")
            elif s.dtype.kind == "f" and floats - {s.dtype}:
                rets.append(f"g{s.index}.astype({self._const(s.dtype)})")  # (a copy, of its own)
                buf[s.index] = True
            else:
                rets.append(f"g{s.index}.copy()" if buf.get(s.index) else f"g{s.index}")
        # every target's gradient a new ndarray of its own: they can be handed out as they are
        self.sole_grads = all(s.index in have and (buf.get(s.index) or sole.get(s.index)) for s in self.targets)
        return lines, f"    return ({', '.join(rets)},)", []

    # ----- frames
    def frame(self) -> Frame:
        """A frame no call is running in and no pending backward needs (a new one if all are taken).

        It comes back claimed (`Frame.claim`); the call that took it gives it back once its results hold it.
        """
        for f in self.frames:  # (two threads may call one compiled function: a claim is atomic)
            if f.claim():
                if f.free():
                    return f
                f.unclaim()
        f = Frame(self)
        f.claim()
        self.frames.append(f)
        return f


class Frame:
    """One set of buffers and saved values, with the program's two functions compiled into it."""

    def __init__(self, program: Program) -> None:
        with _collector_paused():
            self._fill(program)

    def _fill(self, program: Program) -> None:
        ns: dict[str, Any] = {"asarray": np.asarray, "first": _first, "np": np}
        ns.update(sce_forward=kernels.sce_forward, sce_backward=kernels.sce_backward, onehot_rows=kernels.onehot_rows)
        ns.update(program.consts)
        for s in program.leaves:
            ns[f"L_{s.index}"] = s.source
        for step in program.steps:
            i = step.index
            if step.kind == "op":
                if program.table is not None and i not in program.calls:  # a long program's kernel step
                    continue
                ns[f"F{i}"] = _func(step.fn.forward)
                ns[f"B{i}"] = _func(step.fn.backward)
                ns[f"C{i}"] = ReplayContext(step.needs)
            elif step.kind == "numpy":
                ns[f"N{i}"] = step.fn
            else:
                ns[f"L{i}"] = step.fn
        ns["take"] = Recycler(program.recycled).take
        if program.table is None:
            for name, (shape, dtype) in program.buffers.items():
                ns[name] = np.empty(shape, dtype)
            exec(program.code, ns)  # noqa: S102 - the program's own generated source
            self.forward, self.backward = ns["forward"], ns.get("backward")
        else:  # a long program: the same lines, run from its table (which makes the buffers)
            self.forward, self.backward = program.table.bind(ns, program.buffers)
        self.ns = ns
        self.users: list = []  # weak references to the nodes of the results that need this frame
        self.idle = [True]  # one token while no call runs in this frame

    def claim(self) -> bool:
        """Take the frame for a call, unless one runs in it (list.pop is atomic: two threads cannot both)."""
        try:
            self.idle.pop()
        except IndexError:
            return False
        return True

    def unclaim(self) -> None:
        self.idle.append(True)

    def free(self) -> bool:
        for ref in self.users:
            node = ref()
            if node is not None and not node.released:
                return False
        return True


_BUFFER = re.compile(r"\b([YGT]\d+)\b")
_SLOT_NAME = re.compile(r"\bv(\d+)\b")
_ELEMENTWISE = re.compile(
    r"^\s*(\w+ = )?np\.(add|subtract|multiply|divide|negative|exp|log|tanh|sqrt|absolute|maximum)\([\w, =]*\)(\s*#.*)?$"
)
_NUMPY_CALL = re.compile(
    r"^\s*np\.(matmul|add\.reduce|add|subtract|multiply|divide|negative|exp|log|tanh|sqrt"
    r"|absolute|maximum|greater|less)\(.*?(?:(?:out=|, )(\w+))?\)\s*(#.*)?$"
)
_VARIABLE = re.compile(r"\b([vgt]\d+|S\d+)\b")


def _share_buffers(forward: list[str], backward: list[str], buffers: dict) -> tuple[list[str], list[str]]:
    """The two bodies with buffers of one shape and dtype shared where their uses do not overlap.

    A buffer is in use from the line that first names it to the last line that reads it or a
    variable that may hold it (a variable assigned on a line that mentions a buffer, or a variable
    holding one, may hold that buffer). The forward's buffers are never given to the backward,
    which may run twice (``retain_graph``) on the forward's values. `buffers` is updated in place.
    Programs longer than ``_SHARE_LIMIT`` lines are left as they are.
    """
    if len(forward) + len(backward) > _SHARE_LIMIT:  # a very long program of small arrays (W5): not worth the pass
        return forward, backward
    lines = [(0, line) for block in forward for line in block.split("\n")]
    lines += [(1, line) for block in backward for line in block.split("\n")]
    if len(lines) > _SHARE_LIMIT:
        return forward, backward
    last: dict = {}
    holds: dict = {}
    for i, (_, line) in enumerate(lines):
        m = _ASSIGNED.match(line)
        rhs = line[m.end() :] if m else line
        reach = set(_BUFFER.findall(line))
        for v in _VARIABLE.findall(rhs):
            reach |= holds.get(v, set())
        for b in reach:
            last[b] = i
        if m:
            held = reach
            call = _NUMPY_CALL.match(rhs)
            if call:  # a numpy call returns its out (a buffer, or a variable's array), else a new array
                out = call.group(2)
                held = {out} if out and _BUFFER.fullmatch(out) else holds.get(out, set()) if out else set()
            for name in m.group(1).split(","):
                holds[name.strip()] = held
    free: dict = {}  # (part, shape, dtype) -> buffers no longer in use
    rename: dict = {}
    ending: dict = {}
    for i, (part, line) in enumerate(lines):
        if _ELEMENTWISE.match(line):  # one ufunc, elementwise: its output may take an input's memory
            for owner, b in ending.pop(i, ()):
                free.setdefault((owner, *buffers[b]), []).append(rename[b])
        for b in dict.fromkeys(_BUFFER.findall(line)):
            if b in rename or b not in buffers:
                continue
            pool = free.get((part, *buffers[b]))
            rename[b] = pool.pop() if pool else b
            ending.setdefault(last[b], []).append((part, b))
        for owner, b in ending.pop(i, ()):
            free.setdefault((owner, *buffers[b]), []).append(rename[b])
    for b, target in rename.items():
        if target != b:
            del buffers[b]

    def sub(line: str) -> str:
        return _BUFFER.sub(lambda m: rename.get(m.group(1), m.group(1)), line)

    n = len(forward)
    out = ["\n".join(sub(x) for x in block.split("\n")) for block in forward + backward]
    return out[:n], out[n:]


_SHARE_LIMIT = 30_000
# programs of more lines than this (forward and backward) run their lines from a table
# (`interpret.Table`) instead of compiling them: CPython's compile() of a long program takes
# more than linear time (minutes for a 200,000-op chain), a table is built in linear time
LONG = 20_000
_CHUNK = 300  # CPython compiles one very long function in more than linear time: long programs are split
_ASSIGNED = re.compile(r"^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*,?\s*=(?!=)")


def _assemble(name: str, param: str, body: list[str], ret: str, global_names: list[str]) -> str:
    """The source of function `name`: one function, or for a long body a chain of parts sharing globals."""
    flat = [line for block in body for line in block.split("\n")]
    if len(flat) <= _CHUNK:
        kept = {n.strip() for line in flat if (m := _ASSIGNED.match(line)) for n in m.group(1).split(",")}
        global_names = global_names + sorted(n for n in kept if n.startswith("S"))  # what kernels keep for the vjp
        head = [f"def {name}({param}):"] + (["    global " + ", ".join(global_names)] if global_names else [])
        return "\n".join(head + flat + [ret]) + "\n"
    out, calls = [], []
    for k in range(0, len(flat), _CHUNK):
        part = flat[k : k + _CHUNK]
        names = sorted({n.strip() for line in part if (m := _ASSIGNED.match(line)) for n in m.group(1).split(",")})
        out.append(f"def _{name}_{k // _CHUNK}({param}):")
        if names:
            out.append("    global " + ", ".join(names))
        out += part
        calls.append(f"    _{name}_{k // _CHUNK}({param})")
    return "\n".join([*out, f"def {name}({param}):", *calls, ret]) + "\n"


def _listing(name: str, param: str, lines: list[str]) -> str:
    """A long program's function as one listing (to read: its lines run from a table, not compiled)."""
    return "\n".join([f"def {name}({param}):", *lines]) + "\n"


class Recycler:
    """The arrays a frame writes leaves' gradients into: last call's, if nobody holds it any more.

    A gradient handed out as ``.grad`` is the user's; once ``.grad`` is cleared (``zero_grad``) and
    nothing else refers to the array, its reference count says so, and the next backward writes
    into it instead of asking for new memory (a large new array costs its page faults).
    """

    def __init__(self, specs: dict) -> None:
        self.specs = specs
        self.kept: dict = {}

    def take(self, j: int) -> np.ndarray:
        a = self.kept.get(j)
        if a is not None and sys.getrefcount(a) == 3:  # held by `kept`, by `a`, and by getrefcount's argument
            return a
        a = self.kept[j] = np.empty(*self.specs[j])
        return a


@contextlib.contextmanager
def _collector_paused() -> Any:
    """Python's cycle collector off while a program or a frame is built (no user code runs in between).

    A long trace holds millions of small objects, and the collector's passes over them, set off by
    the objects the build makes, cost more than the build itself (about a third of a 200,000-op
    chain's first call). It is switched back on after, if it was on.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _func(f: Any) -> Any:
    return f.__func__ if isinstance(f, staticmethod) else f


def _live(trace: Trace) -> list[Step]:
    """The steps an output or an assignment needs, in order, each numbered (``step.index``)."""
    needed: set = set()
    todo = [o[1] for o in trace.outputs if o[0] == "slot"]
    for step in trace.steps:
        if step.kind == "assign":
            todo += step.slots()
    while todo:
        s = todo.pop()
        if s.index in needed:
            continue
        needed.add(s.index)
        if s.producer is not None:
            todo += s.producer.slots()
    live = [st for st in trace.steps if st.kind == "assign" or (st.out is not None and st.out.index in needed)]
    for k, st in enumerate(live):
        st.index = k
    return live


def _needing_grad(steps: list[Step], outs: list[Slot]) -> set:
    """The slots a gradient reaches from the outputs: those a recorded node's needed input links."""
    requires: set = set()
    for step in steps:
        if step.kind == "op" and step.needs is not None:
            requires.add(step.out.index)
    reach = {s.index for s in outs if s.index in requires or s.requires_grad}
    for step in reversed(steps):
        if step.kind == "op" and step.needs is not None and step.out.index in reach:
            for k, a in enumerate(step.args):
                if a[0] == "slot" and step.needs[k]:
                    reach.add(a[1].index)
    return reach
