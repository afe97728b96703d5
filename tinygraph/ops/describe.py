"""What describes an op, kept on the op: its arguments, inputs, valid samples, smoothness and references.

Each op class carries a `Description` as its ``description`` attribute, next to its forward
and backward, and is registered by the `described` class decorator; an op written as a
function of other ops (mean, softmax, stack, ...) gets one from `describes`, next to its
definition. `described_ops()` lists them, and whatever checks, fuzzes or draws the ops reads
them: the ``tinygraph gradcheck`` command (`tinygraph.opcheck`), the random programs of
`tinygraph.testing`, the op-table test, and the labels of the pictures (`tinygraph.viz`).
Adding an op means writing its class (or function) with its description, and nothing else.

>>> import numpy as np, tinygraph as tg
>>> from tinygraph.ops import find
>>> d = find("sum")
>>> d.args, d.inputs, d.smooth
(('axis', 'keepdims'), 1, True)
>>> arrays, params = d.sample(np.random.default_rng(0), [(2, 3)])
>>> sorted(params)
['axis', 'keepdims']
>>> np.allclose(d.call(tg.tensor(arrays[0]), **params).data, d.numpy(*arrays, **params))
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

# ----- drawing tensor inputs: draw(rng, shape) -> float64 array ---------------------------------------


def normal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Standard normal values: any input of a smooth op."""
    return np.asarray(rng.standard_normal(shape), dtype=np.float64)


