"""tinygraph.linalg: numpy the oracle for forward values, finite differences (float64) and PyTorch for
first and second derivatives, over stacked shapes and float32/float64; the documented choices where a
gradient does not exist; errors that name the op and the shape.

The ops' own table (every description at its shapes, first and second order against finite
differences) is tests/test_op_table.py; here are the cases it does not draw.
"""

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.ops import find
from tinygraph.ops import matrix_samplers as ms

LA = tg.linalg
OPS = ["inv", "solve", "det", "slogdet", "cholesky", "pinv", "qr", "eigh", "svd", "matrix_power", "lstsq", "norm"]


def rng(*seed):
    return np.random.default_rng(list(seed))


def t(x, grad=False):
    return tg.tensor(np.asarray(x), requires_grad=grad)


def close(report, rtol):
    # where the derivative is zero the relative difference is noise over noise
    return report.passed and (report.difference < rtol or report.max_abs_error <= 1e-8)


def check_fd(fn, arrays, second=True):
    first = tg.gradcheck(fn, [t(a) for a in arrays])
    assert close(first, 1e-6), str(first)
    if second:
        report = tg.gradgradcheck(fn, [t(a) for a in arrays])
        assert close(report, 1e-5), str(report)


# ----- the descriptions: numpy's forward in float64 and float32, PyTorch's first and second derivatives -------


DESCRIBED = [
    pytest.param(find(name), i, shapes, id=f"{name}-{shapes}")
    for name in OPS
    for i, shapes in enumerate(find(name).case_shapes)
]


def _torch_derivatives(torch, d, arrays, params, v, u):
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = d.torch(torch, *xs, **params)
    f = (out * torch.tensor(v)).sum()
    gs = torch.autograd.grad(f, xs, create_graph=True)
    h = sum((g * torch.tensor(ui)).sum() for g, ui in zip(gs, u))
    hs = (
        torch.autograd.grad(h, xs, allow_unused=True, materialize_grads=True)
        if h.requires_grad
        else [0 * x for x in xs]
    )
    return (
        out.detach().numpy(),
        [g.detach().clone().numpy(force=True) for g in gs],
        [g.detach().clone().numpy(force=True) for g in hs],
    )


def _tg_derivatives(d, arrays, params, v, u):
    xs = [t(a, grad=True) for a in arrays]
    out = d.call(*xs, **params)
    gs = tg.grad((out * t(v)).sum(), xs, create_graph=True)
    h = sum((g * t(ui)).sum() for g, ui in zip(gs, u))
    hs = tg.grad(h, xs, allow_unused=True, materialize_grads=True) if h.requires_grad else [0 * x for x in xs]
    return out.data, [g.data for g in gs], [g.data for g in hs]


@pytest.mark.parametrize(("d", "i", "shapes"), DESCRIBED)
def test_forward_matches_numpy_in_both_dtypes(d, i, shapes):
    arrays, params = d.sample(rng(3, i, *d.name.encode()), shapes)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 2e-4)):
        xs = [a.astype(dtype) for a in arrays]
        out = d.call(*[t(x) for x in xs], **params)
        expected = d.numpy(*xs, **params)
        assert out.dtype == np.asarray(expected).dtype == dtype, (out.dtype, np.asarray(expected).dtype)
        np.testing.assert_allclose(out.data, expected, rtol=tol, atol=tol)
        ts = [t(x, grad=True) for x in xs]
        grads = tg.grad((d.call(*ts, **params) ** 2).sum(), ts, allow_unused=True, materialize_grads=True)
        assert all(g.dtype == dtype and np.isfinite(g.data).all() for g in grads)  # float32 stays float32


@pytest.mark.parametrize(("d", "i", "shapes"), DESCRIBED)
def test_first_and_second_derivatives_match_pytorch(d, i, shapes):
    torch = pytest.importorskip("torch")
    arrays, params = d.sample(rng(4, i, *d.name.encode()), shapes)
    r = rng(5, i)
    out = d.call(*[t(a) for a in arrays], **params)
    v = r.standard_normal(out.shape)
    u = [r.standard_normal(a.shape) for a in arrays]
    ours = _tg_derivatives(d, arrays, params, v, u)
    theirs = _torch_derivatives(torch, d, arrays, params, v, u)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, atol=1e-12)
    for a, b in zip(ours[1] + ours[2], theirs[1] + theirs[2]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10 * (1 + np.abs(b).max()))


