"""Wrong solutions for day6/export.py, each a mistake students really make."""

import os

import torch

from graders.testing import alternative, mutant


@mutant("day6.export.export_torchscript", expect=r"traced|torch\.jit\.script")
def traced(model, example, path):
    torch.jit.trace(model, example).save(os.fspath(path))


@mutant("day6.export.export_torchscript", expect=r"must save to `path`|wrote nothing")
def never_saves(model, example, path):
    return torch.jit.script(model)


@mutant("day6.export.export_program", expect=r"specialised to the example's batch size")
def static_shapes(model, example):
    return torch.export.export(model, (example,))


@mutant("day6.export.export_program", expect=r"forward\(images\)|images")
def dynamic_shapes_by_name_x(model, example):
    """The input's name hard-coded in dynamic_shapes: only models whose argument is `x` export."""
    batch = torch.export.Dim("batch", min=2)
    return torch.export.export(model, (example,), dynamic_shapes={"x": {0: batch}})


@mutant("day6.export.export_program", expect=r"ExportedProgram")
def returns_the_module(model, example):
    batch = torch.export.Dim("batch", min=2)
    return torch.export.export(model, (example,), dynamic_shapes=({0: batch},)).module()


@alternative("day6.export.export_program")
def dynamic_shapes_by_the_forward_argument_name(model, example):
    """Names the input as forward() names it, read from its signature."""
    import inspect

    name = next(iter(inspect.signature(model.forward).parameters))
    batch = torch.export.Dim("batch", min=2)
    return torch.export.export(model, (example,), dynamic_shapes={name: {0: batch}})
