"""The in-place guard: a version per block of memory, saved by the ops that need it, checked at backward.

Every Tensor that views one block of memory (the outputs of reshape, transpose and basic
slicing, ``detach()``) shares one `Memory`. Every write tinygraph makes while a graph waits on
the memory bumps its version: an assignment to ``.data``, an optimizer step,
``load_state_dict``, the initializers (a write nobody waits on needs no record). An op whose
gradient reads a tensor keeps the `Version` it saw; backward compares and raises, naming the
op and the write.

Writes tinygraph cannot see go through an array it handed out (``.data``, ``.numpy()``,
``np.asarray``). When one is handed out while a pending graph needs it, its checksum is
taken, and backward recomputes it. "A pending graph needs it" costs nothing to track: a
`Version` is a fresh object per write, held by the `Memory` and by each waiting node, so its
reference count says whether anyone waits. A dropped graph drops its references, and
nothing is left behind.

Under ``detect_anomaly()`` every saved array is checksummed when it is saved, which also
catches writes through arrays taken before the forward and into numpy operands.
"""

from __future__ import annotations

import sys
import zlib
from typing import Any

import numpy as np

from tinygraph import mode

HANDED_OUT = "a write into the array handed out by .data (or np.asarray/.numpy())"
UNSEEN = "a write tinygraph did not see (through an array taken before the forward, or into a numpy operand)"


class Version(int):
    """One version of one block of memory: its write count, a fresh object per write."""

    __slots__ = ()


def checksum(a: Any) -> int:
    """A CRC-32 of an array's bytes (no copy when the array is contiguous)."""
    a = np.asarray(a)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    return zlib.crc32(a)


class Memory:
    """The version counter of one block of memory, shared by every Tensor that views it.

    ``version`` is the current `Version`; ``handed`` lists (array, checksum, site) for arrays
    handed out while a node waited on them; ``how`` and ``site`` say what made the last write.
    """

    __slots__ = ("version", "handed", "how", "site")

    def __init__(self, version: int = 0, how: str | None = None, site: str | None = None) -> None:
        self.version = Version(version)
        self.handed: list | None = None
        self.how = how
        self.site = site

    def pending(self) -> bool:
        """Whether a graph node that has not run its backward saved this memory at its current version."""
        # the references: this Memory's slot, and getrefcount's own argument; any more are waiting nodes
        return sys.getrefcount(self.version) > 2

    def bump(self, how: str, site: str | None = None) -> None:
        """Record a write to this memory."""
        self.version = Version(self.version + 1)
        self.handed = None
        self.how, self.site = how, site

    def hand_out(self, array: np.ndarray, site: str | None) -> None:
        """`array` (this memory) is given to the user while a node waits on it: checksum it once."""
        if self.handed is None:
            self.handed = []
        elif any(a is array for a, _, _ in self.handed):
            return
        self.handed.append((array, checksum(array), site))

    def notice_writes(self) -> None:
        """Bump the version if an array handed out while a node waited has been written since."""
        for a, crc, site in self.handed or ():
            if checksum(a) != crc:
                self.bump(HANDED_OUT, site)
                return

    def save(self) -> Version:
        """The version a node keeps when it saves this memory."""
        if self.handed:
            if self.pending():
                self.notice_writes()  # a write made before this save must show as a new version
            else:
                self.handed = None  # nobody waits on those hand-outs any more
        return self.version


def guarded(cls: type, needs: tuple) -> tuple:
    """The inputs of op `cls` to guard: those that the gradient of some input that `needs` one reads (`cls.reads`).

    Cached per class, per `needs` (`Function.apply` spells out the one-gradient cases).
    """
    guard = cls._guards.get(needs)
    if guard is None:
        reads = cls.reads
        guard = tuple(sorted({j for i, need in enumerate(needs) if need and i < len(reads) for j in reads[i]}))
        cls._guards[needs] = guard
    return guard


# ----- the Tensor's side: its `data`, `memory()` and `mark_written()` ------------------------------
def site() -> str | None:
    """Where a write or hand-out happens in the user's code, under detect_anomaly (for the error)."""
    return mode.user_frame() if mode.state.anomaly else None


