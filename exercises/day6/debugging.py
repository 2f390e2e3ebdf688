"""Looking inside a network: activations, gradient norms, attributions and the profiler.

When training goes wrong, look before you tune: dead ReLUs show up as activations that are
mostly zero, exploding or vanishing gradients as per-parameter gradient norms, a model that
"cheats" as attributions on the wrong input features, and a slow step as the operators that
dominate a profile. Each tool here observes the model without changing it: hooks are removed,
modes restored, ``.grad`` left alone, and autograd graphs kept usable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn


def activation_stats(model: nn.Module, x: Tensor) -> dict[str, dict[str, float]]:
    """Mean, standard deviation and fraction of zeros of every leaf module's output on x.

    Register a forward hook (``register_forward_hook``) on every *leaf* module of
    ``model.named_modules()`` (a module with no children; the model itself when it has none),
    run ``model(x)`` once without autograd (``torch.no_grad()``), and remove every hook
    afterwards, also when the forward pass raises (``try``/``finally``; the exception then
    propagates unchanged).

    Args:
        model: any ``nn.Module``; it runs in the mode it is in (do not call train or eval: a
            Dropout in train mode stays active), and its modes and parameters' ``.grad`` are
            left as they were.
        x: the input, passed as ``model(x)``.

    Returns:
        ``{qualified_name: {"mean": float, "std": float, "frac_zero": float}}`` for every leaf
        whose forward ran, keyed by its name in ``named_modules()`` (``"encoder.0"``; ``""``
        when the model itself is the leaf; a module registered under two names appears once,
        under the first). ``std`` is the population standard deviation (``unbiased=False``)
        over all elements of the output, ``frac_zero`` the fraction of elements exactly 0,
        all taken from the output as the leaf returned it (inside the hook: a later in-place
        operation such as ``nn.ReLU(inplace=True)`` may overwrite that tensor). A leaf called
        several times reports its last call; a leaf never called is absent. When a leaf
        returns a tuple (``nn.LSTM``, ``nn.GRU``), its first element counts. Values are
        Python floats.

    Checked against the same hooks run by the grader (rtol 1e-5, atol 1e-6) on models with
    varied names, nested containers, an in-place ReLU, a shared leaf called twice, an unused
    leaf, a recurrent leaf, Dropout in train mode and mixed modes on entry; also that no hook
    is left on any module, that grad mode was off in the forward pass, that modes and
    ``.grad`` are untouched, and that an exception in forward propagates with the hooks
    removed.

    Example:
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        >>> stats = activation_stats(model, torch.randn(8, 3))
        >>> sorted(stats), sorted(stats["1"])
        (['0', '1'], ['frac_zero', 'mean', 'std'])
    """
    raise NotImplementedError("day6.debugging.activation_stats")


def grad_norms(model: nn.Module, loss: Tensor) -> dict[str, float]:
    """The L2 norm of d loss / d p for every trainable parameter, without touching ``.grad``.

    Use ``torch.autograd.grad`` (not ``loss.backward()``, which would add into ``.grad``) with
    ``retain_graph=True`` (the caller may still call ``loss.backward()`` afterwards) and
    ``allow_unused=True`` (a parameter the loss does not depend on has no gradient: its norm
    is 0.0).

    Args:
        model: the model whose parameters to inspect; ``.grad`` may hold stale values, which
            must stay exactly as they are (and a ``.grad`` that is None stays None).
        loss: a scalar tensor computed from the model's parameters.

    Returns:
        ``{name: norm}`` (Python floats) for every ``(name, p)`` of ``model.named_parameters()``
        with ``p.requires_grad``, in that order; a parameter shared by two names appears once,
        under its first name (as ``named_parameters()`` lists it); frozen parameters are absent.

    Checked against ``torch.autograd.grad`` (rtol 1e-6) on models with varied names, a tied
    (shared) weight, a frozen and an unused parameter, stale and None ``.grad`` values; and
    by calling ``torch.autograd.grad(loss, ...)`` again afterwards (the graph must still be
    usable).

    Example:
        >>> model = nn.Linear(3, 1)
        >>> loss = model(torch.ones(2, 3)).sum()
        >>> sorted(grad_norms(model, loss))
        ['bias', 'weight']
    """
    raise NotImplementedError("day6.debugging.grad_norms")


def saliency(model: nn.Module, x: Tensor, target: Tensor) -> Tensor:
    """Vanilla gradient saliency: |d logit of the target class / d input|, per sample.

    With f_i = ``model(x)[i, target[i]]`` (the logit of sample i's target class), return
    ``|d f_i / d x[i]|`` for every sample i. Samples do not interact in eval mode, so one
    backward pass of ``sum_i f_i`` gives all of them.

    Run every submodule in eval mode during the call (dropout off, batch norm on its running
    statistics) and restore each submodule's own mode afterwards (they may differ). Use
    ``torch.autograd.grad`` with respect to a detached copy of x that requires grad, so that x
    keeps no gradient (``x.grad`` stays None, ``x.requires_grad`` as it was) and the
    parameters' ``.grad`` are untouched.

    Args:
        model: a classifier mapping x (N, ...) to logits (N, C).
        x: the inputs (N, ...), floating point, any memory layout.
        target: (N,) int64 class indices.

    Returns:
        A tensor of x's shape and dtype, with no autograd history (requires_grad False).

    Checked against ``torch.autograd.grad`` of the target logits (rtol 1e-6, atol 1e-9) on
    float64 models with BatchNorm and Dropout in train mode on entry (one submodule in eval),
    inputs in several layouts, and stale ``.grad`` values.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 3))
        >>> saliency(model, torch.randn(2, 4), torch.tensor([0, 2])).shape
        torch.Size([2, 4])
    """
    raise NotImplementedError("day6.debugging.saliency")


def integrated_gradients(model: nn.Module, x: Tensor, baseline: Tensor, target: Tensor,
                         steps: int = 50) -> Tensor:
    """Integrated gradients with the midpoint Riemann sum (Captum's ``riemann_middle``).

    With f the target logit as in ``saliency``, the attribution of input feature j of sample i
    is ``(x - baseline)[i, j]`` times the mean, over the ``steps`` points
    ``baseline + alpha_k * (x - baseline)`` with ``alpha_k = (k + 0.5) / steps`` for
    ``k = 0, ..., steps - 1``, of ``d f_i / d x[i, j]`` at that point. Completeness: the
    attributions of a sample sum to about ``f(x) - f(baseline)``, closer as ``steps`` grows.

    The same rules as ``saliency``: every submodule in eval mode during the call and each one's
    own mode restored after; x, baseline and the parameters keep no gradient. Evaluate the
    points one alpha at a time or all at once (a batch of ``steps * N``), as you like.

    Args:
        model: a classifier mapping (N, ...) to logits (N, C).
        x: the inputs (N, ...), floating point, any layout.
        baseline: the reference inputs, same shape as x (often zeros).
        target: (N,) int64 class indices.
        steps: the number of points (>= 1).

    Returns:
        Attributions of x's shape and dtype, with no autograd history.

    Raises:
        ValueError: when steps < 1.

    Checked against the grader's reproduction of Captum's ``IntegratedGradients`` with
    ``method="riemann_middle"`` (rtol 1e-5, atol 1e-7 in float64), for completeness with 500
    steps, for modes and ``.grad`` left alone; Captum itself may not be used.

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
        >>> x = torch.randn(2, 4)
        >>> integrated_gradients(model, x, torch.zeros_like(x), torch.tensor([0, 1])).shape
        torch.Size([2, 4])
    """
    raise NotImplementedError("day6.debugging.integrated_gradients")


def top_ops(fn: Callable[..., Any], *args: Any, k: int = 5) -> list[tuple[str, int]]:
    """The k ATen operators called most often by ``fn(*args)``, from the PyTorch profiler.

    Run ``fn(*args)`` once inside ``torch.profiler.profile(activities=[ProfilerActivity.CPU])``
    and count, by name, every profiler event whose name starts with ``"aten::"``, nested calls
    included (``aten::linear`` calls ``aten::t`` and ``aten::addmm``: all three count); events
    of other kinds (``record_function`` labels, ...) do not count.

    Args:
        fn: any callable; it is called exactly once, as ``fn(*args)``.
        args: its positional arguments.
        k: how many operators to return (>= 1).

    Returns:
        ``[(name, count), ...]``: the k most frequent operators, names with their ``aten::``
        prefix and counts as ints, most frequent first, ties by name (alphabetical); all of
        them, in that order, when fewer than k operators ran.

    Raises:
        ValueError: when k < 1.

    Checked against ``torch.profiler`` run by the grader on the same functions (layers,
    elementwise loops with ties, ``record_function`` blocks), for several k.

    Example:
        >>> top_ops(lambda a: (a + 1).relu().sum(), torch.randn(3), k=2)[0][0].startswith("aten::")
        True
    """
    raise NotImplementedError("day6.debugging.top_ops")
