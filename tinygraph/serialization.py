"""Saving and loading checkpoints as ``.npz`` files, never with pickle, and never trusting the file.

``save(obj, path)`` stores nested dicts, lists and tuples of Tensors, arrays, numbers,
strings and None: every array becomes one uncompressed ``.npy`` member of a zip archive
(named by its path in the structure, e.g. ``layers.0.weight.npy``, so ``numpy.load`` reads it
too), and the structure itself is a JSON record in the member ``__tinygraph__.npy``. The
record lists every member with its dtype, shape and SHA-256, and carries the SHA-256 of
itself. The file is written to a temporary file next to ``path`` and renamed over it.

``load(path)`` refuses, with `CheckpointError`, anything it cannot vouch for: a damaged file
(the checksums), a crafted one (sizes that disagree, members that overlap or are named
twice, a structure nested too deeply), pickled objects, non-numeric arrays, and more data
than ``max_bytes``. Every member is read once, after its sizes are checked. Low-level zip
and ``.npy`` reading and the atomic write are in `tinygraph.archive`.

Files written before format version 2 (no checksums) still load; their members are covered
by the zip's CRC-32 only. Saving them again upgrades them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import reprlib
import sys
import zipfile
from typing import Any

import numpy as np

from tinygraph import archive
from tinygraph.archive import Budget, Refusal
from tinygraph.tensor import Tensor

__all__ = ["CheckpointError", "load", "save"]

_MANIFEST = "__tinygraph__"
_FORMAT = "tinygraph-npz"
_VERSION = 2
MAX_DEPTH = 100  # how deeply a structure may nest (a state dict nests 1 to 5 levels)
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_DIGEST = b"sha256:"


class CheckpointError(ValueError):
    """A file `tinygraph.load` refuses: its message names the file, what is wrong and what to do."""


def _describe_where(where: str) -> str:
    return f"at {where!r}" if where else "at the top level"


def _encode(obj: Any, where: str, arrays: dict, depth: int = 0) -> Any:
    """A JSON-able description of ``obj``; arrays go into ``arrays`` under unique names."""
    if depth > MAX_DEPTH:
        raise ValueError(
            f"save: the structure nests more than {MAX_DEPTH} levels deep {_describe_where(where[:200])} "
            "(does a container hold itself?); load refuses deeper files"
        )
    if obj is None:
        return {"t": "none"}
    if isinstance(obj, bool):
        return {"t": "bool", "v": obj}
    if isinstance(obj, int):
        return {"t": "int", "v": str(obj)}
    if isinstance(obj, float):
        return {"t": "float", "v": float.hex(obj)}
    if isinstance(obj, str):
        return {"t": "str", "v": obj}
    if isinstance(obj, (Tensor, np.ndarray, np.generic)):
        arr = obj._data if isinstance(obj, Tensor) else np.asarray(obj)
        if arr.dtype.kind not in "biuf" or arr.dtype.fields is not None or arr.dtype.subdtype is not None:
            raise TypeError(
                f"save: the array {_describe_where(where)} has dtype {arr.dtype}; only numeric arrays can be "
                "saved without pickle (bool, integer and floating-point, as tg.tensor accepts)"
            )
        name = _SAFE.sub("_", where) or "value"
        base, k = name, 1
        while name in arrays or name == _MANIFEST:
            name, k = f"{base}~{k}", k + 1
        arrays[name] = arr
        if isinstance(obj, Tensor):
            return {"t": "tensor", "k": name, "rg": bool(obj.requires_grad)}
        return {"t": "scalar" if isinstance(obj, np.generic) else "array", "k": name}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(
                    f"save: dict keys must be str or int, got {type(key).__name__} {key!r} {_describe_where(where)}"
                )
            sub = f"{where}.{key}" if where else str(key)
            key_record = ["s", key] if isinstance(key, str) else ["i", str(key)]
            items.append([key_record, _encode(value, sub, arrays, depth + 1)])
        return {"t": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {
            "t": kind,
            "items": [_encode(v, f"{where}.{i}" if where else str(i), arrays, depth + 1) for i, v in enumerate(obj)],
        }
    hint = " (save its state_dict() instead)" if hasattr(obj, "state_dict") else ""
    raise TypeError(
        f"save: cannot store a {type(obj).__name__} {_describe_where(where)}{hint}; supported: dict, list, tuple, "
        "Tensor, ndarray, int, float, bool, str, None"
    )


class _Hashing:
    """A file-like object that passes writes on and takes their SHA-256."""

    def __init__(self, raw: Any) -> None:
        self.raw, self.sha = raw, hashlib.sha256()

    def write(self, data: Any) -> int:
        self.sha.update(data)
        return self.raw.write(data)


def _write(f: Any, root: Any, arrays: dict) -> None:
    members = []
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
        for name, arr in arrays.items():
            with z.open(name + ".npy", "w", force_zip64=True) as raw:
                out = _Hashing(raw)
                np.lib.format.write_array(out, arr, allow_pickle=False)
            members.append([name, arr.dtype.str, list(arr.shape), out.sha.hexdigest()])
        record = {"format": _FORMAT, "version": _VERSION, "root": root, "members": members}
        body = json.dumps(record, separators=(",", ":")).encode()
        text = _DIGEST + hashlib.sha256(body).hexdigest().encode() + b"\n" + body
        with z.open(_MANIFEST + ".npy", "w", force_zip64=True) as raw:
            np.lib.format.write_array(raw, np.frombuffer(text, np.uint8), allow_pickle=False)


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (e.g. ``model.state_dict()``) to ``path`` as an ``.npz`` archive, atomically.

    ``obj`` may nest dicts (str or int keys), lists and tuples (at most 100 levels) of Tensors,
    numeric ndarrays and numpy scalars, Python numbers, strings and None. The path is used
    exactly as given (no suffix is added). The data goes to a temporary file in the same folder
    first, then replaces ``path`` in one step; if the save fails the temporary file is removed,
    and if the process is killed the next save to ``path`` removes it. A new file's mode follows
    the umask; an existing file keeps its mode. Under `tinygraph.distributed` (after
    ``dist.init()`` in a world of several processes) only rank 0 writes; the other ranks return
    at once (``dist.barrier()`` before they read the file).

    >>> import os, tempfile, tinygraph as tg
    >>> from tinygraph import nn
    >>> net = nn.Linear(3, 2)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> tg.save({"model": net.state_dict(), "epoch": 7}, path)
    >>> ckpt = tg.load(path)
    >>> ckpt["epoch"], bool((ckpt["model"]["weight"] == net.weight.data).all())
    (7, True)
    """
    dist = sys.modules.get("tinygraph.distributed")  # imported only by a distributed run
    if dist is not None and not dist.is_writer():
        return
    arrays: dict = {}
    root = _encode(obj, "", arrays)
    archive.write_atomic(os.fspath(path), lambda f: _write(f, root, arrays))


