"""The five benchmark workloads (issue 8), each written four ways: tinygraph eager, tinygraph through
``tg.compile`` (issue 18), hand-written numpy, PyTorch.

Every implementation is a factory ``make(data) -> step`` where ``step(update=True)`` runs one
forward and backward pass (and, for the training workloads, one gradient-descent update) and
returns ``(loss, grads)`` with the gradients as a list of arrays/tensors. The data and the initial
parameters come from one numpy seed and are float32 throughout, so the three implementations can be
checked against each other before they are timed.

- W1: the course's deep net 12288-20-7-5-1 (relu, sigmoid output), batch 209, columns layout
  (X is (n_x, m)), binary cross-entropy, one gradient-descent step.
- W2: MLP 784-256-128-10 (relu), batch 128, rows layout (X is (m, 784)), softmax cross-entropy,
  one SGD step.
- W3: the course's planar net 2-4-1 (tanh, sigmoid), batch 400, one gradient-descent step.
- W4: a chain of 1,000 elementwise ops (add, multiply, tanh in turn) on a 10-element vector,
  forward and backward.
- W5: the same chain with 200,000 ops on a scalar, forward and backward.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


# ----- data ---------------------------------------------------------------------------------


def deep_net_data(layers: tuple, m: int, seed: int = 1) -> dict:
    """Course layout: X (n_x, m), Y (1, m), W_l (n_l, n_{l-1}) scaled by 1/sqrt(n_{l-1}), b_l zeros (n_l, 1)."""
    rng = np.random.default_rng(seed)
    X = rng.random((layers[0], m), dtype=F32)
    Y = (rng.random((1, m)) > 0.5).astype(F32)
    params = []
    for n_in, n_out in zip(layers[:-1], layers[1:]):
        params.append((rng.standard_normal((n_out, n_in), dtype=F32) / F32(np.sqrt(n_in))).astype(F32))
        params.append(np.zeros((n_out, 1), dtype=F32))
    return {"X": X, "Y": Y, "params": params}


def planar_data(m: int = 400, seed: int = 2) -> dict:
    """The course's planar set-up: X (2, m), Y (1, m), W1 (4, 2) and W2 (1, 4) times 0.01."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2, m), dtype=F32) * F32(4)
    Y = (X[0:1] * X[1:2] > 0).astype(F32)
    params = [
        rng.standard_normal((4, 2), dtype=F32) * F32(0.01),
        np.zeros((4, 1), dtype=F32),
        rng.standard_normal((1, 4), dtype=F32) * F32(0.01),
        np.zeros((1, 1), dtype=F32),
    ]
    return {"X": X, "Y": Y, "params": params}


def mlp_data(m: int = 128, seed: int = 3) -> dict:
    """Rows layout: X (m, 784), labels (m,), one-hot Y (m, 10), W (in, out) He-scaled, b zeros (out,)."""
    rng = np.random.default_rng(seed)
    sizes = (784, 256, 128, 10)
    X = rng.random((m, 784), dtype=F32)
    labels = rng.integers(0, 10, m)
    Y = np.eye(10, dtype=F32)[labels]
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((n_in, n_out), dtype=F32) * F32(np.sqrt(2 / n_in))).astype(F32))
        params.append(np.zeros(n_out, dtype=F32))
    return {"X": X, "labels": labels, "Y": Y, "params": params}


def chain_data(n_ops: int, size: int | None, seed: int = 4) -> dict:
    """x0 and the two constants of the add/multiply/tanh chain; size None means a 0-d scalar."""
    rng = np.random.default_rng(seed)
    shape = () if size is None else (size,)
    return {
        "n_ops": n_ops,
        "x": rng.uniform(-1, 1, shape).astype(F32),
        "a": rng.uniform(-0.1, 0.1, shape).astype(F32),
        "b": rng.uniform(0.9, 1.1, shape).astype(F32),
    }


LR = {"W1": 0.0075, "W2": 0.1, "W3": 1.2}


