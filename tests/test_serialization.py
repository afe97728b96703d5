"""save/load: exact round trips, atomic writes, and refusal of truncated, corrupt or pickled files."""

import os
import zipfile

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.random import manual_seed
from tinygraph.serialization import load, save


def test_state_dict_round_trip_exact(tmp_path):
    manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    net(tg.tensor(np.random.default_rng(0).standard_normal((8, 3))))  # move the running stats
    path = tmp_path / "net.npz"
    save(net.state_dict(), path)
    sd = load(path)
    assert list(sd) == list(net.state_dict())
    for k, v in net.state_dict().items():
        assert sd[k].dtype == v.dtype and np.array_equal(sd[k], v), k
    manual_seed(1)
    other = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    other.load_state_dict(sd)
    x = tg.tensor(np.ones((2, 3)))
    net.eval(), other.eval()
    assert np.array_equal(net(x).data, other(x).data)
    # readable with plain numpy, without pickle
    with np.load(path, allow_pickle=False) as z:
        assert "0.weight" in z.files


def test_nested_structures_and_python_types(tmp_path):
    obj = {
        "model": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)},
        "opt": {"state": {0: {"m": np.zeros(2), "step": 12}}, "groups": [{"lr": 0.1, "betas": (0.9, 0.999)}]},
        "epoch": 3,
        "best": float("inf"),
        "third": 1 / 3,
        "flag": True,
        "name": "run a/b",
        "none": None,
        "scalar": np.float32(2.5),
        "t": tg.tensor([1.0, 2.0], requires_grad=True),
        "big": 2**70,
    }
    save(obj, tmp_path / "ckpt")
    back = load(tmp_path / "ckpt")  # the path is used as given: no suffix added
    assert os.path.exists(tmp_path / "ckpt")
    assert back["epoch"] == 3 and type(back["epoch"]) is int
    assert back["best"] == float("inf") and back["third"] == 1 / 3 and type(back["third"]) is float
    assert back["flag"] is True and back["name"] == "run a/b" and back["none"] is None and back["big"] == 2**70
    assert back["opt"]["state"][0]["step"] == 12 and list(back["opt"]["state"]) == [0]
    assert back["opt"]["groups"] == [{"lr": 0.1, "betas": (0.9, 0.999)}]
    assert back["model"]["w"].dtype == np.float32 and np.array_equal(back["model"]["w"], obj["model"]["w"])
    assert type(back["scalar"]) is np.float32 and back["scalar"] == 2.5
    assert isinstance(back["t"], tg.Tensor) and back["t"].requires_grad and back["t"].tolist() == [1.0, 2.0]


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"save: cannot store a set at 'a'"):
        save({"a": {1, 2}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"state_dict\(\) instead"):
        save(nn.Linear(2, 2), tmp_path / "x.npz")
    with pytest.raises(TypeError, match="only numeric arrays"):
        save({"o": np.array([object()], dtype=object)}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)  # nothing written, no temporary files left behind


def test_save_replaces_atomically_and_failed_save_keeps_old_file(tmp_path):
    path = tmp_path / "m.npz"
    save({"v": np.ones(3)}, path)
    with pytest.raises(TypeError):
        save({"v": np.zeros(3), "bad": object()}, path)
    assert np.array_equal(load(path)["v"], np.ones(3))
    save({"v": np.zeros(3)}, path)
    assert np.array_equal(load(path)["v"], np.zeros(3))
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]


def test_truncated_and_corrupt_files_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    save(nn.Linear(20, 10).state_dict(), path)
    data = path.read_bytes()
    for cut in (len(data) // 2, 10):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated or corrupt"):
            load(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"hello, not a zip file" * 10)
    with pytest.raises(ValueError, match="load: .*junk.npz"):
        load(junk)
    # flip bytes inside an array: the zip CRC check catches it
    flipped = bytearray(data)
    i = data.index(b"NUMPY") + 200
    flipped[i : i + 8] = b"\xff" * 8
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="corrupt"):
        load(tmp_path / "flip.npz")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


def test_pickle_bearing_files_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.ones(2), payload=np.array([{"code": "run me"}], dtype=object))
    with pytest.raises(ValueError, match="pickled Python objects; tinygraph never unpickles"):
        load(path)
    npy = tmp_path / "evil.npy"
    np.save(npy, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled"):
        load(npy)


def test_plain_npz_loads_as_dict_only_when_asked(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, a=np.arange(3), b=np.eye(2))
    with pytest.raises(tg.CheckpointError, match=r"no tinygraph structure record.*plain_npz=True"):
        load(path)
    back = load(path, plain_npz=True)
    assert sorted(back) == ["a", "b"] and np.array_equal(back["b"], np.eye(2))
    np.savez_compressed(path, a=np.arange(3), b=np.eye(2))
    back = load(path, plain_npz=True)
    assert sorted(back) == ["a", "b"] and np.array_equal(back["a"], np.arange(3))


def test_manifest_pointing_at_missing_array_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    save({"w": np.ones(2)}, path)
    with zipfile.ZipFile(path) as zin:
        manifest = zin.read("__tinygraph__.npy")
    hacked = tmp_path / "hacked.npz"
    with zipfile.ZipFile(hacked, "w") as zout:
        zout.writestr("__tinygraph__.npy", manifest)
    with pytest.raises(ValueError, match="missing array 'w'"):
        load(hacked)


def test_layouts_and_dtypes_round_trip_exactly(tmp_path):
    a = np.arange(12.0).reshape(3, 4)
    obj = {
        "T": a.T,  # Fortran order
        "strided": a[:, ::2],
        "empty": np.zeros((0, 5)),
        "bool": np.array([True, False]),
        "half": np.float16([1.5]),
        "u64": np.array([2**64 - 1], np.uint64),
        "big_endian": np.arange(3, dtype=">f8"),
        "zero_d": np.zeros(()),
        "tensor_T": tg.tensor(a.T),
    }
    save(obj, tmp_path / "l.npz")
    back = load(tmp_path / "l.npz")
    for k, v in obj.items():
        v, b = np.asarray(v), np.asarray(back[k])
        assert b.dtype == v.dtype and b.shape == v.shape and np.array_equal(b, v), k
        assert b.flags.writeable, k
    with pytest.raises(TypeError, match=r"save: the array at 'c' has dtype complex128"):
        save({"c": np.array([1j])}, tmp_path / "c.npz")


def test_checkpoints_are_loaded_on_first_use_and_round_trip(tmp_path):
    """``import tinygraph`` leaves zipfile and hashlib out (tg.save/tg.load/tg.CheckpointError load them)."""
    import subprocess
    import sys

    path = tmp_path / "w.npz"
    code = (
        "import sys, numpy as np, tinygraph as tg\n"
        "assert 'tinygraph.serialization' not in sys.modules and 'zipfile' not in sys.modules\n"
        f"tg.save({{'w': tg.tensor([1.5, -2.0])}}, {str(path)!r})\n"
        "from tinygraph import CheckpointError, load\n"
        "assert 'zipfile' in sys.modules and issubclass(CheckpointError, ValueError)\n"
        f"print(load({str(path)!r})['w'].tolist())\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[1.5, -2.0]", r.stderr