# ----- loading --------------------------------------------------------------------------------------


class _Structure:
    """The checked structure record of one file: the nodes' member references, each used once."""

    def __init__(self) -> None:
        self.refs: list[str] = []
        self.seen: set[str] = set()

    def hook(self, node: dict) -> dict:
        """json's object_hook: refuse a member named twice while the record is still being parsed."""
        key = node.get("k")
        if isinstance(key, str):
            if key in self.seen:
                raise Refusal(
                    f"is corrupt or crafted: its structure refers to array {key!r} more than once "
                    "(tg.save stores each array once)"
                )
            self.seen.add(key)
            self.refs.append(key)
        return node

    def check(self, node: Any, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise Refusal(f"is corrupt or crafted: its structure nests more than {MAX_DEPTH} levels deep")
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise Refusal(f"is corrupt: malformed structure entry {_brief(node)}")
        t, v = node["t"], node.get("v")
        ok = {
            "none": True,
            "bool": isinstance(v, bool),
            "int": isinstance(v, str) and re.fullmatch(r"-?[0-9]{1,4000}", v) is not None,
            "float": isinstance(v, str) and _is_hex_float(v),
            "str": isinstance(v, str),
            "array": isinstance(node.get("k"), str),
            "scalar": isinstance(node.get("k"), str),
            "tensor": isinstance(node.get("k"), str) and isinstance(node.get("rg", False), bool),
        }.get(t)
        if ok is not None:
            if not ok:
                raise Refusal(f"is corrupt: malformed {t} entry {_brief(node)}")
            return
        items = node.get("items")
        if t not in ("dict", "list", "tuple") or not isinstance(items, list):
            raise Refusal(f"is corrupt: unknown structure entry {_brief(node)}")
        if t == "dict":
            keys = set()
            for item in items:
                if not (isinstance(item, list) and len(item) == 2 and _is_key(item[0])):
                    raise Refusal(f"is corrupt: malformed dict item {_brief(item)}")
                key = int(item[0][1]) if item[0][0] == "i" else item[0][1]
                if key in keys:
                    raise Refusal(f"is corrupt: a dict in its structure holds the key {key!r} twice")
                keys.add(key)
                self.check(item[1], depth + 1)
        else:
            for item in items:
                self.check(item, depth + 1)


def _brief(node: Any) -> str:
    """A short repr of a structure entry for a message (an entry may hold millions of items)."""
    return reprlib.repr(node)


def _is_hex_float(v: str) -> bool:
    try:
        float.fromhex(v)
    except (ValueError, OverflowError):
        return False
    return True


def _is_key(k: Any) -> bool:
    if not (isinstance(k, list) and len(k) == 2 and isinstance(k[1], str)):
        return False
    return k[0] == "s" or (k[0] == "i" and re.fullmatch(r"-?[0-9]{1,4000}", k[1]) is not None)


def _build(node: dict, arrays: dict) -> Any:
    t = node["t"]
    if t == "none":
        return None
    if t == "bool":
        return node["v"]
    if t == "int":
        return int(node["v"])
    if t == "float":
        return float.fromhex(node["v"])
    if t == "str":
        return node["v"]
    if t == "array":
        return arrays[node["k"]]
    if t == "scalar":
        arr = arrays[node["k"]]
        if arr.ndim != 0:
            raise Refusal(f"is corrupt: the scalar {node['k']!r} has shape {arr.shape}")
        return arr[()]
    if t == "tensor":
        arr = arrays[node["k"]]
        out = Tensor._make(arr)
        if node.get("rg"):
            if arr.dtype.kind != "f":
                raise Refusal(f"is corrupt: tensor {node['k']!r} of dtype {arr.dtype} is marked as requiring grad")
            out.requires_grad_(True)
        return out
    if t == "dict":
        return {int(k) if kind == "i" else k: _build(v, arrays) for (kind, k), v in node["items"]}
    items = [_build(v, arrays) for v in node["items"]]
    return items if t == "list" else tuple(items)


def _record(text: np.ndarray, structure: _Structure) -> dict:
    """The parsed structure record: version 2 (bytes, with its SHA-256) or version 1 (a unicode array)."""
    if text.dtype.kind == "U":
        if text.ndim != 0:
            raise Refusal("is corrupt: its structure record is not one string")
        body = str(text[()]).encode("utf-8", "surrogatepass")
        version_wanted = 1
    else:
        if text.dtype != np.uint8 or text.ndim != 1:
            raise Refusal(f"is corrupt: its structure record has dtype {text.dtype} and shape {text.shape}")
        raw = memoryview(text)  # (no copies: a record may be large)
        n = len(_DIGEST) + 65
        head, body = bytes(raw[:n]), raw[n:]
        if not head.startswith(_DIGEST) or head[-1:] != b"\n":
            raise Refusal("is corrupt: its structure record does not start with its checksum")
        if hashlib.sha256(body).hexdigest().encode() != head[len(_DIGEST) : -1]:
            raise Refusal("is corrupt: its structure record does not match its SHA-256 checksum")
        try:
            body = str(body, "utf-8")
        except UnicodeDecodeError:
            raise Refusal("is corrupt: its structure record is not UTF-8 text") from None
        version_wanted = _VERSION
    try:
        record = json.loads(body, object_hook=structure.hook)
    except RecursionError:
        raise Refusal(f"is corrupt or crafted: its structure nests more than {MAX_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise Refusal(f"is corrupt: its structure record is not valid JSON ({e})") from None
    if not isinstance(record, dict) or record.get("format") != _FORMAT:
        raise Refusal("is corrupt: unrecognized structure record")
    version = record.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > _VERSION:
        raise Refusal(
            f"was written by a newer tinygraph (format version {version}; this one reads up to {_VERSION})",
            "Upgrade tinygraph to load it",
            kind="format",
        )
    if version != version_wanted or "root" not in record:
        raise Refusal(f"is corrupt: its structure record claims format version {version!r}")
    return record


def _load_tinygraph(arc: archive.Archive, budget: Budget) -> Any:
    structure = _Structure()
    arc.stored_only()
    text, _ = arc.read(_MANIFEST + ".npy", budget, text=True)
    record = _record(text, structure)
    del text
    structure.check(record["root"])
    refs = structure.refs
    if record["version"] >= 2:
        listed = record.get("members")
        if not isinstance(listed, list) or not all(
            isinstance(m, list) and len(m) == 4 and all(isinstance(s, str) for s in (m[0], m[1], m[3])) for m in listed
        ):
            raise Refusal("is corrupt: its member list is malformed")
        members = {m[0]: (m[1], tuple(m[2]) if isinstance(m[2], list) else None, m[3]) for m in listed}
        if len(members) != len(listed) or set(refs) != set(members):
            raise Refusal("is corrupt: its member list and its structure disagree")
    for key in refs:
        if key + ".npy" not in arc.infos:
            raise Refusal(f"is corrupt: its structure names a missing array {key!r}")
    extra = set(arc.names) - {k + ".npy" for k in refs} - {_MANIFEST + ".npy"}
    if extra:
        raise Refusal(f"is corrupt or altered: it holds members its structure does not list: {sorted(extra)[:5]}")
    budget.check(sum(arc.infos[k + ".npy"].file_size for k in refs), f"{len(refs)} arrays")
    arrays = {}
    for key in refs:
        arr, digest = arc.read(key + ".npy", budget)
        if record["version"] >= 2 and members[key] != (arr.dtype.str, arr.shape, digest):
            raise Refusal(f"is corrupt: array {key!r} does not match its SHA-256 checksum, dtype or shape")
        arrays[key] = arr
    return _build(record["root"], arrays)


def _load_plain(arc: archive.Archive, budget: Budget) -> dict:
    for name in arc.names:
        if not name.endswith(".npy"):
            raise Refusal(f"is not a plain .npz archive: member {name!r} is not an .npy array", kind="format")
    budget.check(sum(info.file_size for info in arc.infos.values()), f"{len(arc.names)} arrays")
    return {name[:-4]: arc.read(name, budget)[0] for name in arc.names}


_ADVICE = {
    "corrupt": "Nothing was loaded; restore the file from a backup or save it again",
    "pickle": (
        "tinygraph never unpickles (a file from a stranger could run code); if you trust its source, "
        "read it with numpy.load(..., allow_pickle=True) and save the arrays again with tg.save"
    ),
    "format": "tg.load reads files written by tg.save (and plain numpy .npz archives with plain_npz=True)",
    "plain": "If it is a plain numpy .npz archive you trust, load it with tg.load(path, plain_npz=True)",
}


def _error(path: str, r: Refusal) -> CheckpointError:
    if r.kind == "pickle":
        lead = "holds pickled Python objects; tinygraph never unpickles (a file from a stranger could run code)"
        detail = r.what.removeprefix("holds pickled Python objects")
        todo = (
            "If you trust its source, read it with numpy.load(..., allow_pickle=True) and save the arrays again "
            "with tg.save"
        )
        return CheckpointError(f"load: {path!r} {lead}{detail}. {todo}")
    return CheckpointError(f"load: {path!r} {r.what}. {r.todo or _ADVICE.get(r.kind, _ADVICE['corrupt'])}")


def load(path: str | os.PathLike, *, max_bytes: int | None = None, plain_npz: bool = False) -> Any:
    """Read what `save` wrote; arrays come back as ndarrays, Tensors as Tensors, numbers exactly.

    Every refusal is a `CheckpointError` (a ValueError) naming the file, what is wrong and what
    to do; nothing is ever unpickled. Refused: a truncated, damaged or altered file (every
    array and the structure are checked against SHA-256 checksums written by `save`), pickled
    objects, arrays of a dtype ``tg.tensor`` refuses (complex, strings, structured, datetime),
    a structure nested more than 100 levels, and files whose arrays would need more than
    ``max_bytes`` bytes (default: 16 times the file's size, and at least 256 MiB; an
    uncompressed file from `save` always fits). Sizes are checked before memory is spent, and
    each array is read once. A missing file raises FileNotFoundError.

    A ``.npz`` without tinygraph's structure record (``np.savez``, ``np.savez_compressed``) is
    read only with ``plain_npz=True``, as a dict of its arrays; it has no checksum beyond the
    zip's CRC-32 per member.

    >>> import os, tempfile, numpy as np
    >>> from tinygraph.serialization import save, load
    >>> path = os.path.join(tempfile.mkdtemp(), "state.npz")
    >>> save({"w": np.eye(2), "lr": 0.1, "step": 3, "nested": {"ok": True}}, path)
    >>> load(path)
    {'w': array([[1., 0.],
           [0., 1.]]), 'lr': 0.1, 'step': 3, 'nested': {'ok': True}}
    """
    path = os.fspath(path)
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0):
        raise TypeError(f"load: max_bytes must be a non-negative int or None, got {max_bytes!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    with open(path, "rb") as fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            budget = Budget(max(16 * size, 256 << 20) if max_bytes is None else max_bytes)
            head = fh.read(512)
            why = archive.sniff(head)
            if why is not None and head[:6] == b"\x93NUMPY":
                why = Refusal(
                    "is a single .npy array, not a checkpoint written by tg.save",
                    "Read it with numpy.load(path, allow_pickle=False)",
                    kind="format",
                )
                if archive.npy_pickles(fh, size):
                    why = archive.pickled("holds pickled Python objects (a .npy file whose dtype holds objects)")
            if why is not None:
                raise why
            arc = archive.Archive(fh, size)
            try:
                if _MANIFEST + ".npy" in arc.infos:
                    return _load_tinygraph(arc, budget)
                if plain_npz:
                    return _load_plain(arc, budget)
                for name in arc.names:  # (only to say why it is refused: pickles, if there are any)
                    found = arc.peek_pickle(name)
                    if found is not None:
                        raise found
                raise Refusal(
                    "has no tinygraph structure record (__tinygraph__.npy): it was not written by tg.save, "
                    "or its record is lost",
                    kind="plain",
                )
            finally:
                arc.close()
        except Refusal as r:
            raise _error(path, r) from None
        except (CheckpointError, MemoryError):
            raise
        except Exception as e:  # anything the checks did not foresee is still a refusal, never a crash
            raise _error(path, Refusal(f"is truncated or corrupt ({type(e).__name__}: {e})")) from None
