"""Layers: `Linear`, activations, `Dropout`, `BatchNorm1d`, `Flatten`, the `Sequential` container and `MLP`.

All layers take batch-first input, as PyTorch does: a batch of m examples with
n features is an (m, n) tensor. (The course stacks examples as columns,
X of shape (n_x, m); pass ``X.T``.)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tinygraph.dtypes import get_default_dtype
from tinygraph.mode import no_grad
from tinygraph.nn import functional as F
from tinygraph.nn import init
from tinygraph.nn.module import Module, Parameter
from tinygraph.ops import reduce as _rd
from tinygraph.ops import shape as _sh
from tinygraph.ops._common import as_tensor
from tinygraph.tensor import Tensor

__all__ = [
    "MLP",
    "BatchNorm1d",
    "Dropout",
    "Flatten",
    "Identity",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
]


def _positive_int(value: Any, layer: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: {what} must be a positive int, got {value!r}")
    return int(value)


def _input(x: Any, layer: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return as_tensor(x, layer)
    except TypeError as e:
        raise TypeError(f"{layer}: input must be a Tensor or numeric array: {e}") from None


class Linear(Module):
    """A fully connected layer: ``y = x @ W.T + b`` for a batch x of shape (m, in_features).

    ``weight`` has shape (out_features, in_features) — the course's W[l] of shape
    (n[l], n[l-1]) — and ``bias`` shape (out_features,). Default initialization
    is PyTorch's: weight and bias uniform in ±1/sqrt(in_features). For deep ReLU
    networks use He initialization (``nn.init.kaiming_normal_(layer.weight)``)
    or build the network with `MLP`, which does.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> lin = nn.Linear(4, 3)
    >>> lin.weight.shape, lin.bias.shape
    ((3, 4), (3,))
    >>> lin(tg.tensor(np.ones((10, 4)))).shape
    (10, 3)
    >>> lin(tg.tensor(np.ones((10, 5))))
    Traceback (most recent call last):
    ...
    ValueError: Linear(in_features=4, out_features=3): input of shape (10, 5) has 5 features, expected 4
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = _positive_int(in_features, "Linear", "in_features")
        self.out_features = _positive_int(out_features, "Linear", "out_features")
        dt = np.dtype(get_default_dtype() if dtype is None else dtype)
        self.weight = Parameter(np.zeros((self.out_features, self.in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.zeros((self.out_features,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight and bias uniform in ±1/sqrt(in_features)."""
        bound = 1.0 / math.sqrt(self.in_features)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), nonlinearity="leaky_relu")
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def _name(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"

    def forward(self, x: Any) -> Tensor:
        x = _input(x, self._name())
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            got = "a scalar" if x.ndim == 0 else f"{x.shape[-1]} features"
            raise ValueError(f"{self._name()}: input of shape {x.shape} has {got}, expected {self.in_features}")
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    """Layers applied one after another; indexable, iterable, with children named '0', '1', ...

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> len(net), type(net[-1]).__name__, [n for n, _ in net.named_parameters()][:2]
    (3, 'Linear', ['0.weight', '0.bias'])
    >>> net(tg.tensor([[1.0, 2.0]])).shape
    (1, 1)
    """

    def __init__(self, *modules: Module | OrderedDict) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self._add(str(name), m)
        else:
            for i, m in enumerate(modules):
                self._add(str(i), m)

    def _add(self, name: str, m: Any) -> None:
        if not isinstance(m, Module):
            raise TypeError(f"Sequential: item {name!r} must be a Module, got {type(m).__name__}")
        self.add_module(name, m)

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end; returns self."""
        self._add(str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index: int | slice) -> Any:
        mods = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*mods[index])
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"Sequential: index must be an int or a slice, got {type(index).__name__}")
        if not -len(mods) <= index < len(mods):
            raise IndexError(f"Sequential: index {index} is out of range for {len(mods)} layers")
        return mods[index]

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x


class ReLU(Module):
    """max(0, x), elementwise.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> nn.ReLU()(tg.tensor([-1.0, 2.0]))
    Tensor([0., 2.])
    """

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x for x > 0, else negative_slope·x.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> nn.LeakyReLU(0.1)(tg.tensor([-1.0, 2.0]))
    Tensor([-0.1,  2. ])
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    """tanh(x), elementwise.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> nn.Tanh()(tg.tensor([0.0]))
    Tensor([0.])
    """

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    """1 / (1 + e^-x), elementwise.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> nn.Sigmoid()(tg.tensor([0.0]))
    Tensor([0.5])
    """

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class Softmax(Module):
    """exp(x) / Σ exp(x) along ``axis`` (the last by default: each row of a batch sums to 1).

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> nn.Softmax()(tg.tensor([[0.0, 0.0]]))
    Tensor([[0.5, 0.5]])
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``axis``, computed stably (pair it with `nll_loss`).

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> round(float(nn.LogSoftmax()(tg.tensor([[0.0, 0.0]])).data[0, 0]), 6)
    -0.693147
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for 'no activation').

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> x = tg.tensor([1.0]); nn.Identity()(x) is x
    True
    """

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Reshape (m, d1, d2, ...) to (m, d1·d2·...): one row of features per example.

    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> nn.Flatten()(tg.tensor(np.zeros((5, 8, 8)))).shape
    (5, 64)
    """

    def forward(self, x: Any) -> Tensor:
        x = _input(x, "Flatten")
        if x.ndim < 1:
            raise ValueError(f"Flatten: input must have a batch axis, got a scalar of shape {x.shape}")
        return _sh.reshape(x, (x.shape[0], math.prod(x.shape[1:])))


class Dropout(Module):
    """Inverted dropout with drop probability ``p`` (the course's keep_prob = 1 - p).

    In training mode each element is zeroed with probability p and the kept ones
    are scaled by 1/(1-p), so the expected activation is unchanged; in eval mode
    (``model.eval()``) it is the identity. Masks come from
    ``tinygraph.random.generator()``: ``manual_seed`` makes them reproducible.

    >>> import numpy as np, tinygraph as tg
    >>> from tinygraph import nn
    >>> from tinygraph.random import manual_seed
    >>> _ = manual_seed(0)
    >>> drop = nn.Dropout(p=0.5)
    >>> y = drop(tg.tensor(np.ones(8)))
    >>> sorted(set(y.data.tolist()))
    [0.0, 2.0]
    >>> drop.eval()(tg.tensor([1.0, 2.0]))
    Tensor([1., 2.])
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p (the drop probability, 1 - keep_prob) must be in [0, 1], got {p!r}")
        self.p = float(p)

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch normalization over the batch axis of (m, C) (or (m, C, L)) inputs.

    Training mode: normalize with the batch's mean and (biased) variance,
    z_norm = (z - μ) / sqrt(σ² + eps), then scale and shift, z̃ = γ·z_norm + β
    (γ is ``weight``, β is ``bias``; both learned). The statistics are computed
    with tinygraph ops, so gradients flow through them. Each training batch also
    updates the running averages ``running_mean`` and ``running_var`` (unbiased),
    ``running = (1 - momentum)·running + momentum·batch``; eval mode normalizes
    with those instead, so a single test example works.

    >>> import numpy as np, tinygraph as tg
    >>> from tinygraph import nn
    >>> bn = nn.BatchNorm1d(2)
    >>> y = bn(tg.tensor([[1.0, 10.0], [3.0, 30.0]]))
    >>> np.round(y.data, 4)            # each column now has mean 0, variance ~1
    array([[-1., -1.],
           [ 1.,  1.]])
    >>> bn.running_mean.data           # 0.9·0 + 0.1·batch mean
    array([0.2, 2. ])
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.num_features = _positive_int(num_features, "BatchNorm1d", "num_features")
        if not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be > 0, got {eps!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1], got {momentum!r}")
        self.eps = float(eps)
        self.momentum = float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = np.dtype(get_default_dtype() if dtype is None else dtype)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dt))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dt))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dt))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)

    def reset_running_stats(self) -> None:
        """Running mean back to 0 and running variance back to 1."""
        if self.track_running_stats:
            self.running_mean.data = np.zeros_like(self.running_mean.data)
            self.running_var.data = np.ones_like(self.running_var.data)

    def forward(self, x: Any) -> Tensor:
        name = f"BatchNorm1d({self.num_features})"
        x = _input(x, name)
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(
                f"{name}: input of shape {x.shape} must be (batch, {self.num_features}) "
                f"or (batch, {self.num_features}, length)"
            )
        axes = (0,) if x.ndim == 2 else (0, 2)
        bshape = (1, self.num_features) + (() if x.ndim == 2 else (1,))
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            n = x.size // self.num_features
            if n < 2:
                raise ValueError(
                    f"{name}: training mode needs more than 1 value per feature to compute batch statistics, "
                    f"got input of shape {x.shape}; call .eval() to use the running statistics"
                )
            mean = _rd.mean(x, axes, keepdims=True)
            var = _rd.var(x, axes, keepdims=True)
            if self.training and self.track_running_stats:
                with no_grad():
                    mom = self.momentum
                    bm = mean._data.reshape(self.num_features)
                    bv = var._data.reshape(self.num_features) * (n / (n - 1))
                    # in the buffers' own dtype (a float64 batch leaves float32 statistics float32, as eval's output)
                    rm, rv = self.running_mean.data, self.running_var.data
                    self.running_mean.data = ((1 - mom) * rm + mom * bm).astype(rm.dtype, copy=False)
                    self.running_var.data = ((1 - mom) * rv + mom * bv).astype(rv.dtype, copy=False)
            x_norm = (x - mean) / (var + self.eps) ** 0.5
        else:
            mean = Tensor._make(self.running_mean._data.reshape(bshape))
            std = Tensor._make(np.sqrt(self.running_var._data + self.eps).reshape(bshape))
            x_norm = (x - mean) / std
        if self.affine:
            x_norm = x_norm * _sh.reshape(self.weight, bshape) + _sh.reshape(self.bias, bshape)
        return x_norm

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


_ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "softmax": Softmax,
    "log_softmax": LogSoftmax,
    "identity": Identity,
    "linear": Identity,
}


def _activation(spec: Any, where: str) -> Module | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        key = spec.lower()
        if key not in _ACTIVATIONS:
            raise ValueError(f"MLP: unknown {where} {spec!r}; expected one of {sorted(_ACTIVATIONS)} or None")
        return _ACTIVATIONS[key]()
    if isinstance(spec, type) and issubclass(spec, Module):
        return spec()
    raise TypeError(f"MLP: {where} must be a name such as 'relu', a Module class or None, got {spec!r}")


class MLP(Module):
    """The course's L-layer network in one line: Linear layers of ``layer_sizes`` with an activation between.

    ``MLP([n0, n1, ..., nL])`` has weights W[l] of shape (n[l], n[l-1]);
    ``activation`` follows every hidden layer, ``output_activation`` (None:
    return the logits, the right input for ``cross_entropy`` and
    ``binary_cross_entropy_with_logits``) follows the last. ``dropout`` > 0 adds
    a `Dropout` after each hidden activation.

    Children live in ``self.layers`` (a `Sequential`), so parameters are named
    ``layers.0.weight``, ``layers.0.bias``, ``layers.2.weight``, ... (index 1 is the
    first activation). Initialization (``init``): ``"auto"`` (default) is He,
    std sqrt(2/n[l-1]), for relu/leaky_relu and the course's Xavier,
    std sqrt(1/n[l-1]), for anything else; or choose ``"he"``, ``"xavier"``,
    ``"small"`` (randn × 0.01), ``"zeros"`` (to watch symmetry fail) or
    ``"default"`` (PyTorch's Linear init). Biases start at zero except with "default".

    >>> from tinygraph import nn
    >>> from tinygraph.random import manual_seed
    >>> _ = manual_seed(1)
    >>> net = nn.MLP([2, 4, 1], activation="tanh", output_activation="sigmoid")
    >>> net
    MLP(
      (layers): Sequential(
        (0): Linear(in_features=2, out_features=4, bias=True)
        (1): Tanh()
        (2): Linear(in_features=4, out_features=1, bias=True)
        (3): Sigmoid()
      )
    )
    >>> [(n, p.shape) for n, p in net.named_parameters()]
    [('layers.0.weight', (4, 2)), ('layers.0.bias', (4,)), ('layers.2.weight', (1, 4)), ('layers.2.bias', (1,))]
    """

    _INITS = ("auto", "he", "xavier", "small", "zeros", "default")

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: Any = "relu",
        output_activation: Any = None,
        init: str = "auto",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        sizes = list(layer_sizes) if not isinstance(layer_sizes, (int, str)) else []
        if len(sizes) < 2:
            raise ValueError(
                f"MLP: layer_sizes must list at least the input and output sizes [n0, ..., nL], got {layer_sizes!r}"
            )
        sizes = [_positive_int(n, "MLP", f"layer_sizes[{i}]") for i, n in enumerate(sizes)]
        if init not in self._INITS:
            raise ValueError(f"MLP: init must be one of {self._INITS}, got {init!r}")
        if isinstance(dropout, bool) or not 0 <= dropout < 1:
            raise ValueError(f"MLP: dropout (drop probability) must be in [0, 1), got {dropout!r}")
        self.layer_sizes = sizes
        act_name = activation if isinstance(activation, str) else getattr(activation, "__name__", "")
        self._act_name = str(act_name).lower()
        layers = Sequential()
        n_layers = len(sizes) - 1
        for i in range(n_layers):
            lin = Linear(sizes[i], sizes[i + 1])
            self._init_linear(lin, init)
            layers.append(lin)
            last = i == n_layers - 1
            act = _activation(output_activation if last else activation, "output_activation" if last else "activation")
            if act is not None:
                layers.append(act)
            if not last and dropout > 0:
                layers.append(Dropout(dropout))
        self.layers = layers

    def _init_linear(self, lin: Linear, how: str) -> None:
        if how == "default":
            return
        if how == "auto":
            how = "he" if self._act_name in ("relu", "leaky_relu") else "xavier"
        w = lin.weight
        if how == "he":
            init.kaiming_normal_(w, nonlinearity="relu")
        elif how == "xavier":
            init.kaiming_normal_(w, nonlinearity="linear")
        elif how == "small":
            init.normal_(w, std=0.01)
        else:
            init.zeros_(w)
        init.zeros_(lin.bias)

    def forward(self, x: Any) -> Tensor:
        return self.layers(x)
