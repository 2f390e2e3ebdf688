"""What a fork server does once, before it forks any grading process: everything each grading
process would otherwise pay for again (imports, hypothesis's first set-up).

No submission code runs in the server, no torch operation runs here (forking after one is
unsafe), and what is done here is what every grading process does first anyway, so a forked
process behaves as a fresh one would.
"""

from __future__ import annotations

import importlib
import importlib.util

IMPORTS = (
    "torch", "numpy", "hypothesis", "pytest", "graders.plugin", "graders.checks",
    "graders.checks.golden", "graders.forbid",
    "graders.gpu", "graders.speed", "graders.strategies", "graders.grading.sandbox",
    "graders.grading.guard", "graders.grading.tamper",
)
#: What torch imports lazily in nearly every grading process (the first ``torch.func`` or
#: ``autograd.grad`` call, the graders' safe framework order): imported once here instead of
#: once per submission (about a second each). Left out when not installed.
IMPORTS_IF_PRESENT = ("triton", "torch._dynamo", "torch.fx.experimental.symbolic_shapes",
                      "pytest_timeout", "_hypothesis_pytestplugin", "pdb")
#: What the graders of a day import on the way in every grading process of that day (a library
#: a check uses; day 4's transformers imports sklearn and torchvision), imported by the server
#: before it forks the first grading process of that day: once per server, not once per
#: submission. A library whose calls a check forbids needs no import (graders.forbid). TensorFlow
#: (day 5) and the language models (day 4) are left to each process: they read their
#: environment as they import.
DAY_IMPORTS = {"day3": ("torchvision",), "day4": ("sklearn", "torchvision"),
               "day6": ("networkx",)}
_warm_days: set[str] = set()


def _import_present(names: tuple[str, ...]) -> None:
    for name in names:
        if importlib.util.find_spec(name.split(".")[0]) is not None:
            importlib.import_module(name)


def warm_up() -> None:
    """Import :data:`IMPORTS` (and :data:`IMPORTS_IF_PRESENT` where installed), make
    hypothesis's own random generator as the first property check of every grading process
    would (:func:`graders.profiles.warm_up_hypothesis`), and freeze what is alive then
    (:func:`graders.profiles.settle_before_forking`)."""
    for name in IMPORTS:
        importlib.import_module(name)
    _import_present(IMPORTS_IF_PRESENT)
    from graders.profiles import settle_before_forking, warm_up_hypothesis

    warm_up_hypothesis()
    settle_before_forking()


def warm_up_days(args: list[str]) -> None:
    """Import :data:`DAY_IMPORTS` of the days a grading process's command line names
    (``.../exercises/day3``), for each day the first time it is seen."""
    for arg in args:
        parent, _, day = str(arg).rstrip("/").rpartition("/")
        if parent.endswith("exercises") and day in DAY_IMPORTS and day not in _warm_days:
            _warm_days.add(day)
            try:
                _import_present(DAY_IMPORTS[day])
            except Exception:  # noqa: BLE001 - each grading process meets (and reports) it itself
                pass
            from graders.profiles import settle_before_forking

            settle_before_forking()
