"""``drills grade``: grade a class of submissions, isolated, in parallel, with reports.

Modules: :mod:`~graders.grading.cli` (the command), :mod:`~graders.grading.intake` (reading
folders and zips), :mod:`~graders.grading.kit` (the private copy of the graders),
:mod:`~graders.grading.slots` (where a submission is graded: its worker's copy of the kit, fork
server and, as root, user id), :mod:`~graders.grading.forkserver`,
:mod:`~graders.grading.child` and :mod:`~graders.grading.grade` (one submission in its own
processes, with limits), :mod:`~graders.grading.procs` (ending what they started),
the sandbox (:mod:`~graders.grading.sandbox`, loaded by each grading process, with
:mod:`~graders.grading.sandbox_checks` around each check and :mod:`~graders.grading.sandbox_doors`),
its audit hook :mod:`~graders.grading.guard` (with ``guard_rules``, ``guard_places``, ``guard_judge``,
``guard_code``, ``guard_doors``, ``guard_vault``) and the undoing of changes
:mod:`~graders.grading.tamper` (with ``tamper_state``, ``tamper_data``, ``tamper_fast`` and ``tamper_seal``, the
sealed copies the sandbox runs from), :mod:`~graders.grading.scoring`, :mod:`~graders.grading.executors`
(local processes or a Dask cluster), :mod:`~graders.grading.outputs` and
:mod:`~graders.grading.summary` (the reports, written through :mod:`~graders.grading.atomic`).
"""
