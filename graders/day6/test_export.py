"""Graders for day6/export.py: TorchScript and torch.export artefacts, reloaded and rerun."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from graders import student
from graders.checks import assert_close, close_values, fail
from graders.day6 import _export_models as h

mod = student("day6.export")


def _model(cls: type, seed: int) -> torch.nn.Module:
    """A fresh ``cls``, its source already read (exporting it reads it)."""
    h.read_source()
    torch.manual_seed(seed)
    return cls().eval()


def _load_script(path: Path) -> torch.jit.ScriptModule:
    if not path.exists():
        fail(f"export_torchscript wrote nothing at {path.name}: save the compiled model to the "
             f"path it is given.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.load(str(path))
    except Exception as exc:  # noqa: BLE001
        fail(f"torch.jit.load could not read the file export_torchscript wrote: "
             f"{type(exc).__name__}: {str(exc)[:300]}. Save with scripted.save(path).")


def _export_script(model, example, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation warning
        result = mod.export_torchscript(model, example, path)
    if result is not None:
        fail(f"export_torchscript returned {type(result).__name__}; it must save to `path` and "
             f"return None.")


def test_export_torchscript_keeps_both_branches(tmp_path):
    """Does the saved TorchScript model take the branch the example did not take, correctly?"""
    model = _model(h.BranchyNet, 0)
    example = torch.rand(4, 3) + 0.1  # positive: takes the first branch
    path = tmp_path / "branchy.pt"
    _export_script(model, example, path)
    loaded = _load_script(path)
    gen = torch.Generator().manual_seed(1)
    for sign, label in ((1.0, "positive"), (-1.0, "negative")):
        for batch in (4, 1, 6):
            x = sign * (torch.rand(batch, 3, generator=gen) + 0.1)
            with torch.no_grad():
                got, expected = loaded(x), model(x)
                if sign < 0 and close_values(got, torch.tanh(model.pos(x)), atol=1e-6):
                    fail("the loaded model took the example's branch for a negative input: it "
                         "was traced (torch.jit.trace records only the branch the example "
                         "took). Compile it with torch.jit.script so the `if` survives.")
            assert_close(got, expected, rtol=1e-5, atol=1e-6,
                         what=f"the reloaded TorchScript model on a {label} input of batch "
                         f"{batch}")


def test_export_torchscript_handles_other_batch_sizes(tmp_path):
    """Does the saved model handle batch sizes other than the example's (a loop over rows)?"""
    model = _model(h.RowLoopNet, 2)
    example = torch.randn(3, 3)
    path = tmp_path / "rows.pt"
    _export_script(model, example, str(path))  # a str path, this time
    loaded = _load_script(path)
    gen = torch.Generator().manual_seed(3)
    for batch in (3, 1, 5, 8):
        x = torch.randn(batch, 3, generator=gen)
        try:
            with torch.no_grad():
                got = loaded(x)
        except Exception as exc:  # noqa: BLE001
            fail(f"the reloaded model fails on a batch of {batch} rows (the example had 3): "
                 f"{type(exc).__name__}: {str(exc)[:200]}. A traced model freezes loops to the "
                 f"example's size: use torch.jit.script.")
        with torch.no_grad():
            expected = model(x)
        if got.shape != expected.shape:
            fail(f"the reloaded model returned shape {tuple(got.shape)} for a batch of {batch} "
                 f"rows, expected {tuple(expected.shape)}: the loop over the rows was unrolled "
                 f"for the example's 3 rows (tracing). Use torch.jit.script.")
        assert_close(got, expected, rtol=1e-5, atol=1e-6,
                     what=f"the reloaded TorchScript model on a batch of {batch} rows")


def _run_program(module, x, label):
    try:
        with torch.no_grad():
            return module(x)
    except Exception as exc:  # noqa: BLE001
        text = str(exc)
        if "Guard failed" in text or "shape" in text.lower() or "size" in text.lower():
            fail(f"{label} refuses an input of batch {x.shape[0]}: {text[:200]}. The program was "
                 f"specialised to the example's batch size: declare dimension 0 dynamic "
                 f"(dynamic_shapes with torch.export.Dim('batch', min=2)).")
        fail(f"{label} fails on an input of batch {x.shape[0]}: {type(exc).__name__}: "
             f"{text[:300]}")


def _exported(model, example):
    program = mod.export_program(model, example)
    if not isinstance(program, torch.export.ExportedProgram):
        fail(f"export_program returned {type(program).__name__}; expected the "
             f"torch.export.ExportedProgram that torch.export.export returns.")
    return program


def test_export_program_accepts_other_batch_sizes():
    """Does the exported program's module() give the model's outputs for other batch sizes?"""
    model = _model(h.FlattenNet, 4)
    example = torch.randn(4, 2, 4, generator=torch.Generator().manual_seed(5))
    program = _exported(model, example)
    module = program.module()
    gen = torch.Generator().manual_seed(6)
    for batch in (4, 2, 3, 7, 16):
        x = torch.randn(batch, 2, 4, generator=gen)
        got = _run_program(module, x, "the exported program's module()")
        with torch.no_grad():
            expected = model(x)
        assert_close(got, expected, rtol=1e-5, atol=1e-6,
                     what=f"export_program(...).module() on a batch of {batch}")


class _ImageNet(torch.nn.Module):
    """A small CNN whose forward argument is not called x."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 3, 3, padding=1)
        self.head = torch.nn.Linear(3, 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(images)).mean(dim=(2, 3)))


def test_export_program_exports_any_one_input_model():
    """Does export_program work for any model taking one tensor, whatever its argument's name?"""
    model = _model(_ImageNet, 10)
    example = torch.randn(3, 1, 6, 5, generator=torch.Generator().manual_seed(11))
    program = _exported(model, example)
    module = program.module()
    gen = torch.Generator().manual_seed(12)
    for batch in (2, 6):
        x = torch.randn(batch, 1, 6, 5, generator=gen)
        got = _run_program(module, x, "the exported program's module() (a model whose forward "
                                      "takes `images`)")
        with torch.no_grad():
            expected = model(x)
        assert_close(got, expected, rtol=1e-5, atol=1e-6,
                     what=f"export_program(model with forward(images), ...).module() on a batch of {batch}")


def test_export_program_survives_save_and_load(tmp_path):
    """After torch.export.save and torch.export.load, does the program still run any batch size?"""
    model = _model(h.FlattenNet, 7)
    example = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(8))
    program = _exported(model, example)
    path = tmp_path / "program.pt2"
    try:
        torch.export.save(program, path)
        module = torch.export.load(path).module()
    except Exception as exc:  # noqa: BLE001
        fail(f"the program returned by export_program cannot be saved and reloaded with "
             f"torch.export.save/load: {type(exc).__name__}: {str(exc)[:300]}")
    gen = torch.Generator().manual_seed(9)
    for batch in (5, 2, 11):
        x = torch.randn(batch, 2, 4, generator=gen)
        got = _run_program(module, x, "the reloaded program's module()")
        with torch.no_grad():
            expected = model(x)
        assert_close(got, expected, rtol=1e-5, atol=1e-6,
                     what=f"the reloaded exported program on a batch of {batch}")
