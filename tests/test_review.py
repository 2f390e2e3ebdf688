"""Does the static review point an instructor at code written against the grader, and never at
an honest solution?"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import KIT
from graders.core import registry
from graders.grading.review import forbidden_names, review


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.py")
            if "__pycache__" not in p.parts}


@pytest.mark.parametrize("tree", ["reference", "exercises"])
def test_the_reference_and_the_stubs_are_never_flagged(tree):
    """Is nothing in the reference or the stubs of any day reported?"""
    assert review(_tree(KIT / tree)) == []


HONEST = '''\
import dataclasses
from collections import OrderedDict
import torch
from torch import nn


@dataclasses.dataclass
class Stats:
    mean: float
    std: float

    def __repr__(self):
        return f"Stats({self.mean}, {self.std})"


def freeze(model: nn.Module, names):
    for name in names:
        child = getattr(model, name)
        setattr(model, name, child.eval())
    return OrderedDict((k, v) for k, v in vars_free(model))


def vars_free(model):
    return model.state_dict().items()


class Box(nn.Module):
    def __init__(self):
        super().__init__()
        self.__dict__["note"] = "ok"

    def __call__(self, x):
        return type(self).__name__, x
'''


def test_honest_solutions_in_other_styles_are_not_flagged():
    """Are dataclasses, getattr/setattr by a variable, vars-free dict code, nn.Module
    subclasses with __init__/__call__/__repr__ left alone?"""
    assert review({"day3/finetune.py": HONEST.encode()}) == []


CASES = {
    "import graders.checks": "imports graders.checks (the kit's graders)",
    "import hypothesis": "imports hypothesis",
    "from pytest import skip": "imports pytest",
    "import ctypes": "imports ctypes",
    "import gc": "imports gc",
    "import importlib": "imports importlib",
    "import threading": "imports threading",
    "import signal": "imports signal",
    "import requests": "not a module the exercises need",
    "exec('x = 1')": "calls exec",
    "f = eval('1 + 1')": "calls eval",
    "c = compile('1', 'torch/nn.py', 'eval')": "calls compile",
    "g = globals()": "calls globals",
    "import sys\nf = sys._getframe(1)": "uses sys._getframe",
    "import sys\nsys.modules['x'] = None": "uses sys.modules",
    "def f(e):\n    return e.__traceback__.tb_frame.f_back.f_locals": "f_locals",
    "def f(fn):\n    return fn.__globals__": "__globals__",
    "def f(fn):\n    fn.__kwdefaults__['factor'] = 1e9": "__kwdefaults__",
    "import torch\np = torch.__path__": "__path__",
    "import torch\nx = getattr(torch, 'all' + 'close')": "getattr with a name built at run time",
    "import torch\nx = setattr(torch, '__eq__', 1)": "setattr with a name built at run time",
    "import torch\nop = torch.ops.aten.cdist": "torch.ops",
    "import torch\nm = torch._C._DisableTorchFunction": "torch._C",
    "from torch.library import impl": "torch.library",
    "from torch.overrides import TorchFunctionMode\nclass M(TorchFunctionMode):\n    pass": "TorchFunctionMode",
    "class Liar(int):\n    pass": "subclasses int",
    "class Liar:\n    def __eq__(self, other):\n        return True": "defines __eq__",
    "import torch\nclass T(torch.Tensor):\n    pass": "subclasses Tensor",
    "class T:\n    def __torch_function__(self, *a):\n        pass": "__torch_function__",
    "import os\nos.setsid()": "setsid",
    "import os\nos.mkfifo('x')": "mkfifo",
    "p = '/proc/self/task'": "/proc path",
    "k = 'DRILLS_SANDBOX_NONCE'": "the kit's settings",
    "k = 'PYTEST_CURRENT_TEST'": "test runner",
    "torch.allclose = lambda *a, **k: True": "replaces torch.allclose",
    "import numpy as np\nnp.testing.assert_allclose = print": "replaces numpy.testing.assert_allclose",
    "import os\nos._exit(0)": "ends the process",
    "import sys\nsys.exit(0)": "ends the process",
    "raise KeyboardInterrupt": "raises KeyboardInterrupt",
    "import os\nos.write(7, b'x')": "file descriptor",
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_reflective_constructs_are_reported_with_file_and_line(code):
    """Is each construct that code written against the grader uses reported, with its line?"""
    source = "import torch\n\n\n" + code + "\n"
    found = review({"day1/tensors.py": source.encode()})
    assert found, code
    assert any(CASES[code] in f.what for f in found), [str(f) for f in found]
    assert all(f.file == "day1/tensors.py" and f.line >= 4 for f in found), found
    assert str(found[0]).startswith("day1/tensors.py:")


def test_forbidden_library_calls_are_found_in_the_syntax_tree():
    """Is a forbidden call inside the exercise's own definition reported, and only there?"""
    assert "torch.cdist" not in forbidden_names().get("day1.tensors.batched_gather", ())
    names = forbidden_names()
    assert any("unfold" in n for n in names["day1.strides.sliding_windows"])
    assert "torch.autograd.grad" in names["day2.backprop.linear_backward"]
    code = ("import torch.nn.functional as F\n\n\ndef sliding_windows(x, size, step=1):\n"
            "    return F.unfold(x, size)\n\n\ndef other(x):\n    return F.unfold(x, 2)\n")
    found = review({"day1/strides.py": code.encode()})
    assert [(f.line, "forbids" in f.what) for f in found] == [(5, True)], found
    method = "def transpose_view(x, d0, d1):\n    return x.transpose(d0, d1)\n"
    assert any("forbids" in f.what for f in review({"day1/strides.py": method.encode()}))


def test_forbidden_names_come_from_the_graders_of_every_day():
    """Are the forbidden names read for the forbid-tagged exercises of every day?"""
    tagged = {e.id for e in registry.exercises() if "forbid" in e.tags}
    found = set(forbidden_names()) & tagged
    assert {i.split(".")[0] for i in found} >= {"day1", "day2", "day3", "day4", "day6"}
    assert len(found) >= len(tagged) // 2, sorted(tagged - found)


def test_forbidden_names_are_read_without_importing_torch():
    """Does the review read the graders (and the autograd entry points a backward pass by hand
    forbids) without importing torch into ``drills grade``, and read the same names?"""
    import subprocess
    import sys

    code = ("import sys\nfrom graders.grading.review_forbidden import _autograd, forbidden_names\n"
            "forbidden_names()\nprint('torch' in sys.modules, list(_autograd()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=KIT, capture_output=True, text=True, check=True)
    from graders.forbid import AUTOGRAD

    assert out.stdout.strip() == f"False {list(AUTOGRAD)}", out.stdout + out.stderr
