"""``tinygraph.linalg``: numpy.linalg's functions on tensors, differentiable (first and second order).

Stacks of matrices (..., M, N) work wherever numpy takes them. The ops are defined in
`tinygraph.ops.decomp` (inv, solve, det, slogdet, cholesky, pinv), `tinygraph.ops.spectral`
(qr, eigh, svd; where their gradients do not exist is written there) and
`tinygraph.ops.matfun` (matrix_power, lstsq, norm). A singular matrix, one that is not
positive definite, or a non-square one gives an error that names the function and the shape
(numpy's ``LinAlgError``, a ValueError, for the first two).

>>> import tinygraph as tg
>>> a = tg.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
>>> tg.linalg.det(a).backward()
>>> a.grad.tolist()
[[3.0, -1.0], [-1.0, 2.0]]
>>> w, v = tg.linalg.eigh(a)
>>> w.shape, v.shape
((2,), (2, 2))
"""

from tinygraph.ops._matrix import LinAlgError
from tinygraph.ops.decomp import SlogdetResult, cholesky, det, inv, pinv, slogdet, solve
from tinygraph.ops.linalg import matmul
from tinygraph.ops.matfun import lstsq, matrix_power, norm
from tinygraph.ops.spectral import EighResult, QRResult, SVDResult, eigh, eigvalsh, qr, svd, svdvals

__all__ = [
    "EighResult",
    "LinAlgError",
    "QRResult",
    "SVDResult",
    "SlogdetResult",
    "cholesky",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "lstsq",
    "matmul",
    "matrix_power",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
]
