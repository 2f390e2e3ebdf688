"""One way to grade: the sandboxed grading of ``drills grade``, for every engine.

``drills grade``, the Gradescope autograder (:mod:`graders.export.gradescope_run`) and the
autograder cells of the nbgrader course (:mod:`graders.export.nbgrader_cell`) all grade a
submission's files through :class:`Grader`: the same private copy of the kit, the same sandbox
and limits, the same checks and the same points rule (:mod:`graders.grading.scoring`). So the
same code gets the same points whichever engine graded it.

    with Grader(profile="grading", hint_command=False) as grader:
        record = grader.grade("alice", {"day1/tensors.py": b"..."}, days=["day1"])
        record["exercises"]["day1.tensors.describe"]["points"]
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType

from graders.grading import executors, kit as kitmod
from graders.grading.child import Limits
from graders.grading.grade import Job, close_servers
from graders.grading.intake import Submission


def files_digest(files: dict[str, bytes]) -> str:
    """A hash of a submission's files, as ``drills grade`` computes it."""
    return Submission(name="", source="", files=dict(files)).digest


class Grader:
    """A grading session: a private copy of the kit and warm grading processes, reused for
    every submission graded through it. Close it (or use it as a context manager) to stop
    its processes and remove its folder."""

    def __init__(self, *, profile: str = "grading", limits: Limits | None = None,
                 hint_command: bool = True, protected: list[Path] | None = None,
                 fork_server: bool = True, separate_users: bool = True) -> None:
        self.profile = profile
        self.limits = limits or Limits()
        self.hint_command = hint_command
        self.fork_server = fork_server
        self.separate_users = separate_users
        self.work = Path(tempfile.mkdtemp(prefix="drills-grade-"))
        self.kit = kitmod.prepare(self.work / "kits")
        self.protected = [*(protected or []), self.work]

    def grade(self, name: str, files: dict[str, bytes], *, days: list[str],
              exercises: list[str] | None = None) -> dict:
        """Grade ``files`` (``{"day1/tensors.py": bytes}``) on ``days``; return the result
        record of :func:`graders.grading.scoring.score` (every selected exercise, its status,
        points, feedback and checks; the submission's flags; ``isolation``: the protections it
        was graded with, in words)."""
        job = Job(name, dict(files), list(days), list(exercises or []), self.profile, self.limits,
                  digest=files_digest(files), fork_server=self.fork_server,
                  hint_command=self.hint_command, separate_users=self.separate_users)
        return executors.grade_here(job, self.work, self.protected, self.kit)

    def close(self) -> None:
        close_servers()
        kitmod.remove_tree(self.work)

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
