"""Long programs: the generated lines run by a loop, each distinct line *shape* compiled once.

CPython compiles a long straight-line program slowly (a 200,000-op chain writes about 700,000
lines, and ``compile()`` of them took two minutes, more than linear in the length), while most of
the lines of a long program differ only by the numbered names they use: ``v7 = np.add(v5, v1,
Y7)`` and ``v10 = np.add(v8, v1, Y10)`` are one shape, ``R[a0] = np.add(R[a1], R[a2], R[a3])``.

`Table` takes the lines `program.Program` wrote (the same text a short program compiles) and
turns each into its shape and its operands:

- every numbered name of the program (``v12``, ``g3``, ``Y7``, ``K0``, ``F4``, ``L_2``, ...)
  becomes an entry of one list, ``R``, one per frame;
- a line's shape is the line with its comment dropped and its names replaced by ``R[a0]``,
  ``R[a1]``, ... (one per occurrence, in order); each distinct shape is compiled once as a small
  function ``_s<k>(R, ix)`` that unpacks the entries ``a0, a1, ... = ix`` and runs the line; its
  other names (``np``, ``take``, ``asarray``, the kernels' helpers, and the call's ``ins`` or
  ``seeds``) are the frame's globals, as they are in the generated source;
- a frame pairs each line's shape with its entries, and its forward and backward run the pairs
  in order: ``for shape, ix in steps: shape(R, ix)``.

So a replay runs the very statements of the generated source, in its order, on the same buffers:
its results are the compiled program's bit for bit. A program's text (``step.program``) is the
same source either way. Which programs run this way: ``program.LONG``.
"""

from __future__ import annotations

import re

# a numbered name of the program, or a function's parameter; not an attribute (`.float32`), not
# a keyword argument (`x1=...`: the generator writes those without spaces), not inside a number (`1e5`)
_NAME = r"(?<![\w.])[A-Za-z]+_?\d+\b(?!=[^=])"
_SPLIT = re.compile(f"({_NAME})")  # (split keeps the operands)
_HASH = re.compile("#[^\n]*")  # a comment, where no line has a string
_STRING = r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*\""""
_COMMENT = re.compile(f"({_STRING})|[ \\t]*#[^\\n]*")  # a comment (dropped), or a string (kept as it is)
_QUOTED = re.compile(f"({_STRING})|({_NAME})")  # for text with strings in it: a string, or an operand


class Table:
    """A program's lines as shapes (compiled once) and, per line, its shape's number and its operands' entries."""

    def __init__(self, forward: list[str], backward: list[str] | None) -> None:
        self.names: dict[str, int] = {}  # name -> its entry of R
        self.shapes: dict[str, int] = {}  # a line's shape -> its number
        self._counts: list[int] = []  # per shape, its number of operands
        self.forward = self._lines(forward)
        self.backward = self._lines(backward) if backward else None
        src = []
        for shape, k in self.shapes.items():
            n = shape.count("\0")
            body = shape.strip()
            for j in range(n):
                body = body.replace("\0", f"R[a{j}]", 1)
            src.append(f"def _s{k}(R, ix):")
            if n:
                src.append(f"    {', '.join(f'a{j}' for j in range(n))}, = ix")
            src.append(f"    {body}")
        self.code = compile("\n".join(src) + "\n", "<tg.compile line shapes>", "exec")

    def _lines(self, lines: list[str]) -> list[tuple]:
        """Per line that is not only a comment: (its shape's number, its operands' entries).

        The text is handled whole, one pass of a regular expression over all the lines (a long
        program's lines are counted in hundreds of thousands; a pass per line costs more).
        """
        text = "\n".join(lines)
        plain = _HASH.sub("", text)
        if "'" in plain or '"' in plain:  # a string in some line (which may hold a "#"): the careful way
            ops: list[str] = []

            def operand(m: re.Match) -> str:
                if m.group(1) is not None:
                    return m.group(1)
                ops.append(m.group(2))
                return "\0"

            shaped = _QUOTED.sub(operand, _COMMENT.sub(r"\1", text))
        else:
            parts = _SPLIT.split(plain)
            shaped, ops = "\0".join(parts[::2]), parts[1::2]
        names = self.names
        for name in dict.fromkeys(ops):
            if name not in names:
                names[name] = len(names)
        entries = list(map(names.__getitem__, ops))
        shapes, counts = self.shapes, self._counts
        out, pos = [], 0
        for shape in shaped.split("\n"):
            if shape.isspace() or not shape:
                continue
            k = shapes.get(shape)
            if k is None:
                k = shapes[shape] = len(shapes)
                counts.append(shape.count("\0"))
            n = counts[k]
            out.append((k, tuple(entries[pos : pos + n])))
            pos += n
        return out

    def bind(self, ns: dict) -> tuple:
        """The forward and backward of one frame whose objects and globals are in `ns`."""
        R = [ns.get(name) for name in self.names]
        exec(self.code, ns)  # noqa: S102 - the line shapes, defined in the frame's globals
        shapes = [ns[f"_s{k}"] for k in range(len(self.shapes))]
        forward_steps = [(shapes[k], ix) for k, ix in self.forward]
        last_forward = forward_steps.pop()  # the return

        def forward(args: tuple) -> tuple:
            ns["ins"] = args
            for shape, ix in forward_steps:
                shape(R, ix)
            ns["ins"] = None
            return last_forward[0](R, last_forward[1])

        if self.backward is None:
            return forward, None
        backward_steps = [(shapes[k], ix) for k, ix in self.backward]
        last_backward = backward_steps.pop()

        def backward(gs: list) -> tuple:
            ns["seeds"] = gs
            for shape, ix in backward_steps:
                shape(R, ix)
            ns["seeds"] = None
            return last_backward[0](R, last_backward[1])

        return forward, backward

    def describe(self) -> str:
        """A comment saying how the program runs (``step.program`` prints it above the source)."""
        n = len(self.forward) + len(self.backward or ())
        return (
            f"# a long program: its {n:,} lines are not compiled but run one by one from a table; each of its "
            f"{len(self.shapes):,} line shapes is compiled once (tinygraph.compiler.interpret)"
        )
