"""The numpy vocabulary (issue 20): elementwise ops, reductions and scans, against numpy and PyTorch.

One table: every op below, at shapes with broadcasting and with axes of length 0 and 1, in
float64 and float32. numpy is the oracle of every forward value (and dtype); finite differences
in float64 and PyTorch (when installed) are the oracles of the first and second derivatives.
The inputs and parameters come from each op's description (`tinygraph.ops.describe`). After the
table: the points where a gradient is undefined or easy to get wrong, each with its documented
choice, and the ops with integer or boolean results.
"""

import warnings

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.ops import find

ELEMENTWISE = (
    "sin cos tan arcsin arccos arctan sinh cosh arcsinh arccosh arctanh log1p expm1 log2 log10 exp2 "
    "square cbrt reciprocal sinc sign floor ceil round rint trunc nan_to_num"
).split()
BINARY = "arctan2 hypot logaddexp logaddexp2 fmax fmin mod".split()
REDUCTIONS = "prod std cumsum cumprod average ptp median quantile trace sort diff".split()
INTEGER_RESULTS = "argmax argmin argsort any all count_nonzero".split()

ONE_INPUT = [(), (1,), (0,), (3, 1), (1, 4), (2, 0, 3), (2, 3, 4)]
TWO_INPUTS = [((3, 1), (1, 4)), ((0, 3), (3,)), ((1,), (2, 3)), ((), (2, 1)), ((2, 3), (2, 3))]


def _cases():
    for name in ELEMENTWISE + BINARY + REDUCTIONS:
        d = find(name)
        shapes = TWO_INPUTS if d.inputs == 2 else [(s,) for s in ONE_INPUT]
        if name == "average":  # weights of the input's shape
            shapes = [(s, s) for s in ONE_INPUT]
        for shape in shapes:
            yield name, shape


CASES = list(_cases())


def _sample(d, shapes, seed):
    """Inputs and parameters from the op's description, or None where no parameters fit these shapes."""
    try:
        return d.sample(np.random.default_rng([seed, *d.name.encode()]), shapes, margin=1e-2)
    except ValueError:
        return None


def _vjp_and_hvp(d, arrays, params, v, u):
    """tinygraph's vector-Jacobian product with v and Hessian-vector product with u (float64)."""
    xs = [tg.tensor(a, requires_grad=True) for a in arrays]
    f = (d.call(*xs, **params) * tg.tensor(v)).sum()
    gs = tg.grad(f, xs, create_graph=True, allow_unused=True, materialize_grads=True)
    h = sum((g * tg.tensor(ui)).sum() for g, ui in zip(gs, u))
    if not isinstance(h, tg.Tensor) or not h.requires_grad:
        return [g.data for g in gs], [np.zeros(a.shape) for a in arrays]
    hs = tg.grad(h, xs, allow_unused=True, materialize_grads=True)
    return [g.data for g in gs], [g.data for g in hs]


def _torch_vjp_and_hvp(torch, d, arrays, params, v, u):
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    f = (d.torch(torch, *xs, **params) * torch.tensor(v)).sum()
    gs = torch.autograd.grad(f, xs, create_graph=True, allow_unused=True)
    gs = [torch.zeros_like(x) if g is None else g for x, g in zip(xs, gs)]
    h = sum((g * torch.tensor(ui)).sum() for g, ui in zip(gs, u))
    if not h.requires_grad:
        return [g.detach().numpy() for g in gs], [np.zeros(a.shape) for a in arrays]
    hs = torch.autograd.grad(h, xs, allow_unused=True)
    return [g.detach().numpy() for g in gs], [
        np.zeros(a.shape) if g is None else g.detach().clone().numpy() for a, g in zip(arrays, hs)
    ]


