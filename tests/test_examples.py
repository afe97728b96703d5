"""Every example runs small through its main() and reproduces the course's qualitative results."""

import ast
import importlib.util
import inspect
import json
import re
import runpy
import shutil
import sys
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


def coalesce_streams(nb) -> None:
    """Join each cell's stream outputs of one name into one, as they read (a busy kernel may send a print in two)."""
    for cell in nb["cells"]:
        outputs, streams = [], {}
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream" and o["name"] in streams:
                streams[o["name"]]["text"] = "".join(streams[o["name"]]["text"]) + "".join(o["text"])
                continue
            if o["output_type"] == "stream":
                streams[o["name"]] = o
            outputs.append(o)
        if cell["cell_type"] == "code":
            cell["outputs"] = outputs


def output_kinds(nb) -> list[list[tuple]]:
    """Per code cell, its outputs' kinds: ("stream", "stdout"), ("display_data", ("image/png", ...)), ..."""
    kinds = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        row = []
        for o in cell.get("outputs", []):
            detail = o.get("name") if o["output_type"] == "stream" else tuple(sorted(o.get("data", {})))
            row.append((o["output_type"], detail))
        kinds.append(row)
    return kinds


def test_committed_tour_has_its_outputs():
    """The notebook is committed executed (scripts/execute-notebook.py), so its pictures show where it is viewed."""
    nb = json.loads((EXAMPLES / "tour.ipynb").read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(isinstance(c.get("execution_count"), int) for c in code), "run scripts/execute-notebook.py"
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))  # in order, each once
    kinds = output_kinds(nb)
    assert not any(kind == "error" for row in kinds for kind, _ in row)
    pictures = [c for c in code if "".join(c["source"]).startswith("viz.draw")]
    assert len(pictures) == 3
    for cell in pictures:  # each picture cell displays an SVG
        assert [o["output_type"] for o in cell["outputs"]] == ["execute_result"]
        svg = "".join(cell["outputs"][0]["data"]["image/svg+xml"])
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "J" in svg
    plots = [c for c in code if "plt.show()" in "".join(c["source"])]
    assert len(plots) == 1 and any("image/png" in o.get("data", {}) for o in plots[0]["outputs"])
    text = "".join("".join(o.get("text", "")) for c in code for o in c["outputs"])
    assert "33.0 3.0 6.0 9.0" in text and "gradcheck FAILED" in text


def test_tour_notebook_runs_and_gives_the_committed_outputs_kinds(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    committed = json.loads((EXAMPLES / "tour.ipynb").read_text(encoding="utf-8"))
    nb = nbformat.read(EXAMPLES / "tour.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # every cell asserts what it shows; an error fails here
    fresh = json.loads(nbformat.writes(nb))
    coalesce_streams(fresh)
    outputs = [o for c in fresh["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) == 3  # the three pictures inline
    assert any("gradcheck FAILED" in "".join(o.get("text", "")) for o in outputs)
    assert len(fresh["cells"]) == len(committed["cells"])
    assert output_kinds(fresh) == output_kinds(committed), "re-run scripts/execute-notebook.py and commit"


# ----- one command line for every example: --small, --out DIR, --help -----------------------------------

SCRIPTS = sorted(EXAMPLES.glob("0*.py"))


def run_script(path: Path, argv: list[str], monkeypatch) -> dict:
    """Run an example as `python path argv...` does, in this process; returns its globals."""
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    return runpy.run_path(str(path), run_name="__main__")


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem[:2] for p in SCRIPTS])
def test_every_example_has_the_same_help(path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as e:
        run_script(path, ["--help"], monkeypatch)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {path.name} [-h] [--small] [--out DIR]")
    flat = " ".join(out.split())
    assert "--small" in flat and "--out DIR" in flat and "(default: False)" in flat
    assert re.search(r"--out DIR .*\(default: [^)]+\)", flat)
    first_line = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))).splitlines()[0]
    assert " ".join(first_line.split()) in flat  # the docstring is the description


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem[:2] for p in SCRIPTS])
def test_every_example_passes_small_and_out_to_its_main(path, monkeypatch, tmp_path):
    from tinygraph import demo

    calls = []
    real = demo.example_main
    monkeypatch.setattr(
        demo, "example_main", lambda main, doc, argv=None, **kw: real(lambda **a: calls.append(a), doc, argv, **kw)
    )
    names = run_script(path, ["--small", "--out", str(tmp_path / "pics")], monkeypatch)
    assert len(calls) == 1 and calls[0]["small"] is True and calls[0]["out"] == str(tmp_path / "pics")
    inspect.signature(names["main"]).bind(**calls[0])  # the example's main takes what the command line gives


@pytest.mark.parametrize("argv", [["--steps", "3"], ["--out"], ["extra"]])
def test_an_unknown_or_incomplete_argument_is_a_usage_error(argv, monkeypatch, capsys):
    with pytest.raises(SystemExit) as e:
        run_script(SCRIPTS[0], argv, monkeypatch)
    assert e.value.code == 2 and "usage: 01_logistic_regression.py" in capsys.readouterr().err


def test_08_out_writes_into_the_folder_named(tmp_path, monkeypatch):
    """`--out DIR` used to make a folder literally called `--out`."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    monkeypatch.chdir(tmp_path)
    run_script(EXAMPLES / "08_computation_graph.py", ["--out", "pics"], monkeypatch)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pics"]
    assert {"computation_graph_J.svg", "backward_steps_J.html"} <= {p.name for p in (tmp_path / "pics").iterdir()}


def test_07_runs_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run_script(EXAMPLES / "07_gradient_checking.py", ["--small", "--out", "pics"], monkeypatch)
    assert "culprit: op 'BuggySigmoid'" in capsys.readouterr().out
    assert not any(tmp_path.iterdir())  # it draws nothing


def test_09_data_parallel_gives_the_same_result_on_1_and_3_ranks(tmp_path, capsys):
    pytest.importorskip("mpi4py")
    r = load("09").main(small=True, out=tmp_path, ranks=(1, 3))
    one, three = r[1], r[3]
    assert one["ranks"] == 1 and three["ranks"] == 3
    assert one["train_accuracy"] == three["train_accuracy"] > 50.0  # 3 epochs learn something
    assert one["test_accuracy"] == three["test_accuracy"]
    assert abs(one["train_cost"] - three["train_cost"]) < 1e-9 and abs(one["test_cost"] - three["test_cost"]) < 1e-9
    assert "3 ranks:" in capsys.readouterr().out
