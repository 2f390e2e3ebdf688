"""Names for the folders of a grading run, the same on every run (``reference/day1/tensors.py``,
``the reports folder``), never the temporary paths of one run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r + os.sep) for r in roots)


#: Written by ``drills grade`` into its working folder: which protected folders hold the
#: submissions and which one the reports (``{"submissions": [...], "reports": [...]}``).
ROLES_FILE = "protected.json"
_PROC = re.compile(r"^/proc/(\d+)(?=/|$)")
_TASK = re.compile(r"/task/\d+(?=/|$)")
#: What a process's /proc entries hold that it must not read: its descriptors, memory and
#: environment, in every spelling (a process, a thread of it: ``/proc/<pid>/task/<tid>/``,
#: ``/proc/self/``, ``/proc/thread-self/``; paths are compared once made real).
_PROC_PRIVATE = re.compile(
    r"^/proc/(?:\d+|self|thread-self)(?:/task/\d+)?/"
    r"(?:fd|fdinfo|mem|environ|maps|smaps|smaps_rollup|numa_maps|pagemap|map_files)(?:/|$)"
)


def _is_kit(root: str) -> bool:
    """True when ``root`` is a copy of the kit (it holds the graders package)."""
    return os.path.isfile(os.path.join(root, "graders", "core", "runtime.py"))


class Places:
    """Names for the folders of a grading run, the same on every run.

    ``tree`` (the submission's files), ``home`` (its HOME and TMPDIR), ``reference``, the
    copies of the kit (``kits``: the one the grading process imported, and any protected
    folder holding the graders), ``drills grade``'s working folder (a protected folder above
    ``tree``; the other ``sub-*`` folders in it belong to other submissions), and ``roles``:
    protected folders known to hold the other ``submissions`` or the ``reports``.
    """

    def __init__(self, tree: str, protected: Iterable[str] = (), writable: Iterable[str] = (),
                 reference: str | None = None, kits: Iterable[str] = (),
                 roles: Mapping[str, Iterable[str]] | None = None) -> None:
        real = os.path.realpath
        tree = real(tree)
        protected = [real(p) for p in protected]
        known = {real(p): "reports" if role == "reports" else "submissions"
                 for role, paths in (roles or {}).items() for p in paths}
        roots: dict[str, str] = {}
        for p in {*protected, *known}:  # a kit is named as such, even where submissions lie
            roots[p] = "kit" if _is_kit(p) else known.get(p) or ("work" if _under(tree, (p,)) else "protected")
        for p in kits:
            roots[real(p)] = "kit"
        if reference:
            roots[real(reference)] = "reference"
        for p in writable:
            roots[real(p)] = "home"
        roots[os.path.dirname(tree)] = "box"
        roots[tree] = "tree"
        self.roots = sorted(roots.items(), key=lambda kv: -len(kv[0]))
        self._aliases = sorted(
            {(alias, root, role) for root, role in roots.items() for alias in {root, _unreal(root)}},
            key=lambda t: -len(t[0]),
        )

    def _root(self, path: str) -> tuple[str, str, str] | None:
        for root, role in self.roots:
            if path == root or path.startswith(root + os.sep):
                return role, root, os.path.relpath(path, root) if path != root else ""
        return None

    def describe(self, path: str) -> str:
        """``path`` (a real path) in the kit's terms: ``reference/day1/tensors.py``,
        ``graders/testing.py``, ``another submission's files``; a path outside every folder of
        the run (``/etc/passwd``) as it is."""
        found = self._root(path)
        if found is None:
            return _proc(path)
        role, _, rel = found
        rel = rel.replace(os.sep, "/")
        if role == "tree":
            return f"its own file {rel}" if rel else "its own folder"
        if role == "home":
            return "its own temporary folder"
        if role == "reference":
            return f"reference/{rel}" if rel else "reference/"
        if role == "kit":
            return rel or "the kit's folder"
        if role == "work" and rel.split("/")[0].startswith("sub-"):
            return "another submission's files"
        return {
            "box": "drills grade's files for this submission",
            "work": "drills grade's working folder",
            "submissions": "another submission's files",
            "reports": "the reports folder",
        }.get(role, "a folder that drills grade protects")

    def module(self, path: str) -> str | None:
        """The kit's module at ``path`` (``graders.testing``), or None."""
        found = self._root(path)
        if found is None or found[0] not in ("kit", "reference") or not path.endswith((".py", ".pyc")):
            return None
        parts = found[2].split(os.sep)
        if len(parts) > 1 and parts[-2] == "__pycache__":  # graders/__pycache__/x.cpython-311.pyc
            parts[-2:] = [parts[-1].split(".")[0]]
        else:
            parts[-1] = parts[-1].rsplit(".", 1)[0]
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join((["reference"] if found[0] == "reference" else []) + parts) or None

    def scrub(self, text: str) -> str:
        """``text`` with the run's folders replaced by names (``exercises/day1/x.py``)."""
        if not text or os.sep not in text:
            return text
        labels = {"tree": "exercises", "home": "$HOME", "reference": "reference", "kit": "<kit>",
                  "box": "<grading folder>", "work": "<grading folder>"}
        for alias, _, role in self._aliases:
            if role in labels and alias in text:
                text = re.sub(re.escape(alias) + r"(?![\w.-])", labels[role], text)  # no backslash in a label
        return text


def _unreal(path: str) -> str:
    """``path`` as a caller may spell it: through ``$TMPDIR`` when that is a link (macOS)."""
    import tempfile

    tmp = tempfile.gettempdir()
    real_tmp = os.path.realpath(tmp)
    if tmp != real_tmp and (path == real_tmp or path.startswith(real_tmp + os.sep)):
        return tmp + path[len(real_tmp):]
    return path


def _proc(path: str) -> str:
    """``/proc/<this pid>/...`` as ``/proc/self/...`` (process ids differ between runs)."""
    def pid(m: re.Match) -> str:
        return "/proc/self" if int(m.group(1)) == os.getpid() else "/proc/<pid>"

    return _TASK.sub("/task/<tid>", _PROC.sub(pid, path)) if path.startswith("/proc/") else path


def load_roles(tree: str) -> dict[str, list[str]]:
    """The roles ``drills grade`` wrote beside its submissions' folders (``{}`` when none)."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(tree))), ROLES_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return {k: [str(p) for p in v] for k, v in data.items() if isinstance(v, list)} if isinstance(data, dict) else {}
