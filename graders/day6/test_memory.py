"""Graders for day6/memory.py: counting saved tensors, and activation checkpointing."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from graders import student
from graders.checks import assert_close, assert_equal, close_values, equal_values, fail

mod = student("day6.memory")


def _count(fn: Callable[[], object]) -> tuple[int, int]:
    """The graders' own count of the tensors saved for backward while fn() runs."""
    count, nbytes = 0, 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal count, nbytes
        count += 1
        nbytes += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return count, nbytes


def _top_hooks():
    return torch._C._autograd._top_saved_tensors_default_hooks(False)


# --- saved_tensor_stats ---------------------------------------------------------------------------


def _scenarios() -> list[tuple[str, Callable[[], object]]]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, generator=gen, requires_grad=True)
    y = torch.randn(2, 4, generator=gen)
    w = torch.randn(4, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

    def no_grad_forward():
        with torch.no_grad():
            return mlp(x)

    return [
        ("(x * x).sum(), x requiring grad", lambda: (x * x).sum()),
        ("an MLP Linear-ReLU-Linear", lambda: mlp(y).sum()),
        ("a forward pass under torch.no_grad()", no_grad_forward),
        ("(y.exp() @ w.float()).sin(), only w requiring grad (float64)",
         lambda: (y.exp() @ w.float()).sin()),
        ("x[::2] * x[1:] (views: count their own elements, not the whole storage)",
         lambda: x[::2] * x[1:]),
        ("w @ w.t() in float64", lambda: w @ w.t()),
    ]


def test_saved_tensor_stats_counts_every_saved_tensor():
    """Does saved_tensor_stats return the number and total size of the tensors saved?"""
    for label, fn in _scenarios():
        got = mod.saved_tensor_stats(fn)
        expected = _count(fn)
        if not isinstance(got, tuple) or len(got) != 2 or not all(type(v) is int for v in got):
            fail(f"saved_tensor_stats returned {got!r} for {label}; expected a tuple of two "
                 f"Python ints (count, nbytes) such as {expected}.")
        if not equal_values(got[0], expected[0]):
            fail(f"saved_tensor_stats counts {got[0]} saved tensors for {label}; autograd saved "
                 f"{expected[0]} (count every call of the pack hook, the same tensor saved twice "
                 f"included).")
        if not equal_values(got[1], expected[1]):
            fail(f"saved_tensor_stats gives {got[1]} bytes for {label}; the saved tensors hold "
                 f"{expected[1]} bytes (t.numel() * t.element_size() for each one).")
        if _top_hooks() is not None:
            fail("after saved_tensor_stats returned, its saved-tensor hooks are still installed: "
                 "use `with torch.autograd.graph.saved_tensors_hooks(...)`.")


def test_saved_tensor_stats_calls_fn_once_and_cleans_up():
    """Is fn called exactly once, and are the hooks removed even when fn raises?"""
    calls = []
    x = torch.ones(3, requires_grad=True)

    def fn():
        calls.append(1)
        return (x * 2).sum()

    mod.saved_tensor_stats(fn)
    if len(calls) != 1:
        fail(f"saved_tensor_stats called fn {len(calls)} times; call it exactly once.")

    def boom():
        (x * x).sum()
        raise KeyError("raised by fn on purpose")

    try:
        mod.saved_tensor_stats(boom)
    except KeyError:
        pass
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"when fn raises KeyError, saved_tensor_stats raised {type(exc).__name__} instead; "
             f"let fn's exception propagate.")
    else:
        fail("when fn raises KeyError, saved_tensor_stats returned normally; let fn's exception "
             "propagate.")
    if _top_hooks() is not None:
        fail("after fn raised, the saved-tensor hooks of saved_tensor_stats are still installed: "
             "the `with` statement removes them on every exit.")


# --- checkpointed_forward -------------------------------------------------------------------------


def _blocks(depth: int, width: int, seed: int, dropout: float = 0.0) -> list[nn.Module]:
    torch.manual_seed(seed)
    out = []
    for _ in range(depth):
        layers = [nn.Linear(width, 2 * width), nn.Tanh(), nn.Linear(2 * width, width)]
        if dropout:
            layers.insert(2, nn.Dropout(dropout))
        out.append(nn.Sequential(*layers).double())
    return out


def _plain(blocks, x):
    for block in blocks:
        x = block(x)
    return x


CASES = [  # (depth, width, batch, x requires grad, seed)
    (1, 3, 2, True, 0), (3, 4, 3, False, 1), (4, 2, 1, True, 2), (2, 5, 4, False, 3),
]