def memory(t: Any) -> Memory:
    """The version counter of Tensor `t`'s memory, made on first use (``Tensor.memory``)."""
    mem = t._mem
    if mem is None:
        mem = t._mem = Memory()
        node = t._node
        if node is not None and node.fn.saves_output and not node.released:
            node.output_version = mem.version  # so the waiting node shows in mem.pending()
        if t._handle is not None:
            t._handle._mem = mem
    return mem


def waiting(t: Any) -> Memory | None:
    """`t`'s memory counter if a graph node that has not run its backward needs it, else None."""
    mem = t._mem
    if mem is None:
        node = t._node
        if node is None or not node.fn.saves_output or node.released:
            return None
        mem = t.memory()  # the op that made `t` reads it in its backward
    return mem if mem.pending() else None


def read(t: Any) -> np.ndarray:
    """``t.data``: the array, shared; checksummed when handed out while a graph waits on it."""
    mem = waiting(t)
    if mem is not None:
        mem.hand_out(t._data, site())
    return t._data


def assign(t: Any, arr: np.ndarray) -> None:
    """``t.data = arr`` (checked by the caller): new memory gets a counter of its own, one version on."""
    mem = waiting(t)
    if arr is not t._data and t._mem is not None:
        t._mem = Memory(t._mem.version + 1, "an assignment to .data", site())
    elif mem is not None:  # the same array, written through (``t.data -= ...``)
        mem.bump("an assignment to .data", site())
    t._data = arr
    if t._handle is not None:  # the graph's stand-in follows
        t._handle._data, t._handle._mem = arr, t._mem


def mark_written(t: Any, how: str = "an in-place write") -> None:
    """Record an in-place write to `t`'s data (optimizers and loaders call it).

    A pending backward that saved the tensor then raises, saying `how` it changed.
    """
    mem = waiting(t)
    if mem is not None:
        mem.bump(how, site())


# ----- backward's side ------------------------------------------------------------------------------
def check_saved(node: Any, out: Any) -> None:
    """Raise if anything `node` saved (or its output `out`, if its gradient reads it) was written since."""
    saved = node.saved
    i = -1
    for v in node.versions:
        i += 1
        if v is not None:  # a Tensor (a plain array has no counter: only anomaly mode checks it)
            t = saved[i]
            mem = t._mem
            if mem.handed:
                mem.notice_writes()
            if mem.version != v:
                raise RuntimeError(_message(node, t, out, v, mem.how, mem.site))
    mem = out._mem
    if mem is not None and node.fn.saves_output:
        v = node.output_version or 0
        if mem.handed:
            mem.notice_writes()
        if mem.version != v:
            raise RuntimeError(_message(node, out, out, v, mem.how, mem.site))
    sums = node.checksums
    if sums is not None:  # detect_anomaly: every saved array was checksummed when it was saved
        items = (*node.saved, out) if node.fn.saves_output else node.saved
        for t, crc in zip(items, sums):
            if crc is not None and checksum(getattr(t, "_data", t)) != crc:
                raise RuntimeError(_message(node, t, out, getattr(t, "_version", 0), UNSEEN, None))


def _message(node: Any, t: Any, out: Any, v: int, how: str | None, site: str | None) -> str:
    """Which op saved `t`, where that op was created, and what changed `t` since."""
    if t is out:
        what = "its output"
    else:
        idx = [i for i, a in enumerate(node.args) if a is t]
        what = f"its input {idx[0]}" if idx else "a tensor"
    how = how or "a write to its data"
    if site:
        how += f" (the array was handed out at {site})" if "handed out" in how else f" at {site}"
    created = node.created_at
    hint = (
        "."
        if created
        else "; run the forward pass and the write under tg.detect_anomaly() to see where "
        "the op was created and where the data was changed."
    )
    now = getattr(t, "_version", v)
    versions = f" (version {v} -> {now})" if now != v else ""  # a write tinygraph did not see moves no version
    lines = [
        f"backward: op {node.name!r} saved {what} (shape {t.shape}, {t.dtype}) for its gradient, and it was "
        f"modified in place after the forward pass{versions} by {how}.",
        f"  op {node.name!r} was created at {created}" if created else "",
        "  Recompute the forward pass after changing the data, or change a copy instead" + hint,
    ]
    return "\n".join(line for line in lines if line)
