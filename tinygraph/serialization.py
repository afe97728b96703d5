"""Saving and loading state dicts as ``.npz`` files, never with pickle.

``save(obj, path)`` stores nested dicts, lists and tuples of Tensors, arrays,
numbers, strings and None: every array becomes one entry of a numpy ``.npz``
archive (named by its path in the structure, e.g. ``layers.0.weight``) and the
structure itself is a JSON text stored next to them. ``load(path)`` reads it
back with ``allow_pickle=False``: a file from a stranger cannot run code.

The file is written to a temporary file in the same folder and then renamed
over ``path``, so a crash in the middle of a save leaves the old file intact.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import zipfile
from typing import Any

import numpy as np

from tinygraph.tensor import Tensor

__all__ = ["load", "save"]

_MANIFEST = "__tinygraph__"
_FORMAT = "tinygraph-npz"
_VERSION = 1
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def _describe_where(where: str) -> str:
    return f"at {where!r}" if where else "at the top level"


def _encode(obj: Any, where: str, arrays: dict) -> Any:
    """A JSON-able description of ``obj``; arrays go into ``arrays`` under unique names."""
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
        if arr.dtype.kind not in "biufc" or arr.dtype.fields is not None:
            raise TypeError(
                f"save: the array {_describe_where(where)} has dtype {arr.dtype}; only numeric arrays can be "
                "saved without pickle"
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
            items.append([["s", key] if isinstance(key, str) else ["i", str(key)], _encode(value, sub, arrays)])
        return {"t": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {
            "t": kind,
            "items": [_encode(v, f"{where}.{i}" if where else str(i), arrays) for i, v in enumerate(obj)],
        }
    hint = " (save its state_dict() instead)" if hasattr(obj, "state_dict") else ""
    raise TypeError(
        f"save: cannot store a {type(obj).__name__} {_describe_where(where)}{hint}; supported: dict, list, tuple, "
        "Tensor, ndarray, int, float, bool, str, None"
    )


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (e.g. ``model.state_dict()``) to ``path`` as an ``.npz`` archive, atomically.

    ``obj`` may nest dicts (str or int keys), lists and tuples of Tensors,
    ndarrays, numbers, strings and None. The path is used exactly as given
    (no suffix is added). The data goes to a temporary file in the same folder
    first, then replaces ``path`` in one step. Under `tinygraph.distributed`
    (after ``dist.init()`` in a world of several processes) only rank 0
    writes; the other ranks return at once (``dist.barrier()`` before they
    read the file).

    >>> import os, tempfile, tinygraph as tg
    >>> from tinygraph import nn
    >>> from tinygraph.serialization import save, load
    >>> net = nn.Linear(3, 2)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
    >>> save({"model": net.state_dict(), "epoch": 7}, path)
    >>> ckpt = load(path)
    >>> ckpt["epoch"], bool((ckpt["model"]["weight"] == net.weight.data).all())
    (7, True)
    """
    dist = sys.modules.get("tinygraph.distributed")  # imported only by a distributed run
    if dist is not None and not dist.is_writer():
        return
    arrays: dict = {}
    manifest = {"format": _FORMAT, "version": _VERSION, "root": _encode(obj, "", arrays)}
    arrays[_MANIFEST] = np.array(json.dumps(manifest))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder {folder!r} for {path!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _member(npz: Any, name: str) -> np.ndarray:
    """One array of the archive; numpy hands back a member that is not .npy as raw bytes: refuse it."""
    value = npz[name]
    if not isinstance(value, np.ndarray):
        raise ValueError(f"member {name!r} is not an .npy array")
    return value


class _Reader:
    def __init__(self, npz: Any, path: str) -> None:
        self.npz = npz
        self.path = path
        self.files = set(npz.files)

    def array(self, key: Any) -> np.ndarray:
        if not isinstance(key, str) or key not in self.files:
            raise ValueError(f"load: {self.path!r} is corrupt: its structure names a missing array {key!r}")
        return _member(self.npz, key)

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict) or "t" not in node:
            raise ValueError(f"load: {self.path!r} is corrupt: malformed structure entry {str(node)[:80]!r}")
        t = node["t"]
        if t == "none":
            return None
        if t == "bool":
            return bool(node["v"])
        if t == "int":
            return int(node["v"])
        if t == "float":
            return float.fromhex(node["v"])
        if t == "str":
            return str(node["v"])
        if t == "array":
            return self.array(node["k"])
        if t == "scalar":
            return self.array(node["k"])[()]
        if t == "tensor":
            out = Tensor._make(self.array(node["k"]))
            if node.get("rg"):
                out.requires_grad_(True)
            return out
        if t == "dict":
            out = {}
            for (kind, key), value in node["items"]:
                out[int(key) if kind == "i" else str(key)] = self.decode(value)
            return out
        if t in ("list", "tuple"):
            items = [self.decode(v) for v in node["items"]]
            return items if t == "list" else tuple(items)
        raise ValueError(f"load: {self.path!r} is corrupt: unknown structure entry type {t!r}")


def load(path: str | os.PathLike) -> Any:
    """Read what `save` wrote, refusing pickled data; arrays come back as ndarrays, Tensors as Tensors.

    Python numbers come back as the same Python type (int, float, bool), exactly.
    A plain ``np.savez`` archive loads as a dict of its arrays. A truncated or
    corrupt file, or one holding pickled objects, raises ValueError.

    >>> import os, tempfile, numpy as np
    >>> from tinygraph.serialization import save, load
    >>> path = os.path.join(tempfile.mkdtemp(), "state.npz")
    >>> save({"w": np.eye(2), "lr": 0.1, "step": 3, "nested": {"ok": True}}, path)
    >>> load(path)
    {'w': array([[1., 0.],
           [0., 1.]]), 'lr': 0.1, 'step': 3, 'nested': {'ok': True}}
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e):
            raise ValueError(
                f"load: {path!r} holds pickled Python objects; tinygraph never unpickles "
                "(a file from a stranger could run code)"
            ) from None
        raise ValueError(f"load: {path!r} is not a tinygraph .npz file (truncated or corrupt?): {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"load: {path!r} is not a tinygraph .npz file (truncated or corrupt?): {e}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(f"load: {path!r} is a single .npy array, not an .npz archive written by tinygraph.save")
    with loaded as npz:
        try:
            if _MANIFEST not in npz.files:
                return {name: _member(npz, name) for name in npz.files}
            manifest = json.loads(str(_member(npz, _MANIFEST)[()]))
            if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
                raise ValueError("unrecognized structure record")
            if manifest.get("version", 0) > _VERSION:
                raise ValueError(
                    f"written by a newer tinygraph (format version {manifest['version']}, this one reads {_VERSION})"
                )
            return _Reader(npz, path).decode(manifest["root"])
        except ValueError as e:
            msg = str(e)
            if msg.startswith("load:"):
                raise
            if "pickle" in msg or "Object arrays" in msg:
                raise ValueError(
                    f"load: {path!r} holds pickled Python objects; tinygraph never unpickles "
                    "(a file from a stranger could run code)"
                ) from None
            raise ValueError(f"load: {path!r} is corrupt: {msg}") from None
        except (OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile, zipfile.LargeZipFile) as e:
            raise ValueError(f"load: {path!r} is truncated or corrupt: {type(e).__name__}: {e}") from None
