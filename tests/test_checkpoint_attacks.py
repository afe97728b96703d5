"""Checkpoints under attack: crafted, corrupted and truncated files, and saves killed midway.

Every refusal must be a `tg.CheckpointError` (a ValueError) that names the file and what was wrong,
spent no memory on what the file only declared, and every file that loads must load exactly as
saved. The crafted files are built byte by byte here (`_zip`, `_npy`), with valid checksums where
the attack is on the bounds rather than on the checksum.
"""

import gc
import hashlib
import io
import json
import os
import stat
import struct
import subprocess
import sys
import time
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import archive
from tinygraph.serialization import CheckpointError, load, save

MiB = 1 << 20


# ----- building files byte by byte --------------------------------------------------------------------


def _npy(arr=None, *, descr=None, shape=None, fortran=False, data=None, version=1):
    """The bytes of an .npy file: of `arr`, or with a header saying `descr` and `shape` over `data`."""
    if arr is not None:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arr, allow_pickle=arr.dtype.hasobject)
        return buf.getvalue()
    header = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode("latin1")
    lenfmt = "<H" if version == 1 else "<I"
    pre = 6 + 2 + struct.calcsize(lenfmt)
    header += b" " * ((-(pre + len(header) + 1)) % 64) + b"\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack(lenfmt, len(header)) + header + (data or b"")


def _zip(members):
    """A zip archive of ``(name, data, options)`` members; options: method (0 stored, 8 deflated, or any
    number), flags, usize (the declared uncompressed size), payload (the bytes really stored)."""
    out, central = bytearray(), bytearray()
    for name, data, *opts in members:
        o = opts[0] if opts else {}
        method, flags = o.get("method", 0), o.get("flags", 0)
        if "payload" in o:
            payload = o["payload"]
        elif method == 8:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload = c.compress(data) + c.flush()
        else:
            payload = data
        crc, usize = zlib.crc32(data), o.get("usize", len(data))
        nb, offset = name.encode(), len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, len(payload), usize, len(nb), 0)
        out += nb + payload
        central += struct.pack(
            "<4s6H3L5HLL",
            b"PK\x01\x02",
            20,
            20,
            flags,
            method,
            0,
            0x21,
            crc,
            len(payload),
            usize,
            len(nb),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += nb
    n = len(members)
    return bytes(out + central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(central), len(out), 0))


def _record(root, members, version=2):
    """The structure-record member: version 2 with its SHA-256, or version 1 (a unicode string)."""
    rec = {"format": "tinygraph-npz", "version": version, "root": root}
    if version == 1:
        return _npy(np.array(json.dumps(rec)))
    rec["members"] = members
    body = json.dumps(rec).encode()
    return _npy(np.frombuffer(b"sha256:" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body, np.uint8))


def _member_entry(name, npy_bytes, dtype, shape):
    return [name, np.dtype(dtype).str, list(shape), hashlib.sha256(npy_bytes).hexdigest()]


def _refused(path, match, **kw):
    with pytest.raises(CheckpointError, match=match) as info:
        load(path, **kw)
    msg = str(info.value)
    assert msg.startswith(f"load: {str(path)!r} ")
    assert isinstance(info.value, ValueError)
    return msg


