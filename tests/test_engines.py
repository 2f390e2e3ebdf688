"""One grade everywhere: do all engines give the same points, for every day?

A class of three submissions covers days 1-6: the reference, the shipped stubs, and a fixed
partly-wrong submission (per day: one exercise right, one realistically wrong, one that
crashes, the rest untouched). It is graded the way each user would:

- ``pytest exercises --drills-target ... --drills-report`` (a student),
- ``drills grade`` twice, with 2 workers then 1 (an instructor): identical grades.csv/.json,
- the Gradescope ``run_autograder`` of ``drills export gradescope --day 1,...,6``, run from the
  unpacked zip alone (``DRILLS_AUTOGRADER_ROOT``),
- ``nbgrader autograde`` of the course from ``drills export nbgrader``,
- ``check()`` in a real Jupyter kernel (the partly-wrong exercises).

Every engine must give the reference full marks with no flag, the stubs 0, and the partly-wrong
submission the same points per exercise. Every engine uses the ``drills`` hypothesis profile
here, the same for all (``DRILLS_HYPOTHESIS_PROFILE``), to keep the matrix affordable.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import KIT, run_pytest
from graders.core import registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

PROFILE = "drills"
DAYS = registry.days()
#: Per day: an exercise solved right (the reference's definition).
RIGHT = ["day1.strides.contiguous_strides", "day2.modules.count_parameters",
         "day3.shapes.receptive_field", "day4.text.encode", "day5.port.dense_weights",
         "day6.memory.saved_tensor_stats"]
#: Per day: a realistic mistake (some of them pass some checks: partial credit).
WRONG = {
    "day1.tensors.pairwise_sq_dists": '''\
def pairwise_sq_dists(x, y):
    return (x * x).sum(1, keepdim=True) - 2 * x @ y.T + (y * y).sum(1)
''',
    "day2.losses.cross_entropy": '''\
def cross_entropy(logits, targets, label_smoothing=0.0, ignore_index=-100):
    keep = targets != ignore_index
    logp = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    safe = torch.where(keep, targets, torch.zeros_like(targets))
    nll = -logp.gather(1, safe[:, None]).squeeze(1)
    loss = (1 - label_smoothing) * nll + label_smoothing * -logp.mean(1)
    return (loss * keep).sum() / len(targets)
''',
    "day3.shapes.conv2d_num_params": '''\
def conv2d_num_params(in_channels, out_channels, kernel_size, groups=1, bias=True):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if min(in_channels, out_channels, kh, kw, groups) < 1 or in_channels % groups or out_channels % groups:
        raise ValueError("bad")
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)
''',
    "day4.text.tokenize": '''\
def tokenize(text):
    return text.lower().split()
''',
    "day5.port.nchw_to_nhwc": '''\
def nchw_to_nhwc(x):
    if x.ndim != 4:
        raise ValueError("4-D only")
    n, c, h, w = x.shape
    return x.reshape(n, h, w, c)
''',
    "day6.distributed.average_gradients": '''\
def average_gradients(grads_per_worker):
    return [sum(g) for g in zip(*grads_per_worker)]
''',
}
#: Per day: an exercise whose code crashes.
CRASH = ["day1.tensors.describe", "day2.backprop.linear_forward", "day3.shapes.pool2d_output_shape",
         "day4.text.decode", "day5.port.nhwc_to_nchw", "day6.export.export_torchscript"]
TOUCHED = [*RIGHT, *WRONG, *CRASH]


# --- the class ----------------------------------------------------------------------------------


def _defs(source: str) -> dict[str, ast.stmt]:
    return {n.name: n for n in ast.parse(source).body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _replace(source: str, name: str, new: str) -> str:
    node = _defs(source)[name]
    lines = source.splitlines(keepends=True)
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
    return "".join(lines[:start]) + new.rstrip("\n") + "\n" + "".join(lines[node.end_lineno:])


def _solution(reference: str, stub: str, name: str) -> str:
    """The reference's definition of ``name``, after the private helpers it needs that the stub
    does not have (as a student would write them)."""
    tops = {t.id if isinstance(t, ast.Name) else n.name: n for n in ast.parse(reference).body
            for t in (getattr(n, "targets", None) or [n])
            if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Assign))}
    have = set(_defs(stub)) | {t.id for n in ast.parse(stub).body for t in getattr(n, "targets", [])
                               if isinstance(t, ast.Name)}
    needed, todo = [], [name]
    while todo:
        node = tops[todo.pop()]
        for used in sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)}):
            if used.startswith("_") and used in tops and used not in have and used not in needed:
                needed.append(used)
                todo.append(used)
    parts = [ast.get_source_segment(reference, tops[n]) for n in reversed(needed)]
    return "\n\n\n".join([*parts, ast.get_source_segment(reference, tops[name])])


def _crashing(stub: str, name: str) -> str:
    node = _defs(stub)[name]
    lines = stub.splitlines(keepends=True)
    header = "".join(lines[node.lineno - 1:node.body[0].lineno - 1])  # the signature
    return f"{header}    return 1 / 0\n"


def partial_modules() -> dict[str, str]:
    """The partly-wrong submission: ``{"day1/strides.py": source}`` for every module."""
    out = {}
    for ex_module in sorted({e.module for e in registry.exercises()}):
        rel = f"{ex_module.replace('.', '/')}.py"
        source = (KIT / "exercises" / rel).read_text()
        reference = (KIT / "reference" / rel).read_text()
        for ex in (e for e in registry.exercises() if e.module == ex_module):
            if ex.id in RIGHT:
                source = _replace(source, ex.name, _solution(reference, source, ex.name))
            elif ex.id in WRONG:
                source = _replace(source, ex.name, WRONG[ex.id])
            elif ex.id in CRASH:
                source = _replace(source, ex.name, _crashing(source, ex.name))
        out[rel] = source
    return out


@pytest.fixture(scope="module")
def klass(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("class")
    for name, tree in (("reference", KIT / "reference"), ("stubs", KIT / "exercises")):
        for day in DAYS:
            shutil.copytree(tree / day, root / name / "exercises" / day,
                            ignore=shutil.ignore_patterns("__pycache__"))
    for rel, source in partial_modules().items():
        path = root / "partial" / "exercises" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        init = KIT / "exercises" / Path(rel).parent / "__init__.py"
        shutil.copy(init, path.parent / "__init__.py")
    return root


def _env() -> dict[str, str]:
    return {**os.environ, "DRILLS_HYPOTHESIS_PROFILE": PROFILE}


def _expect_reference_and_stubs(points: dict[str, dict[str, float]]) -> None:
    full = {e.id: e.points for e in registry.exercises()}
    assert points["reference"] == full
    assert points["stubs"] == dict.fromkeys(full, 0.0)


# --- the engines ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pytest_points(klass: Path) -> dict[str, float]:
    code, out, report = run_pytest("exercises", "--drills-target", str(klass / "partial" / "exercises"),
                                   "--hypothesis-profile", PROFILE)
    assert report is not None, out[-3000:]
    return {k: v["points"] for k, v in report["exercises"].items()}


@pytest.fixture(scope="module")
def graded(klass: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """drills grade of the class, twice (2 workers, then 1 without the cache)."""
    outs = []
    for workers in (2, 1):
        out = tmp_path_factory.mktemp(f"grades-{workers}")
        proc = subprocess.run(
            [sys.executable, "-m", "graders.cli", "grade", *(str(klass / n) for n in ("partial", "reference", "stubs")),
             "--out", str(out), "--profile", PROFILE, "--workers", str(workers), "--no-cache",
             "--no-progress"], cwd=KIT, capture_output=True, text=True, timeout=3000)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        outs.append(out)
    return outs[0], outs[1]


def _grade_points(out: Path) -> dict[str, dict[str, float]]:
    doc = json.loads((out / "grades.json").read_text())
    return {s["submission"]: {k: v["points"] for k, v in s["exercises"].items()} for s in doc["submissions"]}


@pytest.fixture(scope="module")
def gradescope_points(klass: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    base = tmp_path_factory.mktemp("gradescope")
    zip_path = base / "autograder.zip"
    days = ",".join(d[3:] for d in DAYS)
    proc = subprocess.run([sys.executable, "-m", "graders.cli", "export", "gradescope", "--day", days,
                           "--out", str(zip_path)], cwd=KIT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    points = {}
    for name in ("partial", "reference", "stubs"):
        root = base / name
        (root / "source").mkdir(parents=True)
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(root / "source")
        shutil.copytree(klass / name, root / "submission")
        env = {**_env(), "DRILLS_AUTOGRADER_ROOT": str(root), "DRILLS_PYTHON": sys.executable}
        proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, cwd=base,
                              capture_output=True, text=True, timeout=3000)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        data = json.loads((root / "results" / "results.json").read_text())
        graded = [t for t in data["tests"] if t["max_score"] > 0]
        assert len({t["name"] for t in data["tests"]}) == len(data["tests"])
        assert data["score"] == round(sum(t["score"] for t in graded), 4)
        assert not any("drills hint" in t["output"] for t in data["tests"])
        points[name] = {t["tags"][0]: t["score"] for t in graded}
        points[name + ":max"] = {t["tags"][0]: t["max_score"] for t in graded}
    return points


def _nbgrader(course: Path, *args: str) -> None:
    bin_dir = Path(sys.executable).parent
    env = {**_env(), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=3000)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _fill(nb, answers: dict[str, str]) -> None:
    """Put ``answers`` ({grade id: source}) into the notebook's solution cells."""
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if gid in answers:
            cell.source = answers[gid]


