"""θ ← θ − lr·g in one pass over memory: the axpy of the BLAS that numpy itself loaded, when it can be found.

numpy spells ``θ -= lr * g`` in two passes (the product into a temporary or a scratch array, then
the subtraction): g is read, the product written and read again, θ read and written. BLAS's axpy
(y ← a·x + y) reads g and θ once and writes θ once, as PyTorch's ``param.add_(grad, alpha=-lr)``
does. numpy does not expose it, but the BLAS it calls for ``@`` is in the process already: numpy's
wheels carry OpenBLAS with its CBLAS functions under the names below (64-bit integers). When the
library and the function are found, `for_dtype` gives the C function
``axpy(n, alpha, x_address, x_step, y_address, y_step)`` for float32 and float64 arrays; anywhere
else (another BLAS, another platform) it gives None and `tinygraph.optim.SGD` keeps numpy's two
calls. Where the BLAS fuses the multiply and the add, θ
is rounded once instead of twice (a difference in the last place, as between numpy and PyTorch).

Measured (benchmarks/NOTES.md, nineteenth round): a 784 × 256 float32 weight 51.6 → 22.6 µs warm,
a 20 × 12288 float64 one 271.9 → 133.8 µs; `run.py --only W1,W2`: W1 compiled 0.99–1.00 →
0.96–0.99× numpy, W2 within its noise; W2's peak memory 0.5 MiB less (no scratch array for its
two large weights).
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Callable

import numpy as np

# the CBLAS names in numpy's wheels: numpy >= 2 (scipy-openblas, ILP64), numpy 1.2x (openblas64_)
_NAMES = {
    np.dtype(np.float32): ("scipy_cblas_saxpy64_", "cblas_saxpy64_"),
    np.dtype(np.float64): ("scipy_cblas_daxpy64_", "cblas_daxpy64_"),
}
_SCALAR = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_found: dict | None = None  # dtype -> the function, or None; looked up on first use

MIN_SIZE = 16384  # below this many elements numpy's two calls cost no more than the foreign call (about 2 µs)


def _libraries() -> list[str]:
    """The OpenBLAS libraries numpy's wheel ships beside it (Linux, Windows: numpy.libs; macOS: numpy/.dylibs)."""
    here = os.path.dirname(np.__file__)
    found = []
    for folder in (os.path.join(here, os.pardir, "numpy.libs"), os.path.join(here, ".dylibs")):
        found += sorted(glob.glob(os.path.join(folder, "*openblas*")))
    return found


def _lookup() -> dict:
    found: dict = dict.fromkeys(_NAMES)
    for path in _libraries():
        try:
            lib = ctypes.CDLL(path)  # (already loaded by numpy: this is the same copy)
        except OSError:
            continue
        for dtype, names in _NAMES.items():
            for name in names:
                f = getattr(lib, name, None)
                if f is not None and found[dtype] is None:
                    f.argtypes = [ctypes.c_int64, _SCALAR[dtype], ctypes.c_void_p, ctypes.c_int64]
                    f.argtypes += [ctypes.c_void_p, ctypes.c_int64]
                    f.restype = None
                    found[dtype] = f
    return found


def for_dtype(dtype: np.dtype) -> Callable | None:
    """``axpy(n, alpha, x_address, x_step, y_address, y_step)`` (y ← alpha·x + y over n elements) for
    arrays of `dtype`, or None where no BLAS axpy was found (or ``TINYGRAPH_NO_AXPY`` is set)."""
    global _found
    if _found is None:
        _found = {} if os.environ.get("TINYGRAPH_NO_AXPY") else _lookup()
    return _found.get(dtype)