@pytest.mark.parametrize(("name", "shapes"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_against_numpy_finite_differences_and_pytorch(name, shapes):
    d = find(name)
    sample = _sample(d, shapes, 3)
    if sample is None:  # e.g. trace of a vector, the median of an empty axis: numpy refuses them too
        pytest.skip(f"{name} is not defined at {shapes}")
    arrays, params = sample
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (numpy's "mean of empty slice")
            ref = np.asarray(d.numpy(*arrays, **params))
    except (ValueError, IndexError, ZeroDivisionError):
        ref = None
    if ref is None or (ref.size and np.isnan(ref).all()):
        # numpy refuses (ptp of nothing) or gives NaN (the median of nothing): an error naming the op
        with pytest.raises((ValueError, ZeroDivisionError), match=f"^{name}: "):
            d.call(*(tg.tensor(a) for a in arrays), **params)
        return

    # forward: numpy's value, shape and dtype, in float64 and in float32
    out = d.call(*(tg.tensor(a) for a in arrays), **params)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-14)
    arrays32 = [a.astype(np.float32) for a in arrays]
    x32 = [tg.tensor(a, requires_grad=True) for a in arrays32]
    out32 = d.call(*x32, **params)
    ref32 = np.asarray(d.numpy(*arrays32, **params))
    assert out32.dtype == ref32.dtype, name
    assert ref32.dtype == np.float32 or (name == "quantile" and np.ndim(params["q"]))  # (numpy: float64 levels)
    np.testing.assert_allclose(out32.data, ref32, rtol=2e-5, atol=2e-5)
    if out32.size and out32.dtype == np.float32:
        (out32 * np.float32(0.5)).sum().backward()
        assert all(x.grad.dtype == np.float32 for x in x32)

    # gradients: finite differences (float64), first order and second (of the output squared, so
    # that a linear op's second derivative is not zero whatever its backward does)
    xs = [tg.tensor(a) for a in arrays]
    first = tg.gradcheck(lambda *t: d.call(*t, **params), xs)
    assert first.passed and (first.difference < 1e-7 or first.max_abs_error <= 1e-8), str(first)
    second = tg.gradgradcheck(lambda *t: d.call(*t, **params) ** 2, xs)
    assert second.passed and (second.difference < 1e-6 or second.max_abs_error <= 1e-8), str(second)

    # and PyTorch: the same vjp and Hessian-vector product
    torch = pytest.importorskip("torch", reason="PyTorch is the optional oracle: pip install tinygraph[oracle]")
    rng = np.random.default_rng(5)
    v = rng.standard_normal(ref.shape)
    u = [rng.standard_normal(a.shape) for a in arrays]
    ours, theirs = _vjp_and_hvp(d, arrays, params, v, u), _torch_vjp_and_hvp(torch, d, arrays, params, v, u)
    for kind, mine, ref_t in zip(("vjp", "hvp"), ours, theirs):
        for a, b in zip(mine, ref_t):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=f"{name} {kind} {params}")


def test_the_table_checks_every_op_at_a_size_0_axis_and_broadcasts():
    checked = {n for n, s in CASES if _sample(find(n), s, 3) is not None}
    assert checked == set(ELEMENTWISE + BINARY + REDUCTIONS)
    empty = {n for n, s in CASES if any(0 in x for x in s) and _sample(find(n), s, 3) is not None}
    # defined over empty arrays (median, quantile, ptp and std of nothing are errors, as in numpy)
    assert set(ELEMENTWISE + BINARY) | {"prod", "cumsum", "cumprod", "sort", "diff", "trace"} <= empty | {"trace"}
    assert all(find(n).differentiable for n in checked)
    assert not any(find(n).differentiable for n in INTEGER_RESULTS)


# ----- undefined points and zeros: each choice, documented in the op's docstring -----------------


def hessian(fn, x):
    """The full Hessian of a scalar fn at x, by tinygraph's second derivatives."""
    t = tg.tensor(x, requires_grad=True)
    (g,) = tg.grad(fn(t), [t], create_graph=True)
    rows = []
    for i in range(x.size):
        (h,) = tg.grad(g.reshape(-1)[i], [t], retain_graph=True, allow_unused=True, materialize_grads=True)
        rows.append(h.data.reshape(-1))
    return g.data, np.array(rows)


def others(x, i, k=None):
    return np.prod([v for j, v in enumerate(x) if j not in (i, k)])


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 0.5], [0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 0.0, 2.0], [1.0, 2.0, 3.0]])
def test_prod_gradient_and_hessian_are_exact_at_zeros(x):
    x = np.array(x)
    g, h = hessian(tg.prod, x)
    n = len(x)
    assert g.tolist() == [others(x, i) for i in range(n)]  # not g * prod / x, which is 0/0 at a zero
    expected = np.array([[0.0 if i == k else others(x, i, k) for k in range(n)] for i in range(n)])
    np.testing.assert_array_equal(h, expected)


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 0.5], [0.0, 2.0, 0.0, 3.0], [1.5, 0.0, 0.0, 0.0, 2.0]])
def test_cumprod_gradient_and_hessian_are_exact_at_zeros(x):
    x = np.array(x)
    w = np.arange(1.0, len(x) + 1)  # d/dx sum(w * cumprod(x))
    g, h = hessian(lambda t: (tg.cumprod(t) * w).sum(), x)
    n = len(x)

    def term(i, k, j=None):  # d/dx_k (and d/dx_j) of prod(x[:i+1])
        idx = [m for m in range(i + 1) if m not in (k, j)]
        return np.prod(x[idx]) if k <= i and (j is None or j <= i) else 0.0

    np.testing.assert_allclose(g, [sum(w[i] * term(i, k) for i in range(n)) for k in range(n)], rtol=1e-15)
    expected = [[0.0 if j == k else sum(w[i] * term(i, k, j) for i in range(n)) for j in range(n)] for k in range(n)]
    np.testing.assert_allclose(h, expected, rtol=1e-15)


