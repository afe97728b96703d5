"""Every example runs small through its main() and reproduces the course's qualitative results."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    path = next(EXAMPLES.glob(f"{name}*.py"), None)
    if path is None:
        pytest.skip(f"examples/{name}*.py is not there yet")
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def has_matplotlib() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def pngs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.png") if p.stat().st_size > 1000)


def test_01_logistic_regression_is_the_courses_47_percent(tmp_path, capsys):
    r = load("01").main(small=True, out=tmp_path)
    assert r["accuracy"] == pytest.approx(47.0)
    assert r["costs"][0] == pytest.approx(np.log(2))  # w = 0: every A is 0.5
    assert r["costs"][-1] < 0.68
    assert r["grad_error"] < 1e-12  # backward() gives the course's dw = X (A - Y)^T / m
    out = capsys.readouterr().out
    assert "Cost after iteration 0: 0.693147" in out and "Accuracy of logistic regression: 47%" in out
    if has_matplotlib():
        assert pngs(tmp_path) == ["01_cost.png", "01_decision_boundary.png"]


def test_02_hidden_layer_beats_logistic_regression(tmp_path, capsys):
    r = load("02").main(small=True, out=tmp_path)
    # the course's numbers, step for step: 0.693048 at 0 (its seed and initialization)
    assert r["costs"][0] == pytest.approx(0.693048, abs=1e-6)
    assert r["accuracy"] > 80.0  # 300 steps; 90.5% after the full 10,000
    assert r["sweep"][1] < 70.0 < r["sweep"][4]  # one hidden unit is not enough
    assert "Accuracy for 4 hidden units" in capsys.readouterr().out
    if has_matplotlib():
        assert "02_decision_boundary.png" in pngs(tmp_path) and "02_hidden_1.png" in pngs(tmp_path)


def test_07_gradient_checking_names_the_planted_bug(tmp_path, capsys):
    r = load("07").main(small=True, out=tmp_path)
    assert r["one_d"].passed and r["one_d"].difference < 1e-9
    assert r["good"].passed and r["good"].difference < 1e-7
    assert not r["bad"].passed and r["bad"].difference > 1e-3
    assert r["culprit"] == "BuggySigmoid"
    assert "culprit: op 'BuggySigmoid'" in capsys.readouterr().out


def test_03_deep_network_on_digits_or_flower(tmp_path):
    r = load("03").main(small=True, out=tmp_path, plots=False)
    if r["data"] == "digits":
        assert r["test"] > 85.0 and r["train"] > 85.0  # 3 epochs; about 97% after 30
    else:
        assert r["train"] > 60.0
    assert r["costs"][-1] < r["costs"][0]


def test_03_falls_back_to_the_flower(tmp_path):
    r = load("03").main(small=True, out=tmp_path, plots=False, flower_only=True)
    assert r["data"] == "flower" and r["test"] is None
    assert r["costs"][-1] < 0.9 * r["costs"][0]


def test_04_zeros_never_break_symmetry_and_he_wins(tmp_path):
    r = load("04").main(small=True, out=tmp_path)
    zeros, large, he = r["zeros"], r["large"], r["he"]
    assert zeros["train"] == 50.0 and zeros["test"] == 50.0
    np.testing.assert_allclose(zeros["costs"], np.log(2), rtol=1e-12)  # not a single step of progress
    # the course's data and weights: its printed "Cost after iteration 0: 0.883053746342" for He
    assert he["costs"][0] == pytest.approx(0.883053746342, abs=1e-9)
    assert large["costs"][0] == pytest.approx(1773.586, abs=1e-3)  # huge logits (the course prints inf)
    assert he["train"] > 95.0 and he["test"] > 90.0  # 500 steps at lr 0.3; 99.3% / 96% after the full run
    assert he["train"] > large["train"] and he["test"] > large["test"]
    if has_matplotlib():
        assert pngs(tmp_path) == ["04_cost.png", "04_he.png", "04_large.png", "04_zeros.png"]


def test_05_l2_shrinks_the_weights_and_the_gap(tmp_path):
    r = load("05").main(small=True, out=tmp_path, plots=False)
    none, l2, drop = r["none"], r["L2"], r["dropout"]
    assert l2["weight_norm"] < 0.5 * none["weight_norm"]  # weight decay
    assert none["train"] >= l2["train"] and none["train"] >= drop["train"]
    assert none["train"] - none["test"] >= l2["train"] - l2["test"]
    assert all(v["test"] > 75.0 for v in r.values())


def test_06_adam_beats_plain_and_momentum_at_a_small_learning_rate(tmp_path):
    r = load("06").main(small=True, out=tmp_path, plots=False)
    gd, momentum, adam = r["gd"]["accuracy"], r["momentum"]["accuracy"], r["adam"]["accuracy"]
    assert adam > 90.0 and gd < 75.0  # 60 epochs at lr 0.007 (64.0 / 64.0 / 92.7); 71.7 / 71.7 / 94.3 in full
    assert abs(gd - momentum) < 10.0
    assert r["gd"]["costs"][-1] < r["gd"]["costs"][0] and r["adam"]["costs"][-1] < r["gd"]["costs"][-1]


def test_06_first_epoch_is_the_courses():
    """The course's data, weights and shuffle: its printed "Cost after epoch 0: 0.702405" at lr 0.0007."""
    ex = load("06")
    from tinygraph.datasets import make_moons

    X, y = make_moons(300, 0.2, seed=3, legacy=True)
    _, costs = ex.train(X, y, "gd", 0.0007, epochs=1, print_every=0)
    assert costs[0] == pytest.approx(0.702405, abs=5e-7)


def test_tour_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(EXAMPLES / "tour.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # every cell asserts what it shows; an error fails here
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) == 3  # the three pictures inline
    assert any("gradcheck FAILED" in o.get("text", "") for o in outputs)


def test_09_data_parallel_gives_the_same_result_on_1_and_3_ranks(tmp_path, capsys):
    pytest.importorskip("mpi4py")
    r = load("09").main(small=True, out=tmp_path, ranks=(1, 3))
    one, three = r[1], r[3]
    assert one["ranks"] == 1 and three["ranks"] == 3
    assert one["train_accuracy"] == three["train_accuracy"] > 50.0  # 3 epochs learn something
    assert one["test_accuracy"] == three["test_accuracy"]
    assert abs(one["train_cost"] - three["train_cost"]) < 1e-9 and abs(one["test_cost"] - three["test_cost"]) < 1e-9
    assert "3 ranks:" in capsys.readouterr().out
