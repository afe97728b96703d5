"""The zip container under `tinygraph.save` / `tinygraph.load`: bounded reading and atomic writing.

Reading (`Archive`) checks everything a member declares before any memory is spent on it:
the zip's entries are listed once and must not repeat a name, overlap one another or run
past the central directory; each member is stored or deflated, never encrypted; its ``.npy``
header is at most 64 KiB and declares a numeric dtype and a shape whose size, plus the
header, is exactly the member's size; the sum of what is read stays within a byte budget.
Then each member is read once, in 1 MiB pieces, straight into the array it becomes, and
its SHA-256 is taken on the way. What fails a check raises `Refusal`, which says what was
wrong; `tinygraph.serialization` adds the file's name and what to do.

Writing (`write_atomic`) goes to a temporary file next to the target, locked while it is
written, then renamed over the target. A temporary file left by a save that was killed is
removed by the next save to the same path.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import secrets
import stat
import struct
import zipfile
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

try:
    import fcntl
except ImportError:  # (Windows: a file another process has open cannot be removed, which does the same)
    fcntl = None

MAX_HEADER = 1 << 16  # the largest .npy header read (numpy's own default limit is 10,000 bytes)
MAX_NDIM = 64
_CHUNK = 1 << 20
_LOCAL = struct.Struct("<4s5H3L2H")  # a zip local file header: 30 bytes, names and extra lengths last
_NUMERIC = "biuf"  # what tg.tensor accepts: bool, signed and unsigned integers, floats


class Refusal(Exception):
    """What is wrong with a file (``what``), and, when it is not the usual advice, what to do (``todo``)."""

    def __init__(self, what: str, todo: str | None = None, kind: str = "corrupt") -> None:
        super().__init__(what)
        self.what, self.todo, self.kind = what, todo, kind


def pickled(what: str) -> Refusal:
    return Refusal(what, kind="pickle")


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


class Budget:
    """How many bytes of members may still be read."""

    def __init__(self, limit: int) -> None:
        self.limit = self.left = int(limit)

    def check(self, n: int, what: str) -> None:
        if n > self.left:
            raise Refusal(
                f"needs {_size(n)} for {what}, more than the {_size(self.limit)} allowed (max_bytes)",
                "If you trust the file, pass a larger max_bytes= to tg.load",
                kind="budget",
            )

    def spend(self, n: int, what: str) -> None:
        self.check(n, what)
        self.left -= n


def sniff(head: bytes) -> Refusal | None:
    """Why a file that starts with `head` is not a zip archive, or None if it may be one."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return None
    if not head:
        return Refusal("is empty (0 bytes)", "Nothing was loaded; save it again or restore it from a backup")
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return pickled("holds pickled Python objects (it is a pickle file)")
    if head[:2] == b"\x1f\x8b":
        return Refusal(
            "is gzip-compressed data, not a checkpoint",
            "If it is a gzipped checkpoint, decompress it (gunzip) and load the result",
            kind="format",
        )
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        return Refusal("is a text file, not a checkpoint written by tg.save", kind="format")
    return Refusal("is not a zip archive (not written by tg.save, or damaged at its start)", kind="format")


def _parse_npy_header(prefix: bytes, header: bytes, name: str) -> tuple[tuple, bool, np.dtype]:
    try:
        fp = io.BytesIO(prefix[8:] + header)
        if prefix[6:8] == b"\x01\x00":
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp, max_header_size=MAX_HEADER)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp, max_header_size=MAX_HEADER)
    except Exception as e:  # numpy's header parser: ValueError, SyntaxError, TypeError, RecursionError, ...
        raise Refusal(f"has a malformed .npy header in member {name!r} ({type(e).__name__}: {e})") from None
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape) or len(shape) > MAX_NDIM:
        raise Refusal(f"declares an invalid shape {shape!r} in member {name!r}")
    return shape, bool(fortran), dtype


def check_dtype(dtype: np.dtype, shape: tuple, name: str, text: bool = False) -> None:
    """Refuse what tg.tensor would refuse (and a text manifest, unless `text`)."""
    if dtype.hasobject:
        raise pickled(f"holds pickled Python objects: member {name!r} has dtype {dtype} (shape {shape})")
    if text and dtype.kind == "U" and dtype.fields is None:
        return
    if dtype.kind not in _NUMERIC or dtype.fields is not None or dtype.subdtype is not None:
        raise Refusal(
            f"holds member {name!r} of dtype {dtype} (shape {shape}), which is not a numeric dtype",
            "tinygraph loads bool, integer and floating-point arrays only, as tg.tensor accepts; "
            "complex, string, structured, datetime and void arrays are refused",
            kind="dtype",
        )


