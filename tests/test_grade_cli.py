"""Does `drills grade` give the same grades however it runs: again (from the cache), with two
workers, in shards merged afterwards, on a Dask cluster, in other temporary folders? Does its
summary page show? Does it grade the reference without flags, keep one feedback file per
submission, and refuse a mistyped path?"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent
EXERCISES = "day1.tensors.describe,day1.tensors.batched_gather"
pytestmark = [pytest.mark.timeout(900)]


def _grade(*args: str, exercises: str = EXERCISES, python: str = sys.executable) -> str:
    proc = subprocess.run(
        [python, "-m", "graders.cli", "grade", *args, "--exercises", exercises,
         "--profile", "drills", "--timeout-per-test", "20", "--no-progress"],
        cwd=KIT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _grades(out: Path) -> tuple[str, list]:
    doc = json.loads((out / "grades.json").read_text())
    return (out / "grades.csv").read_text(), doc["submissions"]


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("class")
    ref = (KIT / "reference" / "day1" / "tensors.py").read_text()
    stub = (KIT / "exercises" / "day1" / "tensors.py").read_text()
    for name, text in {"right": ref, "stub": stub, "half": ref.replace("return torch.gather(x, 1, index)", "return torch.gather(x, 1, index * 0)")}.items():
        (root / "subs" / name / "day1").mkdir(parents=True)
        (root / "subs" / name / "day1" / "tensors.py").write_text(text)
    (root / "subs" / "empty").mkdir()
    subs = [str(p) for p in sorted((root / "subs").iterdir())]
    first = _grade(*subs, "--out", str(root / "one"), "--workers", "1")
    return {"root": root, "subs": subs, "first": first}


@pytest.mark.slow
def test_a_class_is_graded_with_one_row_per_submission(klass):
    rows = list(csv.DictReader((klass["root"] / "one" / "grades.csv").open()))
    assert [r["submission"] for r in rows] == ["empty", "half", "right", "stub"]
    by = {r["submission"]: r for r in rows}
    assert by["right"]["total"] == "3" and by["stub"]["total"] == "0" and by["empty"]["total"] == "0"
    assert "graded 4 submission(s), 0 from the cache" in klass["first"]


@pytest.mark.slow
def test_grading_again_comes_from_the_cache_with_identical_reports(klass):
    before = _grades(klass["root"] / "one")
    again = _grade(*klass["subs"], "--out", str(klass["root"] / "one"))
    assert "graded 0 submission(s), 4 from the cache" in again
    assert _grades(klass["root"] / "one") == before


@pytest.mark.slow
def test_two_workers_give_identical_grades(klass):
    _grade(*klass["subs"], "--out", str(klass["root"] / "two"), "--workers", "2", "--no-cache")
    assert _grades(klass["root"] / "two") == _grades(klass["root"] / "one")


@pytest.mark.slow
def test_shards_merge_into_the_same_report(klass):
    root, cache = klass["root"], str(klass["root"] / "one" / ".cache")
    for k in (1, 2):
        _grade(*klass["subs"], "--out", str(root / f"shard{k}"), "--shard", f"{k}/2", "--cache-dir", cache)
    shards = [len(list(csv.DictReader((root / f"shard{k}" / "grades.csv").open()))) for k in (1, 2)]
    assert shards == [2, 2]
    proc = subprocess.run([sys.executable, "-m", "graders.cli", "grade", "--merge", str(root / "shard1"),
                           str(root / "shard2"), "--out", str(root / "merged")],
                          cwd=KIT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert _grades(root / "merged") == _grades(root / "one")


@pytest.mark.slow
def test_a_dask_cluster_gives_identical_grades(klass, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from graders.cli import main
    from graders.grading.grade import close_servers

    monkeypatch.chdir(KIT)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, host="127.0.0.1",
                                  protocol="tcp", scheduler_port=0, dashboard_address=None) as cluster:
        status = main(["grade", *klass["subs"], "--out", str(klass["root"] / "dask"), "--no-cache",
                       "--scheduler", cluster.scheduler_address, "--exercises", EXERCISES,
                       "--profile", "drills", "--timeout-per-test", "20", "--no-progress"])
        close_servers()
    assert status == 0
    assert _grades(klass["root"] / "dask") == _grades(klass["root"] / "one")


@pytest.mark.slow
def test_the_summary_page_shows_in_a_real_browser(klass, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium): cannot render summary.html")
    page = klass["root"] / "one" / "summary.html"
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    dom = proc.stdout
    assert "class summary" in dom and "4 submissions" in dom, proc.stderr[-2000:]
    for element in ('id="distribution"', 'id="pass-rates"', 'id="slowest"', 'id="exercise-table"'):
        assert element in dom
    assert dom.count("data:image/png;base64,") == 2
    assert dom.count('data-width="') == 2 and 'data-width="0"' not in dom  # both pictures decoded
    assert "day1.tensors.batched_gather" in dom


# --- the reference is graded clean; flags name things in the kit's terms ---------------------


def test_the_reference_and_the_stubs_of_checkpointing_are_not_flagged(tmp_path):
    """Does the reference of day2.training (which pickles tensors: torch.save, torch.load) get
    full points with no flag, and the stubs none either (pickling caches __slotnames__ on
    torch.Tensor, the standard library's doing)?"""
    for name, tree in (("reference", KIT / "reference"), ("stubs", KIT / "exercises")):
        (tmp_path / "subs" / name / "day2").mkdir(parents=True)
        for module in ("__init__.py", "training.py", "modules.py"):
            shutil.copy(tree / "day2" / module, tmp_path / "subs" / name / "day2" / module)
    checkpoints = "day2.training.save_checkpoint,day2.training.load_checkpoint"
    _grade(*sorted(str(p) for p in (tmp_path / "subs").iterdir()), "--out", str(tmp_path / "out"),
           "--no-cache", exercises=checkpoints)
    rows = {r["submission"]: r for r in csv.DictReader((tmp_path / "out" / "grades.csv").open())}
    assert rows["reference"]["day2.training.save_checkpoint"] == "2", rows["reference"]
    assert rows["reference"]["day2.training.load_checkpoint"] == "2", rows["reference"]
    assert rows["reference"]["flags"] == "" and rows["stubs"]["flags"] == "", rows
    assert rows["stubs"]["total"] == "0"


_SNOOP = '''
import os, sys
import graders
from graders.core import runtime

_honest = describe
_TRIES = [
    lambda: open(os.path.join(runtime.REFERENCE_DIR, "day1", "tensors.py")).read(),
    lambda: open(os.path.join(os.path.dirname(graders.__file__), "day1", "test_tensors.py")).read(),
    lambda: __import__("graders.testing"),
    lambda: open(os.path.join(PEER, "day1", "tensors.py")).read(),
    lambda: open(os.path.join(OUT, "mine.txt"), "w"),
    lambda: open("/etc/hostname-drills", "w"),
]


def describe(t):
    for attempt in _TRIES:
        try:
            attempt()
        except Exception:
            pass
    return _honest(t)
'''


@pytest.mark.slow
def test_the_reference_export_graded_alone_is_not_flagged(tmp_path):
    """Does the reference of day6.export get full points with no flag when its exercises are the
    only ones graded (a fresh grading process: exporting reads the source of the graders' models,
    which nothing of the graders read before)?"""
    shutil.copytree(KIT / "reference" / "day6", tmp_path / "subs" / "reference" / "day6")
    _grade(str(tmp_path / "subs" / "reference"), "--out", str(tmp_path / "out"), "--no-cache",
           exercises="day6.export.export_torchscript,day6.export.export_program")
    row = next(csv.DictReader((tmp_path / "out" / "grades.csv").open()))
    assert (row["day6.export.export_torchscript"], row["day6.export.export_program"]) == ("2", "3"), row
    assert row["flags"] == "", row


def test_flags_say_what_was_touched_in_the_kits_terms_and_grades_are_reproducible(tmp_path):
    """Does a submission that reads the reference, the graders and another submission, and
    writes to the reports, get flags that name `reference/day1/...`, `graders/...`, `another
    submission's files`, `the reports folder`, with no temporary path in them? And does grading
    the class again (other temporary folders) give byte-identical grades.csv and grades.json?"""
    subs, out = tmp_path / "subs", tmp_path / "out"
    ref = (KIT / "reference" / "day1" / "tensors.py").read_text()
    (subs / "peer" / "day1").mkdir(parents=True)
    (subs / "peer" / "day1" / "tensors.py").write_text(ref)
    (subs / "snoop" / "day1").mkdir(parents=True)
    head = f"PEER = {str(subs / 'peer')!r}\nOUT = {str(out)!r}\n"
    (subs / "snoop" / "day1" / "tensors.py").write_text(ref + head + _SNOOP)
    reports = []
    for _ in range(2):
        _grade(str(subs / "peer"), str(subs / "snoop"), "--out", str(out), "--no-cache",
               exercises="day1.tensors.describe")
        reports.append({name: (out / name).read_bytes() for name in ("grades.csv", "grades.json")})
    assert reports[0] == reports[1]
    rows = {r["submission"]: r for r in csv.DictReader((out / "grades.csv").open())}
    flags = rows["snoop"]["flags"].split(" | ")
    assert set(flags) == {f"day1.tensors.describe: {why}" for why in (
        "read reference/day1/tensors.py", "read graders/day1/test_tensors.py", "imported graders.testing",
        "read another submission's files", "wrote to the reports folder (outside its own folder)",
        "wrote to /etc/hostname-drills (outside its own folder)")}, flags
    assert rows["peer"]["flags"] == "" and rows["peer"]["total"] == "1"
    texts = [reports[0]["grades.json"].decode(), (out / "feedback" / "snoop.txt").read_text(),
             (out / "summary.html").read_text()]
    for text in texts:
        assert "drills-grade-" not in text and "kits/" not in text and str(tmp_path) not in text


# --- names and paths -----------------------------------------------------------------------------


def test_every_submission_keeps_its_own_feedback_file(tmp_path):
    """Do names that map to the same file name (`a b` and `a_b`, `victim` and `victim!`, a name
    made up to take another one's file, two folders named `alice` beside a real `alice-2`) each
    get their own row and their own feedback file, named in grades.csv?"""
    from graders.grading.names import feedback_name

    names = ["a b", "a_b", "victim", "victim!", feedback_name("a b")[:-4], "alice-2", "x/alice", "y/alice"]
    for name in names:
        (tmp_path / "subs" / name).mkdir(parents=True)
    out = tmp_path / "out"
    _grade(*(str(tmp_path / "subs" / n) for n in names), "--out", str(out), "--no-fork-server")
    with (out / "grades.csv").open() as fh:
        header, *rows = list(csv.reader(fh))
    assert header[-3:] == ["flags", "review", "feedback"]
    files = {r[0]: r[-1] for r in rows}
    assert sorted(files) == sorted(["a b", "a_b", "victim", "victim!", feedback_name("a b")[:-4],
                                    "alice-2", "alice", "alice-3"])
    assert len(set(files.values())) == len(files)
    assert files["a_b"] == "a_b.txt" and files["victim"] == "victim.txt" and files["alice-2"] == "alice-2.txt"
    assert sorted(p.name for p in (out / "feedback").iterdir()) == sorted(files.values())
    for name, file in files.items():
        assert (out / "feedback" / file).read_text().startswith(f"Submission: {name}\n")


def test_a_mistyped_submission_path_is_an_error(tmp_path):
    """Does `drills grade does-not-exist --out OUT` stop with exit status 2, naming the path,
    before copying the kit or writing OUT?"""
    (tmp_path / "tmp").mkdir()
    (tmp_path / "real").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "graders.cli", "grade", "does-not-exist", str(tmp_path / "real"),
         str(tmp_path / "gone.zip"), "--out", str(tmp_path / "out")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "does-not-exist" in proc.stderr and "gone.zip" in proc.stderr
    assert str(tmp_path / "real") not in proc.stderr
    assert not (tmp_path / "out").exists() and not any((tmp_path / "tmp").iterdir())


# --- the run survives, and no submission harms another --------------------------------------


def _one(root: Path, name: str, text: str) -> Path:
    (root / name / "day1").mkdir(parents=True)
    (root / name / "day1" / "tensors.py").write_text(text)
    return root / name


def test_fifos_and_links_in_the_reports_folder_are_replaced_never_opened(tmp_path):
    """Does a FIFO or a link where a report or a cached result is about to be written (a
    submission can learn the reports folder from drills grade's command line) neither hang the
    run nor lead its writes elsewhere? Is a FIFO in the cache read as a miss, not waited on?"""
    sub = _one(tmp_path / "subs", "right", (KIT / "reference" / "day1" / "tensors.py").read_text())
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    _grade(str(sub), "--out", str(out), exercises="day1.tensors.describe")
    for path in [*(out / ".cache").iterdir(), out / "grades.csv", out / "timings.json"]:
        path.unlink()
        os.mkfifo(path)
    shutil.rmtree(out / "feedback")
    for name in ("grades.json", "summary.html", "feedback"):
        (out / name).unlink(missing_ok=True)
        (out / name).symlink_to(elsewhere / name)
    again = _grade(str(sub), "--out", str(out), exercises="day1.tensors.describe")
    assert "graded 1 submission(s), 0 from the cache" in again
    for name in ("grades.csv", "grades.json", "timings.json", "summary.html"):
        assert (out / name).is_file() and not (out / name).is_symlink(), name
    assert all(p.is_file() for p in (out / ".cache").iterdir())
    assert (out / "feedback").is_dir() and not (out / "feedback").is_symlink()
    assert (out / "feedback" / "right.txt").read_text().startswith("Submission: right")
    assert list(elsewhere.iterdir()) == []
    assert next(csv.DictReader((out / "grades.csv").open()))["total"] == "1"


_SLOW_ONCE = """
import time
_honest, _slept = describe, False


def describe(t):
    global _slept
    if not _slept:
        _slept = True
        time.sleep(6)
    return _honest(t)
"""


def test_a_copy_of_the_kit_changed_during_a_submission_flags_it_alone(tmp_path):
    """When the copy of the kit a submission is graded with changes while it runs (here the
    test changes it, as code out of the audit hook's sight could), is that submission flagged
    with 0 on every exercise, and the next one graded with a fresh copy, unflagged?"""
    ref = (KIT / "reference" / "day1" / "tensors.py").read_text()
    subs = [_one(tmp_path / "subs", "a_first", ref + _SLOW_ONCE), _one(tmp_path / "subs", "b_next", ref)]
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "graders.cli", "grade", *map(str, subs), "--out", str(tmp_path / "out"),
         "--exercises", EXERCISES, "--profile", "drills", "--timeout-per-test", "20", "--no-progress",
         "--workers", "1", "--no-separate-users", "--no-cache"],
        cwd=KIT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
    )
    planted = []
    while proc.poll() is None and not planted:
        if list((tmp_path / "tmp").glob("drills-grade-*/sub-*")):  # a_first is being graded
            for graders in (tmp_path / "tmp").glob("drills-grade-*/kits/slot-*/kit/graders"):
                os.chmod(graders, 0o755)
                (graders / "planted.py").write_text("# not the kit's\n")
                planted.append(graders)
        time.sleep(0.05)
    output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0 and planted, output
    rows = {r["submission"]: r for r in csv.DictReader((tmp_path / "out" / "grades.csv").open())}
    assert rows["a_first"]["total"] == "0", rows
    assert "changed drills grade's copy of the kit" in rows["a_first"]["flags"]
    assert rows["b_next"]["total"] == "3" and rows["b_next"]["flags"] == "", rows


