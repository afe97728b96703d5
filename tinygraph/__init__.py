"""tinygraph: a small reverse-mode automatic differentiation engine on numpy.

>>> import tinygraph as tg
>>> x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
Tensor([2., 4., 6.])
"""

from tinygraph.tensor import Tensor  # noqa: I001 (Tensor first)
from tinygraph.dtypes import get_default_dtype, set_default_dtype
from tinygraph.mode import detect_anomaly, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygraph.anomaly import AnomalyError
from tinygraph.function import Context, Function
from tinygraph.autograd import backward, grad, topo_order
from tinygraph.ops import *  # noqa: F403 - the op functions, listed in tinygraph.ops.__all__
from tinygraph.ops import __all__ as _ops_all
from tinygraph.gradcheck import (
    GradcheckError,
    GradcheckReport,
    epsilon_sweep,
    gradcheck,
    gradcheck_module,
    gradgradcheck,
    numerical_grad,
)
from tinygraph.random import manual_seed
from tinygraph import data, nn, optim  # noqa: E402 - built on everything above
from tinygraph import linalg  # noqa: E402 - numpy.linalg's functions (issue 20)

__version__ = "0.1.0"

# ----- habits (issue 19): factories, numpy's dispatch protocols, strict shapes, lazy viz ----------
from tinygraph import numpy_dispatch as _numpy_dispatch  # noqa: E402, F401 - np.exp(t), np.sum(t) give Tensors
from tinygraph.factories import *  # noqa: E402, F403 - zeros, ones, arange, randn, ... (factories.__all__)
from tinygraph.factories import __all__ as _factories_all  # noqa: E402
from tinygraph.strict import strict_shapes  # noqa: E402


def __getattr__(name: str):
    """``tg.viz``, ``tg.compile`` and ``tg.save``/``tg.load`` imported on first use (``import tinygraph``
    loads neither graphviz, the compiler nor zipfile and hashlib); hints for PyTorch names."""
    import importlib

    if name == "viz":
        return importlib.import_module("tinygraph.viz")
    if name in ("compile", "TraceError"):  # tg.compile (issue 18): trace a step once, replay it as flat numpy
        compiler = importlib.import_module("tinygraph.compiler")
        globals().update(compile=compiler.compile, TraceError=compiler.TraceError)
        return globals()[name]
    if name in ("save", "load", "CheckpointError"):  # checkpoints (tinygraph.serialization)
        ser = importlib.import_module("tinygraph.serialization")
        globals().update(save=ser.save, load=ser.load, CheckpointError=ser.CheckpointError)
        return globals()[name]
    from tinygraph.ops.spellings import module_hint

    raise AttributeError(module_hint(name))


def tensor(data, *, requires_grad: bool = False, dtype=None, name: str | None = None) -> Tensor:
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
    "data",
    "linalg",
    "nn",
    "optim",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "epsilon_sweep",
    "get_default_dtype",
    "grad",
    "gradcheck",
    "gradcheck_module",
    "gradgradcheck",
    "is_grad_enabled",
    "manual_seed",
    "no_grad",
    "numerical_grad",
    "set_default_dtype",
    "set_grad_enabled",
    "tensor",
    "topo_order",
    *_ops_all,
    "strict_shapes",
    *_factories_all,
]
__all__ += ["CheckpointError", "load", "save"]  # noqa: F405 - loaded on first use, by __getattr__

__all__ += ["TraceError", "compile"]  # noqa: F405 - loaded on first use, by __getattr__
