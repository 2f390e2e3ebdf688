"""What a student runs besides pytest: ``drills progress``, ``hint``, ``watch`` and
``solution`` (:mod:`~graders.learner.cli`, over :mod:`~graders.learner.progress`), and
``graders.check`` in a notebook (:mod:`~graders.learner.notebook`)."""
