"""``drills release``: the student kit, written from the instructor kit (instructors only).

- :mod:`~graders.release.build`: the command; collects, records and writes the kit.
- :mod:`~graders.release.tree`: what is shipped (an allow-list driven by the registry) and the
  hidden checks cut out of it.
- :mod:`~graders.release.files`: the student README, pyproject and .gitignore.
- :mod:`~graders.release.stubgen`: a stub written from a reference module.

The answers recorded from the reference live in :mod:`graders.checks.golden` (a student kit
reads them while grading).
"""

from graders.core.registry import parse_days  # the old name of the day-list parser

__all__ = ["parse_days"]
