"""Where submissions are graded: here (``--workers N``) or on a Dask cluster (``--scheduler``).

Either way each submission is graded by :func:`graders.grading.grade.grade` in its own
grading processes, with the same limits, so grades do not depend on where they were made.
Locally, N threads each wait on one grading process at a time. On Dask, each task carries the
submission's files; a worker grades them against its own copy of the kit (the kit must be
installed on the workers, at the same version: the task refuses a different kit digest).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from graders.grading.grade import Job
from graders.grading.kit import KitCopy


def grade_here(job: Job, work: Path, protected: list[Path], kit: KitCopy) -> dict:
    """Grade ``job`` on this machine against the copy of the kit ``kit``."""
    from graders.grading.grade import grade

    return grade(job, kit, work, [*protected, *kit.protected, work])


def _worker_grade(job: Job, protected: list[str], kit_digest: str) -> dict:
    """The Dask task: grade in a private folder of the worker's temporary directory."""
    from graders.grading import kit as kitmod

    work = Path(tempfile.gettempdir()) / "drills-grade-worker"
    work.mkdir(parents=True, exist_ok=True)
    kit = kitmod.prepare(work / "kits")
    if kit.digest != kit_digest:
        raise RuntimeError("this worker has a different version of the kit than the client")
    return grade_here(job, work, [Path(p) for p in protected], kit)


def run_local(jobs: list[Job], workers: int, work: Path, protected: list[Path],
              kit: KitCopy) -> Iterator[dict]:
    """Grade ``jobs`` with ``workers`` grading processes at a time; yield results as they end."""
    from graders.grading.grade import close_servers

    try:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="drills-grade") as pool:
            futures = [pool.submit(grade_here, job, work, protected, kit) for job in jobs]
            for fut in as_completed(futures):
                yield fut.result()
    finally:
        close_servers()


def run_dask(jobs: list[Job], scheduler: str, protected: list[Path], kit_digest: str) -> Iterator[dict]:
    """Grade ``jobs`` on the Dask cluster at ``scheduler`` (``tcp://HOST:PORT``)."""
    from distributed import Client, as_completed as dask_completed

    with Client(scheduler) as client:
        futures = [
            client.submit(_worker_grade, job, [str(p) for p in protected], kit_digest,
                          key=f"drills-grade-{i}-{job.digest[:12]}", pure=False)
            for i, job in enumerate(jobs)
        ]
        for fut in dask_completed(futures):
            yield fut.result()
