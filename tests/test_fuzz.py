"""Differential fuzzing: random programs against finite differences (1st and 2nd order) and PyTorch.

The normal run checks a few hundred fixed programs (derandomized, so CI is stable);
``pytest tests/test_fuzz.py --deep`` checks thousands of fresh ones.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph.autograd import topo_order
from tinygraph.ops import activation
from tinygraph.testing import CITED_OPS, OP_NAMES, check_program, random_program

seeds = st.integers(0, 2**32 - 1)

# every primitive op of the engine (its graph node names), as listed in the engine's contract
PRIMITIVES = set(
    "add sub mul div neg pow exp log sqrt abs maximum minimum clip where astype sigmoid tanh relu leaky_relu "
    "softplus sum max min log_softmax reshape transpose broadcast_to sum_to concatenate getitem matmul".split()
)
COMPOSITES = {"mean", "var", "logsumexp", "softmax", "stack", "expand_dims", "squeeze", "flatten"}


def _fuzz(deep: bool, normal: int, deep_n: int):
    return settings(
        max_examples=deep_n if deep else normal,
        deadline=None,
        derandomize=not deep,
        database=None if not deep else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow],
    )


def test_random_programs_match_finite_differences(deep):
    @_fuzz(deep, 400, 5000)
    @given(seed=seeds)
    def check(seed):
        result = check_program(random_program(seed), torch=False)
        assert result.passed, str(result)

    check()


def test_random_programs_match_second_order_finite_differences(deep):
    @_fuzz(deep, 150, 2000)
    @given(seed=seeds)
    def check(seed):
        result = check_program(random_program(seed, n_ops=int(seed % 6) + 1), second_order=True, torch=False)
        assert result.passed, str(result)

    check()


def test_random_programs_match_pytorch(deep):
    pytest.importorskip("torch", reason="PyTorch is the optional oracle: pip install tinygraph[oracle]")

    @_fuzz(deep, 300, 5000)
    @given(seed=seeds)
    def check(seed):
        result = check_program(random_program(seed), torch=True)
        assert result.passed, str(result)

    check()


def test_pytorch_zero_tensor_gradients_are_read_safely():
    # PyTorch returns one of its memory-less "zero tensors" as a second-order gradient of this
    # program; reading it with .numpy() crashed the process (a segfault in pytest --deep)
    pytest.importorskip("torch", reason="PyTorch is the optional oracle: pip install tinygraph[oracle]")
    result = check_program(random_program(377, ops=CITED_OPS), torch=True)
    assert "stack" in random_program(377, ops=CITED_OPS).ops
    assert result.passed, str(result)


def test_pytorch_agreement_allows_for_rounding_and_for_pytorchs_own_error():
    pytest.importorskip("torch", reason="PyTorch is the optional oracle: pip install tinygraph[oracle]")
    from tinygraph.testing import _agree, _derivatives

    # an element of 4e-3 beside one of 7.45 in a Hessian-vector product: 5e-10 apart, both right
    assert check_program(random_program(28613, ops=CITED_OPS), torch=True).passed
    assert _agree(np.array([7.45, 4.03668094e-03]), np.array([7.45, 4.03668139e-03]))
    assert not _agree(np.array([7.45, 4.0e-03]), np.array([7.45, 4.1e-03]))  # a real difference
    # PyTorch's Hessian-vector product is 5e-9 off here; tinygraph's equals its extended-precision value
    p = random_program(61637470, ops=CITED_OPS)
    rng = np.random.default_rng(0)
    v, u = (
        rng.standard_normal(p(*[tg.tensor(x) for x in p.inputs]).shape),
        [rng.standard_normal(x.shape) for x in p.inputs],
    )
    hs, hx = _derivatives(p, v, u, np.float64)[1], _derivatives(p, v, u, np.longdouble)[1]
    assert abs(hs[1][0, 0] - float(hx[1][0, 0])) < 1e-13 * abs(hs[1][0, 0])
    assert check_program(p, torch=True).passed


def test_generator_covers_every_op_and_primitive():
    used, nodes = set(), set()
    for seed in range(1000):  # at least 300 programs; more until every op is drawn (arccosh wants all x > 1)
        p = random_program(seed)
        used.update(p.ops)
        xs = [tg.tensor(x, requires_grad=True) for x in p.inputs]
        nodes.update(t._node.name for t in topo_order([p(*xs)]))
        if seed >= 299 and used == set(OP_NAMES):
            break
    assert set(OP_NAMES) == used
    assert PRIMITIVES | COMPOSITES <= used | {"pow_const"} | set(OP_NAMES)
    assert PRIMITIVES <= nodes, PRIMITIVES - nodes


def test_generator_makes_broadcasting_reuse_and_deep_chains():
    broadcast = reuse = deep_chain = 0
    for seed in range(200):
        p = random_program(seed)
        shapes = {x.shape for x in p.inputs}
        broadcast += len(shapes) > 1 and len({len(s) for s in shapes}) > 1
        args = [i for s in p.steps for i in s.args]
        reuse += len(args) != len(set(args))
        deep_chain += len(p.steps) >= 8
    assert broadcast > 20 and reuse > 50 and deep_chain > 30


def test_program_source_reproduces_the_program():
    p = random_program(11, n_ops=8)
    scope = {"tg": tg, "np": np}
    exec(p.source(), scope)
    last = f"v{len(p.inputs) + len(p.steps) - 1}"
    np.testing.assert_array_equal(scope[last].data, p().data)


def test_the_fuzzer_catches_a_wrong_vjp(monkeypatch):
    # tanh's true derivative is 1 - tanh^2; a vjp that forgets the square must be caught
    monkeypatch.setattr(activation.Tanh, "backward", staticmethod(lambda ctx, g, x: g * (1 - ctx.output)))
    programs = [random_program(s, ops=["tanh", "mul", "sum"], n_ops=3) for s in range(12)]
    results = [check_program(p, torch=False) for p in programs if "tanh" in p.ops]
    assert len(results) >= 5 and not any(r.passed for r in results)
    assert "first order vs finite differences" in str(results[0])
    assert "tg.tanh(" in str(results[0])


def test_the_fuzzer_catches_a_wrong_second_derivative(monkeypatch):
    # right values, but computed outside the graph: first order passes, second order must fail
    def backward(ctx, g, x):
        return g * tg.tensor(1 - tg.Tensor(ctx.output).data ** 2)

    monkeypatch.setattr(activation.Tanh, "backward", staticmethod(backward))
    p = random_program(2, ops=["tanh"], n_ops=2)
    assert check_program(p, torch=False).passed
    assert not check_program(p, second_order=True, torch=False).passed


def test_unknown_op_names_are_refused():
    with pytest.raises(ValueError, match="random_program: unknown ops \\['no_such_op'\\]"):
        random_program(0, ops=["no_such_op"])


def test_a_deep_run_found_seed_284312_kron_of_a_flipped_column_against_pytorch():
    """PyTorch's kron views its operands; a (2, 1) of strides (1, 2) (swapaxes, then flipud) made it
    raise, so the reference copies them into the standard layout first. tinygraph was right."""
    pytest.importorskip("torch")
    program = random_program(284312)
    assert "tg.kron(" in str(program) and "tg.flipud(" in str(program)
    result = check_program(program, torch=True)
    assert result.passed and not result.failures, str(result)


def test_a_deep_run_found_seed_9595_pow_at_exponent_zero_where_pytorch_masks_the_gradient():
    """PyTorch's ``a ** b`` masks the base's gradient where the exponent is 0, so the derivative of
    that gradient by the exponent is 0 there; the true value is a ** (b - 1). The program has an
    input element -0.0 that becomes an exponent. The reference is exp(b log a); tinygraph was right."""
    pytest.importorskip("torch")
    program = random_program(9595)
    assert "v2 ** v4" in str(program) and -0.0 in program.inputs[0]
    assert check_program(program, torch=True).passed
    # by hand: f = a ** b at b = 0 (and -0.0), a = 1.469: d/db (df/da) = a ** (b - 1) = 1 / a
    for b0 in (0.0, -0.0):
        a, b = tg.tensor(1.469, requires_grad=True), tg.tensor(b0, requires_grad=True)
        (ga,) = tg.grad(a**b, [a], create_graph=True)
        (gab,) = tg.grad(ga, [b])
        assert gab.item() == pytest.approx(1 / 1.469, rel=1e-15)
        h = 1e-6
        fd = ((b0 + h) * 1.469 ** (b0 + h - 1) - (b0 - h) * 1.469 ** (b0 - h - 1)) / (2 * h)
        assert gab.item() == pytest.approx(fd, rel=1e-8)


@pytest.mark.parametrize("broken", ["nan", "raises"])
def test_check_program_fails_a_custom_op_whose_backward_gives_nan_or_raises(broken):
    from tinygraph.ops._common import Op
    from tinygraph.ops.describe import Description, described

    @described
    class BrokenCube(Op):
        name = f"broken_cube_{broken}"
        description = Description(call=lambda a: BrokenCube.apply(a), numpy=lambda a: a**3)

        @staticmethod
        def forward(ctx, a):
            return a**3

        @staticmethod
        def backward(ctx, g, a):
            if broken == "raises":
                raise RuntimeError("planted")
            return g * np.nan

    try:
        p = random_program(1, ops=[BrokenCube.name, "tanh"], n_ops=3)
        assert BrokenCube.name in p.source()
        assert not check_program(p, torch=False).passed  # it passed: an empty list of worst entries is all-true
    finally:  # leave the register as it was
        from tinygraph import testing
        from tinygraph.ops import describe

        describe._REGISTRY.pop(BrokenCube.name, None)
        testing.OPS.pop(BrokenCube.name, None)