def test_sort_ties_follow_a_stable_sort():
    x = tg.tensor([1.0, 1.0, 0.0], requires_grad=True)
    out = tg.sort(x)
    (out * tg.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert out.tolist() == [0.0, 1.0, 1.0]
    assert x.grad.tolist() == [10.0, 100.0, 1.0]  # the first 1 takes the first place of the two


def test_median_and_quantile_send_the_gradient_to_the_selected_elements():
    x = tg.tensor([1.0, 2.0, 2.0], requires_grad=True)
    tg.median(x).backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]  # a tie: the first of the tied middle values
    x = tg.tensor([[3.0, 1.0, 2.0, 4.0]], requires_grad=True)
    (tg.quantile(x, [0.25, 0.5], axis=1) * tg.tensor([[1.0], [10.0]])).sum().backward()
    # 0.25: index 0.75 between 1 (x[1]) and 2 (x[2]); 0.5: halfway between 2 (x[2]) and 3 (x[0])
    np.testing.assert_allclose(x.grad.data, [[5.0, 0.25, 0.75 + 5.0, 0.0]])
    assert tg.quantile(x, 0.5, axis=1, method="lower").tolist() == [2.0]


def test_steps_have_zero_gradient_also_at_their_jumps():
    for fn, at in [(tg.sign, 0.0), (tg.floor, 2.0), (tg.ceil, -1.0), (tg.trunc, 3.0), (tg.rint, 0.5), (tg.round, 2.5)]:
        x = tg.tensor([at, at + 0.25], requires_grad=True)
        (g,) = tg.grad((fn(x) * x).sum(), [x], create_graph=True)
        np.testing.assert_array_equal(g.data, fn(x.data))  # d/dx (f(x) x) = f(x) + 0 * x
        (h,) = tg.grad(g.sum(), [x], allow_unused=True, materialize_grads=True)
        assert h.tolist() == [0.0, 0.0]
    assert tg.round(tg.tensor([0.5, 1.5, 2.5])).tolist() == [0.0, 2.0, 2.0]  # halves to even, as numpy


def test_mod_follows_the_sign_of_the_divisor_and_the_piece_at_a_jump():
    a = tg.tensor([5.5, -5.5, 4.0], requires_grad=True)
    b = tg.tensor([2.0, 2.0, 2.0], requires_grad=True)
    out = a % b
    np.testing.assert_array_equal(out.data, np.mod(a.data, b.data))
    assert out.tolist() == [1.5, 0.5, 0.0]
    out.sum().backward()
    assert a.grad.tolist() == [1.0, 1.0, 1.0]
    assert b.grad.tolist() == [-2.0, 3.0, -2.0]  # -floor(a / b); at 4 mod 2 the piece starting at 4
    assert (7.0 % tg.tensor(3.0)).item() == 1.0 and tg.remainder is tg.mod


def test_fmax_and_fmin_ignore_nan_and_split_ties():
    a = tg.tensor([np.nan, 1.0, 2.0, np.nan], requires_grad=True)
    b = tg.tensor([2.0, np.nan, 2.0, np.nan], requires_grad=True)
    out = tg.fmax(a, b)
    np.testing.assert_array_equal(out.data, np.fmax(a.data, b.data))
    out.sum().backward()
    assert a.grad.tolist() == [0.0, 1.0, 0.5, 1.0] and b.grad.tolist() == [1.0, 0.0, 0.5, 0.0]
    a.grad = b.grad = None
    tg.fmin(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 1.0, 0.5, 1.0]


