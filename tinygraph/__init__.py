"""tinygraph: a small reverse-mode automatic differentiation engine on numpy.

>>> import tinygraph as tg
>>> x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
Tensor([2., 4., 6.])
"""

from tinygraph.tensor import Tensor, get_default_dtype, set_default_dtype  # noqa: I001 (Tensor first)
from tinygraph.function import (
    AnomalyError,
    Context,
    Function,
    backward,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinygraph.ops import *  # noqa: F403 - the op functions, listed in tinygraph.ops.__all__
from tinygraph.ops import __all__ as _ops_all
from tinygraph.gradcheck import GradcheckError, GradcheckReport, gradcheck, gradgradcheck, numerical_grad

__version__ = "0.1.0"


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None) -> Tensor:
    """Make a Tensor (a copy of `data`); same as ``Tensor(...)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


__all__ = [
    "AnomalyError",
    "Context",
    "Function",
    "GradcheckError",
    "GradcheckReport",
    "Tensor",
    "__version__",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "get_default_dtype",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "numerical_grad",
    "set_default_dtype",
    "set_grad_enabled",
    "tensor",
    *_ops_all,
]