@pytest.fixture(scope="module")
def nbgrader_points(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbgrader")
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    proc = subprocess.run([sys.executable, "-m", "graders.cli", "export", "nbgrader", "--out", str(course)],
                          cwd=KIT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    modules = partial_modules()
    for day in DAYS:
        _nbgrader(course, "generate_assignment", day, "--force")
        source = nbformat.read(course / "source" / day / f"{day}.ipynb", as_version=4)
        solutions = {}  # every solution cell: the exercises' and the modules' helpers cells
        for cell in source.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                solutions[meta["grade_id"]] = "\n".join(
                    line for line in cell.source.splitlines() if "### " not in line)
        partial = {}  # the touched exercises, each with the helpers it needs in its own cell
        for ex in (e for e in registry.exercises() if e.day == day and e.id in TOUCHED):
            rel = f"{ex.module.replace('.', '/')}.py"
            text = modules[rel]
            answer = ast.get_source_segment(text, _defs(text)[ex.name])
            if ex.id in RIGHT:
                answer = _solution((KIT / "reference" / rel).read_text(),
                                   (KIT / "exercises" / rel).read_text(), ex.name)
            partial[f"{ex.id.replace('.', '-')}-solution"] = answer
        for student, answers in (("reference", solutions), ("stubs", {}), ("partial", partial)):
            nb = nbformat.read(course / "release" / day / f"{day}.ipynb", as_version=4)
            _fill(nb, answers)
            folder = course / "submitted" / student / day
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{day}.ipynb")
        _nbgrader(course, "autograde", day, "--force")
    from nbgrader.api import Gradebook

    points: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in ("reference", "stubs", "partial"):
            mine = points.setdefault(student, {})
            for day in DAYS:
                submission = gb.find_submission(day, student)
                for nb in submission.notebooks:
                    for g in nb.grades:
                        mine[g.name.replace("-", ".")] = g.score
    assert not list(course.rglob(".hypothesis"))
    return points


@pytest.fixture(scope="module")
def kernel_points() -> dict[str, float]:
    """check() in a real Jupyter kernel, on the exercises the partly-wrong submission touched."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    modules = partial_modules()
    cells = [nbformat.v4.new_code_cell("from graders import check\npoints = {}")]
    for rel, source in modules.items():
        mine = [e for e in registry.exercises() if e.module == rel[:-3].replace("/", ".") and e.id in TOUCHED]
        if not mine:
            continue
        cells.append(nbformat.v4.new_code_cell(source))
        cells.append(nbformat.v4.new_code_cell("\n".join(
            f'points["{e.id}"] = check("{e.id}", {e.name}, quiet=True, profile="{PROFILE}").points'
            for e in mine)))
    cells.append(nbformat.v4.new_code_cell("import json\nprint(json.dumps(points))"))
    nb = nbformat.v4.new_notebook(cells=cells)
    client = nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(KIT)}})
    client.execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    return json.loads(text)


# --- the promises ---------------------------------------------------------------------------------


def test_partial_submission_is_partly_right(pytest_points):
    """Is the partly-wrong submission what it claims: right, wrong and crashing per day?"""
    table = registry.by_id()
    for ex_id in RIGHT:
        assert pytest_points[ex_id] == table[ex_id].points, ex_id
    for ex_id in WRONG:
        assert pytest_points[ex_id] < table[ex_id].points, ex_id
    partly = [i for i in WRONG if 0 < pytest_points[i] < table[i].points]
    assert len(partly) >= 2, "the class needs partial credit to compare"
    for ex_id in CRASH:
        assert pytest_points[ex_id] == 0, ex_id
    assert sum(pytest_points.values()) == sum(pytest_points[i] for i in TOUCHED)


def test_drills_grade_matches_pytest(graded, pytest_points):
    """Does drills grade give the reference full marks with no flag, the stubs 0 and the
    partly-wrong submission pytest's points, exercise by exercise?"""
    points = _grade_points(graded[0])
    _expect_reference_and_stubs(points)
    assert points["partial"] == pytest_points
    doc = json.loads((graded[0] / "grades.json").read_text())
    assert {s["submission"]: s["flags"] for s in doc["submissions"]} == \
        {"partial": [], "reference": [], "stubs": []}


def test_drills_grade_is_reproducible(graded):
    """Do two runs (2 workers, then 1, no cache) write byte-identical grades.csv and grades.json,
    with no temporary path and no .hypothesis folder anywhere in the reports?"""
    first, second = graded
    for name in ("grades.csv", "grades.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
        assert "/tmp" not in (first / name).read_text()
    assert not list(first.rglob(".hypothesis"))


def test_gradescope_matches_pytest(gradescope_points, pytest_points):
    """Does the Gradescope autograder give the same points, with max_score fixed per exercise?"""
    _expect_reference_and_stubs(gradescope_points)
    assert gradescope_points["partial"] == pytest_points
    full = {e.id: e.points for e in registry.exercises()}
    for name in ("partial", "reference", "stubs"):
        assert gradescope_points[name + ":max"] == full


def test_nbgrader_matches_pytest(nbgrader_points, pytest_points):
    """Does nbgrader autograde give the same points, partial credit included?"""
    _expect_reference_and_stubs(nbgrader_points)
    assert nbgrader_points["partial"] == pytest.approx(pytest_points)


def test_check_in_a_kernel_matches_pytest(kernel_points, pytest_points):
    """Does check() in a Jupyter kernel give the touched exercises the same points?"""
    assert kernel_points == {i: pytest_points[i] for i in TOUCHED}
