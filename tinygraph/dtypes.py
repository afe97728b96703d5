"""The data tinygraph accepts: the default float dtype, and user data made into a checked ndarray.

Numeric arrays only (bool, integer, unsigned, float): complex, object, string and structured
data are refused with an error that names the caller. No tinygraph imports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_default_dtype: np.dtype = np.dtype(np.float64)


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype that Python numbers and lists become (float64 at start)."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating-point dtype, got {dt}")
    _default_dtype = dt


def get_default_dtype() -> np.dtype:
    """The float dtype that Python numbers and lists become."""
    return _default_dtype


def check_array(arr: np.ndarray, where: str) -> np.ndarray:
    """`arr` itself if its dtype is numeric; else a TypeError naming `where`."""
    kind = arr.dtype.kind
    if kind in "fiub":
        return arr
    if kind == "c":
        raise TypeError(f"{where}: complex data is not supported (dtype {arr.dtype}, shape {arr.shape})")
    raise TypeError(
        f"{where}: data must be numeric, got dtype {arr.dtype} (shape {arr.shape}); "
        "object, string and structured arrays are not supported"
    )


def to_array(data: Any, dtype: Any = None, where: str = "Tensor") -> np.ndarray:
    """User data (an array, a number, nested lists) as a fresh, checked ndarray: never the caller's array.

    An ndarray keeps its dtype; Python numbers and lists become the default float dtype.
    """
    try:
        if isinstance(data, (np.ndarray, np.generic)):
            arr = np.array(data, dtype=dtype, copy=True)
        else:
            arr = np.array(data, dtype=_default_dtype if dtype is None else dtype)
    except (TypeError, ValueError, OverflowError) as e:
        target = np.dtype(dtype) if dtype is not None else "a numeric array"
        raise TypeError(f"{where}: cannot convert {type(data).__name__} to {target}: {e}") from None
    if arr.dtype.kind == "f" and not isinstance(data, (np.ndarray, np.generic)) and np.isnan(arr).any():
        _refuse_none(data, where)  # numpy turns None into nan
    return check_array(arr, where)


def _refuse_none(data: Any, where: str, at: tuple = ()) -> None:
    if data is None:
        place = f" at index {list(at)}" if at else ""
        raise TypeError(f"{where}: the data holds None{place}; a tensor holds numbers (write float('nan') for a gap)")
    if isinstance(data, (list, tuple)):
        for i, e in enumerate(data):
            _refuse_none(e, where, (*at, i))