def test_every_function_of_the_namespace_is_described_or_made_of_described_ops():
    assert {"inv", "solve", "det", "slogdet", "cholesky", "pinv", "qr", "eigh", "svd"} <= {
        d.name for d in tg.ops.described_ops()
    }
    for name in ("matrix_power", "lstsq", "norm"):
        assert getattr(LA, name).description is find(name)
    # tinygraph gradcheck lists them all
    from tinygraph.opcheck import builtin_cases

    listed = {c.op.split(" ")[0] for c in builtin_cases()}
    assert set(OPS) <= listed


# ----- the results numpy returns -----------------------------------------------------------------


def test_results_are_numpys_named_tuples_of_tensors():
    a = rng(1).standard_normal((2, 4, 3))
    u, s, vh = LA.svd(t(a))
    nu, ns, nvh = np.linalg.svd(a)
    assert (u.shape, s.shape, vh.shape) == (nu.shape, ns.shape, nvh.shape) == ((2, 4, 4), (2, 3), (2, 3, 3))
    np.testing.assert_allclose(s.data, ns, rtol=1e-12)
    np.testing.assert_allclose((u[..., :3] * s[..., None, :]) @ vh, a, atol=1e-12)
    thin = LA.svd(t(a), full_matrices=False)
    assert thin.U.shape == (2, 4, 3) and thin.Vh.shape == (2, 3, 3)
    np.testing.assert_allclose(LA.svd(t(a), compute_uv=False).data, ns, rtol=1e-12)
    np.testing.assert_allclose(LA.svdvals(t(a)).data, ns, rtol=1e-12)
    q, r = LA.qr(t(a))
    nq, nr = np.linalg.qr(a)
    np.testing.assert_allclose(q.data, nq, atol=1e-12)
    np.testing.assert_allclose(r.data, nr, atol=1e-12)
    np.testing.assert_allclose(LA.qr(t(a), mode="r").data, np.linalg.qr(a, mode="r"), atol=1e-12)
    assert LA.qr(t(a), mode="complete").Q.shape == (2, 4, 4)
    sym = a[..., :3, :]
    w, v = LA.eigh(t(sym), UPLO="U")
    nw, nv = np.linalg.eigh(sym, UPLO="U")
    np.testing.assert_allclose(w.data, nw, rtol=1e-12)
    np.testing.assert_allclose(np.abs(v.data), np.abs(nv), atol=1e-10)
    np.testing.assert_allclose(LA.eigvalsh(t(sym)).data, np.linalg.eigvalsh(sym), rtol=1e-12)
    sign, logdet = LA.slogdet(t(sym))
    ns_, nl = np.linalg.slogdet(sym)
    assert sign.tolist() == ns_.tolist() and not sign.requires_grad
    np.testing.assert_allclose(logdet.data, nl, rtol=1e-12)


def test_plain_arrays_in_give_plain_arrays_out():
    a = ms.invertible(rng(2), (3, 3))
    assert type(LA.inv(a)) is np.ndarray and type(LA.det(a)) is np.float64  # numpy's det of one matrix
    w, v = LA.eigh(a)
    assert type(w) is np.ndarray and type(v) is np.ndarray
    np.testing.assert_allclose(LA.solve(a, np.ones(3)), np.linalg.solve(a, np.ones(3)))


def test_lstsq_matches_numpy_on_every_result():
    r = rng(6)
    for shape, bshape in (((5, 3), (5,)), ((5, 3), (5, 2)), ((2, 4), (2,)), ((3, 3), (3, 1))):
        a, b = r.standard_normal(shape), r.standard_normal(bshape)
        x, res, rank, s = LA.lstsq(t(a), t(b))
        nx, nres, nrank, ns = np.linalg.lstsq(a, b)
        np.testing.assert_allclose(x.data, nx, atol=1e-12)
        assert res.shape == nres.shape and rank == nrank
        np.testing.assert_allclose(res.data, nres, rtol=1e-10)
        np.testing.assert_allclose(s.data, ns, rtol=1e-12)
    a, b = r.standard_normal((5, 3)), r.standard_normal((5, 2))
    check_fd(lambda a, b: LA.lstsq(a, b)[1].sum() + LA.lstsq(a, b)[3].sum(), [a, b])