def test_nan_to_num_passes_the_gradient_where_the_input_is_finite():
    x = tg.tensor(np.array([np.nan, np.inf, -np.inf, 2.0], dtype=np.float32), requires_grad=True)
    out = tg.nan_to_num(x, nan=1.0, neginf=-5.0)
    np.testing.assert_array_equal(out.data, np.nan_to_num(x.data, nan=1.0, neginf=-5.0))
    assert out.dtype == np.float32
    (out * 0.5).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 0.5]


def test_sinc_near_zero_has_its_taylor_derivatives():
    x = np.array([0.0, 1e-6, -3e-3, 0.3])
    g, h = hessian(lambda t: tg.sinc(t).sum(), x)
    # sinc'(x) = -pi^2 x / 3 + pi^4 x^3 / 30 - ... near 0; (cos(pi x) - sinc(x)) / x at 0.3
    near = -(np.pi**2) * x[:3] / 3 + np.pi**4 * x[:3] ** 3 / 30 - np.pi**6 * x[:3] ** 5 / 840
    np.testing.assert_allclose(g[:3], near, rtol=1e-12, atol=0)
    np.testing.assert_allclose(g[3], (np.cos(0.3 * np.pi) - np.sinc(0.3)) / 0.3, rtol=1e-12)
    np.testing.assert_allclose(np.diag(h)[:3], -(np.pi**2) / 3, rtol=1e-4)  # sinc''(0) = -pi^2 / 3


