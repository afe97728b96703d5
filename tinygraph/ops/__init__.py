"""The primitive ops, one class each, grouped by kind; `methods` attaches Tensor's operators.

Each class holds its forward and its gradient side by side, and its ``description``
(`describe.Description`: arguments, a sampler of valid inputs, numpy and PyTorch references);
the lowercase functions are the public entry points (also re-exported as ``tinygraph.<name>``).
`described_ops()` lists every described op, `find(name)` gives one (neither is in ``tinygraph.*``).

>>> from tinygraph.ops import described_ops, find
>>> find("log").draw.__name__, find("tanh") in described_ops()
('positive', True)
"""

from tinygraph.ops import methods  # noqa: F401 - attaches Tensor's operators and methods
from tinygraph.ops.activation import leaky_relu, relu, sigmoid, softplus, tanh
from tinygraph.ops.describe import Description, described_ops, find  # noqa: F401 - not in __all__
from tinygraph.ops.elementwise import (
    abs,
    add,
    astype,
    clip,
    div,
    divide,
    exp,
    log,
    maximum,
    minimum,
    mul,
    multiply,
    neg,
    negative,
    power,
    sqrt,
    sub,
    subtract,
    where,
)
from tinygraph.ops.linalg import matmul
from tinygraph.ops.reduce import log_softmax, logsumexp, max, mean, min, softmax, sum, var
from tinygraph.ops.shape import (
    broadcast_to,
    concatenate,
    expand_dims,
    flatten,
    getitem,
    reshape,
    squeeze,
    stack,
    sum_to,
    transpose,
)

# ----- the numpy vocabulary (issue 20): elementwise, reductions and scans -----
# isort: split
from tinygraph.ops.explog import (
    cbrt,
    exp2,
    expm1,
    hypot,
    log1p,
    log2,
    log10,
    logaddexp,
    logaddexp2,
    reciprocal,
    sinc,
    square,
)
from tinygraph.ops.order import all, any, argmax, argmin, argsort, count_nonzero, sort
from tinygraph.ops.rounding import ceil, floor, fmax, fmin, mod, nan_to_num, remainder, rint, round, sign, trunc
from tinygraph.ops.scan import cumprod, cumsum, diff, prod, trace
from tinygraph.ops.stats import average, median, ptp, quantile, std
from tinygraph.ops.trig import arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, cos, cosh, sin, sinh, tan

__all__ = [
    "abs",
    "add",
    "astype",
    "broadcast_to",
    "clip",
    "concatenate",
    "div",
    "divide",
    "exp",
    "expand_dims",
    "flatten",
    "getitem",
    "leaky_relu",
    "log",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mul",
    "multiply",
    "neg",
    "negative",
    "power",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "softplus",
    "sqrt",
    "squeeze",
    "stack",
    "sub",
    "subtract",
    "sum",
    "sum_to",
    "tanh",
    "transpose",
    "var",
    "where",
]

__all__ += [  # the numpy vocabulary (issue 20): elementwise, reductions and scans
    "all",
    "any",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "argmax",
    "argmin",
    "argsort",
    "average",
    "cbrt",
    "ceil",
    "cos",
    "cosh",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "diff",
    "exp2",
    "expm1",
    "floor",
    "fmax",
    "fmin",
    "hypot",
    "log10",
    "log1p",
    "log2",
    "logaddexp",
    "logaddexp2",
    "median",
    "mod",
    "nan_to_num",
    "prod",
    "ptp",
    "quantile",
    "reciprocal",
    "remainder",
    "rint",
    "round",
    "sign",
    "sin",
    "sinc",
    "sinh",
    "sort",
    "square",
    "std",
    "tan",
    "trace",
    "trunc",
]

# ----- the numpy vocabulary (issue 20): contractions and array plumbing ------------------------------
from tinygraph.ops.contract import cross, dot, einsum, inner, kron, outer, tensordot, vdot  # noqa: E402
from tinygraph.ops.gather import pad, put_along_axis, take, take_along_axis  # noqa: E402
from tinygraph.ops.joins import (  # noqa: E402
    append,
    array_split,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    column_stack,
    dsplit,
    dstack,
    hsplit,
    hstack,
    split,
    vsplit,
    vstack,
)
from tinygraph.ops.plumbing import (  # noqa: E402
    diag,
    diagonal,
    flip,
    fliplr,
    flipud,
    moveaxis,
    ravel,
    repeat,
    roll,
    rot90,
    swapaxes,
    tile,
    tril,
    triu,
)

__all__ += [
    "append",
    "array_split",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "column_stack",
    "cross",
    "diag",
    "diagonal",
    "dot",
    "dsplit",
    "dstack",
    "einsum",
    "flip",
    "fliplr",
    "flipud",
    "hsplit",
    "hstack",
    "inner",
    "kron",
    "moveaxis",
    "outer",
    "pad",
    "put_along_axis",
    "ravel",
    "repeat",
    "roll",
    "rot90",
    "split",
    "swapaxes",
    "take",
    "take_along_axis",
    "tensordot",
    "tile",
    "tril",
    "triu",
    "vdot",
    "vsplit",
    "vstack",
]
# attached to Tensor: the in-place operators (+=, zero_, ...) and PyTorch's spellings (.to("cpu"), hints)
from tinygraph.ops import inplace, spellings  # noqa: E402, F401
