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