def positive(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values of at least 0.5: inside the domain of log and sqrt, a base of a power."""
    return np.abs(normal(rng, shape)) + 0.5


def away_from_zero(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Normal values pushed at least 0.5 away from 0: the kink of abs and relu, the pole of 1/x."""
    x = normal(rng, shape)
    return np.sign(x) * (np.abs(x) + 0.5)


# ----- the defaults: elementwise ops that broadcast ----------------------------------------------------

# the input shapes an op is checked at, one tuple of shapes per case: scalar, vector, matrix, 3-D
ONE_INPUT_SHAPES = (((),), ((4,),), ((3, 4),), ((1, 4),), ((3, 1),), ((2, 3, 4),))
# ... and pairs that broadcast, in both directions
BROADCAST_SHAPES = (
    ((3, 4), (3, 4)),
    ((3, 4), (1, 4)),
    ((3, 4), (3, 1)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((), (3, 4)),
    ((4,), (2, 3, 4)),
)


def no_params(rng: np.random.Generator, arrays: Sequence[np.ndarray], margin: float) -> dict:
    """An op without parameters, defined and smooth everywhere: always ``{}``."""
    return {}


def broadcastable(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether `b` can be the second input beside `a`: their shapes broadcast together."""
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return False
    return True


def broadcast_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    """A shape that broadcasts with `shape`: its trailing axes, some of them 1, sometimes one axis more."""
    drop = int(rng.integers(len(shape) + 1)) if rng.random() < 0.5 else 0
    out = tuple(1 if rng.random() < 0.3 else n for n in shape[drop:])
    if drop == 0 and len(out) < 3 and rng.random() < 0.15:
        out = (int(rng.integers(1, 3)),) + out  # the new input is the one that broadcasts up
    return out


# ----- the description --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Description:
    """What one op is, for the code that checks, fuzzes and draws it. Only `name` is needed.

    - ``name``: the op's name (a class's ``name``, filled in by `described`; given for a function).
    - ``args``: the names of its non-tensor arguments, in the order the op class receives them
      (a function's: its parameters); the pictures label them ``name=value`` ("" shows the value
      alone: an index, a dtype).
    - ``inputs``: how many tensors `call` takes.
    - ``draw``: ``draw(rng, shape) -> array`` for each input (one function, or one per input):
      `normal`, `positive` for log and sqrt, `away_from_zero` for abs and relu.
    - ``params``: ``params(rng, arrays, margin) -> dict`` of non-tensor parameters valid for
      these inputs (axes, a new shape, clip bounds), or None where the op is undefined or has a
      kink within `margin` of a value (tinygraph.ops.samplers has the built-in ones).
    - ``smooth``: twice differentiable wherever it is sampled, so second-order checks apply.
    - ``kink``: where the op is not differentiable ("at 0" for relu), or "" for none; a
      gradient check that sees a kink names the graph's ops that have one.
    - ``call``: ``call(*tensors, **params)``, the op through its public function or operator;
      None for an internal op users never call (such an op is described by its `args` only).
    - ``numpy``: ``numpy(*arrays, **params)``, its forward on plain arrays.
    - ``torch``: ``torch(torch_module, *tensors, **params)``, the same in PyTorch, or None.
    - ``source``: `call` as Python source, operands by position and parameters by name
      (``"{0} @ {1}"``); None means ``tg.<name>({0}, ..., key={key}, ...)``.
    - ``shapes``: the input shapes to check it at, one tuple of shapes per case; None means
      `ONE_INPUT_SHAPES` or `BROADCAST_SHAPES`.
    - ``fits(a, b)``: whether array `b` can be its second input beside `a`; ``partner(rng,
      shape)``: a shape for a new second input beside one of `shape` (random programs).
    - ``differentiable``: False for an op whose result is integers or booleans (argmax, any):
      it has no gradient, so the gradient checks and random programs leave it out and only its
      forward is compared with numpy.

    >>> from tinygraph.ops import find
    >>> find("matmul").code(["x", "w"], {})
    'x @ w'
    >>> find("index_add").args, find("index_add").call is None  # internal: named for the pictures
    (('shape', ''), True)
    """

    name: str = ""
    args: tuple[str, ...] = ()
    inputs: int = 1
    draw: Callable | tuple[Callable, ...] = normal
    params: Callable = no_params
    smooth: bool = True
    call: Callable | None = None
    numpy: Callable | None = None
    torch: Callable | None = None
    source: str | None = None
    shapes: tuple | None = None
    fits: Callable = broadcastable
    partner: Callable = broadcast_partner
    kink: str = ""
    differentiable: bool = True

    @property
    def case_shapes(self) -> tuple:
        """The input shapes to check the op at (`shapes`, or the default for its number of inputs)."""
        if self.shapes is not None:
            return self.shapes
        return ONE_INPUT_SHAPES if self.inputs == 1 else BROADCAST_SHAPES

    def sample(self, rng: np.random.Generator, shapes: Sequence[tuple] | None = None, margin: float = 1e-2):
        """Inputs of `shapes` (default: the first of `case_shapes`) and parameters valid for them.

        Returns ``(arrays, params)``; draws again when `params` refuses the inputs, and raises
        ValueError when 100 draws are all refused (`shapes` do not suit the op).
        """
        shapes = self.case_shapes[0] if shapes is None else shapes
        draws = self.draw if isinstance(self.draw, tuple) else (self.draw,) * len(shapes)
        for _ in range(100):
            arrays = [draw(rng, tuple(s)) for draw, s in zip(draws, shapes)]
            params = self.params(rng, arrays, margin)
            if params is not None:
                return arrays, params
        raise ValueError(f"{self.name}: no valid parameters for inputs of shapes {tuple(shapes)} in 100 draws")

    def code(self, operands: Sequence[str], params: dict[str, str]) -> str:
        """`call` as Python source, given the operands' names and each parameter's source text."""
        if self.source is not None:
            return self.source.format(*operands, **params)
        return f"tg.{self.name}(" + ", ".join([*operands, *(f"{k}={v}" for k, v in params.items())]) + ")"


# ----- the register -----------------------------------------------------------------------------------

_REGISTRY: dict[str, tuple[str, Description]] = {}  # op name -> (where it is defined, its description)


def _register(description: Description, owner: Any) -> None:
    where = f"{owner.__module__}.{owner.__qualname__}"
    if not description.name:
        raise ValueError(f"{where}: a description needs the op's name")
    known = _REGISTRY.get(description.name)
    if known is not None and known[0] != where:  # the same definition run again is no conflict
        raise ValueError(f"{where}: op {description.name!r} is already described by {known[0]}")
    _REGISTRY[description.name] = (where, description)


def described(cls: type) -> type:
    """Class decorator: register the op class's ``description``, named after the op (``cls.name``).

    >>> import numpy as np
    >>> from tinygraph.ops._common import Op
    >>> @described
    ... class Cube(Op):
    ...     name = "cube_example"
    ...     description = Description(call=lambda a: Cube.apply(a), numpy=lambda a: a**3)
    ...
    ...     @staticmethod
    ...     def forward(ctx, a):
    ...         return a**3
    ...
    ...     @staticmethod
    ...     def backward(ctx, g, a):
    ...         return g * 3 * a * a
    >>> find("cube_example") is Cube.description, Cube.description.name
    (True, 'cube_example')
    >>> _ = _REGISTRY.pop("cube_example")  # (an example: leave the register as it was)
    """
    cls.description = replace(cls.__dict__["description"], name=cls.name)
    _register(cls.description, cls)
    return cls


def describes(description: Description) -> Callable:
    """Function decorator for an op made of other ops: attach and register its description.

    The function is its `call` unless the description names another; it is returned unchanged.

    >>> import numpy as np, tinygraph as tg
    >>> @describes(Description("double_example", numpy=lambda a: 2 * a))
    ... def double(a):
    ...     return a * 2.0
    >>> double.description.call is double, find("double_example").numpy(np.ones(2)).tolist()
    (True, [2.0, 2.0])
    >>> _ = _REGISTRY.pop("double_example")
    """

    def attach(fn: Callable) -> Callable:
        d = description if description.call is not None else replace(description, call=fn)
        fn.description = d
        _register(d, fn)
        return fn

    return attach


def described_ops() -> tuple[Description, ...]:
    """Every registered description, in name order.

    The ops of `tinygraph.ops` and of `tinygraph.nn.functional` (cross-entropy, dropout) are
    registered when their modules are imported, which ``import tinygraph`` does.

    >>> names = [d.name for d in described_ops()]
    >>> names == sorted(names) and {"add", "mean", "cross_entropy", "sum_to"} <= set(names)
    True
    """
    return tuple(d for _, (_, d) in sorted(_REGISTRY.items()))


def find(name: str) -> Description | None:
    """The description of the op called `name`, or None.

    >>> find("clip").args, find("no_such_op")
    (('min', 'max'), None)
    """
    entry = _REGISTRY.get(name)
    return None if entry is None else entry[1]
