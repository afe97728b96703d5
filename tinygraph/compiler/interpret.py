"""Long programs: the generated lines run by a loop, each distinct line *shape* compiled once.

CPython compiles a long straight-line program slowly (a 200,000-op chain writes about 700,000
lines, and ``compile()`` of them took two minutes, more than linear in the length), while most of
the lines of a long program differ only by the numbered names they use: ``v7 = np.add(v5, v1,
Y7)`` and ``v10 = np.add(v8, v1, Y10)`` are one shape, ``R[a0] = np.add(R[a1], R[a2], R[a3])``.

`Table` takes the lines `program.Program` wrote (the same text a short program compiles; each
line one whole statement, which the splitting of long source into parts already relies on) and
turns each into its shape and its operands:

- every numbered name of the program (``v12``, ``g3``, ``Y7``, ``K0``, ``F4``, ``L_2``, ...)
  becomes an entry of one list, ``R``, one per frame: the names of the same letters take a block
  of entries in the order of their numbers (``v0`` ... ``v<largest>``, then the ``g`` names, ...),
  so a name's entry is worked out from its letters and its number, in a few array operations for
  all the names at once;
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
from typing import Any

import numpy as np

# a numbered name of the program, as its letters and its number; not an attribute (`.float32`),
# not a keyword argument (`x1=...`: the generator writes those without spaces), not inside a number (`1e5`)
_NAME = r"(?<![\w.])([A-Za-z]+_?)(0|[1-9]\d*)\b(?!=[^=])"  # (no leading zeros: one name, one number)
_SPLIT = re.compile(_NAME)  # (split keeps the letters and the numbers)
_HASH = re.compile("#[^\n]*")  # a comment, where no line has a string
_STRING = r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*\""""
_COMMENT = re.compile(f"({_STRING})|[ \\t]*#[^\\n]*")  # a comment (dropped), or a string (kept as it is)
_QUOTED = re.compile(f"({_STRING})|{_NAME}")  # for text with strings in it: a string, or an operand
_WHOLE = re.compile(r"^(([A-Za-z]+_?)(0|[1-9]\d*))$", re.MULTILINE)  # a numbered name of the frame's namespace


class Table:
    """A program's lines as shapes (compiled once) and, per line, its shape's number and its operands' entries."""

    def __init__(self, forward: list[str], backward: list[str] | None) -> None:
        self.blocks: dict[str, tuple] = {}  # a name's letters -> (its block's first entry, the block's length)
        self.size = 0  # the number of entries of R
        self._objects: list | None = None  # (entry, name) of the frame's objects the lines use, from the first frame
        self._buffers: list = []  # (entry, (shape, dtype)) of the frame's buffers
        self.shapes: dict[str, int] = {}  # a line's shape -> its number
        self.forward, self.backward = self._lines(forward, backward or [])
        if not backward:
            self.backward = None
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

    def _lines(self, forward: list[str], backward: list[str]) -> tuple[list, list]:
        """Per line of each function that is not only a comment: (its shape's number, its operands' entries).

        The text of both functions is handled whole, one pass of a regular expression over all
        its lines (a long program's lines are counted in hundreds of thousands: a pass per line
        costs several times more), with a line of one ``\\x01`` between the two functions.
        """
        text = ("\n".join(forward) + "\n\x01\n" + "\n".join(backward)).replace("\n    ", "\n")  # (less to scan)
        plain = _HASH.sub("", text)
        if "'" in plain or '"' in plain:  # a string in some line (which may hold a "#"): the careful way
            letters: list[str] = []
            numbers: list[str] = []

            def operand(m: re.Match) -> str:
                if m.group(1) is not None:
                    return m.group(1)
                letters.append(m.group(2))
                numbers.append(m.group(3))
                return "\0"

            shaped = _QUOTED.sub(operand, _COMMENT.sub(r"\1", text))
        else:
            parts = _SPLIT.split(plain)
            shaped, letters, numbers = "\0".join(parts[::3]), parts[1::3], parts[2::3]
        entries = self._entries(letters, numbers)
        shapes, counts = self.shapes, []
        out: list = []
        lines = [out]
        pos = 0
        for shape in shaped.split("\n"):
            if shape.isspace() or not shape:
                continue
            if shape == "\x01":  # the backward's lines from here
                out = []
                lines.append(out)
                continue
            k = shapes.get(shape)
            if k is None:
                k = shapes[shape] = len(shapes)
                counts.append(shape.count("\0"))
            n = counts[k]
            out.append((k, tuple(entries[pos : pos + n])))
            pos += n
        return lines[0], lines[1]

    def _entries(self, letters: list[str], numbers: list[str]) -> list[int]:
        """The entries of R of the operands named by `letters` and `numbers`; sets the blocks."""
        kinds = {k: j for j, k in enumerate(dict.fromkeys(letters))}  # a few: v, g, t, Y, G, T, K, ...
        kind = np.fromiter(map(kinds.__getitem__, letters), np.intp, len(letters))
        number = np.fromiter(map(int, numbers), np.intp, len(numbers))
        largest = np.full(len(kinds), -1, np.intp)
        np.maximum.at(largest, kind, number)
        first = np.cumsum(largest + 1) - (largest + 1)
        self.blocks = {k: (int(first[j]), int(largest[j]) + 1) for k, j in kinds.items()}
        self.size = int((largest + 1).sum())
        return (first[kind] + number).tolist()

    def locate(self, names: Any) -> list[tuple[int, str]]:
        """(entry of R, name) for each of `names` that has one (its letters and number are used by a line)."""
        out = []
        for name, letters, number in _WHOLE.findall("\n".join(names)):
            block = self.blocks.get(letters)
            if block is not None and int(number) < block[1]:
                out.append((block[0] + int(number), name))
        return out

    def bind(self, ns: dict, buffers: dict) -> tuple:
        """The forward and backward of one frame whose objects and globals are in `ns`.

        `buffers` (name -> (shape, dtype)): the arrays the frame keeps, made here into R.
        """
        if self._objects is None:  # (the frames of one program have the same names)
            self._objects = self.locate(ns)
            self._buffers = [(e, buffers[name]) for e, name in self.locate(buffers)]
        R: list = [None] * self.size
        for e, name in self._objects:
            R[e] = ns[name]
        for e, (shape, dtype) in self._buffers:
            R[e] = np.empty(shape, dtype)
        exec(self.code, ns)  # noqa: S102 - the line shapes, defined in the frame's globals
        shapes = [ns[f"_s{k}"] for k in range(len(self.shapes))]
        forward = _runner(ns, R, [(shapes[k], ix) for k, ix in self.forward], "ins")
        if self.backward is None:
            return forward, None
        return forward, _runner(ns, R, [(shapes[k], ix) for k, ix in self.backward], "seeds")

    def describe(self) -> str:
        """A comment saying how the program runs (``step.program`` prints it above the source)."""
        n = len(self.forward) + len(self.backward or ())
        return (
            f"# a long program: its {n:,} lines are not compiled but run one by one from a table; each of its "
            f"{len(self.shapes):,} line shapes is compiled once (tinygraph.compiler.interpret)"
        )


def _runner(ns: dict, R: list, steps: list, param: str) -> Any:
    """One of a frame's two functions: its lines' (shape, entries) in order, the last one the return;
    the call's values (``ins`` or ``seeds``) are a global of the shapes while it runs."""
    body, (last, last_ix) = steps[:-1], steps[-1]

    def run(values: Any) -> tuple:
        ns[param] = values
        for shape, ix in body:
            shape(R, ix)
        ns[param] = None
        return last(R, last_ix)

    return run
