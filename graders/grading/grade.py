"""Grade one submission: write its files to a throw-away folder, run the grading process
(again after a crash or a timeout, without the checks already done), score what came back.

Only results the sandbox wrote to the channel count. A check that never reported (the process
crashed, hung, exited or was stopped during it) fails with the reason, and the process is
started again for the checks after it, so one runaway check costs only itself. A check during
which the code broke a sandbox rule scores 0 for its whole exercise, which is flagged; so does
one during which the fork server running it ended, hung or was stopped (the server is replaced
and grading goes on). A submission during which its slot's copy of the kit changed is flagged
and scores 0 on every exercise, and the slot gets a fresh copy (:mod:`graders.grading.slots`).
"""

from __future__ import annotations

import atexit
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from graders.core import registry
from graders.grading import child, kit as kitmod, slots
from graders.grading.child import Limits

#: Why a submission scores 0 everywhere when its copy of the kit changed while it was graded.
KIT_CHANGED = "changed drills grade's copy of the kit (graders, stubs or reference)"


@dataclass
class Job:
    """Everything needed to grade one submission, in a form that can travel to a worker."""

    name: str
    files: dict[str, bytes]
    days: list[str]
    exercises: list[str] = field(default_factory=list)
    profile: str = "grading"
    limits: Limits = field(default_factory=Limits)
    refused: str = ""
    notes: list[str] = field(default_factory=list)
    digest: str = ""
    fork_server: bool = True
    hint_command: bool = True  # feedback may point to `drills hint` (not on Gradescope, nbgrader)
    separate_users: bool = True  # as root: a user id of its own (--no-separate-users: not)


def _slot(kit: kitmod.KitCopy, work: Path, job: Job) -> slots.Slot:
    return slots.acquire(kit, work, fork_server=job.fork_server, separate=job.separate_users)


def prewarm(kit: kitmod.KitCopy, work: Path, count: int, job: Job) -> None:
    """Make ``count`` slots for jobs like ``job`` now; their fork servers import torch and the
    kit in parallel."""
    made = [_slot(kit, work, job) for _ in range(count)]
    for slot in made:
        if job.fork_server:
            slot.server()
    for slot in made:
        slots.release(slot)


def close_servers() -> None:
    """Close every slot this process made: its fork server, user id and copy of the kit."""
    slots.close_all()


atexit.register(close_servers)


def selected(days: list[str], exercises: list[str]) -> list[registry.Exercise]:
    wanted = set(exercises)
    return [e for e in registry.exercises() if e.day in days and (not wanted or e.id in wanted)]


def expected_checks(kit: kitmod.KitCopy, job: Job, work: Path, days: list[str]) -> list[dict]:
    """The grader tests of the selected exercises of ``days``, as the kit collects them.

    Each day is collected once (all its checks), in a grading process with an empty tree,
    before any submission code runs, and cached beside the copy of the kit; the selection of
    ``job.exercises`` is taken from it.
    """
    wanted = set(job.exercises)
    out: list[dict] = []
    for day in days:
        checks = kitmod.load_checks(kit, day)
        if checks is None:
            checks = _collect(kit, job, work, day)
            kitmod.save_checks(kit, day, checks)
        out += [c for c in checks if not wanted or c["exercise"] in wanted]
    return out


def _collect(kit: kitmod.KitCopy, job: Job, work: Path, day: str) -> list[dict]:
    home = Path(tempfile.mkdtemp(prefix="collect-", dir=work))
    slot = _slot(kit, work, job)
    try:
        for _ in range(3):  # a server lost while collecting (no submission code runs) is replaced
            (home / "tree").mkdir(exist_ok=True)
            slot.box(home)
            cmd = child.command(slot.kit, home / "tree", [day], [], job.profile, 60, collect_only=True)
            run = child.run_once(cmd, kit=slot.kit, home=home / "home", tree=home / "tree", protected=[],
                                 limits=Limits(), wall=600, skip=set(), server=slot.server(), uid=slot.uid)
            if not run.server_lost:
                break
            slot.server_lost()
    finally:
        slots.release(slot)
        kitmod.remove_tree(home)
    if run.collected is None:
        raise RuntimeError(f"the graders of {day} could not be collected:\n{run.output_tail}")
    return run.collected