def _peak(fn):
    """The peak of traced allocations (numpy's included) while `fn` runs, in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def _write(path, data):
    path.write_bytes(data)
    return path


# ----- memory: amplification, bombs, huge declarations ------------------------------------------------


def test_repeated_references_to_one_member_are_refused_before_any_is_read(tmp_path):
    w = _npy(np.zeros(MiB, np.float64))  # 8 MiB
    root = {"t": "list", "items": [{"t": "array", "k": "w"} for _ in range(40)]}  # once it made 40 copies: 320 MiB
    for version in (2, 1):
        record = _record(root, [_member_entry("w", w, np.float64, (MiB,))], version)
        path = _write(tmp_path / f"amp{version}.npz", _zip([("w.npy", w), ("__tinygraph__.npy", record)]))

        def attempt(path=path):
            _refused(path, r"refers to array 'w' more than once")

        assert _peak(attempt) < MiB  # not even the one copy: refused while the record is parsed


def _record_text(root_text, members):
    text = json.dumps({"format": "tinygraph-npz", "version": 2, "root": "ROOT", "members": members})
    body = text.replace('"ROOT"', root_text).encode()
    return _npy(np.frombuffer(b"sha256:" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body, np.uint8))


def test_a_million_references_are_refused_at_once(tmp_path):
    w = _npy(np.zeros(4))
    members = [_member_entry("w", w, np.float64, (4,))]
    refs = '{"t":"list","items":[' + ",".join(['{"t":"array","k":"w"}'] * 10**6) + "]}"
    # deflated, as the attack had it (once: 358 KiB, 58 s and 696 MiB): a compressed record is refused unread
    rec = _record_text(refs, members)
    path = _write(tmp_path / "million.npz", _zip([("w.npy", w), ("__tinygraph__.npy", rec, {"method": 8})]))
    assert os.path.getsize(path) < 400_000
    assert _peak(lambda: _refused(path, r"'__tinygraph__\.npy' is compressed")) < MiB
    # stored: 10**5 references, refused at the second while the record is parsed
    refs = '{"t":"list","items":[' + ",".join(['{"t":"array","k":"w"}'] * 10**5) + "]}"
    path = _write(tmp_path / "stored.npz", _zip([("w.npy", w), ("__tinygraph__.npy", _record_text(refs, members))]))
    size = os.path.getsize(path)
    peak = _peak(lambda: _refused(path, r"more than once"))
    assert peak < 2.2 * size + MiB  # the record and its text, read once; nothing built from them


def _bomb(n_bytes):
    """A raw deflate stream of n_bytes zeros (about a thousandth of its size)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk, parts = bytes(MiB), []
    for _ in range(n_bytes // MiB):
        parts.append(c.compress(chunk))
    parts.append(c.flush())
    return b"".join(parts)


def test_deflate_bombs_are_refused_before_they_are_inflated(tmp_path):
    payload = _bomb(16 * MiB)  # 16 KiB inflating to 16 MiB (zeros)
    header = _npy(descr="<f8", shape=(2 * MiB,))  # the .npy header the zeros would follow
    honest = header + bytes(16 * MiB)
    # declared honestly as 1.5 GB: refused by the budget, nothing inflated
    big = _zip([("w.npy", honest[:100], {"method": 8, "usize": 1_500_000_000, "payload": payload})])
    path = _write(tmp_path / "bomb.npz", big)
    assert os.path.getsize(path) < 100_000
    peak = _peak(
        lambda: _refused(path, r"needs 1\.4 GiB .* more than the 256\.0 MiB .* allowed \(max_bytes\)", plain_npz=True)
    )
    assert peak < 2 * MiB
    # declared honestly at 16 MiB, under an explicit ceiling of 4 MiB
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    real = c.compress(honest) + c.flush()
    path = _write(tmp_path / "bomb2.npz", _zip([("w.npy", honest, {"method": 8, "payload": real})]))
    assert _peak(lambda: _refused(path, r"more than the 4\.0 MiB", plain_npz=True, max_bytes=4 * MiB)) < 2 * MiB
    back = load(path, plain_npz=True, max_bytes=20 * MiB)  # and loads when allowed: it is a real array
    assert back["w"].shape == (2 * MiB,) and not back["w"].any()
    # declared small but inflating large: only what is declared is inflated, then the CRC fails
    liar = _zip([("w.npy", honest[: 128 + 80], {"method": 8, "payload": real})])
    path = _write(tmp_path / "liar.npz", liar)
    assert _peak(lambda: _refused(path, r"corrupt", plain_npz=True)) < 4 * MiB
    # and in a file of tinygraph's own, a compressed member is refused outright
    rec = _record({"t": "array", "k": "w"}, [_member_entry("w", honest, np.float64, (2 * MiB,))])
    path = _write(
        tmp_path / "tgbomb.npz", _zip([("w.npy", honest, {"method": 8, "payload": real}), ("__tinygraph__.npy", rec)])
    )
    assert _peak(lambda: _refused(path, r"member 'w\.npy' is compressed")) < 2 * MiB


def test_a_huge_declared_shape_is_refused_without_allocating(tmp_path):
    for shape, descr in (((2**40,), "<f8"), ((10**12,), "|V0"), ((2**31, 2**31), "<i4")):
        npy = _npy(descr=descr, shape=shape, data=bytes(80))
        path = _write(tmp_path / "huge.npz", _zip([("w.npy", npy)]))
        peak = _peak(lambda path=path: _refused(path, r"w\.npy", plain_npz=True))  # no MemoryError
        assert peak < MiB
    msg = _refused(
        _write(tmp_path / "h.npz", _zip([("w.npy", _npy(descr="<f8", shape=(2**40,), data=bytes(80)))])),
        r"declares shape \(1099511627776,\) of float64 \(8192\.0 GiB .*\) but holds 80 bytes",
        plain_npz=True,
    )
    assert "pickle" not in msg


def test_a_real_large_single_npy_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "big.npy"
    np.save(path, np.zeros(4 * MiB))  # 32 MiB
    assert _peak(lambda: _refused(path, r"is a single \.npy array, not a checkpoint.*numpy\.load")) < MiB


def test_overlapping_members_are_refused(tmp_path):
    # a "quoted" zip bomb: member a's data holds member b whole, so b's bytes would be read twice
    inner = _npy(np.zeros(1000))
    nb = b"b.npy"
    b_local = struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0x21, zlib.crc32(inner), len(inner), len(inner), len(nb), 0
    )
    a_data = _npy(descr="|u1", shape=(len(b_local) + len(nb) + len(inner),)) + b_local + nb + inner
    a = _zip([("a.npy", a_data)])
    b_offset = 30 + len(b"a.npy") + (len(a_data) - len(b_local) - len(nb) - len(inner))
    # rebuild the archive with a second central entry pointing inside a's data
    out = a[: a.index(b"PK\x01\x02")]
    central = a[a.index(b"PK\x01\x02") : a.index(b"PK\x05\x06")]
    c2 = bytearray(central[:46])
    c2[28:30] = struct.pack("<H", len(nb))
    c2[16:28] = struct.pack("<3L", zlib.crc32(inner), len(inner), len(inner))
    c2[42:46] = struct.pack("<L", b_offset)
    central2 = central + bytes(c2) + nb
    data = out + central2 + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2, len(central2), len(out), 0)
    path = _write(tmp_path / "overlap.npz", data)
    _refused(path, r"overlaps", plain_npz=True)


