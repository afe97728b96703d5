"""The ops' descriptions (tinygraph.ops.describe): every op class has one, and what each says is true.

Their gradients are checked in tests/test_op_table.py, and by random programs in tests/test_fuzz.py.
"""

import types

import numpy as np
import pytest

import tinygraph as tg
import tinygraph.ops
from tinygraph.nn import functional as F
from tinygraph.ops import activation, elementwise, linalg, reduce, shape

# isort: split
from tinygraph.ops import (  # the numpy vocabulary (issue 20)  # contractions and plumbing (issue 20)
    contract,
    explog,
    gather,
    joins,
    order,
    plumbing,
    rounding,
    scan,
    stats,
    trig,
)
from tinygraph.ops._common import Op
from tinygraph.ops.describe import Description, described_ops, describes, find
from tinygraph.testing import Program, Step
from tinygraph.viz._common import op_args

MODULES = [elementwise, activation, reduce, shape, linalg, F]
MODULES += [explog, order, rounding, scan, stats, trig, contract, plumbing, joins, gather]
CALLED = [d for d in described_ops() if d.call is not None]  # the ops users call (not internal ones)


def undescribed(modules):
    """The op classes among the modules' public names that have no registered description."""
    classes = {
        v
        for m in modules
        for k, v in vars(m).items()
        if not k.startswith("_") and isinstance(v, type) and issubclass(v, Op) and v is not Op
    }
    return sorted(
        (c for c in classes if "description" not in c.__dict__ or find(c.name) is not c.description),
        key=lambda c: c.__name__,
    )


def test_every_op_class_has_a_description():
    assert undescribed(MODULES) == []
    assert find("cross_entropy") is F.SoftmaxCrossEntropy.description
    assert find("dropout") is F.DropoutMask.description


def test_an_op_class_without_a_description_is_found():
    class Cube(Op):
        name = "cube"

    class Forgotten(Op):  # a description, but never registered (no @described)
        name = "forgotten"
        description = Description(call=lambda a: a)

    module = types.SimpleNamespace(Cube=Cube, Forgotten=Forgotten, Exp=elementwise.Exp)
    assert undescribed([module]) == [Cube, Forgotten]


def test_every_public_function_is_described():
    ops = tinygraph.ops
    for name in ops.__all__:
        fn = getattr(ops, name)
        aliases = [n for n in ops.__all__ if getattr(ops, n) is fn]  # divide is div, ...
        assert any(find(n) for n in aliases) or hasattr(fn, "description"), name


def test_the_register_lists_each_op_once_in_name_order_and_refuses_a_second_one():
    names = [d.name for d in described_ops()]
    assert names == sorted(set(names))
    assert all(isinstance(d, Description) and d.name for d in described_ops())
    with pytest.raises(ValueError, match="'add' is already described by tinygraph.ops.elementwise.Add"):
        describes(Description("add"))(lambda a, b: a + b)
    with pytest.raises(ValueError, match="needs the op's name"):
        describes(Description())(lambda a: a)
    assert find("add") is elementwise.Add.description


def test_described_names_a_class_description_after_the_op():
    assert elementwise.Exp.description.name == "exp" and reduce.Max.description.name == "max"
    assert find("mean") is reduce.mean.description
    assert find("mean").call is reduce.mean  # a function is its own call


def _samples(d):
    for i, shapes in enumerate(d.case_shapes):
        yield d.sample(np.random.default_rng([7, i, *d.name.encode()]), shapes)


@pytest.mark.parametrize("d", CALLED, ids=lambda d: d.name)
def test_numpy_reference_agrees_with_the_forward(d):
    assert d.numpy is not None
    for arrays, params in _samples(d):
        assert len(arrays) == d.inputs
        out = d.call(*(tg.tensor(a) for a in arrays), **params)
        ref = np.asarray(d.numpy(*arrays, **params))
        assert out.shape == ref.shape, (params, out.shape, ref.shape)
        np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-14, err_msg=str(params))


@pytest.mark.parametrize("d", [d for d in CALLED if d.torch is not None], ids=lambda d: d.name)
def test_torch_reference_agrees_with_the_forward(d):
    torch = pytest.importorskip("torch", reason="PyTorch is the optional oracle: pip install tinygraph[oracle]")
    for arrays, params in _samples(d):
        out = d.call(*(tg.tensor(a) for a in arrays), **params)
        ref = d.torch(torch, *(torch.tensor(a) for a in arrays), **params).numpy()
        assert out.shape == ref.shape, params
        np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-14, err_msg=str(params))


@pytest.mark.parametrize("d", CALLED, ids=lambda d: d.name)
def test_source_runs_the_same_call(d):
    for arrays, params in _samples(d):
        if not d.differentiable:  # (integer or boolean results are not steps of the random programs)
            names = [f"x{i}" for i in range(len(arrays))]
            scope = {"tg": tg, "np": np, **{n: tg.tensor(a) for n, a in zip(names, arrays)}}
            got = eval(d.code(names, {k: repr(v) for k, v in params.items()}), scope)
            np.testing.assert_array_equal(got.data, d.call(*(tg.tensor(a) for a in arrays), **params).data)
            continue
        p = Program(arrays, [Step(d.name, tuple(range(len(arrays))), params)])  # one step: the op itself
        scope = {"tg": tg, "np": np}
        exec(p.source(), scope)
        np.testing.assert_array_equal(scope[f"v{len(arrays)}"].data, p().data)


@pytest.mark.parametrize("d", CALLED, ids=lambda d: d.name)
def test_every_listed_shape_is_sampled_with_finite_values(d):
    for (arrays, params), shapes in zip(_samples(d), d.case_shapes):
        assert tuple(a.shape for a in arrays) == tuple(shapes)
        assert np.isfinite(d.numpy(*arrays, **params)).all()


def test_a_sampler_that_refuses_every_draw_says_so():
    with pytest.raises(ValueError, match=r"squeeze: no valid parameters for inputs of shapes \(\(3, 4\),\)"):
        find("squeeze").sample(np.random.default_rng(0), [(3, 4)])


def test_picture_labels_name_the_arguments_from_the_descriptions():
    x = tg.tensor(np.zeros((3, 2)))
    assert op_args("clip", (x, -1.0, None)) == ["min=-1"]
    assert op_args("leaky_relu", (x, 0.1)) == ["slope=0.1"]
    assert op_args("cross_entropy", (x, np.array([0, 1, 1]), "mean")) == ["labels=array(3,)", "reduction='mean'"]
    assert op_args("astype", (x, np.dtype(np.float32))) == ["float32"]
    assert op_args("index_add", (x, (3, 2), (slice(0, 2),))) == ["shape=(3, 2)", "[0:2]"]
    assert op_args("not_an_op", (x, 3)) == ["3"]