def npy_pickles(fh: BinaryIO, size: int) -> bool:
    """Whether the .npy file open as `fh` declares a dtype that holds Python objects (reads its header only)."""
    fh.seek(0)
    prefix = fh.read(12)
    if prefix[6:8] == b"\x01\x00":
        prefix, hlen = prefix[:10], struct.unpack("<H", prefix[8:10])[0]
    elif prefix[6:8] == b"\x02\x00" and len(prefix) == 12:
        hlen = struct.unpack("<I", prefix[8:12])[0]
    else:
        return False
    if hlen > MAX_HEADER or len(prefix) + hlen > size:
        return False
    fh.seek(len(prefix))
    try:
        return _parse_npy_header(prefix, fh.read(hlen), "")[2].hasobject
    except Refusal:
        return False


class Archive:
    """A zip archive open for reading, its entries checked (`Refusal` if they are not sound).

    `names` lists the members; `read(name, budget)` returns one as an array with its SHA-256.
    """

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.size = fh, size
        try:
            self.zip = zipfile.ZipFile(fh)
        except Exception as e:  # BadZipFile, NotImplementedError (zip version), OSError, EOFError, ...
            raise Refusal(f"is truncated or corrupt: not a readable zip archive ({type(e).__name__}: {e})") from None
        self.infos: dict[str, zipfile.ZipInfo] = {}
        extents = []
        for info in self.zip.infolist():
            name = info.filename
            if name in self.infos:
                raise Refusal(f"is corrupt: it lists member {name!r} twice")
            self.infos[name] = info
            if info.flag_bits & 0x1:
                raise Refusal(
                    f"holds an encrypted member {name!r}; tinygraph reads no encrypted archives", kind="format"
                )
            if info.flag_bits & 0x60:
                raise Refusal(
                    f"is corrupt or unsupported: member {name!r} uses zip features tinygraph does not read "
                    f"(patched data or strong encryption: flags {info.flag_bits:#06x})"
                )
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise Refusal(
                    f"is corrupt or unsupported: member {name!r} uses compression method {info.compress_type}; "
                    "tinygraph reads stored or deflated members only"
                )
            if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
                raise Refusal(f"is corrupt: stored member {name!r} declares two different sizes")
            extents.append((self._data_start(info), info.compress_size, name))
        extents.sort()
        end_of_data = getattr(self.zip, "start_dir", size)
        for (start, length, name), nxt in zip(extents, [*extents[1:], None]):
            limit = end_of_data if nxt is None else nxt[0]
            if start + length > limit:
                raise Refusal(
                    f"is corrupt or crafted: member {name!r} ({_size(length)} from offset {start}) overlaps "
                    "the next member or runs past the end of the data"
                )
        self.names = list(self.infos)

    def _data_start(self, info: zipfile.ZipInfo) -> int:
        """Where the member's data starts (after its local header), checked to lie in the file."""
        off = info.header_offset
        if off < 0 or off + _LOCAL.size > self.size:
            raise Refusal(f"is truncated or corrupt: member {info.filename!r} starts outside the file")
        self.fh.seek(off)
        local = _LOCAL.unpack(self.fh.read(_LOCAL.size))
        if local[0] != b"PK\x03\x04":
            raise Refusal(f"is corrupt: member {info.filename!r} has no local header where the directory says")
        return off + _LOCAL.size + local[-2] + local[-1]

    def close(self) -> None:
        self.zip.close()

    def stored_only(self) -> None:
        """Refuse compressed members (tg.save writes none, so a compressed member means an altered file)."""
        for name, info in self.infos.items():
            if info.compress_type != zipfile.ZIP_STORED:
                raise Refusal(f"is corrupt or altered: member {name!r} is compressed, and tg.save compresses nothing")

    def peek_pickle(self, name: str) -> Refusal | None:
        """Whether member `name` holds pickled objects (an object dtype, or a bare pickle), reading its start only."""
        info = self.infos[name]
        try:
            with self.zip.open(info) as stream:
                prefix = stream.read(min(info.file_size, 10))
                if prefix[:1] == b"\x80":
                    return pickled(f"holds pickled Python objects: member {name!r} is a pickle")
                if prefix[:6] != b"\x93NUMPY" or len(prefix) < 10:
                    return None
                hlen = struct.unpack("<H", prefix[8:10])[0] if prefix[6] == 1 else None
                if hlen is None or hlen > MAX_HEADER:
                    return None
                _, _, dtype = _parse_npy_header(prefix, stream.read(hlen), name)
        except Exception:  # whatever else is wrong is reported when the member is read
            return None
        return pickled(f"holds pickled Python objects: member {name!r} has dtype {dtype}") if dtype.hasobject else None

    def read(self, name: str, budget: Budget, text: bool = False) -> tuple[np.ndarray, str]:
        """Member `name` as a new array, and the SHA-256 (hex) of its bytes; each check before each allocation."""
        info = self.infos[name]
        budget.check(info.file_size, f"member {name!r}")
        try:
            with self.zip.open(info) as stream:
                return self._read(stream, info, name, budget, text)
        except Refusal:
            raise
        except Exception as e:  # BadZipFile (CRC), EOFError, zlib.error, OSError, ...
            raise Refusal(
                f"is truncated or corrupt: member {name!r} cannot be read ({type(e).__name__}: {e})"
            ) from None

    def _read(self, stream: Any, info: zipfile.ZipInfo, name: str, budget: Budget, text: bool) -> tuple:
        digest = hashlib.sha256()
        prefix = stream.read(min(info.file_size, 12))
        if prefix[:1] == b"\x80":
            raise pickled(f"holds pickled Python objects: member {name!r} is a pickle, not an .npy array")
        if prefix[:6] != b"\x93NUMPY" or len(prefix) < 10 or prefix[6:8] not in (b"\x01\x00", b"\x02\x00"):
            raise Refusal(f"is corrupt: member {name!r} is not an .npy array (version 1 or 2)")
        if prefix[6] == 1:
            prefix, rest = prefix[:10], prefix[10:]
            hlen = struct.unpack("<H", prefix[8:10])[0]
        else:
            rest = b""
            if len(prefix) < 12:
                raise Refusal(f"is truncated or corrupt: member {name!r} ends inside its .npy header")
            hlen = struct.unpack("<I", prefix[8:12])[0]
        if hlen > MAX_HEADER or len(prefix) + hlen > info.file_size:
            raise Refusal(
                f"is corrupt or crafted: member {name!r} declares an .npy header of {hlen:,} bytes "
                f"(the member holds {info.file_size:,}; at most {MAX_HEADER:,} are read)"
            )
        header = rest + stream.read(hlen - len(rest))
        shape, fortran, dtype = _parse_npy_header(prefix, header, name)
        check_dtype(dtype, shape, name, text)
        nbytes = math.prod(shape) * dtype.itemsize
        held = info.file_size - len(prefix) - hlen
        if nbytes != held:
            raise Refusal(
                f"is corrupt or crafted: member {name!r} declares shape {shape} of {dtype} ({_size(nbytes)}) "
                f"but holds {_size(held)} of data"
            )
        budget.spend(nbytes, f"member {name!r} (shape {shape}, {dtype})")
        digest.update(prefix)
        digest.update(header)
        out = np.empty(shape, dtype, order="F" if fortran else "C")
        flat = memoryview(out.reshape(-1, order="A").view(np.uint8)) if nbytes else memoryview(b"")
        pos = 0
        while pos < nbytes:
            piece = stream.read(min(_CHUNK, nbytes - pos))
            if not piece:
                raise Refusal(f"is truncated or corrupt: member {name!r} ends early")
            flat[pos : pos + len(piece)] = piece
            digest.update(piece)
            pos += len(piece)
        if stream.read(1):
            raise Refusal(f"is corrupt: member {name!r} holds more than it declares")
        return out, digest.hexdigest()


