"""Neural-network building blocks built from tinygraph ops: modules, layers, initializers, losses.

>>> import numpy as np, tinygraph as tg
>>> from tinygraph import nn
>>> from tinygraph.nn import functional as F
>>> net = nn.MLP([3, 5, 1])                  # the course's 2-layer network, He-initialized
>>> X = tg.tensor(np.ones((4, 3))); y = tg.tensor(np.ones((4, 1)))
>>> loss = F.binary_cross_entropy_with_logits(net(X), y) + F.l2_penalty(net, lambd=0.7, m=4)
>>> loss.backward()
>>> net.layers[0].weight.grad.shape
(5, 3)
"""

from tinygraph.nn import functional, init, utils
from tinygraph.nn.layers import (
    MLP,
    BatchNorm1d,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from tinygraph.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from tinygraph.nn.module import Module, Parameter

__all__ = [
    "MLP",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Identity",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
    "utils",
]
