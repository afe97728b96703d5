"""Losses as modules (PyTorch style): ``loss_fn = nn.CrossEntropyLoss(); loss = loss_fn(logits, y)``.

Each wraps the function of the same meaning in `tinygraph.nn.functional`
and takes the same ``reduction``.
"""

from __future__ import annotations

from typing import Any

from tinygraph.nn import functional as F
from tinygraph.nn.module import Module
from tinygraph.tensor import Tensor

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities; see `functional.binary_cross_entropy`.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> round(nn.BCELoss()(tg.tensor([0.8, 0.4]), tg.tensor([1.0, 0.0])).item(), 6)
    0.366985
    """

    def forward(self, probs: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(probs, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (sigmoid folded in, exact for any logit); see
    `functional.binary_cross_entropy_with_logits`.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> nn.BCEWithLogitsLoss(reduction="sum")(tg.tensor([1e4, -1e4]), tg.tensor([1.0, 0.0])).item()
    0.0
    """

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on logits (batch, classes) with class indices or probabilities; see
    `functional.cross_entropy`.

    >>> import numpy as np, tinygraph as tg
    >>> from tinygraph import nn
    >>> round(nn.CrossEntropyLoss()(tg.tensor([[0.0, 0.0]]), np.array([1])).item(), 6)   # log 2
    0.693147
    """

    def forward(self, logits: Any, target: Any) -> Tensor:
        return F.cross_entropy(logits, target, self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood on log-probabilities; see `functional.nll_loss`.

    >>> import numpy as np, tinygraph as tg
    >>> from tinygraph import nn
    >>> nn.NLLLoss()(tg.tensor([[-1.0, -2.0]]), np.array([1])).item()
    2.0
    """

    def forward(self, log_probs: Any, target: Any) -> Tensor:
        return F.nll_loss(log_probs, target, self.reduction)


class MSELoss(_Loss):
    """Mean squared error; see `functional.mse_loss`.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> nn.MSELoss()(tg.tensor([1.0, 2.0]), tg.tensor([0.0, 4.0])).item()
    2.5
    """

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error; see `functional.l1_loss`.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> nn.L1Loss()(tg.tensor([1.0, 2.0]), tg.tensor([0.0, 4.0])).item()
    1.5
    """

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return F.l1_loss(input, target, self.reduction)
