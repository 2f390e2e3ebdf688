"""Hypothesis profiles: the same code gets the same score on every run and every machine.

- ``drills`` (the default): derandomised, few examples, quick feedback for students.
- ``grading``: derandomised, more examples; what instructors grade with (``drills grade``).
- ``thorough``: derandomised, many examples; for the kit's own CI.

Choose one with ``pytest --hypothesis-profile grading``. Every profile is derandomised and keeps
no example database, so a failing example is reproducible and never depends on earlier runs.

Recent hypothesis versions also draw now and then from the constants written in the "local"
modules loaded in the process (not installed packages): which modules those are depends on how
the kit is installed, on the engine (a notebook's definitions have no module file) and on the
code under test itself. :func:`register` turns that source off, so the examples of a check
depend only on the profile.

Hypothesis still keeps files of its own (a cache of the constants it finds in the modules it
runs against, ``.hypothesis/constants``), by default in the working folder: the student's
kit, nbgrader's ``autograded/`` and feedback folders, a grading folder. :func:`register` moves
them to a cache folder of the user's (:func:`storage_folder`), unless
``HYPOTHESIS_STORAGE_DIRECTORY`` says where they go.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TypedDict

from graders.core.libraries import as_installed

with as_installed():  # hypothesis as installed, not rewritten by pytest: a second a run
    from hypothesis import HealthCheck, Phase, settings

DEFAULT = "drills"


class _Common(TypedDict):
    """The settings every profile shares."""

    derandomize: bool
    database: None
    deadline: None
    print_blob: bool
    suppress_health_check: list[HealthCheck]
    phases: list[Phase]


_COMMON = _Common(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.differing_executors,
    ],
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)
EXAMPLES = {"drills": 25, "grading": 60, "thorough": 150}


def register() -> None:
    """Register the three profiles and keep hypothesis' files out of the working folder
    (idempotent)."""
    for name, n in EXAMPLES.items():
        settings.register_profile(name, max_examples=n, **_COMMON)
    _no_local_constants()
    _keep_storage_out_of_the_working_folder()


def _no_local_constants() -> None:
    """Draw no constants from local modules (see the module docstring); hypothesis' own pool
    of interesting values (0, -1, NaN, ...) stays."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a hypothesis without the feature
        return
    if hasattr(providers, "_get_local_constants") and hasattr(providers, "Constants"):
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty


def storage_folder() -> Path:
    """Where hypothesis keeps its files for the kit: ``$XDG_CACHE_HOME`` (or ``~/.cache``)
    ``/deep-learning-drills/hypothesis``, or a folder of the user's in the temporary folder
    when there is no home."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        try:
            base = str(Path.home() / ".cache")
        except (KeyError, RuntimeError):  # no HOME and no password entry
            uid = os.getuid() if hasattr(os, "getuid") else os.getpid()
            base = os.path.join(tempfile.gettempdir(), f"drills-cache-{uid}")
    return Path(base) / "deep-learning-drills" / "hypothesis"


def _keep_storage_out_of_the_working_folder() -> None:
    """Point hypothesis' storage (its ``.hypothesis`` folder) at :func:`storage_folder`.

    Called before any test runs, so before hypothesis first writes there; hypothesis itself
    reads ``HYPOTHESIS_STORAGE_DIRECTORY``, which then wins.
    """
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(storage_folder())


def load_default() -> None:
    settings.load_profile(DEFAULT)


def examples(n: int) -> int:
    """``n`` examples under the default profile, scaled with the active one.

    Use in grader tests that need their own count: ``@settings(max_examples=examples(10))``.
    """
    default = settings.default
    assert default is not None  # hypothesis loads a profile when it is imported
    active = default.max_examples
    return max(1, round(n * active / EXAMPLES[DEFAULT]))


def warm_up_hypothesis() -> None:
    """Do once what the first property check of a process does first: make and register
    hypothesis's own random generator (registering it runs a full garbage collection and a
    search of every object's referrers: a quarter of a second in a process that imported
    torch). Called by the processes that fork a fresh process per run (``drills grade``'s fork
    server, the warm worker of ``drills watch``), so that no run pays it again."""
    try:
        from hypothesis.internal.entropy import deterministic_PRNG
    except ImportError:  # another hypothesis: each run makes it, as before
        return
    with deterministic_PRNG():
        pass


def reseed_hypothesis() -> None:
    """Seed hypothesis's own random generator afresh, as a new process finds it (in a process
    forked from one that made it with :func:`warm_up_hypothesis`)."""
    import sys

    core = sys.modules.get("hypothesis.core")
    own = getattr(getattr(core, "threadlocal", None), "_hypothesis_global_random", None)
    if own is not None:
        own.seed()


def settle_before_forking() -> None:
    """Collect what the imports left behind, then put every object alive now out of the garbage
    collector's way (:func:`gc.freeze`), in a process that forks a fresh process per run (as
    :func:`warm_up_hypothesis`) or runs one pytest session and ends (after collection). The
    run's full collections (pytest's own at the end of a session, the interpreter's during
    checks) then walk only the objects made after, not the whole of torch and pytest again
    (about half a second a run), and leave the pages a forked process shares unwritten. Nothing
    frozen is ever garbage that matters: it is what the imports keep; objects made by the checks
    (and the submission's modules, imported by them) are collected as always."""
    import gc

    gc.collect()
    gc.freeze()