def test_solve_broadcasts_its_batch_axes_as_numpy():
    r = rng(7)
    a = ms.invertible(r, (2, 1, 3, 3))
    for bshape in ((3,), (3, 2), (4, 3, 1), (2, 4, 3, 2)):
        b = r.standard_normal(bshape)
        out = LA.solve(t(a), t(b))
        np.testing.assert_allclose(out.data, np.linalg.solve(a, b), rtol=1e-12)
        check_fd(lambda a, b: LA.solve(a, b), [a, b], second=bshape == (4, 3, 1))


def test_matrix_power_of_every_small_exponent():
    a = ms.invertible(rng(8), (2, 3, 3))
    for n in range(-3, 6):
        out = LA.matrix_power(t(a), n)
        np.testing.assert_allclose(out.data, np.linalg.matrix_power(a, n), rtol=1e-11)
    x = t(a, grad=True)
    LA.matrix_power(x, 0).sum().backward()
    assert x.grad.tolist() == np.zeros_like(a).tolist()  # identities: gradient 0
    check_fd(lambda a: LA.matrix_power(a, 5), [a])
    check_fd(lambda a: LA.matrix_power(a, -2), [a])


def test_pinv_cutoffs_as_numpy():
    a = np.diag([1.0, 1e-9, 0.0])
    for kw in ({}, {"rcond": 1e-6}, {"rtol": 1e-12}, {"rtol": None}):
        np.testing.assert_allclose(LA.pinv(t(a), **kw).data, np.linalg.pinv(a, **kw), rtol=1e-12)
    with pytest.raises(ValueError, match="pinv: give rcond or rtol"):
        LA.pinv(t(a), rcond=1e-3, rtol=1e-3)


# ----- norm: numpy's ord, axis and keepdims ---------------------------------------------------------

VECTOR = [(o, ax) for o in (None, 2, 1, np.inf, -np.inf, 0, 3, 0.5, -1, -2) for ax in (0, -1, 1)]
MATRIX = [(o, ax) for o in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf) for ax in ((0, 1), (1, 0), (-1, 0))]


@pytest.mark.parametrize(("ord_", "axis"), VECTOR + MATRIX, ids=str)
def test_norm_matches_numpy_and_its_gradients(ord_, axis):
    x = rng(9).standard_normal((3, 4, 2)) + 0.1  # no zeros (kinks of |x|), no ties
    for keepdims in (False, True):
        for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
            out = LA.norm(t(x.astype(dtype)), ord_, axis, keepdims)
            expected = np.linalg.norm(x.astype(dtype), ord_, axis, keepdims)
            assert out.shape == expected.shape and out.dtype == expected.dtype
            np.testing.assert_allclose(out.data, expected, rtol=tol)
    if ord_ != 0:
        check_fd(lambda x: LA.norm(x, ord_, axis), [x], second=ord_ not in (2, -2, "nuc") or axis == (0, 1))


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 3, 4)])
def test_norm_without_axis(shape):
    x = rng(10).standard_normal(shape)
    for keepdims in (False, True):
        np.testing.assert_allclose(LA.norm(t(x), keepdims=keepdims).data, np.linalg.norm(x, keepdims=keepdims))
    if len(shape) in (1, 2):
        for o in (1, np.inf) + (("fro", "nuc") if len(shape) == 2 else (0.5,)):
            np.testing.assert_allclose(LA.norm(t(x), o).data, np.linalg.norm(x, o))
    check_fd(lambda x: LA.norm(x), [x])


