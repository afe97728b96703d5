"""The checks the vocabulary tables (tests/test_vocab_contract.py, tests/test_vocab_plumbing.py) run
on each case: numpy as the oracle of the forward in float64 and float32, finite differences in
float64 at first and second order, and PyTorch's vector-Jacobian and Hessian-vector products."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import tinygraph as tg


@dataclass
class Case:
    """``fn(*tensors)`` against ``numpy(*arrays)`` (and ``torch(torch, *tensors)``) at inputs of `shapes`."""

    id: str
    fn: Callable
    numpy: Callable
    shapes: tuple
    torch: Callable | None = None


def inputs(case: Case, dtype: Any = np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    return [rng.standard_normal(s).astype(dtype) for s in case.shapes]


def check_forward(case: Case) -> None:
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        xs = inputs(case, dtype)
        ref = np.asarray(case.numpy(*xs))
        out = case.fn(*(tg.tensor(x) for x in xs))
        assert isinstance(out, tg.Tensor) and out.shape == ref.shape, (out.shape, ref.shape)
        assert out.dtype == ref.dtype, (out.dtype, ref.dtype)
        np.testing.assert_allclose(out.data, ref, rtol=rtol, atol=rtol)
        plain = case.fn(*xs)  # plain arrays in: a plain array out
        assert isinstance(plain, (np.ndarray, np.generic)) and plain.dtype == ref.dtype  # (a 0-d result: a scalar)
        np.testing.assert_allclose(plain, ref, rtol=rtol, atol=rtol)
    xs = [tg.tensor(x, requires_grad=True) for x in inputs(case, np.float32)]
    out = case.fn(*xs)
    if out.requires_grad:
        (out * out).sum().backward()
        for x in xs:
            assert x.grad is None or (x.grad.dtype == np.float32 and x.grad.shape == x.shape)


def check_gradients(case: Case) -> None:
    xs = [tg.tensor(x) for x in inputs(case)]
    first = tg.gradcheck(case.fn, xs)
    assert first.passed and (first.difference < 1e-7 or first.max_abs_error < 1e-8), str(first)
    # of the output squared, so that a linear op's backward must itself be differentiable
    second = tg.gradgradcheck(lambda *t: case.fn(*t) ** 2, xs)
    assert second.passed and (second.difference < 1e-6 or second.max_abs_error < 1e-7), str(second)


def _tinygraph_derivatives(case: Case, arrays: list, v: np.ndarray, u: list) -> tuple[list, list]:
    xs = [tg.tensor(a, requires_grad=True) for a in arrays]
    out = case.fn(*xs)
    f = (out * out * tg.tensor(v)).sum()
    gs = tg.grad(f, xs, create_graph=True, allow_unused=True, materialize_grads=True)
    h = sum((g * tg.tensor(ui)).sum() for g, ui in zip(gs, u))
    hs = tg.grad(h, xs, allow_unused=True, materialize_grads=True)
    return [g.data for g in gs], [g.data for g in hs]


def check_against_torch(case: Case) -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is the optional oracle: pip install tinygraph[oracle]")
    arrays = inputs(case)
    rng = np.random.default_rng(1)
    txs = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = case.torch(torch, *txs)
    out = case.fn(*(tg.tensor(a) for a in arrays))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    v = rng.standard_normal(out.shape)
    u = [rng.standard_normal(a.shape) for a in arrays]
    gs, hs = _tinygraph_derivatives(case, arrays, v, u)
    f = (tout * tout * torch.tensor(v)).sum()
    tgs = torch.autograd.grad(f, txs, create_graph=True, allow_unused=True)
    tgs = [torch.zeros_like(x) if g is None else g for x, g in zip(txs, tgs)]
    h = sum((g * torch.tensor(ui)).sum() for g, ui in zip(tgs, u))
    ths = torch.autograd.grad(h, txs, allow_unused=True) if h.requires_grad else [None] * len(txs)
    for g, tg_ in zip(gs, tgs):
        np.testing.assert_allclose(g, tg_.detach().clone().numpy(), rtol=1e-10, atol=1e-10)
    for hv, th in zip(hs, ths):
        ref = np.zeros(hv.shape) if th is None else th.detach().clone().numpy()
        np.testing.assert_allclose(hv, ref, rtol=1e-10, atol=1e-10)


def ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]
