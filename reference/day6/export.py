"""Deployment: exporting a model so that it runs without its Python source.

Two ways to freeze a model into an artefact: TorchScript (``torch.jit.script`` compiles the
Python code, control flow included, into a program you can save and reload), and
``torch.export`` (traces the model into a graph, an ``ExportedProgram``, with symbolic shapes
where you declare them dynamic). Tracing a model records what happened for one example; the
lesson is what it takes for the artefact to stay right on *other* inputs.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor, nn


def export_torchscript(model: nn.Module, example: Tensor, path: str | os.PathLike[str]) -> None:
    """Compile ``model`` with TorchScript and save it to ``path``.

    Use ``torch.jit.script`` (compilation), not ``torch.jit.trace``: a traced model records only
    the branch the example took, so an ``if`` that depends on the *values* of the input (for
    example ``if x.sum() > 0:``) would be frozen; a scripted model keeps both branches. The
    saved file must load with ``torch.jit.load(path)`` in a process that has no access to the
    model's class, and give the model's outputs on inputs of any batch size, whichever branch
    they take.

    The model is exported as it is (the graders pass models in eval mode); ``example`` is one
    valid input, which you may use to check that the compiled model runs. PyTorch warns that
    TorchScript is deprecated; that warning is expected.

    Args:
        model: a scriptable ``nn.Module`` (type-annotated, no unsupported Python features).
        example: one input tensor for the model.
        path: where to write the file (a ``str`` or ``pathlib.Path``).

    Checked by loading the file with ``torch.jit.load`` and comparing with the eager model on
    inputs that take each branch, with other batch sizes (rtol 1e-5, atol 1e-6).

    Example:
        >>> export_torchscript(model, torch.randn(4, 3), "model.pt")
        >>> loaded = torch.jit.load("model.pt")
        >>> torch.allclose(loaded(-x), model(-x))  # also on the branch the example missed
        True
    """
    scripted = torch.jit.script(model)
    scripted(example)  # fail here, not at load time, if the compiled model cannot run
    scripted.save(os.fspath(path))


def export_program(model: nn.Module, example: Tensor) -> torch.export.ExportedProgram:
    """Export ``model`` with ``torch.export`` and a dynamic batch dimension.

    Call ``torch.export.export`` with ``(example,)`` as the arguments and declare dimension 0
    of the input dynamic (``dynamic_shapes`` with a ``torch.export.Dim``, minimum 2, no fixed
    maximum); every other dimension keeps the example's size. Without that declaration the
    program is specialised to the example's batch size and refuses (or silently mis-handles)
    any other.

    ``example`` has a batch size of at least 2 (``torch.export`` specialises sizes 0 and 1).
    The model is exported as it is (the graders pass models in eval mode, without
    data-dependent control flow).

    Args:
        model: an ``nn.Module`` taking one tensor.
        example: an example input ``(B, ...)`` with ``B >= 2``.

    Returns:
        The ``torch.export.ExportedProgram``. Its ``.module()`` gives the model's outputs for
        inputs of any batch size ``>= 2`` (same other dimensions), also after a round trip
        through ``torch.export.save`` / ``torch.export.load``.

    Checked with ``.module()`` of the returned program and of its saved and reloaded copy
    against the eager model for several batch sizes other than the example's (rtol 1e-5,
    atol 1e-6).

    Example:
        >>> program = export_program(model, torch.randn(4, 3, 8))
        >>> program.module()(torch.randn(9, 3, 8)).shape[0]
        9
    """
    batch = torch.export.Dim("batch", min=2)
    return torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