def test_deep_nesting_is_refused_without_recursion_errors(tmp_path):
    for depth in (150, 100_000):
        root = {"t": "none"}
        for _ in range(depth):
            root = {"t": "list", "items": [root]}
        text = json.dumps({"format": "tinygraph-npz", "version": 2, "root": "X", "members": []})
        body = text.replace('"X"', '{"t":"list","items":[' * depth + '{"t":"none"}' + "]}" * depth).encode()
        rec = _npy(np.frombuffer(b"sha256:" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body, np.uint8))
        path = _write(tmp_path / f"deep{depth}.npz", _zip([("__tinygraph__.npy", rec)]))
        _refused(path, r"nests more than 100 levels deep")
    deep = []
    for _ in range(120):
        deep = [deep]
    with pytest.raises(ValueError, match=r"save: the structure nests more than 100 levels"):
        save(deep, tmp_path / "d.npz")
    selfish = []
    selfish.append(selfish)
    with pytest.raises(ValueError, match=r"does a container hold itself"):
        save(selfish, tmp_path / "d.npz")
    fine = [[[[{"a": (1, [2.0])}]]]]
    save(fine, tmp_path / "ok.npz")
    assert load(tmp_path / "ok.npz") == fine


def test_bad_compression_fields_are_checkpoint_errors(tmp_path):
    w = _npy(np.ones(3))
    for opts, match in (
        ({"method": 99}, r"compression method 99"),
        ({"method": 12}, r"compression method 12"),  # bzip2, which zipfile would try
        ({"flags": 0x1}, r"encrypted member 'w\.npy'"),  # once: RuntimeError "password required"
        ({"flags": 0x20}, r"zip features tinygraph does not read .*flags 0x0020"),  # once: NotImplementedError
        ({"flags": 0x40}, r"strong encryption: flags 0x0040"),
    ):
        path = _write(tmp_path / "bad.npz", _zip([("w.npy", w, opts)]))
        msg = _refused(path, match, plain_npz=True)
        assert "pickle" not in msg


