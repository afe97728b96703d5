"""Anomaly mode (NaN/inf provenance) and in-place errors that explain themselves."""

import inspect
import threading

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.function import Context

HERE = __file__
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _next_line() -> int:
    return inspect.currentframe().f_back.f_lineno + 1


def test_forward_nan_names_the_op_pass_line_and_input_stats():
    x = tg.tensor([1.0, -1.0, 4.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError) as info:
        with tg.detect_anomaly():
            a = x * 2
            line = _next_line()
            y = tg.sqrt(a)  # noqa: F841
    e = info.value
    assert (e.op, e.pass_, e.value, e.input_index) == ("sqrt", "forward", "NaN", None)
    assert isinstance(e.node, Context) and e.node.name == "sqrt" and e.node.inputs[0] is a
    assert e.created_at.startswith(f"{HERE}:{line} in test_forward_nan_names_the_op_pass_line_and_input_stats")
    msg = str(e)
    assert msg.startswith("forward pass of op 'sqrt' produced NaN")
    assert f"created at {HERE}:{line}" in msg and "y = tg.sqrt(a)" in msg
    assert "input 0: shape (3,) float64: min -2, max 8, mean 2" in msg
    assert "output shape (3,) float64: min 1.414, max 2.828, mean 2.121, 1 NaN" in msg


def test_the_first_bad_op_is_named_not_the_ones_it_poisons():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError) as info:
        with tg.detect_anomaly():
            tg.exp(tg.log(x) * 2).sum()
    assert info.value.op == "log" and info.value.value == "-inf"
    assert "1 -inf" in str(info.value)


def test_forward_anomaly_without_a_graph_still_names_the_op():
    x = tg.tensor([1e308, 1.0])
    with pytest.raises(tg.AnomalyError, match=r"forward pass of op 'mul' produced inf") as info:
        with tg.detect_anomaly():
            x * 10.0
    assert info.value.node is None  # nothing was recorded: no input requires grad
    assert "input 0: shape (2,) float64: min 1, max 1e+308" in str(info.value)


def test_backward_inf_names_the_op_input_and_forward_line():
    x = tg.tensor([4.0, 0.0], requires_grad=True)
    with tg.detect_anomaly():
        line = _next_line()
        y = tg.sqrt(x).sum()  # finite: sqrt(0) = 0
        with pytest.raises(tg.AnomalyError) as info:
            y.backward()
    e = info.value
    assert (e.op, e.pass_, e.value, e.input_index) == ("sqrt", "backward", "inf", 0)
    assert e.node.name == "sqrt" and e.node.inputs[0] is x
    msg = str(e)
    assert msg.startswith("backward pass of op 'sqrt' produced inf in the gradient for input 0")
    assert f"created at {HERE}:{line}" in msg and "y = tg.sqrt(x).sum()" in msg
    assert "input 0: shape (2,) float64: min 0, max 4, mean 2" in msg
    assert "gradient of its output: shape (2,) float64: min 1, max 1, mean 1" in msg
    assert x.grad is None  # nothing was accumulated


def test_backward_nan_inside_the_graph():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with tg.detect_anomaly():
        y = (tg.sqrt(x) * tg.tensor([0.0, 1.0])).sum()
        with pytest.raises(tg.AnomalyError, match="backward pass of op 'sqrt' produced NaN") as info:
            y.backward()
    assert info.value.value == "NaN"


def test_backward_of_a_graph_built_outside_anomaly_mode_says_so():
    x = tg.tensor([0.0], requires_grad=True)
    y = tg.sqrt(x).sum()
    with pytest.raises(tg.AnomalyError, match="created outside detect_anomaly") as info:
        with tg.detect_anomaly():
            y.backward()
    assert info.value.created_at.startswith("<unknown")


def test_a_custom_op_is_named_by_its_class():
    class Bad(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.data / 0.0

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(tg.AnomalyError, match="forward pass of op 'Bad' produced inf"):
        with tg.detect_anomaly(), np.errstate(divide="ignore"):
            Bad.apply(tg.tensor([1.0], requires_grad=True))


def test_anomaly_mode_changes_no_values_and_is_off_outside():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 4))
    grads = []
    for on in (False, True):
        x = tg.tensor(data, requires_grad=True)
        with tg.detect_anomaly(on):
            (tg.log_softmax(x, axis=1) * tg.tanh(x)).sum().backward()
        grads.append(x.grad.data)
    np.testing.assert_array_equal(grads[0], grads[1])
    with np.errstate(divide="ignore"):
        assert np.isneginf(tg.log(tg.tensor([0.0])).data[0])  # no error outside the block


def test_anomaly_mode_is_per_thread_and_works_as_decorator():
    seen = {}

    def other():
        with np.errstate(divide="ignore"):
            seen["value"] = tg.log(tg.tensor([0.0])).item()

    @tg.detect_anomaly()
    def checked():
        t = threading.Thread(target=other)
        t.start()
        t.join()
        return tg.log(tg.tensor([0.0]))

    with pytest.raises(tg.AnomalyError):
        checked()
    assert seen["value"] == -np.inf


# ----- in-place errors --------------------------------------------------------------------------


def _mul_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    return x, w


@pytest.mark.parametrize(
    "how, expected",
    [
        ("assign", "by an assignment to .data"),
        ("write", "by a write into the array handed out by .data"),
        ("asarray", "by a write into the array handed out by .data (or np.asarray/.numpy())"),
    ],
)
def test_in_place_error_says_which_op_saved_it_and_what_changed_it(how, expected):
    x, w = _mul_graph()
    y = (x * w).sum()
    before = w.data.copy()
    if how == "assign":
        w.data = np.zeros(2)
    elif how == "write":
        w.data[0] = 7.0
    else:
        np.asarray(w)[1] = 9.0
    with pytest.raises(RuntimeError) as info:
        y.backward()
    msg = str(info.value)
    assert msg.startswith("backward: op 'mul' saved its input 1 (shape (2,), float64) for its gradient")
    assert "modified in place after the forward pass (version 0 -> 1)" in msg
    assert expected in msg
    assert "run the forward pass and the write under tg.detect_anomaly()" in msg
    assert x.grad is None and w.grad is None
    assert not np.array_equal(w.data, before)


def test_in_place_error_under_anomaly_mode_gives_both_lines():
    x, w = _mul_graph()
    with tg.detect_anomaly():
        op_line = _next_line()
        y = (x * w).sum()
        write_line = _next_line()
        w.data = np.zeros(2)
        with pytest.raises(RuntimeError) as info:
            y.backward()
    msg = str(info.value)
    assert f"by an assignment to .data at {HERE}:{write_line}" in msg
    assert f"op 'mul' was created at {HERE}:{op_line}" in msg and "y = (x * w).sum()" in msg


def test_in_place_error_under_anomaly_mode_names_where_the_array_was_handed_out():
    x, w = _mul_graph()
    with tg.detect_anomaly():
        y = (x * w).sum()
        line = _next_line()
        arr = w.data
        arr += 1
        with pytest.raises(RuntimeError, match=rf"the array was handed out at .*:{line} in .*arr = w\.data"):
            y.backward()


def test_in_place_error_for_a_saved_output():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.exp(x)
    y.data[0] = 5.0
    with pytest.raises(RuntimeError, match=r"op 'exp' saved its output \(shape \(2,\), float64\)"):
        y.sum().backward()


def test_writes_after_backward_or_to_unsaved_tensors_are_fine():
    x, w = _mul_graph()
    y = (x + w).sum()  # add saves nothing
    w.data = np.zeros(2)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
    z = (x * w).sum()
    z.backward()
    w.data[0] = 1.0  # graph already released
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