# ----- W1 and W3: the course's nets (columns layout, BCE) ------------------------------------


def course_net_numpy(data: dict, lr: float, hidden: str) -> callable:
    """Hand-written forward and backward as the course writes them (caches, dZ, dW, db, dA_prev)."""
    X, Y = data["X"], data["Y"]
    params = [p.copy() for p in data["params"]]
    m = X.shape[1]
    L = len(params) // 2

    def step(update: bool = True):
        A = X
        caches = []
        for layer in range(L):
            W, b = params[2 * layer], params[2 * layer + 1]
            Z = W @ A + b
            caches.append((A, Z))
            if layer < L - 1:
                A = np.tanh(Z) if hidden == "tanh" else np.maximum(Z, 0)
            else:
                A = 1 / (1 + np.exp(-Z))
        AL = A
        cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
        grads = [None] * (2 * L)
        dZ = AL - Y  # sigmoid + cross-entropy, simplified as the course does
        for layer in reversed(range(L)):
            A_prev = caches[layer][0]
            grads[2 * layer] = dZ @ A_prev.T / m
            grads[2 * layer + 1] = np.sum(dZ, axis=1, keepdims=True) / m
            if layer > 0:  # the input X needs no gradient
                dA = params[2 * layer].T @ dZ
                if hidden == "tanh":
                    dZ = dA * (1 - A_prev * A_prev)
                else:
                    dZ = dA * (caches[layer - 1][1] > 0)
        if update:
            for p, g in zip(params, grads):
                p -= lr * g
        return cost, grads

    return step


def tinygraph_step(loss_fn, args: tuple, params: list, lr: float | None, compiled: bool) -> callable:
    """The tinygraph columns' step: the course's loop ``opt.zero_grad(); loss_fn(*args).backward(); opt.step()``
    with ``tg.optim.SGD`` on `params` (no update if `lr` is None).

    With `compiled` the loss goes through ``tg.compile(loss_fn, closed_forms=True)`` (traced at the
    first call; the closed forms give sigmoid + binary cross-entropy the course's dZ = A - Y, as the
    hand-written numpy does); the step is otherwise the same, so the two columns differ by the
    compiler alone. The gradients are returned as the tensors (``.grad``), for the check.
    """
    import tinygraph as tg

    if compiled:
        loss_fn = tg.compile(loss_fn, closed_forms=True)
    opt = tg.optim.SGD(params, lr=lr if lr is not None else 0.0)

    def step(update: bool = True):
        opt.zero_grad()
        loss = loss_fn(*args)
        loss.backward()
        grads = [p.grad for p in params]
        if update and lr is not None:
            opt.step()
        return loss, grads

    if compiled:
        step.compiled, step.args = loss_fn, args
    return step


def course_net_tinygraph(data: dict, lr: float, hidden: str, compiled: bool = False) -> callable:
    import tinygraph as tg

    X, Y = tg.tensor(data["X"]), tg.tensor(data["Y"])
    params = [tg.tensor(p, requires_grad=True) for p in data["params"]]
    m = data["X"].shape[1]
    L = len(params) // 2
    act = tg.tanh if hidden == "tanh" else tg.relu

    def loss_fn(X, Y):
        A = X
        for layer in range(L):
            Z = params[2 * layer] @ A + params[2 * layer + 1]
            A = act(Z) if layer < L - 1 else tg.sigmoid(Z)
        return -(Y * tg.log(A) + (1 - Y) * tg.log(1 - A)).sum() / m

    return tinygraph_step(loss_fn, (X, Y), params, lr, compiled)


def course_net_compiled(data: dict, lr: float, hidden: str) -> callable:
    """The tinygraph column's step with the loss through ``tg.compile``."""
    return course_net_tinygraph(data, lr, hidden, compiled=True)


