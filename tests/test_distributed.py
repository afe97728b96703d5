"""tinygraph.distributed under mpiexec: 2 and 3 ranks, each launch running many checks (tests/mpi_checks.py)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKS = str(ROOT / "tests" / "mpi_checks.py")
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


pytest.importorskip("mpi4py")
from tinygraph import distributed as dist  # noqa: E402


def run(n: int, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return dist.launch(n, [CHECKS, *args], timeout=timeout, label=True, env=ENV, cwd=str(ROOT))


def by_rank(proc: subprocess.CompletedProcess) -> dict:
    """Rank -> what it printed, put back together (mpiexec's labels "[r] " lead each piece of output)."""
    said: dict = {}
    for stream in (proc.stdout, proc.stderr):
        parts = re.split(r"\[(\d+)\] ", stream)
        for r, text in zip(parts[1::2], parts[2::2]):
            said[int(r)] = said.get(int(r), "") + text
    return said


@pytest.fixture(scope="module", params=[2, 3], ids=["2 ranks", "3 ranks"])
def world(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"ranks{request.param}")
    proc = run(request.param, "all", str(folder))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = [json.loads(f.read_text()) for f in sorted(folder.glob("rank_*.json"))]
    assert [d["rank"] for d in res] == list(range(request.param))
    return request.param, res, proc


def test_averaged_gradients_equal_the_whole_batch_gradient(world):
    n, res, _ = world
    for d in res:
        for m in (12, 13):  # 12: equal shares; 13: 7/6 on 2 ranks, 5/4/4 on 3
            assert d[f"grad_err_{m}"] < 1e-12 and d[f"grad_scale_{m}"] > 0.1
            assert d[f"in_place_{m}"]
        # a plain average of unequal shares is wrong: weighting by share size matters
        assert d["plain_avg_err_13"] > 1e-3
    assert [d["share_13"] for d in res] == ([7, 6] if n == 2 else [5, 4, 4])
    for d in res:  # 64-byte buckets (one per parameter, several MPI calls) give the one-buffer result exactly
        assert d["bucket_64"] == d["bucket_16777216"] and d["bias_grad_dtype"] == "float32"
        assert d["mixed_err"] < 1e-6  # float32 rounding on the float32 bias
    for m in (12, 13):
        assert len({d[f"grad_digest_{m}"] for d in res}) == 1  # bit for bit the same on every rank


def test_twenty_sgd_and_adam_steps_equal_the_one_process_steps(world):
    _, res, _ = world
    for d in res:
        for opt in ("sgd", "adam"):
            assert d[f"{opt}_err"] < 1e-10 and d[f"{opt}_moved"] > 0.05
            assert d[f"{opt}_mismatched_steps"] == 0  # identical parameters after every step
        assert d["f32_grad_dtype"] == d["f32_param_dtype"] == "float32"
        assert d["f32_mismatched_steps"] == 0


def test_broadcast_fixes_different_initializations_and_buffers(world):
    n, res, _ = world
    for d in res:
        assert d["distinct_before"] == n and d["distinct_after"] == 1
        assert d["equals_rank0_init"] and d["running_mean"] == 1.0  # rank 0's batch-norm statistics


def test_mismatched_models_are_reported_naming_the_parameter(world):
    _, res, _ = world
    for d in res:  # every rank raises the same error
        assert d["shape_error"] == (
            "broadcast_parameters: the models differ between ranks: parameter '2.weight' has shape (3, 8) on "
            "rank 0 and (4, 8) on rank 1"
        )
        assert "rank 1 has a parameter '1.weight' that rank 0 lacks" in d["missing_error"]


def test_check_in_step_names_a_parameter_that_drifted(world):
    n, res, _ = world
    for d in res:
        assert d["drift_error"] == (
            f"check_in_step: the ranks are out of step: '2.bias' differs between rank 0 and rank {n - 1} "
            "(1 of 4 tensors differ)"
        )


def test_parameters_without_gradient(world):
    _, res, _ = world
    for d in res:
        assert d["head_err"] < 1e-15  # rank 0's gradient averaged with zeros from the others
        assert d["spare_is_none"]  # no gradient anywhere: None everywhere


def test_data_shares_cover_every_example_once(world):
    _, res, _ = world
    for d in res:
        assert d["batches_equal_whole"] and d["covers_once"] and d["rows_paired"] and d["augmented_equal_whole"]
        assert d["max_size_gap"] == 1 and d["n_batches"] == 5


def test_fit_distributed_equals_one_process_and_prints_on_rank_0_only(world):
    _, res, proc = world
    for d in res:
        assert d["fit_param_err"] < 1e-10 and d["fit_cost_err"] < 1e-10 and d["fit_batch_cost_err"] < 1e-10
        assert d["fit_metric_err"] < 1e-12 and d["fit_diagnosis_same"] and d["fit_digest_same"]
    said = by_rank(proc)
    # the diagnosis, and the bar (tqdm, when installed) or one line per epoch, from rank 0 only
    assert len(re.findall(r"train error \d", said[0])) == 1
    assert "fit: 100%" in said[0] or "epoch 3/3: train cost" in said[0]
    for r in range(1, len(res)):
        assert not any(word in said.get(r, "") for word in ("fit:", "epoch 3/3", "train error"))


def test_save_writes_from_rank_0_only(world):
    _, res, _ = world
    for d in res:
        assert d["saved"] == ["from_rank_0.npz"] and d["no_temp_left"]


@pytest.mark.parametrize(
    "kind, said",
    [
        ("raise", r"rank 1 failed \(ValueError: boom at step 3\); rank [02] stopped while waiting in all_reduce"),
        ("die", r"rank 1 \(pid \d+ on .*\) died; rank [02] stopped while waiting in all_reduce"),
        ("exit", r"rank 1 exited \(its interpreter is shutting down .*\); rank [02] stopped"),
        ("hang", r"rank [02]: all_reduce_gradients #\d+ did not complete within \d+ s .*rank 1 did not answer"),
    ],
)
def test_a_rank_that_fails_stops_the_others_naming_it(kind, said):
    proc = run(3, "fault", kind, "3", timeout=40)  # a 3 s deadline for the hang; each case ends in a few s
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "finished" not in out
    # each rank's own text: the ranks' pieces of output reach the pipes interleaved, mid-line too
    assert any(re.search(said, text) for text in by_rank(proc).values()), out[-3000:]


def test_python_m_tinygraph_distributed_runs_a_script_on_n_ranks(tmp_path):
    script = tmp_path / "hello.py"
    script.write_text(
        "import sys\nfrom tinygraph import distributed as dist\ndist.init()\n"
        "print(f'rank {dist.rank()} of {dist.world_size()} says {sys.argv[1]}', flush=True)\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "tinygraph.distributed", "-n", "3", str(script), "hi"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    # (the ranks' lines reach the one pipe in any order, possibly cut by another rank's write)
    assert sorted(re.findall(r"rank \d of 3 says hi", r.stdout)) == [f"rank {i} of 3 says hi" for i in range(3)]


def test_bad_input_names_the_function_and_leaves_the_gradients_alone():
    import numpy as np

    import tinygraph as tg
    from tinygraph import nn

    w = tg.tensor([1.0, 2.0], requires_grad=True)
    w.grad = tg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(
        ValueError, match=r"all_reduce_gradients: parameter 0 has shape \(2,\) but its .grad has shape \(3,\)"
    ):
        dist.all_reduce_gradients([w])
    w.grad = tg.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="all_reduce_gradients: weight must be a finite number >= 0, got -1.0"):
        dist.all_reduce_gradients([w], weight=-1)
    assert np.array_equal(w.grad.data, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"broadcast_parameters: root must be a rank in 0\.\.0, got 3"):
        dist.broadcast_parameters(nn.Linear(2, 2), root=3)
    with pytest.raises(TypeError, match="broadcast_parameters: expected a model"):
        dist.broadcast_parameters(3)
    with pytest.raises(ValueError, match="share: rank 4 is outside a world of 3"):
        dist.share(5, 4, 3)
    assert [dist.share(10, r, 4) for r in range(4)] == [slice(0, 3), slice(3, 6), slice(6, 8), slice(8, 10)]