# ----- writing --------------------------------------------------------------------------------------


def _temp_prefix(base: str) -> str:
    """The start of the temporary files' names for target `base`: short whatever `base`'s length."""
    tag = hashlib.sha256(os.fsencode(base)).hexdigest()[:12]
    return f".{base[:40]}.{tag}."


def sweep(folder: str, base: str) -> list[str]:
    """Remove the temporary files that killed saves to `base` in `folder` left; returns their names.

    A save holds a lock on its temporary file from just after creating it until it is renamed,
    so a file whose lock can be taken belongs to no running save. (`write_atomic` checks, once it
    holds the lock, that its file was not swept in the moment before.)
    """
    prefix, removed = _temp_prefix(base), []
    try:
        entries = [e.name for e in os.scandir(folder) if e.name.startswith(prefix) and e.name.endswith(".tmp")]
    except OSError:
        return removed
    for name in entries:
        full = os.path.join(folder, name)
        if fcntl is None:  # a file another process has open cannot be removed there
            try:
                os.unlink(full)
                removed.append(name)
            except OSError:
                pass
            continue
        try:
            fd = os.open(full, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(full)
            removed.append(name)
        except OSError:
            pass  # a save is writing it (or it is gone already)
        finally:
            os.close(fd)
    return removed


def _create_locked(folder: str, base: str) -> tuple[int, str]:
    """A new temporary file next to the target, open and locked: (descriptor, name)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, _temp_prefix(base) + secrets.token_hex(4) + ".tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        if fcntl is None:
            return fd, tmp
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return fd, tmp
        except FileNotFoundError:
            pass
        os.close(fd)  # another save's sweep took it before the lock: make another
    raise FileExistsError(f"save: could not create a temporary file in {folder!r}")


def write_atomic(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(file)`` on a temporary file next to `path`, then rename it over `path` in one step.

    A new file's mode follows the umask (as ``open`` gives); an existing file's mode is kept.
    The temporary file is removed if anything fails, and by the next save if this one is killed.
    """
    path = os.path.realpath(path)  # a symbolic link is written through, to its target (as open() does), not replaced
    folder = os.path.dirname(path)
    base = os.path.basename(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder {folder!r} for {path!r} does not exist")
    sweep(folder, base)
    fd, tmp = _create_locked(folder, base)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            try:
                mode = stat.S_IMODE(os.stat(path).st_mode)
            except OSError:
                mode = None
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, path)  # (still locked: no sweep can take it for a leftover)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
        try:
            dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:
            pass