def _grads(blocks, x, out, upstream):
    out.backward(upstream)
    grads = [p.grad for b in blocks for p in b.parameters()]
    return grads, (x.grad if x.requires_grad else None)


def test_checkpointed_forward_matches_plain_forward():
    """Are the output and the gradients (parameters, and x when it requires grad) the plain ones?"""
    x0 = torch.randn(2, 3, dtype=torch.float64)
    same = mod.checkpointed_forward([], x0)
    if same is not x0 and not (isinstance(same, torch.Tensor) and equal_values(same, x0)):
        fail("checkpointed_forward([], x) must return x unchanged.")
    for depth, width, batch, needs_grad, seed in CASES:
        what = (f"checkpointed_forward over {depth} block(s) of width {width}, x "
                f"{'requiring' if needs_grad else 'not requiring'} grad")
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(batch, width, generator=gen, dtype=torch.float64)
        upstream = torch.randn(batch, width, generator=gen, dtype=torch.float64)
        ref_blocks, blocks = _blocks(depth, width, seed), _blocks(depth, width, seed)
        xr, xs = x.clone().requires_grad_(needs_grad), x.clone().requires_grad_(needs_grad)
        expected = _plain(ref_blocks, xr)
        got = mod.checkpointed_forward(blocks, xs)
        assert_close(got, expected, rtol=1e-12, atol=1e-12, what=f"the output of {what}")
        if not got.requires_grad:
            fail(f"the output of {what} does not require grad: the parameters get no gradient. "
                 + ("The reentrant checkpoint (use_reentrant=True) does this when the input does "
                    "not require grad: pass use_reentrant=False." if not needs_grad else
                    "Do not run the blocks under torch.no_grad() or detach the output."))
        exp_grads, exp_xgrad = _grads(ref_blocks, xr, expected, upstream)
        got_grads, got_xgrad = _grads(blocks, xs, got, upstream)
        if needs_grad:
            if got_xgrad is None:
                fail(f"after backward, x has no gradient in {what}: do not detach between "
                     f"blocks.")
            assert_close(got_xgrad, exp_xgrad, rtol=1e-9, atol=1e-12,
                         what=f"the gradient for x of {what}")
        for i, (g, e) in enumerate(zip(got_grads, exp_grads)):
            if g is None:
                fail(f"parameter {i} of the blocks got no gradient in {what}: do not detach "
                     f"between blocks, and checkpoint with use_reentrant=False.")
            assert_close(g, e, rtol=1e-9, atol=1e-12,
                         what=f"the gradient of parameter {i} of the blocks in {what}")


def test_checkpointed_forward_saves_fewer_tensors():
    """Does the checkpointed forward pass save fewer tensors for backward than the plain one?"""
    for depth, width, batch, needs_grad, seed in CASES:
        x = torch.randn(batch, width, dtype=torch.float64).requires_grad_(needs_grad)
        blocks = _blocks(depth, width, seed)
        plain, _ = _count(lambda: _plain(blocks, x))
        got, _ = _count(lambda: mod.checkpointed_forward(blocks, x))
        if got >= plain:
            fail(f"over {depth} block(s), the checkpointed forward pass saved {got} tensors for "
                 f"backward and the plain one {plain}: nothing was checkpointed. Run each block "
                 f"through torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False).")


def test_checkpointed_forward_recomputes_dropout_with_the_same_numbers():
    """With dropout in the blocks, are the gradients those of the plain pass from the same seed?"""
    blocks_ref, blocks = _blocks(3, 4, 9, dropout=0.5), _blocks(3, 4, 9, dropout=0.5)
    gen = torch.Generator().manual_seed(10)
    x = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    upstream = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    torch.manual_seed(123)
    expected = _plain(blocks_ref, x)
    torch.manual_seed(123)
    got = mod.checkpointed_forward(blocks, x)
    assert_close(got, expected, rtol=1e-12, atol=1e-12,
                 what="the output of checkpointed_forward with dropout, from the same seed")
    exp_grads, _ = _grads(blocks_ref, x, expected, upstream)
    got_grads, _ = _grads(blocks, x, got, upstream)
    for i, (g, e) in enumerate(zip(got_grads, exp_grads)):
        if g is None or not close_values(g, e, rtol=1e-9, atol=1e-12):
            fail(f"with dropout in the blocks, the gradient of parameter {i} differs from the "
                 f"plain pass: the recomputation drew other dropout masks. Keep "
                 f"preserve_rng_state=True (the default of checkpoint).")
    assert_equal(len(got_grads), len(exp_grads), what="the number of parameter gradients")