def test_norm_against_pytorch_including_second_order():
    torch = pytest.importorskip("torch")
    x = rng(11).standard_normal((3, 4)) + 0.1
    for o, ax in [(None, None), (3, 1), (np.inf, 0), ("nuc", None), (2, None), (-np.inf, (1, 0)), (0.5, 0)]:
        xt = torch.tensor(x, requires_grad=True)
        (g,) = torch.autograd.grad(torch.linalg.norm(xt, o, ax).sum(), xt, create_graph=True)
        (h,) = torch.autograd.grad((g * g).sum(), xt, allow_unused=True, materialize_grads=True)
        xs = t(x, grad=True)
        (ours,) = tg.grad(LA.norm(xs, o, ax).sum(), [xs], create_graph=True)
        (ours_h,) = tg.grad((ours * ours).sum(), [xs], allow_unused=True, materialize_grads=True)
        np.testing.assert_allclose(ours.data, g.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours_h.data, h.clone().numpy(force=True), rtol=1e-8, atol=1e-10)


def test_norm_gradient_at_zero_is_zero_and_order_zero_counts():
    x = t(np.zeros((2, 3)), grad=True)
    LA.norm(x, axis=1).sum().backward()
    assert x.grad.tolist() == np.zeros((2, 3)).tolist()
    count = LA.norm(t([0.0, 2.0, -1.0], grad=True), 0)
    assert count.item() == 2.0 and not count.requires_grad


# ----- where the gradient does not exist, or only just: the documented choices ----------------------


def test_det_of_a_singular_matrix_has_the_cofactors_for_gradient_and_a_second_derivative():
    a = t([[1.0, 2.0], [2.0, 4.0]], grad=True)  # det 0
    (g,) = tg.grad(LA.det(a), [a], create_graph=True)
    assert g.tolist() == [[4.0, -2.0], [-2.0, 1.0]]  # the cofactor matrix, by hand
    rank2 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])  # rank 2: cofactors of rank 1
    b = t(rank2, grad=True)
    (gb,) = tg.grad(LA.det(b), [b])
    cof = np.array([[-3.0, 6.0, -3.0], [6.0, -12.0, 6.0], [-3.0, 6.0, -3.0]])
    np.testing.assert_allclose(gb.data, cof, atol=1e-12)
    check_fd(LA.det, [rank2])  # first and second order, through the minors
    check_fd(LA.det, [np.ones((2, 3, 3))])  # rank 1: every cofactor is 0
    check_fd(LA.det, [np.stack([rank2, np.eye(3)])])  # one singular matrix in a stack


def test_slogdet_gradient_at_a_singular_matrix_raises_with_the_op_named():
    a = t([[1.0, 2.0], [2.0, 4.0]], grad=True)
    sign, logdet = LA.slogdet(a)
    assert sign.item() == 0.0 and logdet.item() == -np.inf
    with pytest.raises(LA.LinAlgError, match=r"slogdet: the gradient of log\|det\| at a singular matrix"):
        logdet.backward()


def test_eigh_at_repeated_eigenvalues():
    a = np.diag([2.0, 2.0, 5.0])
    x = t(a, grad=True)
    w, v = LA.eigh(x)
    (w * w).sum().backward()  # sum of squared eigenvalues = ||A||_F^2 for the symmetric matrix read
    np.testing.assert_allclose(x.grad.data, np.diag([4.0, 4.0, 10.0]), atol=1e-12)
    x.grad = None
    w, v = LA.eigh(x)
    (v * v * w[None, :]).sum().backward()  # a loss of the vectors: finite (its derivative does not exist)
    assert np.isfinite(x.grad.data).all()
    # symmetric functions of the values are differentiable at a repeated value (a single one is not: a kink);
    # first order only: the second derivative there goes through the vectors
    check_fd(lambda a: (LA.eigh(a)[0] ** 3).sum(), [np.eye(3) * 3.0], second=False)


def test_eigh_reads_one_triangle_and_its_gradient_is_for_that_triangle():
    a = rng(12).standard_normal((3, 3))
    for uplo, other in (("L", np.triu_indices(3, 1)), ("U", np.tril_indices(3, -1))):
        x = t(a, grad=True)
        (LA.eigh(x, uplo)[0] * t([1.0, 2.0, 3.0])).sum().backward()
        assert (x.grad.data[other] == 0).all()  # never read: no gradient
        check_fd(lambda a, uplo=uplo: LA.eigh(a, uplo)[0], [a])