NON_NUMERIC = [
    np.array(["a" * 88]),
    np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")]),
    np.array(["2024-01-01"], dtype="datetime64[D]"),
    np.array([1 + 2j]),
    np.zeros(2, dtype="timedelta64[s]"),
    np.zeros(2, dtype="S3"),
]


@pytest.mark.parametrize("arr", NON_NUMERIC, ids=lambda a: str(a.dtype))
def test_non_numeric_arrays_never_come_back(tmp_path, arr):
    npy = _npy(arr)
    plain = _write(tmp_path / "plain.npz", _zip([("x.npy", npy)]))
    msg = _refused(
        plain, r"member 'x\.npy' of dtype .* which is not a numeric dtype.*as tg\.tensor accepts", plain_npz=True
    )
    assert "pickle" not in msg
    for kind in ("array", "tensor"):
        rec = _record({"t": kind, "k": "x"}, [_member_entry("x", npy, arr.dtype, arr.shape)])
        path = _write(tmp_path / f"tg_{kind}.npz", _zip([("x.npy", npy), ("__tinygraph__.npy", rec)]))
        _refused(path, r"not a numeric dtype")
    with pytest.raises(TypeError, match=r"save: the array at 'x' has dtype .*only numeric arrays"):
        save({"x": arr}, tmp_path / "s.npz")
    assert not (tmp_path / "s.npz").exists()


def test_the_void_array_of_a_trillion_elements_is_refused(tmp_path):
    npy = _npy(descr="|V0", shape=(10**12,))
    path = _write(tmp_path / "v0.npz", _zip([("x.npy", npy)]))
    assert _peak(lambda: _refused(path, r"dtype \|V0 \(shape \(1000000000000,\)\)", plain_npz=True)) < MiB


def test_each_kind_of_wrong_file_gets_its_own_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = {
        "random.npz": (np.random.default_rng(0).bytes(4096), r"is not a zip archive"),
        "text.npz": (b"hello, this is not a checkpoint\n" * 20, r"is a text file, not a checkpoint"),
        "gz.npz": (__import__("gzip").compress(b"x" * 1000), r"is gzip-compressed data.*gunzip"),
        "empty.npz": (b"", r"is empty \(0 bytes\)"),
        "pk.npz": (b"PK\x03\x04" + bytes(100), r"is truncated or corrupt"),
        "bighead.npz": (
            _zip([("w.npy", b"\x93NUMPY\x02\x00" + struct.pack("<I", 10**6) + b"{" * 1000)]),
            r"declares an \.npy header of 1,000,000 bytes",
        ),
    }
    for name, (data, match) in cases.items():
        msg = _refused(_write(tmp_path / name, data), match, plain_npz=True)
        assert "pickle" not in msg, name  # once, all of these were "holds pickled Python objects"
    pickles = {
        "p.pkl": __import__("pickle").dumps({"w": [1, 2]}),
        "obj.npz": _zip([("x.npy", _npy(np.array([{"a": 1}], dtype=object)))]),
        "objfield.npz": _zip([("x.npy", _npy(np.zeros(1, dtype=[("o", "O")])))]),
        "obj.npy": _npy(np.array([None], dtype=object)),
        "objfield.npy": _npy(np.zeros(1, dtype=[("a", "<f8"), ("o", "O")])),
    }
    for name, data in pickles.items():
        _refused(_write(tmp_path / name, data), r"holds pickled Python objects; tinygraph never unpickles")
        _refused(tmp_path / name, r"pickled", plain_npz=True)


