"""The files ``drills release`` writes rather than copies: pyproject, README, .gitignore.

Every generated file depends only on the kit's own files (no dates, no paths of this machine),
so the same kit always gives the same bytes.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jinja2

from graders.core import registry

README_TEMPLATE = """\
# Deep Learning Drills

Auto-graded exercises that teach deep learning with PyTorch{{ " (and TensorFlow/Keras on day 5)" if tf else "" }}.
You write small functions and classes in `exercises/`; `pytest` grades them against PyTorch
itself and recorded answers of a reference solution, and tells you in plain words what is wrong:
the smallest failing input, what came back, what was expected, and a hint.

## Quick start

Python 3.11. Everything works offline once installed.

```bash
python3.11 -m venv .venv && . .venv/bin/activate
pip install -e .{{ "[tf]" if tf else "" }}
pytest exercises/{{ days[0] }}            # grade {{ days[0] }}: a scoreboard of every exercise
```

Open a module in `exercises/`, read a docstring (it is the whole spec), write the function, and
run the graders again. Useful variants:

```bash
pytest exercises/{{ days[0] }}/{{ first_module }}.py     # one module
pytest exercises/{{ days[0] }} -k {{ first_name }}       # one exercise
pytest exercises                          # every day
pytest exercises/{{ days[0] }} --drills-report scores.json   # the scoreboard as JSON
drills progress                           # every exercise with its status
drills hint {{ first_id }}                # the next hint of an exercise
```

The run ends with the scoreboard: each exercise is `passed`, `failed`, `not started` (the stub
still raises `NotImplementedError`) or `error` (the module cannot be imported), with its points.
A check that cannot run on your machine is shown as "not assessed" and costs nothing: the GPU
check without a GPU, and the few checks that compare with the reference on inputs this kit
holds no recorded answer for. Your instructor grades with more checks than this kit holds.

In a notebook, `from graders import check; check("{{ first_id }}", {{ first_name }})` runs the
same checks on a function you defined there.

## Exercises
{% for day, items in by_day %}
### {{ day }}

| exercise | title | points |
|---|---|---|
{% for ex in items -%}
| `{{ ex.id }}` | {{ ex.title }} | {{ "%g" % ex.points }} |
{% endfor %}{% endfor %}
## Layout

```
exercises/   the stubs you edit: dayN/ packages, one module per topic
graders/     the pytest plugin, checks, the registry (registry.toml), recorded answers (golden/)
datasets/    offline data and small pretrained checkpoints (see datasets/README.md)
```
"""

GITIGNORE = ".venv/\n__pycache__/\n*.pyc\n*.egg-info/\n.pytest_cache/\n.hypothesis/\n.drills/\n"


def student_readme(days: list[str]) -> str:
    """The README of a student release of ``days``."""
    exercises = [e for e in registry.exercises() if e.day in days]
    first = exercises[0]
    by_day = [(d, [e for e in exercises if e.day == d]) for d in days]
    return jinja2.Template(README_TEMPLATE, keep_trailing_newline=True).render(
        days=days, by_day=by_day, tf="day5" in days, first_id=first.id, first_name=first.name,
        first_module=first.module.split(".")[1],
    )


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _table(name: str, items: dict[str, Any]) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in items.items()) + "\n"


def student_pyproject(kit_pyproject: Path, packages: list[str], *, tf: bool) -> str:
    """A pyproject for the release: the kit's metadata and pytest settings, the shipped packages."""
    kit = tomllib.loads(kit_pyproject.read_text("utf-8"))
    project = {k: kit["project"][k] for k in ("name", "version", "description", "readme",
                                                "requires-python", "license", "dependencies")}
    extras = {k: v for k, v in kit["project"].get("optional-dependencies", {}).items()
              if k == "tf" and tf}
    setuptools = kit.get("tool", {}).get("setuptools", {})
    package_data = dict(setuptools.get("package-data", {}))
    package_data["graders"] = sorted(set(package_data.get("graders", [])) | {"golden/*/*.json"})
    parts = [
        _table("build-system", kit["build-system"]),
        _table("project", project),
        _table("project.optional-dependencies", extras) if extras else "",
        _table("project.scripts", kit["project"].get("scripts", {})),
        _table("tool.setuptools", {"packages": packages,
                                   "package-dir": setuptools.get("package-dir", {})}),
        _table("tool.setuptools.package-data", package_data),
        _table("tool.pytest.ini_options", kit["tool"]["pytest"]["ini_options"]),
    ]
    return "".join(parts).rstrip("\n") + "\n"


def requirements(kit_pyproject: Path, *, tf: bool, lm: bool = False) -> str:
    """The kit's dependencies, one a line (for an offline ``pip install -r``), with the extras
    ``tf`` (day 5) and ``lm`` (day 4's pretrained language model) when asked for."""
    kit = tomllib.loads(kit_pyproject.read_text("utf-8"))
    deps = list(kit["project"]["dependencies"])
    extras = kit["project"].get("optional-dependencies", {})
    for name, wanted in (("tf", tf), ("lm", lm)):
        if wanted:
            deps += extras.get(name, [])
    return "".join(f"{d}\n" for d in deps)