def test_svd_at_repeated_and_zero_singular_values():
    x = t(np.eye(3), grad=True)
    LA.svd(x, compute_uv=False).sum().backward()  # the nuclear norm: gradient U V^T = I
    np.testing.assert_allclose(x.grad.data, np.eye(3), atol=1e-12)
    rank1 = np.outer([1.0, 2.0, 2.0], [1.0, -1.0])  # 3 x 2 with singular values 3 sqrt(2) and 0
    y = t(rank1, grad=True)
    LA.svd(y, full_matrices=False).S[0].backward()
    np.testing.assert_allclose(y.grad.data, rank1 / np.linalg.norm(rank1), atol=1e-12)


def test_svd_full_matrices_ignores_the_extra_columns_and_matches_the_thin_gradient():
    a = rng(13).standard_normal((4, 2))

    def loss(full):
        x = t(a, grad=True)
        u, s, vh = LA.svd(x, full_matrices=full)
        ((u[:, :2] * u[:, :2] * s) @ (vh * vh)).sum().backward()
        return x.grad.data

    np.testing.assert_allclose(loss(True), loss(False), atol=1e-12)


def test_qr_modes_and_shapes_are_differentiable():
    r = rng(14)
    for shape in ((4, 2), (2, 4), (3, 3), (2, 3, 2)):
        a = r.standard_normal(shape)
        check_fd(lambda a: (lambda q, r: (q**4).sum() * (r**2).sum())(*LA.qr(a)), [a], second=shape == (4, 2))
        check_fd(lambda a: LA.qr(a, mode="r") ** 2, [a])
    x = t(r.standard_normal((4, 2)), grad=True)
    with pytest.raises(ValueError, match="qr: mode='complete' with more rows than columns"):
        LA.qr(x, mode="complete").Q.sum().backward()


def test_cholesky_reads_one_triangle():
    a = ms.spd(rng(15), (3, 3))
    a[0, 2] += 10.0  # the upper triangle is not read
    np.testing.assert_allclose(LA.cholesky(t(a)).data, np.linalg.cholesky(a), rtol=1e-12)
    x = t(a, grad=True)
    LA.cholesky(x).sum().backward()
    assert (x.grad.data[np.triu_indices(3, 1)] == 0).all()
    check_fd(lambda a: LA.cholesky(a), [a])


# ----- errors -----------------------------------------------------------------------------------


