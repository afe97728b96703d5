"""Checkpoints: exact round trips; truncated, corrupt or pickle-bearing files refused; interrupted saves harmless."""

import os
import pickle
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

import tinygraph as tg

serialization = pytest.importorskip("tinygraph.serialization")
save, load = serialization.save, serialization.load


def _state():
    rng = np.random.default_rng(0)
    return {
        "model": {"layers.0.weight": rng.standard_normal((3, 4)), "layers.0.bias": np.zeros(3, np.float32)},
        "w": tg.tensor(rng.standard_normal(5), requires_grad=True),
        "epoch": 7,
        "lr": 0.1 + 1e-17,
        "history": [1.5, 0.25, float("inf")],
        "tag": "run-1",
        "flag": None,
        "counts": np.arange(4, dtype=np.int64),
    }


def test_round_trip_is_exact(tmp_path):
    path = tmp_path / "ckpt.npz"
    state = _state()
    save(state, path)
    back = load(path)
    assert set(back) == set(state)
    for k in ("layers.0.weight", "layers.0.bias"):
        assert back["model"][k].dtype == state["model"][k].dtype
        np.testing.assert_array_equal(back["model"][k], state["model"][k])
    assert isinstance(back["w"], tg.Tensor) and back["w"].requires_grad
    np.testing.assert_array_equal(back["w"].data, state["w"].data)
    assert back["epoch"] == 7 and type(back["epoch"]) is int
    assert back["lr"] == state["lr"] and back["history"] == state["history"]
    assert back["tag"] == "run-1" and back["flag"] is None
    np.testing.assert_array_equal(back["counts"], np.arange(4))


def test_a_save_through_a_symbolic_link_writes_its_target_and_keeps_the_link(tmp_path):
    real, link = tmp_path / "epoch-3.npz", tmp_path / "latest.npz"
    save({"w": np.ones(10)}, real)
    os.symlink(real.name, link)  # a relative link, as `ln -s epoch-3.npz latest.npz` makes
    save({"w": np.zeros(3)}, link)
    assert os.path.islink(link) and os.readlink(link) == real.name
    np.testing.assert_array_equal(load(real)["w"], np.zeros(3))
    assert sorted(os.listdir(tmp_path)) == ["epoch-3.npz", "latest.npz"]  # no temporary file left


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "ckpt.npz"
    save(_state(), path)
    raw = path.read_bytes()
    for cut in (10, len(raw) // 2, len(raw) - 5):
        path.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match=r"load: .*ckpt\.npz"):
            load(path)


def test_corrupted_file_is_refused(tmp_path):
    path = tmp_path / "ckpt.npz"
    save(_state(), path)
    raw = bytearray(path.read_bytes())
    for i in range(len(raw) // 3, len(raw) // 3 + 64):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"load: .*ckpt\.npz"):
        load(path)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match=r"load: .*ckpt\.npz"):
        load(path)


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > should_not_exist",))


def test_pickle_bearing_files_are_refused_and_nothing_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "evil.npz", x=np.array([_Boom()], dtype=object))
    with pytest.raises(ValueError, match=r"load: .*evil\.npz.*pickle"):
        load(tmp_path / "evil.npz")
    (tmp_path / "raw.pkl").write_bytes(pickle.dumps({"w": _Boom()}))
    with pytest.raises(ValueError, match=r"load: .*raw\.pkl"):
        load(tmp_path / "raw.pkl")
    assert not (tmp_path / "should_not_exist").exists()


def test_a_zip_with_a_non_npy_member_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile(tmp_path / "dressed.npz", "w") as z:
        z.writestr("w.npy", pickle.dumps(_Boom()))
    try:
        with pytest.raises(ValueError, match=r"load: .*dressed\.npz"):
            load(tmp_path / "dressed.npz")
    finally:
        assert not (tmp_path / "should_not_exist").exists()  # never unpickled, in any case


def test_a_save_that_fails_midway_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"epoch": 1, "w": np.ones(3)}, path)
    real_write = np.lib.format.write_array

    def failing(f, arr, **kwargs):
        f.write(b"\x93NUMPY half an array")
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        save({"epoch": 2, "w": np.zeros(3)}, path)
    monkeypatch.setattr(np.lib.format, "write_array", real_write)
    back = load(path)
    assert back["epoch"] == 1
    np.testing.assert_array_equal(back["w"], np.ones(3))
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]  # no temporary file left behind


def test_a_save_killed_mid_write_leaves_the_previous_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"epoch": 1, "w": np.ones(3)}, path)
    script = (
        "import numpy as np, sys\n"
        "from tinygraph.serialization import save\n"
        "print('ready', flush=True)\n"
        f"save({{'epoch': 2, 'big': np.zeros((2000, 2000))}}, {str(path)!r})\n"
    )
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(tg.__file__)))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.time() + 20
    while time.time() < deadline and not any(p.suffix == ".tmp" for p in tmp_path.iterdir()):
        time.sleep(0.001)
    proc.kill()
    proc.wait()
    back = load(path)
    assert back["epoch"] == 1 and "big" not in back
    np.testing.assert_array_equal(back["w"], np.ones(3))
