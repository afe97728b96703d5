"""`Module` (a tree of layers that registers its parameters) and `Parameter`."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np

from tinygraph.dtypes import check_array, get_default_dtype
from tinygraph.ops import spellings
from tinygraph.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a `Module` learns: it requires grad, and assigning it to a module registers it.

    ``Parameter(data, requires_grad=True)`` copies ``data`` (a Tensor, array or
    list); Python numbers and lists become the default float dtype.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> w = nn.Parameter([[1.0, 2.0]])
    >>> w.requires_grad, w.shape, isinstance(w, tg.Tensor)
    (True, (1, 2), True)
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.zeros((0,), dtype=get_default_dtype())
        if isinstance(data, Tensor):
            data = data._data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Parameter(", threshold=50)
        extras = "" if self._data.dtype == get_default_dtype() else f", dtype={self._data.dtype}"
        if not self.requires_grad:
            extras += ", requires_grad=False"
        return f"Parameter({body}{extras})"


class _LoadResult(NamedTuple):
    missing_keys: list
    unexpected_keys: list


def _indent(text: str, n: int = 2) -> str:
    return text.replace("\n", "\n" + " " * n)


class Module:
    """Base class of layers and models: Parameters and Modules assigned as attributes register themselves.

    Subclass it, call ``super().__init__()`` first, assign ``Parameter``\\ s and
    sub-modules as attributes, and write ``forward``; calling the module calls
    ``forward``. ``named_parameters()`` gives dotted names (a parameter shared by
    two layers is listed once); ``state_dict()`` / ``load_state_dict()`` save and
    restore them; ``train()`` / ``eval()`` switch dropout and batch norm.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> class LogReg(nn.Module):
    ...     def __init__(self, n_x):
    ...         super().__init__()
    ...         self.linear = nn.Linear(n_x, 1)
    ...     def forward(self, x):
    ...         return tg.sigmoid(self.linear(x))
    >>> model = LogReg(3)
    >>> [name for name, p in model.named_parameters()]
    ['linear.weight', 'linear.bias']
    >>> model(tg.tensor([[1.0, 2.0, 3.0]])).shape
    (1, 1)
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----- registration ------------------------------------------------------------------------
    def _check_init(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: cannot assign {name!r} before Module.__init__(); "
                f"call super().__init__() first in {type(self).__name__}.__init__"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self._check_init(name)
            self._forget(name)
            d["_parameters"][name] = value
        elif isinstance(value, Module):
            self._check_init(name)
            self._forget(name)
            d["_modules"][name] = value
        elif "_parameters" in d and name in d["_parameters"]:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} to parameter {name!r}; "
                    "wrap it as nn.Parameter(...) or assign None"
                )
            d["_parameters"][name] = None
        elif "_buffers" in d and name in d["_buffers"]:
            d["_buffers"][name] = None if value is None else _as_buffer(value, type(self).__name__, name)
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign a {type(value).__name__} to sub-module {name!r}; "
                    "assign a Module or None"
                )
            d["_modules"][name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            d[key].pop(name, None)
        d.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if key in d and name in d[key]:
                return d[key][name]
        hint = spellings.MODULE_METHOD_HINTS.get(name)
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}" + (f"; {hint}" if hint else "")
        )

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if key in d and name in d[key]:
                del d[key][name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (a Parameter, or None for an absent one such as ``bias=False``) as ``name``."""
        self._check_init(name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        self._forget(name)
        self.__dict__["_parameters"][name] = param

    def register_buffer(self, name: str, value: Any) -> None:
        """Register state that is saved in ``state_dict`` but not learned (batch norm's running mean).

        >>> from tinygraph import nn
        >>> m = nn.Module(); m.register_buffer("count", [0.0])
        >>> m.state_dict()
        {'count': array([0.])}
        """
        self._check_init(name)
        self._forget(name)
        self.__dict__["_buffers"][name] = None if value is None else _as_buffer(value, type(self).__name__, name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name`` (what attribute assignment does, for any string name)."""
        self._check_init(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got {type(module).__name__}")
        self._forget(name)
        self.__dict__["_modules"][name] = module

    # ----- walking the tree --------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names."""
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Module]:
        """The direct sub-modules.

        >>> from tinygraph import nn
        >>> [type(m).__name__ for m in nn.Sequential(nn.Linear(2, 3), nn.ReLU()).children()]
        ['Linear', 'ReLU']
        """
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all below it, with dotted names ('' for this one); a shared module once."""
        seen: set = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(f"{name}.{k}" if name else k, c) for k, c in m.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        """This module and all its descendants, each once.

        >>> from tinygraph import nn
        >>> len(list(nn.MLP([2, 3, 1]).modules()))   # MLP, Sequential, Linear, ReLU, Linear
        5
        """
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs; a parameter shared by several layers is listed once, first name.

        >>> from tinygraph import nn
        >>> a, b = nn.Linear(2, 2), nn.Linear(2, 2)
        >>> b.weight = a.weight          # tied weights
        >>> [n for n, _ in nn.Sequential(a, b).named_parameters()]
        ['0.weight', '0.bias', '1.bias']
        """
        seen: set = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """All learnable parameters (each once), for an optimizer.

        >>> from tinygraph import nn
        >>> sum(p.size for p in nn.Linear(3, 2).parameters())   # 3*2 weights + 2 biases
        8
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(dotted name, Tensor) pairs of the buffers (state saved but not learned)."""
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self) -> Iterator[Tensor]:
        """All buffers (batch norm's running statistics)."""
        for _, b in self.named_buffers():
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module and then on this one (e.g. a custom initialization); returns self.

        >>> from tinygraph import nn
        >>> net = nn.MLP([2, 3, 1])
        >>> _ = net.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
        >>> float(abs(net.layers[0].bias.data).sum())
        0.0
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ----- modes and gradients -----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout drops, batch norm uses batch statistics) for this module and all below; returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout is the identity, batch norm uses running statistics); returns self.

        >>> from tinygraph import nn
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).eval()
        >>> net.training, net[1].training
        (False, False)
        """
        return self.train(False)

    # PyTorch's device calls: model.to("cpu") and model.cpu() return the model (there is only the CPU)
    to = spellings.to
    cpu = spellings.cpu
    cuda = spellings.cuda

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (backward accumulates, so clear it between steps).

        >>> import tinygraph as tg
        >>> from tinygraph import nn
        >>> lin = nn.Linear(2, 1)
        >>> lin(tg.tensor([[1.0, 2.0]])).sum().backward()
        >>> lin.weight.grad is None
        False
        >>> lin.zero_grad(); lin.weight.grad is None
        True
        """
        for p in self.parameters():
            p.grad = None

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradients on or off for every parameter (freeze a layer); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # ----- saving and loading ------------------------------------------------------------------
    def _state_items(self) -> list[tuple[str, Tensor]]:
        return list(self.named_parameters()) + list(self.named_buffers())

    def state_dict(self) -> dict:
        """Name -> ndarray copy of every parameter (each shared one once) and buffer.

        >>> from tinygraph import nn
        >>> sd = nn.Linear(3, 2).state_dict()
        >>> {k: v.shape for k, v in sd.items()}
        {'weight': (2, 3), 'bias': (2,)}
        """
        return {name: t._data.copy() for name, t in self._state_items()}

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> _LoadResult:
        """Copy values from ``state_dict`` into the parameters and buffers, all or nothing.

        With ``strict`` (the default), a name the model has but the dict lacks
        (missing) or the dict has but the model lacks (unexpected) is an error;
        a shape mismatch is always an error. Everything is checked before
        anything is written, so a failed load leaves the model unchanged.
        Returns ``(missing_keys, unexpected_keys)``.

        >>> from tinygraph import nn
        >>> a, b = nn.Linear(3, 2), nn.Linear(3, 2)
        >>> b.load_state_dict(a.state_dict())
        _LoadResult(missing_keys=[], unexpected_keys=[])
        >>> bool((a.weight.data == b.weight.data).all())
        True
        >>> nn.Linear(4, 2).load_state_dict(a.state_dict())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Linear.load_state_dict: ... weight: checkpoint has shape (2, 3), model has (2, 4)
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not hasattr(state_dict, "items"):
            raise TypeError(f"{where}: expected a dict of name -> array, got {type(state_dict).__name__}")
        own = OrderedDict(self._state_items())
        given = dict(state_dict.items())
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        problems = []
        staged = []
        for name, target in own.items():
            if name not in given:
                continue
            value = given[name]
            raw = value._data if isinstance(value, Tensor) else value
            try:
                arr = check_array(np.asarray(raw), where)
            except TypeError as e:
                problems.append(f"{name}: {e}")
                continue
            if arr.shape != target.shape:
                problems.append(f"{name}: checkpoint has shape {arr.shape}, model has {target.shape}")
            elif not np.can_cast(arr.dtype, target.dtype, "same_kind"):
                problems.append(f"{name}: cannot load dtype {arr.dtype} into a {target.dtype} tensor")
            else:
                staged.append((target, arr))
        parts = []
        if strict and missing:
            parts.append(f"missing keys {missing}")
        if strict and unexpected:
            parts.append(f"unexpected keys {unexpected}")
        if problems:
            parts.append("mismatches: " + "; ".join(problems))
        if parts:
            raise ValueError(f"{where}: nothing was loaded: " + "; ".join(parts))
        for target, arr in staged:
            np.copyto(target._data, arr, casting="same_kind")
            target.mark_written("load_state_dict")
        return _LoadResult(missing, unexpected)

    # ----- calling and printing ----------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define one in the subclass")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        kids = [f"({name}): " + _indent(repr(m)) for name, m in self._modules.items() if m is not None]
        if not kids:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + kids
        return type(self).__name__ + "(\n" + "".join(f"  {line}\n" for line in lines) + ")"

    def __dir__(self) -> list:
        extra = [*self._parameters, *self._buffers, *self._modules]
        return sorted(set(super().__dir__()) | set(extra))


def _as_buffer(value: Any, owner: str, name: str) -> Tensor:
    if isinstance(value, Parameter):
        raise TypeError(f"{owner}: buffer {name!r} cannot be a Parameter (register it as a parameter instead)")
    if isinstance(value, Tensor):
        return value
    return Tensor(value)