def test_errors_name_the_op_and_the_shape_and_leave_the_input_alone():
    singular = np.array([[[1.0, 2.0], [2.0, 4.0]]])
    keep = singular.copy()
    with pytest.raises(LA.LinAlgError, match=r"inv: the matrix is singular \(input of shape \(1, 2, 2\)\)"):
        LA.inv(t(singular))
    with pytest.raises(np.linalg.LinAlgError, match="solve: the matrix is singular"):
        LA.solve(t(singular), t(np.ones(2)))
    with pytest.raises(LA.LinAlgError, match=r"cholesky: the matrix is not positive definite \(input of shape"):
        LA.cholesky(t(-np.eye(2)))
    assert (singular == keep).all()
    with pytest.raises(ValueError, match=r"det: matrices must be square, got shape \(2, 3\)"):
        LA.det(t(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"inv: expected a matrix or a stack of matrices .* got shape \(3,\)"):
        LA.inv(t(np.ones(3)))
    with pytest.raises(ValueError, match=r"solve: a \(2, 2\) and b \(3,\) do not fit"):
        LA.solve(t(np.eye(2)), t(np.ones(3)))
    with pytest.raises(ValueError, match="norm: invalid order 'fro' for vectors"):
        LA.norm(t(np.ones(3)), "fro")
    with pytest.raises(ValueError, match=r"norm: with ord=1 and axis=None, x must be 1-D or 2-D, got shape"):
        LA.norm(t(np.ones((2, 2, 2))), 1)
    with pytest.raises(ValueError, match="lstsq: a must be"):
        LA.lstsq(t(np.ones((3, 2))), t(np.ones(2)))
    with pytest.raises(TypeError, match="matrix_power: the exponent must be an integer"):
        LA.matrix_power(t(np.eye(2)), 1.5)


# ----- softmax and log_softmax of one value ------------------------------------------------------


def test_softmax_and_log_softmax_of_a_0d_input_are_1_and_0():
    x = t(3.0, grad=True)
    s, ls = tg.softmax(x), tg.log_softmax(x)
    assert (s.item(), ls.item()) == (1.0, 0.0)
    (s + ls).backward()
    assert x.grad.item() == 0.0
    assert tg.softmax(t(np.float32(2.0)), axis=0).dtype == np.float32
    torch = pytest.importorskip("torch")
    assert torch.softmax(torch.tensor(3.0), 0).item() == 1.0 and torch.log_softmax(torch.tensor(3.0), -1).item() == 0


# ----- the registry and the pictures read the ops' descriptions ----------------------------------------


def test_every_op_class_is_described_and_the_pictures_name_its_arguments():
    from tinygraph import viz
    from tinygraph.ops import decomp, spectral
    from tinygraph.ops._common import Op

    classes = [v for m in (decomp, spectral) for v in vars(m).values() if isinstance(v, type) and issubclass(v, Op)]
    assert {c.name for c in classes if c is not Op} == {"inv", "solve", "det", "slogdet", "cholesky", "pinv"} | {
        "qr",
        "eigh",
        "svd",
    }
    assert all(find(c.name) is c.description for c in classes if c is not Op)
    a = t([[2.0, 1.0], [1.0, 3.0]], grad=True)
    w, v = LA.eigh(a, "U")
    source = viz.draw_forward((w * w).sum() + LA.cholesky(a, upper=True).sum()).source
    assert "<B>eigh</B>" in source and "UPLO='U'" in source and "<B>cholesky</B>" in source
    # eigh is one node: both results are slices of its one output, and one vjp serves both
    nodes = [x.grad_fn.name for x in tg.topo_order([w, v]) if x.grad_fn is not None]
    assert nodes.count("eigh") == 1 and "getitem" in nodes


def test_empty_stacks_and_empty_matrices_follow_numpy():
    for shape in ((0, 3, 3), (2, 0, 0)):
        a = np.zeros(shape)
        for fn, ref in (
            (LA.inv, np.linalg.inv),
            (LA.det, np.linalg.det),
            (lambda x: LA.slogdet(x)[1], lambda x: np.linalg.slogdet(x)[1]),
            (lambda x: LA.eigh(x)[0], lambda x: np.linalg.eigh(x)[0]),
            (lambda x: LA.svd(x, compute_uv=False), lambda x: np.linalg.svd(x, compute_uv=False)),
            (lambda x: LA.matrix_power(x, 3), lambda x: np.linalg.matrix_power(x, 3)),
        ):
            x = t(a, grad=True)
            out = fn(x)
            assert out.tolist() == ref(a).tolist()
            out.sum().backward()
            assert x.grad.shape == shape


def test_matrix_functions_through_eigh_and_svd():
    a = rng(16).standard_normal((2, 3, 3))
    sym = a + np.swapaxes(a, -1, -2)

    def expm(x):  # the exponential of the symmetric matrix read: V diag(exp w) V^T
        w, v = LA.eigh(x)
        return (v * tg.exp(w)[..., None, :]) @ v.transpose(0, 2, 1)

    w, v = np.linalg.eigh(sym)
    np.testing.assert_allclose(expm(t(sym)).data, (v * np.exp(w)[..., None, :]) @ np.swapaxes(v, -1, -2))
    check_fd(expm, [sym])

    def gram(x):  # U diag(S^2) U^T = x x^T: a gauge-free reconstruction
        u, s, _ = LA.svd(x, full_matrices=False)
        return (u * (s * s)[..., None, :]) @ u.transpose(0, 2, 1)

    b = rng(17).standard_normal((2, 3, 2))
    x = t(b, grad=True)
    np.testing.assert_allclose(gram(x).data, b @ np.swapaxes(b, -1, -2), atol=1e-12)
    c = rng(18).standard_normal((2, 3, 3))
    (gram(x) * t(c)).sum().backward()
    np.testing.assert_allclose(x.grad.data, (c + np.swapaxes(c, -1, -2)) @ b, atol=1e-10)  # by hand: (C + C^T) B
    check_fd(gram, [b])


def test_a_program_with_an_infinite_order_writes_runnable_source():
    from tinygraph.testing import Program, Step

    x = rng(19).standard_normal((3, 4))
    p = Program([x], [Step("norm", (0,), {"ord": -np.inf, "axis": 0, "keepdims": False})])
    assert "ord=float('-inf')" in p.source()
    scope = {"tg": tg, "np": np}
    exec(p.source(), scope)
    np.testing.assert_array_equal(scope["v1"].data, np.linalg.norm(x, -np.inf, 0))


def test_solve_of_a_vector_beside_a_stack_of_one_by_one_matrices_matches_pytorch():
    # (1, 1, 1) and (1,): numpy gives (1, 1); PyTorch reads a b of shape (..., M) as vectors
    torch = pytest.importorskip("torch")
    a, b = np.array([[[-0.5]]]), np.array([0.25])
    d = find("solve")
    assert LA.solve(t(a), t(b)).shape == np.linalg.solve(a, b).shape == (1, 1)
    np.testing.assert_allclose(d.torch(torch, torch.tensor(a), torch.tensor(b)).numpy(), np.linalg.solve(a, b))


@pytest.mark.parametrize("decomposition", ["eigh", "svd"])
def test_a_batch_of_matrices_of_very_different_scales_gets_each_matrixs_own_gradient(decomposition):
    m = np.random.default_rng(0).standard_normal((3, 3))
    m = m + m.T
    batch = np.stack([1e-8 * m, 1e8 * m])
    c = np.random.default_rng(1).standard_normal((2, 3, 3))

    def loss(a, c):
        vectors = tg.linalg.eigh(a)[1] if decomposition == "eigh" else tg.linalg.svd(a)[0]
        return (vectors * vectors * tg.tensor(c)).sum()

    both = tg.tensor(batch, requires_grad=True)
    loss(both, c).backward()
    for k in range(2):  # one tolerance for the stack zeroed the small matrix's gradient
        alone = tg.tensor(batch[k], requires_grad=True)
        loss(alone, c[k]).backward()
        assert np.abs(alone.grad.data).max() > 0
        np.testing.assert_allclose(both.grad.data[k], alone.grad.data, rtol=1e-6)


def test_lstsq_rcond_as_numpy_negative_and_default_for_float32():
    a, b = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), np.array([1.0, 2.0, 2.0])  # rank 1
    x, _, rank, _ = tg.linalg.lstsq(tg.tensor(a), tg.tensor(b), rcond=-1)  # machine precision
    np.testing.assert_allclose(x.data, np.linalg.lstsq(a, b, rcond=-1)[0], rtol=1e-10)  # it gave 1e14s
    assert rank == 1
    a32, b32 = np.array([[1.0, 0.0], [0.0, 1e-9], [0.0, 0.0]], np.float32), np.ones(3, np.float32)
    x, _, rank, _ = tg.linalg.lstsq(tg.tensor(a32), tg.tensor(b32))
    want = np.linalg.lstsq(a32, b32)
    np.testing.assert_allclose(x.data, want[0], rtol=1e-5)
    assert rank == want[2] == 2 and x.dtype == np.float32


def test_slogdet_backward_skips_a_singular_matrix_no_gradient_asks_for_and_names_one_that_is_asked():
    a = np.stack([2 * np.eye(2), [[1.0, 2.0], [2.0, 4.0]]])  # the second singular
    t = tg.tensor(a, requires_grad=True)
    sign, logdet = tg.linalg.slogdet(t)
    logdet[0].backward()  # it refused the whole batch
    np.testing.assert_allclose(t.grad.data, [0.5 * np.eye(2), np.zeros((2, 2))])  # d log|det A|/dA = A^-T
    t = tg.tensor(a, requires_grad=True)
    with pytest.raises(np.linalg.LinAlgError, match=r"singular matrix is infinite \(matrix \(1,\)\)"):
        tg.linalg.slogdet(t)[1].sum().backward()
