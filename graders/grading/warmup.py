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
    "torch", "numpy", "hypothesis", "pytest", "graders.plugin", "graders.checks", "graders.forbid",
    "graders.gpu", "graders.speed", "graders.strategies", "graders.grading.sandbox",
    "graders.grading.guard", "graders.grading.tamper",
)
#: What torch imports lazily in nearly every grading process (the first ``torch.func`` or
#: ``autograd.grad`` call, the graders' safe framework order): imported once here instead of
#: once per submission (about a second each). Left out when not installed.
IMPORTS_IF_PRESENT = ("triton", "torch._dynamo", "torch.fx.experimental.symbolic_shapes")


def warm_up() -> None:
    """Import :data:`IMPORTS` (and :data:`IMPORTS_IF_PRESENT` where installed), and make
    hypothesis's own random generator as the first property check of every grading process
    would (:func:`graders.profiles.warm_up_hypothesis`)."""
    for name in IMPORTS:
        importlib.import_module(name)
    for name in IMPORTS_IF_PRESENT:
        if importlib.util.find_spec(name.split(".")[0]) is not None:
            importlib.import_module(name)
    from graders.profiles import warm_up_hypothesis

    warm_up_hypothesis()
