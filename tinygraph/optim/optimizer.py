"""The `Optimizer` base class: parameter groups, validation, lazy state, state dicts.

A subclass lists its hyperparameters in ``defaults``, checks them in
``_check_group`` and updates one parameter in ``_update``; the base class does
the rest (grouping, skipping parameters without a gradient, ``zero_grad``,
``state_dict``, the ``lr`` property).
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygraph.mode import no_grad
from tinygraph.tensor import Tensor


def _check_number(opt: str, label: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{opt}: {label} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{opt}: {label} must be finite, got {value}")
    return value


def check_non_negative(opt: str, label: str, value: Any) -> float:
    """``value`` as a float, or a ValueError naming the optimizer when it is negative."""
    value = _check_number(opt, label, value)
    if value < 0:
        raise ValueError(f"{opt}: {label} must be >= 0, got {value}")
    return value


def with_l2(grad: np.ndarray, param: np.ndarray, weight_decay: float) -> np.ndarray:
    """The gradient with the L2 term: grad + weight_decay·param, or `grad` itself when weight_decay is 0.

    A new array (the caller's gradient is never written), made with one temporary, not two.
    """
    if not weight_decay:
        return grad
    g = param * weight_decay
    g += grad
    return g


def check_beta(opt: str, label: str, value: Any) -> float:
    """``value`` as a float, or a ValueError naming the optimizer when it is outside [0, 1)."""
    value = _check_number(opt, label, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{opt}: {label} must be in [0, 1), got {value}")
    return value


class Optimizer:
    """Base class of the optimizers: holds parameter groups and per-parameter state.

    ``params`` is an iterable of tensors that require grad (leaves, e.g.
    ``model.parameters()``) or of dicts, each a *parameter group* with a
    ``"params"`` list and optional hyperparameters overriding the defaults::

        Adam([{"params": body}, {"params": head, "lr": 1e-2}], lr=1e-3)

    ``step()`` updates every parameter whose ``.grad`` is not None, in place
    and without recording a graph; the per-parameter state (velocities,
    squared-gradient averages, step counts) is created at the first update
    and starts at zero. ``opt.lr`` reads or sets the learning rate of every group.

    >>> import tinygraph as tg
    >>> from tinygraph.optim import SGD
    >>> w = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step(); w
    Tensor([0.8, 1.6], requires_grad=True)
    >>> opt.lr = 0.01; opt.param_groups[0]["lr"]
    0.01
    """

    defaults: dict[str, Any] = {}

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of tensors or of dicts (parameter groups), "
                "got a single Tensor; wrap it in a list"
            )
        if isinstance(params, dict):
            params = [params]
        try:
            entries = list(params)
        except TypeError:
            raise TypeError(
                f"{name}: params must be an iterable of tensors or of dicts, got {type(params).__name__}"
            ) from None
        if not entries:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if all(isinstance(e, dict) for e in entries):
            groups = entries
        elif any(isinstance(e, dict) for e in entries):
            raise TypeError(f"{name}: params mixes tensors and dicts; give either tensors or parameter groups")
        else:
            groups = [{"params": entries}]
        for group in groups:
            self.add_param_group(group)

    # ----- groups -------------------------------------------------------------------------------
    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a dict with ``"params"`` (and optional hyperparameters) as a new group."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' entry, got {group!r}")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(
                f"{name}: unknown hyperparameter(s) {sorted(unknown)} in a parameter group; "
                f"known: {sorted(self.defaults)}"
            )
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} has an empty 'params' list")
        seen = {p for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            where = f"params[{i}]" if not self.param_groups else f"group {len(self.param_groups)} params[{i}]"
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: optimizer given a non-parameter: {where} is a {type(p).__name__}, "
                    "expected a Tensor with requires_grad=True"
                )
            if not p.requires_grad:
                raise ValueError(
                    f"{name}: optimizer given a non-parameter: {where} (shape {p.shape}) does not require grad"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: optimizer given a non-parameter: {where} (shape {p.shape}) is not a leaf "
                    f"(it was made by op {p.op!r}); optimize the leaf tensors it was computed from"
                )
            if p in seen:
                raise ValueError(f"{name}: {where} (shape {p.shape}) appears in more than one place")
            seen.add(p)
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self._check_group(full)
        full["params"] = params
        self.param_groups.append(full)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate (and normalize in place) one group's hyperparameters; subclasses extend."""
        group["lr"] = check_non_negative(type(self).__name__, "learning rate lr", group["lr"])

    # ----- the learning rate ----------------------------------------------------------------------
    @property
    def lr(self) -> float:
        """The learning rate (of every group; a ValueError if the groups differ)."""
        lrs = {g["lr"] for g in self.param_groups}
        if len(lrs) > 1:
            raise ValueError(
                f"{type(self).__name__}.lr: the parameter groups have different learning rates {sorted(lrs)}; "
                "read opt.param_groups[i]['lr']"
            )
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        value = check_non_negative(type(self).__name__, "learning rate lr", value)
        for g in self.param_groups:
            g["lr"] = value

    # ----- updates --------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters (to None, or to zeros with ``set_to_none=False``)."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = Tensor._make(np.zeros_like(p._data))

    def step(self) -> None:
        """Update every parameter that has a gradient, in place, under ``no_grad``."""
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._step_one(p, group)

    def _step_one(self, p: Tensor, group: dict[str, Any]) -> None:
        """Update one parameter that has a gradient."""
        g = p.grad._data if isinstance(p.grad, Tensor) else np.asarray(p.grad)
        if g.shape != p._data.shape:
            raise ValueError(
                f"{type(self).__name__}.step: gradient of shape {g.shape} does not match "
                f"its parameter's shape {p._data.shape}"
            )
        # Compute in the parameter's dtype so float32 parameters stay float32.
        g = np.asarray(g, dtype=p._data.dtype)
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {}
        self._update(p._data, g, state, group)
        # A graph that saved this parameter must notice the in-place write.
        p.mark_written("an optimizer step")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    # ----- saving and loading -------------------------------------------------------------------
    def _all_params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        """A copy of the optimizer's state: ``{"state": {index: {...}}, "param_groups": [...]}``.

        Parameters are referred to by their position across the groups, as in
        PyTorch, so the dict can be loaded into an optimizer built on another
        copy of the same model.

        >>> import tinygraph as tg
        >>> from tinygraph.optim import Adam
        >>> w = tg.tensor([1.0], requires_grad=True)
        >>> opt = Adam([w], lr=0.1)
        >>> w.grad = tg.tensor([0.5]); opt.step()
        >>> sd = opt.state_dict(); sd["state"][0]["step"], sd["param_groups"][0]["params"]
        (1, [0])
        """
        index = {p: i for i, p in enumerate(self._all_params())}
        groups = []
        for g in self.param_groups:
            entry = {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            entry["params"] = [index[p] for p in g["params"]]
            groups.append(entry)
        state = {
            index[p]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for p, s in self.state.items()
            if p in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by `state_dict` (arrays are copied).

        The groups must have the same sizes and the saved arrays the parameters' shapes.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and 'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter group(s), "
                f"this optimizer has {len(self.param_groups)}"
            )
        for i, (sg, g) in enumerate(zip(saved_groups, self.param_groups)):
            if len(sg["params"]) != len(g["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: group {i} has {len(sg['params'])} parameter(s) in the state dict, "
                    f"{len(g['params'])} here"
                )
            extra = sorted(set(sg) - set(g))
            if extra:
                raise ValueError(
                    f"{name}.load_state_dict: group {i} of the state dict has hyperparameters {extra} that {name} "
                    f"does not take ({name}'s: {sorted(k for k in g if k != 'params')}): a state dict of another optimizer?"
                )
        by_index: dict[int, Tensor] = {}
        for sg, g in zip(saved_groups, self.param_groups):
            by_index.update(zip(sg["params"], g["params"]))
        new_state: dict[Tensor, dict[str, Any]] = {}
        for idx, s in state_dict["state"].items():
            if idx not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for unknown parameter index {idx}")
            p = by_index[idx]
            entry = {}
            for k, v in s.items():
                if isinstance(v, np.ndarray):
                    if v.shape != p.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state {k!r} of parameter {idx} has shape {v.shape}, "
                            f"the parameter has shape {p.shape}"
                        )
                    v = v.astype(p.dtype, copy=True)
                entry[k] = v
            new_state[p] = entry
        for sg, g in zip(saved_groups, self.param_groups):
            # (a hyperparameter the state dict lacks, one added since it was saved, keeps this group's value)
            hyper = {k: copy.deepcopy(sg.get(k, v)) for k, v in g.items() if k != "params"}
            self._check_group(hyper)
            g.update(hyper)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for i, g in enumerate(self.param_groups):
            hyper = ", ".join(f"{k}={v}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {len(g['params'])} parameter(s), {hyper}")
        return "\n".join(lines) + "\n)"