def grade(job: Job, kit: kitmod.KitCopy, work: Path, protected: list[Path]) -> dict:
    """Grade ``job`` in a throw-away folder under ``work``; return its result record."""
    t0 = time.monotonic()
    exercises = selected(job.days, job.exercises)
    present = sorted({rel.split("/")[0] for rel in job.files} & set(job.days), key=lambda d: int(d[3:]))
    checks = [] if job.refused else expected_checks(kit, job, work, present)
    todo = checks
    flags: list[str] = [f"refused: {job.refused}"] if job.refused else []
    results: dict[str, dict] = {}
    restarts = 0
    slot = _slot(kit, work, job)
    try:
        if todo:
            box = Path(tempfile.mkdtemp(prefix="sub-", dir=work))
            try:
                results, flags2, restarts = _run_all(job, slot, box, todo, present,
                                                     [*protected, *slot.protected])
                flags += flags2
            finally:
                kitmod.remove_tree(box)
        if not slot.finish():
            flags.append(f"{KIT_CHANGED}: every exercise scores 0")
            results = {cid: {**rec, "violations": [*rec.get("violations", []), KIT_CHANGED]}
                       for cid, rec in results.items()}
    finally:
        slots.release(slot)
    from graders.grading.scoring import score

    record = score(job, exercises, checks, results, present, flags)
    record.update(restarts=restarts, wall_s=round(time.monotonic() - t0, 2),
                  isolation=slot.policy.describe())
    return record


def _run_all(job: Job, slot: slots.Slot, box: Path, todo: list[dict], present: list[str],
             protected: list[Path]) -> tuple[dict[str, dict], list[str], int]:
    tree = box / "tree"
    for rel, data in job.files.items():
        if rel.split("/")[0] in present:
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_bytes(data)
    slot.box(box)
    ids = {c["id"]: c for c in todo}
    cmd = child.command(slot.kit, tree, present, job.exercises, job.profile, job.limits.per_test,
                        hint_command=job.hint_command)
    return _loop(job, slot, box, tree, ids, cmd, protected)


def _loop(job: Job, slot: slots.Slot, box: Path, tree: Path, ids: dict[str, dict], cmd: list[str],
          protected: list[Path]) -> tuple[dict[str, dict], list[str], int]:
    results: dict[str, dict] = {}
    flags: list[str] = []
    crashes: dict[str, int] = {}
    deadline = time.monotonic() + job.limits.per_submission
    restarts = -1
    while len(results) < len(ids) and restarts < job.limits.restarts:
        wall = deadline - time.monotonic()
        if wall <= 1:
            break
        restarts += 1
        run = child.run_once(cmd, kit=slot.kit, home=box / "home", tree=tree, protected=protected,
                             limits=job.limits, wall=wall,
                             skip=set(results), server=slot.server(), uid=slot.uid)
        if run.server_lost:
            slot.server_lost()
        new = {k: v for k, v in run.results.items() if k in ids and k not in results}
        for cid, _count in run.forged_in.items():
            if cid in new:
                new[cid] = {**new[cid], "outcome": "failed",
                            "violations": [*new[cid].get("violations", []),
                                           "wrote forged results to the grading channel"]}
        if run.forged:
            flags.append(f"wrote {run.forged} forged result line(s) to the grading channel")
        results.update({cid: _without_cpu_use(rec) for cid, rec in new.items()})
        if run.done and len(results) < len(ids) and not new:
            break  # the process finished without running the rest: nothing more to gain
        if run.done:
            continue
        why = run.ending(job.limits.per_submission)
        if run.started in ids and run.started not in results:
            results[run.started] = _stopped(ids[run.started], why, flagged=run.server_lost or "early" in why)
            exercise = ids[run.started]["exercise"]
            crashes[exercise] = crashes.get(exercise, 0) + 1
            if crashes[exercise] >= 2:  # it keeps stopping the process: give up on the exercise
                for cid, c in ids.items():
                    if c["exercise"] == exercise and cid not in results:
                        results[cid] = _stopped(c, why, touched=False)
        elif run.server_lost:
            continue  # lost between checks, or before the first: a new server runs the rest
        elif not new:
            flags.append(f"the grading process stopped before any check ran: {why}")
            break
    reason = "not run: the submission used up its time or restarts"
    for cid, c in ids.items():
        if cid not in results:
            results[cid] = _stopped(c, reason, touched=False)
    return results, flags, max(restarts, 0)


def _without_cpu_use(rec: dict) -> dict:
    """A passed check without the CPU budget use the plugin added to its feedback (its seconds
    differ from run to run, and a passed check's grades are the same on every run)."""
    feedback = rec.get("feedback")
    if rec.get("outcome") != "passed" or type(feedback) is not str or "CPU budget: " not in feedback:
        return rec
    kept = [line for line in feedback.splitlines() if not line.startswith("CPU budget: ")]
    return {**rec, "feedback": "\n".join(kept)}


def _stopped(check: dict, why: str, touched: bool = True, flagged: bool = False) -> dict:
    """A failed result for a check that never reported (``flagged``: the code's doing)."""
    return {
        "id": check["id"], "outcome": "failed", "kind": "stopped", "hidden": check.get("hidden", False),
        "question": check.get("question", ""), "duration": 0.0, "reason": why,
        "feedback": f"The grading process {why} during this check." if touched else
        f"This check did not run: {why}.",
        "violations": [why] if touched and flagged else [],
        "incident": why if touched and not flagged else "",
    }
