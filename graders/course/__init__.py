"""The course staff's tools, computed from a grading run's results plus the staff's own files.

``drills grade`` produces results (``grades.json``); everything here reads them back and never
grades again, so a changed roster, deadline or override re-computes every report in a second
(``drills report OUT``).

Modules: :mod:`~graders.course.files` (reading the staff's CSV files),
:mod:`~graders.course.roster` (who is in the class), :mod:`~graders.course.deadlines` (due
dates, extensions, submission times and the late policy), :mod:`~graders.course.overrides`
(the instructor's changes to points), :mod:`~graders.course.settings` (what a report folder
remembers of them), :mod:`~graders.course.gradebook` (one final row per student, and the
Canvas and Moodle exports), :mod:`~graders.course.feedback` (what students read, hidden checks
left out until release), :mod:`~graders.course.analytics` and :mod:`~graders.course.summary`
(the class page), :mod:`~graders.course.similarity` and :mod:`~graders.course.similarity_page`
(copied code), :mod:`~graders.course.regrade` (a few submissions graded again into a report
folder), :mod:`~graders.course.report` (writing it all) and :mod:`~graders.course.cli` (the
``drills report`` and ``drills similar`` verbs, and the staff options of ``drills grade``).
"""
