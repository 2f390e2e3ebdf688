"""The model of the kit: exercises, their files, outcomes and points. It imports nothing else
of the kit, and nothing heavy (no torch, no pytest).

- :mod:`~graders.core.paths`: where everything lives, from an exercise id to its stub,
  reference, grader module and golden file; which source files are the student's.
- :mod:`~graders.core.registry`: ``graders/registry.toml``, validated; day lists.
- :mod:`~graders.core.points`: an exercise's status and points from its checks' outcomes.
- :mod:`~graders.core.fingerprint`: the files of ``graders/`` that decide a grade, as one hash.
- :mod:`~graders.core.runtime`: the tree being graded, the lazy ``student``/``reference``
  modules, and the context of the running check.
"""