def test_std_at_zero_spread_and_hypot_at_the_origin_have_no_derivative():
    x = tg.tensor([2.0, 2.0], requires_grad=True)
    assert tg.std(x).item() == 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        tg.std(x).backward()
    assert np.isnan(x.grad.data).all()  # sqrt's kink at 0, as PyTorch gives
    a, b = tg.tensor(0.0, requires_grad=True), tg.tensor(0.0, requires_grad=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        tg.hypot(a, b).backward()
    assert np.isnan(a.grad.item())


# ----- numpy's signatures, methods and operators ------------------------------------------------------


def test_methods_and_operators_agree_with_numpy():
    a = np.array([[0.5, -1.25, 2.0], [3.0, 0.25, -0.75]])
    t = tg.tensor(a)
    np.testing.assert_allclose((t % 0.7).data, a % 0.7)
    np.testing.assert_allclose((2.0 % tg.tensor(a + 3)).data, 2.0 % (a + 3))
    assert t.prod(axis=1).tolist() == a.prod(axis=1).tolist()
    np.testing.assert_allclose(t.std(axis=0, ddof=1).data, a.std(axis=0, ddof=1))
    assert t.cumsum().tolist() == a.cumsum().tolist() and t.cumprod(axis=1).tolist() == a.cumprod(axis=1).tolist()
    assert t.trace(offset=1) == a.trace(offset=1) and t.round(1).tolist() == a.round(1).tolist()
    assert t.argmax(axis=1).tolist() == [2, 0] and t.argmin() == 1 and t.argsort().tolist() == a.argsort().tolist()
    assert t.any() and not (t * 0).any(axis=0).data.any() and t.all(axis=1, keepdims=True).shape == (2, 1)


def test_plain_arrays_in_plain_arrays_out():
    x = np.array([0.5, 1.0])
    for out in (tg.sin(x), tg.prod(x), tg.cumsum(x), tg.sort(x), tg.argmax(x), tg.any(x), tg.median(x)):
        assert isinstance(out, (np.ndarray, np.generic)), type(out)  # (reductions: numpy's scalars, as tg.sum)
    assert isinstance(tg.sin(0.5), tg.Tensor)  # a Python number becomes a Tensor


def test_integer_and_boolean_results_are_data_outside_the_graph():
    x = tg.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 0.0]], requires_grad=True)
    for out, ref in [
        (tg.argmax(x, axis=1), np.argmax(x.data, axis=1)),
        (tg.argmin(x, keepdims=True), np.argmin(x.data, keepdims=True)),
        (tg.argsort(x, axis=0), np.argsort(x.data, axis=0)),
        (tg.count_nonzero(x, axis=1), np.count_nonzero(x.data, axis=1)),
        (tg.any(x == 5.0, axis=0), np.any(x.data == 5.0, axis=0)),
        (tg.all(x, axis=(0, 1)), np.all(x.data, axis=(0, 1))),
    ]:
        assert not out.requires_grad and out.grad_fn is None
        assert out.dtype == ref.dtype and out.shape == ref.shape
        np.testing.assert_array_equal(out.data, ref)
    x[1, tg.argmax(x[1]).item()].backward()  # indices pick elements that do have gradients
    assert x.grad.tolist() == [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_integer_inputs_keep_numpys_dtypes():
    n = np.arange(1, 5)
    assert tg.prod(n) == 24 and tg.prod(n).dtype == np.prod(n).dtype
    assert tg.cumsum(n).dtype == np.cumsum(n).dtype and tg.square(n).dtype == n.dtype
    assert tg.quantile(n, 0.5) == np.quantile(n, 0.5) and tg.sin(n).dtype == np.float64
    assert tg.sin(tg.tensor(np.ones(2, np.float32))).dtype == np.float32


def test_diff_average_and_trace_follow_numpys_signatures():
    a = np.array([[1.0, 4.0, 9.0, 16.0], [2.0, 3.0, 5.0, 8.0]])
    np.testing.assert_array_equal(tg.diff(a, 2, axis=1), np.diff(a, 2, axis=1))
    np.testing.assert_array_equal(tg.diff(a, axis=0, prepend=0.0), np.diff(a, axis=0, prepend=0.0))
    np.testing.assert_array_equal(
        tg.diff(a, append=np.ones((2, 1)), prepend=-1.0), np.diff(a, append=np.ones((2, 1)), prepend=-1.0)
    )
    w = np.array([1.0, 2.0, 0.5, 0.5])
    avg, total = tg.average(a, axis=1, weights=w, returned=True)
    ref_avg, ref_total = np.average(a, axis=1, weights=w, returned=True)
    np.testing.assert_allclose(avg, ref_avg) and np.testing.assert_allclose(total, ref_total)
    np.testing.assert_allclose(tg.average(a, axis=0), np.average(a, axis=0))
    x, wt = tg.tensor(a, requires_grad=True), tg.tensor(w, requires_grad=True)
    assert tg.gradgradcheck(lambda x, wt: tg.average(x, axis=1, weights=wt) ** 2, [x, wt]).passed
    b = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(tg.trace(b, -1, 2, 1), np.trace(b, -1, 2, 1))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: tg.trace(x[0]), r"trace: needs at least 2 dimensions, got a tensor of shape \(3,\)"),
        (lambda x: tg.quantile(x, 1.5), r"quantile: q must be in \[0, 1\], got 1.5"),
        (lambda x: tg.quantile(x, 0.5, method="weibull"), "quantile: method must be one of"),
        (lambda x: tg.median(x[:, :0], axis=1), r"median: cannot take a quantile over an empty axis .* \(2, 0\)"),
        (lambda x: tg.average(x, weights=np.ones(3)), r"average: weights of shape \(3,\) differ from a's \(2, 3\)"),
        (lambda x: tg.average(x, axis=1, weights=np.ones(2)), r"average: 2 weights for axis 1 of length 3"),
        (lambda x: tg.average(x, weights=x * 0), "average: weights sum to zero"),
        (lambda x: tg.sort(x[0, 0]), "sort: axis -1 is out of range for a 0-d tensor"),
        (lambda x: tg.cumsum(x, axis=2), r"cumsum: axis 2 is out of range for a tensor of shape \(2, 3\)"),
        (lambda x: tg.argmax(x[:, :0]), r"argmax: attempt to get argmax of an empty sequence \(shape \(2, 0\)"),
        (lambda x: tg.diff(x[0, 0]), "diff: needs at least 1 dimension"),
        (lambda x: tg.arctan2(x, np.ones(2)), r"arctan2: .*\(2, 3\).*\(2,\)"),
    ],
)
def test_bad_input_names_the_op_and_leaves_the_input_alone(call, message):
    a = np.arange(6.0).reshape(2, 3)
    before = a.copy()
    with pytest.raises((ValueError, TypeError, ZeroDivisionError), match=message):
        call(tg.tensor(a, requires_grad=True))
    np.testing.assert_array_equal(a, before)


def test_numpys_einsum_on_a_tensor_takes_its_keyword_options_after_the_operands():
    A = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    B = np.ones((3, 2))
    r = np.einsum("ij,jk->ik", A, B, optimize=True)  # optimize= was passed on as a third operand
    assert isinstance(r, tg.Tensor)
    np.testing.assert_array_equal(r.data, np.einsum("ij,jk->ik", A.data, B))
    r.sum().backward()
    np.testing.assert_array_equal(A.grad.data, np.full((2, 3), 2.0))  # each a_ij meets a row of B's ones twice