def test_duplicate_missing_and_unlisted_members_are_refused(tmp_path):
    w = _npy(np.ones(3))
    rec = _record({"t": "array", "k": "w"}, [_member_entry("w", w, np.float64, (3,))])
    _refused(
        _write(tmp_path / "dup.npz", _zip([("w.npy", w), ("w.npy", w), ("__tinygraph__.npy", rec)])),
        r"lists member 'w\.npy' twice",
    )
    _refused(_write(tmp_path / "miss.npz", _zip([("__tinygraph__.npy", rec)])), r"names a missing array 'w'")
    _refused(
        _write(tmp_path / "extra.npz", _zip([("w.npy", w), ("v.npy", w), ("__tinygraph__.npy", rec)])),
        r"holds members its structure does not list: \['v\.npy'\]",
    )
    other = _npy(np.zeros(3))  # the right name, dtype and shape, other numbers: the SHA-256 differs
    _refused(
        _write(tmp_path / "swap.npz", _zip([("w.npy", other), ("__tinygraph__.npy", rec)])),
        r"does not match its SHA-256",
    )
    tampered = rec.replace(b'"k": "w"', b'"k": "v"')
    _refused(
        _write(tmp_path / "tamp.npz", _zip([("v.npy", w), ("__tinygraph__.npy", tampered)])),
        r"does not match its SHA-256 checksum",
    )


def test_a_plain_npz_is_read_only_when_asked(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.arange(3), b=np.eye(2, dtype=np.float32))
    msg = _refused(path, r"has no tinygraph structure record .* tg\.load\(path, plain_npz=True\)")
    assert "pickle" not in msg
    back = load(path, plain_npz=True)
    assert back["b"].dtype == np.float32 and np.array_equal(back["a"], np.arange(3))


