"""Module trees built by the same statements twice: on the student's Module and on torch's.

A :class:`Program` is a short list of statements (``m0.enc = m1``, ``m1.w = p0``,
``m0.register_buffer("gamma", t1, persistent=False)``...) over a few modules, a pool of
Parameters ``p0, p1, ...`` and a pool of tensors ``t0, t1, ...``. Names are drawn from a pool
(so code that hard-codes "weight" fails), names are rebound (a parameter name becomes a child,
a child name becomes None...), Parameters are shared between modules and a module can be the
child of two parents or of one parent under two names. Its ``repr`` is the code itself, which
hypothesis shows as the smallest failing input.

:func:`build` runs a program on ``torch.nn.Module()`` objects first: a statement torch refuses
(``TypeError``, ``KeyError``) is left out, and every other one is run on the student's modules
with the same Parameter and tensor objects, so the two trees can be compared object by object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import strategies as st
from torch import nn

from graders.checks import fail

NAMES = ("w", "enc", "gamma", "head", "b2", "layer")


@dataclass(frozen=True)
class Op:
    """One statement: ``m<node>.<name> = <value>`` or ``m<node>.register_buffer(...)``."""

    node: int
    kind: str  # param | child | buffer | none | tensor | plain
    name: str
    arg: int = 0
    persistent: bool = True

    def __str__(self) -> str:
        m = f"m{self.node}"
        if self.kind == "buffer":
            extra = "" if self.persistent else ", persistent=False"
            return f'{m}.register_buffer("{self.name}", t{self.arg}{extra})'
        value = {"param": f"p{self.arg}", "child": f"m{self.arg}", "none": "None",
                 "tensor": f"t{self.arg}", "plain": str(self.arg)}[self.kind]
        return f"{m}.{self.name} = {value}"


@dataclass(frozen=True)
class Program:
    """Modules m0..m{n-1} (m0 is the root), pools of Parameters and tensors, statements."""

    nodes: int
    param_shapes: tuple[tuple[int, ...], ...]
    tensor_shapes: tuple[tuple[int, ...], ...]
    ops: tuple[Op, ...]
    seed: int = 0

    def __repr__(self) -> str:
        lines = [", ".join(f"m{i}" for i in range(self.nodes))
                 + " = " + ", ".join("Module()" for _ in range(self.nodes))]
        lines += [f"p{i} = Parameter(torch.randn{s})" for i, s in enumerate(self.param_shapes)]
        lines += [f"t{i} = torch.randn{s}" for i, s in enumerate(self.tensor_shapes)]
        lines += [str(op) for op in self.ops]
        return "\n    " + "\n    ".join(lines) + "\n"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how hypothesis shows it
        printer.text(repr(self))


_shape = st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple)


@st.composite
def programs(draw: Any, max_nodes: int = 4, max_ops: int = 8) -> Program:
    """A program: every later module attached to an earlier one, then random statements."""
    n = draw(st.integers(1, max_nodes), label="modules")
    n_params = draw(st.integers(1, 4))
    n_tensors = draw(st.integers(1, 3))
    param_shapes = tuple(draw(_shape) for _ in range(n_params))
    tensor_shapes = tuple(draw(_shape) for _ in range(n_tensors))
    ops: list[Op] = []
    for k in range(1, n):  # a tree (a DAG: children always have a larger index, no cycles)
        ops.append(Op(draw(st.integers(0, k - 1)), "child", draw(st.sampled_from(NAMES)), k))
    for _ in range(draw(st.integers(1, max_ops))):
        node = draw(st.integers(0, n - 1))
        kind = draw(st.sampled_from(("param", "param", "param", "child", "buffer", "none",
                                     "tensor", "plain")))
        name = draw(st.sampled_from(NAMES))
        if kind == "child" and node == n - 1:
            kind = "param"
        if kind == "child":
            ops.append(Op(node, kind, name, draw(st.integers(node + 1, n - 1))))
        elif kind in ("param",):
            ops.append(Op(node, kind, name, draw(st.integers(0, n_params - 1))))
        elif kind in ("buffer", "tensor"):
            ops.append(Op(node, kind, name, draw(st.integers(0, n_tensors - 1)),
                          persistent=draw(st.booleans()) if kind == "buffer" else True))
        elif kind == "plain":
            ops.append(Op(node, kind, name, 7))
        else:
            ops.append(Op(node, kind, name))
    return Program(n, param_shapes, tensor_shapes, tuple(ops), draw(st.integers(0, 1000)))


@dataclass
class Tree:
    """The modules of a built program, and the pools they hold."""

    nodes: list[Any]
    params: list[nn.Parameter]
    tensors: list[torch.Tensor]

    def label(self, obj: Any) -> str:
        """``m1``, ``p0``, ``t2`` for an object of the program, else its type."""
        for prefix, pool in (("m", self.nodes), ("p", self.params), ("t", self.tensors)):
            for i, item in enumerate(pool):
                if item is obj:
                    return f"{prefix}{i}"
        return f"<a {type(obj).__name__} not made by the program>"


def pools(program: Program, offset: int = 0) -> tuple[list[nn.Parameter], list[torch.Tensor]]:
    """Fresh Parameters and tensors (float64) of the program's shapes; ``offset`` other values."""
    g = torch.Generator().manual_seed(program.seed * 7 + offset)
    params = [nn.Parameter(torch.randn(s, generator=g, dtype=torch.float64))
              for s in program.param_shapes]
    tensors = [torch.randn(s, generator=g, dtype=torch.float64) for s in program.tensor_shapes]
    return params, tensors


def _apply(op: Op, tree: Tree) -> None:
    node = tree.nodes[op.node]
    if op.kind == "buffer":
        node.register_buffer(op.name, tree.tensors[op.arg], persistent=op.persistent)
        return
    value = {"param": lambda: tree.params[op.arg], "child": lambda: tree.nodes[op.arg],
             "none": lambda: None, "tensor": lambda: tree.tensors[op.arg],
             "plain": lambda: op.arg}[op.kind]()
    setattr(node, op.name, value)


def build(program: Program, make_student: Any, *, offset: int = 0,
          student_offset: int | None = None) -> tuple[Tree, Tree]:
    """(torch tree, student tree) of ``program``, sharing pools unless offsets differ."""
    params, tensors = pools(program, offset)
    torch_tree = Tree([nn.Module() for _ in range(program.nodes)], params, tensors)
    if student_offset is not None:
        params, tensors = pools(program, student_offset)
    student_tree = Tree([make_student() for _ in range(program.nodes)], params, tensors)
    for op in program.ops:
        try:
            _apply(op, torch_tree)
        except (TypeError, KeyError, AttributeError):
            continue  # torch refuses it: the explicit checks cover refusals
        try:
            _apply(op, student_tree)
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the student
            fail(f"the statement `{op}` raised {type(exc).__name__}: {exc}; torch.nn.Module "
                 f"accepts it (see the statements of the smallest failing input above).")
    return torch_tree, student_tree


def module_class(mod: Any) -> type:
    """The student's Module class, checked to be a class."""
    cls = mod.Module
    if not isinstance(cls, type):
        fail(f"Module is {type(cls).__name__}; expected a class.")
    return cls