def course_net_torch(data: dict, lr: float, hidden: str) -> callable:
    import torch

    X, Y = torch.from_numpy(data["X"]), torch.from_numpy(data["Y"])
    params = [torch.tensor(p, requires_grad=True) for p in data["params"]]
    m = data["X"].shape[1]
    L = len(params) // 2
    act = torch.tanh if hidden == "tanh" else torch.relu

    def step(update: bool = True):
        A = X
        for layer in range(L):
            Z = params[2 * layer] @ A + params[2 * layer + 1]
            A = act(Z) if layer < L - 1 else torch.sigmoid(Z)
        cost = -(Y * torch.log(A) + (1 - Y) * torch.log(1 - A)).sum() / m
        cost.backward()
        grads = [p.grad for p in params]
        if update:
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
        return cost, grads

    return step


# ----- W2: MLP with softmax cross-entropy (rows layout) --------------------------------------


def mlp_numpy(data: dict, lr: float) -> callable:
    X, Y = data["X"], data["Y"]
    params = [p.copy() for p in data["params"]]
    m = X.shape[0]

    def step(update: bool = True):
        W1, b1, W2, b2, W3, b3 = params
        Z1 = X @ W1 + b1
        A1 = np.maximum(Z1, 0)
        Z2 = A1 @ W2 + b2
        A2 = np.maximum(Z2, 0)
        Z3 = A2 @ W3 + b3
        shifted = Z3 - Z3.max(axis=1, keepdims=True)
        E = np.exp(shifted)
        S = E.sum(axis=1, keepdims=True)
        loss = -np.sum(Y * (shifted - np.log(S))) / m
        dZ3 = (E / S - Y) / m
        dW3, db3 = A2.T @ dZ3, dZ3.sum(axis=0)
        dZ2 = (dZ3 @ W3.T) * (Z2 > 0)
        dW2, db2 = A1.T @ dZ2, dZ2.sum(axis=0)
        dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
        dW1, db1 = X.T @ dZ1, dZ1.sum(axis=0)
        grads = [dW1, db1, dW2, db2, dW3, db3]
        if update:
            for p, g in zip(params, grads):
                p -= lr * g
        return loss, grads

    return step


def mlp_tinygraph(data: dict, lr: float, compiled: bool = False) -> callable:
    import tinygraph as tg
    from tinygraph.nn import functional as F  # noqa: N812

    X, labels = tg.tensor(data["X"]), data["labels"]
    params = [tg.tensor(p, requires_grad=True) for p in data["params"]]

    def loss_fn(X):
        W1, b1, W2, b2, W3, b3 = params
        A1 = tg.relu(X @ W1 + b1)
        A2 = tg.relu(A1 @ W2 + b2)
        return F.cross_entropy(A2 @ W3 + b3, labels)  # as PyTorch's column writes it

    return tinygraph_step(loss_fn, (X,), params, lr, compiled)


def mlp_compiled(data: dict, lr: float) -> callable:
    return mlp_tinygraph(data, lr, compiled=True)


def mlp_torch(data: dict, lr: float) -> callable:
    import torch
    import torch.nn.functional as F  # noqa: N812

    X, labels = torch.from_numpy(data["X"]), torch.from_numpy(data["labels"])
    params = [torch.tensor(p, requires_grad=True) for p in data["params"]]

    def step(update: bool = True):
        W1, b1, W2, b2, W3, b3 = params
        A1 = torch.relu(X @ W1 + b1)
        A2 = torch.relu(A1 @ W2 + b2)
        loss = F.cross_entropy(A2 @ W3 + b3, labels)
        loss.backward()
        grads = [p.grad for p in params]
        if update:
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
        return loss, grads

    return step


# ----- W4 and W5: the elementwise chain --------------------------------------------------------


def chain(x, a, b, n_ops: int, tanh, keep: list | None = None):
    """The chain itself, the same code for all three: add `a`, multiply by `b`, `tanh`, in turn.

    `keep` collects the tanh outputs, which is all that the hand-written backward needs.
    """
    for i in range(n_ops):
        k = i % 3
        if k == 0:
            x = x + a
        elif k == 1:
            x = x * b
        else:
            x = tanh(x)
            if keep is not None:
                keep.append(x)
    return x


