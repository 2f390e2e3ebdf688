"""Does `drills grade` give the same grades however it runs: again (from the cache), with two
workers, in shards merged afterwards, on a Dask cluster? And does its summary page show?"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent
EXERCISES = "day1.tensors.describe,day1.tensors.batched_gather"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _grade(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "graders.cli", "grade", *args, "--exercises", EXERCISES,
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


def test_a_class_is_graded_with_one_row_per_submission(klass):
    rows = list(csv.DictReader((klass["root"] / "one" / "grades.csv").open()))
    assert [r["submission"] for r in rows] == ["empty", "half", "right", "stub"]
    by = {r["submission"]: r for r in rows}
    assert by["right"]["total"] == "3" and by["stub"]["total"] == "0" and by["empty"]["total"] == "0"
    assert "graded 4 submission(s), 0 from the cache" in klass["first"]


def test_grading_again_comes_from_the_cache_with_identical_reports(klass):
    before = _grades(klass["root"] / "one")
    again = _grade(*klass["subs"], "--out", str(klass["root"] / "one"))
    assert "graded 0 submission(s), 4 from the cache" in again
    assert _grades(klass["root"] / "one") == before


def test_two_workers_give_identical_grades(klass):
    _grade(*klass["subs"], "--out", str(klass["root"] / "two"), "--workers", "2", "--no-cache")
    assert _grades(klass["root"] / "two") == _grades(klass["root"] / "one")


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
