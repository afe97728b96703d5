"""`tinygraph demo` end to end into a temporary folder."""

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinygraph import cli


def run_demo(tmp_path, capsys, steps=1500):
    code = cli.main(["demo", "--out", str(tmp_path), "--steps", str(steps), "--quiet"])
    return code, capsys.readouterr().out


def test_demo_trains_checks_and_writes_pictures(tmp_path, capsys):
    code, out = run_demo(tmp_path, capsys)
    assert code == 0
    lr = float(re.search(r"accuracy of logistic regression: ([\d.]+)%", out).group(1))
    nn = float(re.search(r"accuracy of the network: ([\d.]+)%", out).group(1))
    assert lr == pytest.approx(47.0)  # the course's figure: a line cannot split the petals
    assert 85.0 <= nn <= 95.0
    diff = float(re.search(r"difference ([\d.e+-]+): passed", out).group(1))
    assert diff < 1e-7
    written = [Path(line.strip()) for line in out.split("wrote:\n")[1].splitlines() if line.startswith("  ")]
    assert written and all(p.exists() and p.stat().st_size > 0 for p in written)
    names = {p.name for p in written}
    if importlib_has("matplotlib"):
        assert {"cost.png", "decision_boundary.png"} <= names
        assert (tmp_path / "cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svgs = [p for p in written if p.suffix == ".svg"]
    if importlib_has("tinygraph.viz") and shutil.which("dot"):
        assert {"graph_forward.svg", "graph_backward.svg", "graph_combined.svg"} <= names
    if shutil.which("dot"):
        assert "computation_graph_J.svg" in names
        check_course_graph(tmp_path / "computation_graph_J.svg")
    assert "J = 33, dJ/da, dJ/db, dJ/dc = 3, 6, 9" in out
    for svg in svgs:
        if svg.name == "computation_graph_J.svg":
            continue
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")
        text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
        assert "tanh" in text and "sigmoid" in text  # the network's ops are in the picture


def test_demo_without_matplotlib_still_trains_and_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out = run_demo(tmp_path, capsys, steps=200)
    assert code == 0
    assert "pip install tinygraph[examples]" in out
    assert not list(tmp_path.glob("*.png"))


def test_demo_without_dot_writes_dot_sources(tmp_path, capsys, monkeypatch):
    if not importlib_has("tinygraph.viz"):
        pytest.skip("tinygraph.viz is not there yet")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    code, out = run_demo(tmp_path, capsys, steps=200)
    assert code == 0 and "apt-get install graphviz" in out
    dots = sorted(p.name for p in tmp_path.glob("*.dot"))
    assert dots == ["computation_graph_J.dot", "graph_backward.dot", "graph_combined.dot", "graph_forward.dot"]
    assert "digraph" in (tmp_path / "graph_forward.dot").read_text()


def test_python_dash_m_tinygraph_demo_help():
    r = subprocess.run([sys.executable, "-m", "tinygraph", "demo", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--out" in r.stdout and "--steps" in r.stdout


def importlib_has(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


SVG = "{http://www.w3.org/2000/svg}"


def check_course_graph(path):
    """The course's J = 3(a + b·c) at a=5, b=3, c=2: its tensors, ops, edges, values and gradients."""
    root = ET.parse(path).getroot()
    groups = {"node": {}, "edge": []}
    for g in root.iter(f"{SVG}g"):
        kind = g.get("class")
        if kind in groups:
            title = g.find(f"{SVG}title").text
            words = " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
            if kind == "node":
                groups["node"][title] = words
            else:
                groups["edge"].append((title, words))
    nodes = {t: w for t, w in groups["node"].items() if t != "legend"}
    ops = sorted(w for t, w in nodes.items() if t.startswith("op"))
    assert ops == ["add", "mul", "mul"]
    tensors = {w.split()[0] if not w.startswith("scalar") else "3": w for t, w in nodes.items() if t.startswith("t")}
    expected = {"a": (5, 3), "b": (3, 6), "c": (2, 9), "u": (6, 3), "v": (11, 3), "J": (33, 1)}
    assert set(tensors) == set(expected) | {"3"}  # the constant 3 has no name and no gradient
    for name, (value, gradient) in expected.items():
        assert f"scalar float64 {value} ∂J/∂{name} = {gradient}" in tensors[name]
    assert "∂J" not in tensors["3"]
    forward = {title for title, _ in groups["edge"]}
    ids = {w.split()[0] if not w.startswith("scalar") else "3": t for t, w in nodes.items() if t.startswith("t")}
    mul_bc = next(t for t in nodes if t.startswith("op") and f"{ids['b']}->{t}" in forward)
    assert {f"{ids['b']}->{mul_bc}", f"{ids['c']}->{mul_bc}", f"{mul_bc}->{ids['u']}"} <= forward
    assert len(forward) == 9  # 6 inputs into the 3 ops, 3 ops into their outputs
    gradients = sorted(w for _, w in groups["edge"] if w)  # the red edges carry the gradient they send back
    assert gradients == ["3", "3", "3", "6", "9"]


@pytest.mark.parametrize("steps", ["0", "-5", "x", "1.5"])
def test_demo_rejects_bad_steps_as_a_usage_error(steps, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        cli.main(["demo", "--out", str(tmp_path), "--steps", steps])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert (
        "usage: tinygraph demo" in err
        and f"argument --steps: must be a whole number of at least 1, got {steps!r}" in err
    )
    assert not any(tmp_path.iterdir())  # nothing ran


def test_demo_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["demo", "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 10000)" in out and "(default: tinygraph-demo)" in out


def test_demo_run_refuses_bad_steps_when_called_directly(tmp_path):
    import argparse

    from tinygraph.demo import run

    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match="steps must be a whole number of at least 1"):
            run(argparse.Namespace(out=tmp_path, steps=bad, quiet=True))


def test_gradcheck_command_rejects_a_negative_seed_and_shows_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["gradcheck", "--seed", "-1"])
    assert e.value.code == 2
    assert "argument --seed: must be a whole number of at least 0, got '-1'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["gradcheck", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert e.value.code == 0 and "(default: 0)" in out and "default: every op" in out and "None" not in out


def test_demo_refuses_an_out_folder_it_cannot_make_as_a_usage_error(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out in (blocker, blocker / "sub"):
        with pytest.raises(SystemExit) as e:
            cli.main(["demo", "--out", str(out), "--steps", "1", "--quiet"])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "usage: tinygraph demo" in err and f"--out {out}: cannot make that folder" in err
    assert blocker.read_text() == ""