@pytest.fixture(scope="module")
def reachable_python() -> Iterator[str]:
    """An interpreter with this one's packages whose files every user can read: this one, or a
    virtual environment made from another install of the same Python version. Skips when the
    tests do not run as root (no user ids to change to) or none can be made."""
    from graders.grading import kit, procs

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("separate user ids need root")
    paths = [str(p) for p in kit.python_paths()]
    if not procs.separation_unavailable(paths):
        yield sys.executable
        return
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = next((p for p in (f"/usr/bin/{version}", f"/usr/local/bin/{version}", shutil.which(version))
                 if p and os.path.exists(p) and not procs.separation_unavailable([p])), None)
    if base is None:
        pytest.skip(f"no {version} that other users can reach")
    folder = Path(tempfile.mkdtemp(prefix="drills-python-"))
    try:
        os.chmod(folder, 0o755)
        subprocess.run([base, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
        site = next((folder / "lib").glob("python*/site-packages"))
        dirs = [p for p in paths if Path(p).name in ("site-packages", "dist-packages")]
        (site / "drills-kit.pth").write_text("import site; " + "; ".join(f"site.addsitedir({d!r})" for d in dirs) + "\n")
        python = str(folder / "bin" / "python")
        probe = subprocess.run([python, "-c", "import torch, pytest, hypothesis, graders"], capture_output=True, timeout=300)
        if probe.returncode != 0 or procs.separation_unavailable([str(folder), f"/usr/lib/{version}"]):
            pytest.skip(f"a virtual environment from {base} cannot import the kit's packages")
        yield python
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_PROBE = """
import threading, time
_honest = describe


def describe(t):
    for fn, args in ((os.kill, (os.getppid(), 9)), (os.mkdir, (SUBS + "/probe-was-here",)),
                     (os.mkdir, (OUT + "/probe-was-here",))):  # threads: no frame of the submission
        threading.Thread(target=fn, args=args).start()
    time.sleep(1)
    return {}
"""
_WHOAMI = """
def describe(t):
    raise RuntimeError(f"graded as uid {os.getuid()}")
"""


def test_as_root_each_submission_runs_under_a_user_id_of_its_own(tmp_path, reachable_python):
    """As root, does each grading process run under a user id of its own, which can neither
    signal the fork server nor write beside the submissions or into the reports, whose
    processes end with it? Do the other submissions get the same grades as under root's own
    user id (--no-separate-users, and without a fork server), and do the reports say which
    protections were in force?"""
    ref = (KIT / "reference" / "day1" / "tensors.py").read_text()
    subs_dir, out, same = tmp_path / "subs", tmp_path / "out", tmp_path / "same"
    subs = [_one(subs_dir, "right", ref),
            _one(subs_dir, "half", ref.replace("return torch.gather(x, 1, index)", "return torch.gather(x, 1, index * 0)")),
            _one(subs_dir, "probe", ref + f"\nimport os\nSUBS, OUT = {str(subs_dir)!r}, {str(out)!r}\n" + _PROBE),
            _one(subs_dir, "whoami", ref + "\nimport os\n" + _WHOAMI)]
    _grade(*map(str, subs), "--out", str(out), "--no-cache", "--workers", "2", python=reachable_python)
    assert not (subs_dir / "probe-was-here").exists() and not (out / "probe-was-here").exists()
    assert "fork server" not in (out / "feedback" / "probe.txt").read_text()
    assert "graded as uid 6" in (out / "feedback" / "whoami.txt").read_text()
    assert oct(out.stat().st_mode & 0o777) != "0o700"  # the folder's own mode is back
    (subs_dir / "probe" / "day1" / "tensors.py").write_text(ref)  # no threads as root
    _grade(*map(str, subs), "--out", str(same), "--no-cache", "--no-separate-users", "--no-fork-server",
           python=reachable_python)
    assert "graded as uid 0" in (same / "feedback" / "whoami.txt").read_text()
    kits = [json.loads((folder / "grades.json").read_text())["kit"] for folder in (out, same)]
    assert kits[0]["isolation"] == "separate user id per submission, audit hook, limits"
    assert kits[1]["isolation"] == "audit hook, limits (separate user ids off: --no-separate-users)"
    assert "Isolation: separate user id per submission" in (out / "summary.html").read_text()
    rows = [{r["submission"]: r for r in csv.DictReader((folder / "grades.csv").open())} for folder in (out, same)]
    assert rows[0]["right"] == rows[1]["right"] and rows[0]["half"] == rows[1]["half"]
    assert rows[0]["right"]["total"] == "3" and rows[0]["probe"]["day1.tensors.describe"] == "0"
    assert (out / "feedback" / "half.txt").read_text() == (same / "feedback" / "half.txt").read_text()