def chain_numpy_backward(x: np.ndarray, b: np.ndarray, ys: list, n_ops: int) -> np.ndarray:
    """The gradient of ``chain(...).sum()`` by hand, from the tanh outputs `ys` (emptied)."""
    g = np.ones_like(x)
    for i in reversed(range(n_ops)):
        k = i % 3
        if k == 1:
            g = g * b
        elif k == 2:
            y = ys.pop()
            g = g * (1 - y * y)
    return g


def chain_numpy(data: dict) -> callable:
    n, x0, a, b = data["n_ops"], data["x"], data["a"], data["b"]

    def step(update: bool = True):
        ys: list = []
        x = chain(x0, a, b, n, np.tanh, ys)
        return x.sum(), [chain_numpy_backward(x, b, ys, n)]

    return step


def chain_tinygraph(data: dict, compiled: bool = False) -> callable:
    import tinygraph as tg

    n = data["n_ops"]
    a, b = tg.tensor(data["a"]), tg.tensor(data["b"])
    x0 = tg.tensor(data["x"], requires_grad=True)
    return tinygraph_step(lambda x: chain(x, a, b, n, tg.tanh).sum(), (x0,), [x0], None, compiled)


def chain_compiled(data: dict) -> callable:
    return chain_tinygraph(data, compiled=True)


def chain_torch(data: dict) -> callable:
    import torch

    n = data["n_ops"]
    a, b = torch.from_numpy(data["a"]), torch.from_numpy(data["b"])
    x0 = torch.tensor(data["x"], requires_grad=True)

    def step(update: bool = True):
        loss = chain(x0, a, b, n, torch.tanh).sum()
        loss.backward()
        g = x0.grad
        x0.grad = None
        return loss, [g]

    return step


# ----- the table of workloads -----------------------------------------------------------------


def workloads(mlp_batch: int = 128) -> dict:
    """name -> (description, data, {impl: factory})."""
    w1 = deep_net_data((12288, 20, 7, 5, 1), 209)
    w2 = mlp_data(mlp_batch)
    w3 = planar_data(400)
    w4 = chain_data(1000, 10)
    w5 = chain_data(200_000, None)
    net = {
        "tinygraph": lambda d, h: course_net_tinygraph(d, LR[h[0]], h[1]),
        "compiled": lambda d, h: course_net_compiled(d, LR[h[0]], h[1]),
        "numpy": lambda d, h: course_net_numpy(d, LR[h[0]], h[1]),
        "pytorch": lambda d, h: course_net_torch(d, LR[h[0]], h[1]),
    }
    return {
        "W1": (
            "deep net 12288-20-7-5-1, batch 209, BCE, GD step",
            w1,
            {k: (lambda d, f=f: f(d, ("W1", "relu"))) for k, f in net.items()},
        ),
        "W2": (
            "MLP 784-256-128-10, batch 128, softmax CE, SGD step",
            w2,
            {
                "tinygraph": lambda d: mlp_tinygraph(d, LR["W2"]),
                "compiled": lambda d: mlp_compiled(d, LR["W2"]),
                "numpy": lambda d: mlp_numpy(d, LR["W2"]),
                "pytorch": lambda d: mlp_torch(d, LR["W2"]),
            },
        ),
        "W3": (
            "planar net 2-4-1 tanh/sigmoid, batch 400, GD step",
            w3,
            {k: (lambda d, f=f: f(d, ("W3", "tanh"))) for k, f in net.items()},
        ),
        "W4": (
            "1,000-op elementwise chain on 10 values, fwd+bwd",
            w4,
            {"tinygraph": chain_tinygraph, "compiled": chain_compiled, "numpy": chain_numpy, "pytorch": chain_torch},
        ),
        "W5": (
            "200,000-op scalar chain, fwd+bwd",
            w5,
            {"tinygraph": chain_tinygraph, "compiled": chain_compiled, "numpy": chain_numpy, "pytorch": chain_torch},
        ),
    }