def test_max_bytes_is_a_hard_ceiling_on_a_real_checkpoint(tmp_path):
    path = tmp_path / "c.npz"
    save({"w": np.zeros(MiB // 8), "v": np.ones(10)}, path)  # 1 MiB of arrays
    _refused(
        path,
        r"needs 1\.0 MiB .* more than the 512\.0 KiB .* allowed \(max_bytes\).*larger max_bytes=",
        max_bytes=512 << 10,
    )
    assert load(path, max_bytes=2 * MiB)["v"].sum() == 10
    with pytest.raises(TypeError, match="max_bytes"):
        load(path, max_bytes=-1)


def test_files_in_the_first_format_still_load(tmp_path):
    # what tg.save wrote before format 2: np.savez with the record as a unicode string, no checksums
    root = {
        "t": "dict",
        "items": [
            [["s", "w"], {"t": "tensor", "k": "w", "rg": True}],
            [["s", "epoch"], {"t": "int", "v": "7"}],
            [["i", "3"], {"t": "list", "items": [{"t": "float", "v": float.hex(0.1)}, {"t": "scalar", "k": "s"}]}],
        ],
    }
    rec = {"format": "tinygraph-npz", "version": 1, "root": root}
    path = tmp_path / "v1.npz"
    np.savez(path, w=np.arange(3.0), s=np.float32(2.5), __tinygraph__=np.array(json.dumps(rec)))
    back = load(path)
    assert back["epoch"] == 7 and back[3][0] == 0.1 and type(back[3][1]) is np.float32
    assert isinstance(back["w"], tg.Tensor) and back["w"].requires_grad and back["w"].tolist() == [0.0, 1.0, 2.0]
    save(back, path)  # saving again writes format 2
    with np.load(path) as z:
        assert bytes(z["__tinygraph__"][:7]) == b"sha256:"


def test_a_corrupt_file_leaks_no_open_file(tmp_path):
    path = tmp_path / "c.npz"
    save({"w": np.ones(3)}, path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(3):
            with pytest.raises(CheckpointError):
                load(path)
        _write(tmp_path / "j.npz", b"junk")
        with pytest.raises(CheckpointError):
            load(tmp_path / "j.npz")
        _write(tmp_path / "half.npz", bytes(raw[: len(raw) // 2]))  # (this one leaked, through np.load)
        with pytest.raises(CheckpointError, match="truncated or corrupt"):
            load(tmp_path / "half.npz")
        gc.collect()
    assert not [w for w in seen if issubclass(w.category, ResourceWarning)]


# ----- every truncation, and single-bit flips --------------------------------------------------------


def _same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, tg.Tensor):
        return a.requires_grad == b.requires_grad and _same(a.data, b.data)
    if isinstance(a, (np.ndarray, np.generic)):
        return a.dtype == b.dtype and np.shape(a) == np.shape(b) and np.asarray(a).tobytes() == np.asarray(b).tobytes()
    if isinstance(a, float):
        return float.hex(a) == float.hex(b)
    return a == b


def _small():
    return {
        "model": {"w": np.arange(3.0), "b": np.zeros(1, np.float32)},
        "epoch": 7,
        "t": tg.tensor([1.0], requires_grad=True),
    }


def _sweep(path, raw, bits):
    """Load `path` with each of `bits` flipped in turn: each must be refused or load as the original."""
    original = load(path)
    kinds = {"refused": 0, "same": 0}
    fd = os.open(path, os.O_RDWR)
    try:
        for i in bits:
            j = i // 8
            os.pwrite(fd, bytes([raw[j] ^ (1 << (i % 8))]), j)
            try:
                back = load(path)
            except CheckpointError:
                kinds["refused"] += 1
            else:
                assert _same(back, original), f"bit {i} (byte {j}) changed what loads"
                kinds["same"] += 1
            os.pwrite(fd, raw[j : j + 1], j)
    finally:
        os.close(fd)
    return kinds


def test_every_truncation_is_refused(tmp_path):
    path = tmp_path / "t.npz"
    save(_small(), path)
    raw = path.read_bytes()
    fd = os.open(path, os.O_RDWR)
    try:
        for n in range(len(raw) - 1, -1, -1):
            os.ftruncate(fd, n)
            with pytest.raises(CheckpointError, match=r"load: .*t\.npz"):
                load(path)
    finally:
        os.close(fd)


def test_single_bit_flips_are_refused_or_load_exactly_the_original(tmp_path, deep):
    path = tmp_path / "f.npz"
    save(_small() if deep else {"w": np.arange(3.0), "epoch": 7}, path)
    raw = path.read_bytes()
    # every third bit (three of each byte's eight, rotating); --deep flips all of them, of a bigger file
    bits = range(len(raw) * 8) if deep else range(0, len(raw) * 8, 3)
    kinds = _sweep(path, raw, bits)
    assert kinds["refused"] > 0.6 * len(bits) and kinds["same"] > 0  # (the zip's dates and attributes are free)


def test_single_bit_flips_of_a_training_checkpoint_deep(tmp_path, deep):
    if not deep:
        pytest.skip("every bit of a full training checkpoint: pytest --deep")
    from tinygraph import nn, optim

    tg.manual_seed(0)
    net = nn.MLP([3, 4, 2])
    opt = optim.Adam(net.parameters(), lr=1e-3)
    net(tg.tensor(np.ones((4, 3)))).sum().backward()
    opt.step()
    path = tmp_path / "full.npz"
    save({"model": net.state_dict(), "opt": opt.state_dict(), "epoch": 3, "history": [0.5, 0.25]}, path)
    raw = path.read_bytes()
    kinds = _sweep(path, raw, range(len(raw) * 8))  # (some 59,000: minutes)
    assert kinds["refused"] > 0.8 * len(raw) * 8


# ----- the save side ---------------------------------------------------------------------------------

_SAVER = """
import sys, numpy as np
from tinygraph.serialization import save
path, n = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
for i in range(1000):
    save({"epoch": n * 1000 + i, "big": np.full((1000, 1000), float(i))}, path)
"""


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_saves_killed_again_and_again_leave_a_loadable_file_and_no_litter(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"epoch": -1, "big": np.zeros(1)}, path)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(tg.__file__)))
    left = []
    for n in range(4):
        before = set(_temps(tmp_path))
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path), str(n)], stdout=subprocess.PIPE, env=env)
        assert proc.stdout.readline().strip() == b"ready"
        deadline = time.time() + 20
        while time.time() < deadline and not set(_temps(tmp_path)) - before:  # its own temporary file
            time.sleep(0.0005)
        time.sleep(0.001 * n)  # at different moments of the write
        proc.kill()  # SIGKILL: no cleanup runs
        proc.wait()
        proc.stdout.close()
        left.append(len(_temps(tmp_path)))
        back = load(path)  # the old file or a whole new one, never a broken one
        assert back["epoch"] == -1 or back["epoch"] // 1000 <= n
        assert back["big"].shape in ((1,), (1000, 1000))
    assert max(left) == 1  # a killed save leaves its temporary file; the next save swept the one before
    save({"epoch": 99, "big": np.ones(2)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]
    assert load(path)["epoch"] == 99


def test_a_running_save_s_temporary_file_is_not_swept(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    path = tmp_path / "m.npz"
    live = tmp_path / (archive._temp_prefix("m.npz") + "0123abcd.tmp")
    live.write_bytes(b"PK\x03\x04 being written")
    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a save in another process holds it
    try:
        save({"v": 1}, path)
        assert live.exists()
    finally:
        os.close(fd)
    save({"v": 2}, path)  # its writer is gone: swept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_file_mode_follows_the_umask_and_an_existing_file_keeps_its_mode(tmp_path):
    old = os.umask(0o022)
    try:
        save({"v": 1}, tmp_path / "a.npz")
        assert stat.S_IMODE(os.stat(tmp_path / "a.npz").st_mode) == 0o644  # once always 0o600
        os.umask(0o077)
        save({"v": 1}, tmp_path / "b.npz")
        assert stat.S_IMODE(os.stat(tmp_path / "b.npz").st_mode) == 0o600
        os.chmod(tmp_path / "a.npz", 0o664)
        save({"v": 2}, tmp_path / "a.npz")
        assert stat.S_IMODE(os.stat(tmp_path / "a.npz").st_mode) == 0o664  # kept, whatever the umask
        assert load(tmp_path / "a.npz") == {"v": 2}
    finally:
        os.umask(old)


def test_the_longest_file_names_work(tmp_path):
    for n in (254, 255):
        name = "c" * (n - 4) + ".npz"
        save({"v": n, "w": np.ones(2)}, tmp_path / name)  # the temporary file's name stays short
        assert load(tmp_path / name)["v"] == n
    assert all(len(p.name) <= 255 for p in tmp_path.iterdir()) and not _temps(tmp_path)


def test_sizes_that_disagree_with_the_file_are_refused(tmp_path):
    w = _npy(np.ones(3))
    good = _zip([("w.npy", w)])
    cd = good.index(b"PK\x01\x02")
    for field, value, match in (
        (20, len(w) + 1000, r"stored member 'w\.npy' declares two different sizes"),  # compressed size only
        (42, 10**6, r"member 'w\.npy' starts outside the file"),  # the local header's offset
    ):
        bad = bytearray(good)
        bad[cd + field : cd + field + 4] = struct.pack("<L", value)
        _refused(_write(tmp_path / "s.npz", bytes(bad)), match, plain_npz=True)
    bad = bytearray(good)  # both sizes grown alike: the member would run into the central directory
    bad[cd + 20 : cd + 28] = struct.pack("<2L", len(w) + 50, len(w) + 50)
    _refused(_write(tmp_path / "s.npz", bytes(bad)), r"runs past the end of the data", plain_npz=True)


def test_the_default_budget_is_sixteen_times_the_file(tmp_path):
    filler = _npy(np.zeros(17 * MiB // 8))  # a 17 MiB file: 272 MiB allowed
    fake = _npy(descr="<f8", shape=(10,), data=bytes(80))
    data = _zip([("a.npy", filler), ("b.npy", fake, {"method": 8, "usize": 270 * MiB})])
    path = _write(tmp_path / "b.npz", data)
    _refused(path, r"needs 287\.0 MiB .* more than the 272\.0 MiB", plain_npz=True)


def test_what_save_writes_is_uncompressed_npy_members_and_a_checksummed_record(tmp_path):
    path = tmp_path / "c.npz"
    save({"a": np.arange(3.0), "b": {"c": tg.tensor([1.0])}}, path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["__tinygraph__.npy", "a.npy", "b.c.npy"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        a_bytes = z.read("a.npy")
    with np.load(path) as z:
        raw = bytes(z["__tinygraph__"])
    head, body = raw[:72], raw[72:]
    assert head == b"sha256:" + hashlib.sha256(body).hexdigest().encode() + b"\n"
    rec = json.loads(body)
    assert rec["version"] == 2 and ["a", "<f8", [3], hashlib.sha256(a_bytes).hexdigest()] in rec["members"]


def test_checksums_detect_damage_not_forgery(tmp_path):
    # the README's limit: a file crafted with valid checksums loads whatever numbers it holds
    w = _npy(np.full(3, 666.0))
    rec = _record(
        {"t": "dict", "items": [[["s", "w"], {"t": "array", "k": "w"}]]}, [_member_entry("w", w, "<f8", (3,))]
    )
    back = load(_write(tmp_path / "forged.npz", _zip([("w.npy", w), ("__tinygraph__.npy", rec)])))
    assert back["w"].tolist() == [666.0] * 3


def test_malformed_structure_entries_are_refused(tmp_path):
    w = _npy(np.arange(3))  # int64
    members = [_member_entry("w", w, np.int64, (3,))]
    cases = {
        "int not a string": (
            {"t": "list", "items": [{"t": "int", "v": 5}, {"t": "array", "k": "w"}]},
            r"malformed int",
        ),
        "unknown type": ({"t": "list", "items": [{"t": "set"}, {"t": "array", "k": "w"}]}, r"unknown structure entry"),
        "duplicate key": (
            {"t": "dict", "items": [[["s", "a"], {"t": "none"}], [["s", "a"], {"t": "array", "k": "w"}]]},
            r"holds the key 'a' twice",
        ),
        "scalar of shape (3,)": ({"t": "scalar", "k": "w"}, r"the scalar 'w' has shape \(3,\)"),
        "int tensor requiring grad": (
            {"t": "tensor", "k": "w", "rg": True},
            r"of dtype int64 is marked as requiring grad",
        ),
        "huge list in an entry": (
            {"t": "list", "items": [{"t": "array", "k": "w"}, {"t": "dict", "items": [[["x"]] * 10**5]}]},
            r"malformed dict item",
        ),
    }
    for name, (root, match) in cases.items():
        rec = _record(root, members)
        msg = _refused(_write(tmp_path / "m.npz", _zip([("w.npy", w), ("__tinygraph__.npy", rec)])), match)
        assert len(msg) < 600, name  # an entry is quoted briefly, however large
