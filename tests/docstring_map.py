"""Which checks test which sentence of an exercise's docstring: the tables in tests/docstrings/.

For every exercise, its stub's docstring is cut into sentences (the ``Example:`` block left
out) and each sentence is matched with the exercise's checks that name what it names: a
``literal`` of the sentence (an argument, a value, an exception) found in the check's source or
question. A sentence no check names is listed with no check, for a person to read: either a
check covers it in other words, or it needs one. ``python tests/docstring_map.py`` writes the
tables; tests/test_docstring_map.py proves they are current and that every exception a
docstring promises is expected by a check.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
if str(KIT) not in sys.path:
    sys.path.insert(0, str(KIT))

from graders.core import registry  # noqa: E402

OUT = KIT / "tests" / "docstrings"
_LITERAL = re.compile(r"``([^`]+)``")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*|\d+(?:\.\d+)?")
_SECTION = re.compile(r"^(Args|Arguments|Returns|Raises|Example|Examples|Yields|Note|Notes):\s*(.*)$")
_STOP = {"x", "t", "a", "b", "i", "j", "k", "n", "p", "0", "1", "2", "None", "True", "False", "int",
         "float", "str", "list", "tuple", "dict", "torch", "Tensor", "tensor", "nn"}


@dataclass(frozen=True)
class Check:
    name: str
    question: str
    source: str


def _stub_doc(ex: registry.Exercise) -> str:
    tree = ast.parse(ex.stub_file.read_text("utf-8"))
    node = next(n for n in tree.body if getattr(n, "name", None) == ex.name)
    return ast.get_docstring(node) or ""


def sentences(doc: str) -> list[tuple[str, str]]:
    """(section, sentence) pairs of a docstring; the Example block is left out."""
    section, paragraphs, current = "", [], []
    for line in doc.splitlines():
        head = _SECTION.match(line.strip())
        if head and not line.startswith(" "):
            if current:
                paragraphs.append((section, " ".join(current)))
            section, current = head.group(1), [head.group(2)] if head.group(2) else []
            continue
        if not line.strip():
            if current:
                paragraphs.append((section, " ".join(current)))
            current = []
            continue
        if section in ("Args", "Raises") and re.match(r"^\s{4}\S", line) and current:
            paragraphs.append((section, " ".join(current)))  # one argument or exception each
            current = []
        current.append(line.strip())
    if current:
        paragraphs.append((section, " ".join(current)))
    out = []
    for section, text in paragraphs:
        if section.startswith("Example"):
            continue
        for s in re.split(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.;])\s+(?=[A-Z`(])", text):
            if len(s.strip()) > 3:
                out.append((section or "text", s.strip()))
    return out


def checks(ex: registry.Exercise) -> list[Check]:
    """The exercise's checks, each with its question and the source it runs (with the module's
    helper functions it calls, one level down)."""
    path = ex.grader_file
    text = path.read_text("utf-8")
    tree = ast.parse(text)
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    out = []
    for name, node in funcs.items():
        if not name.startswith("test_"):
            continue
        owner = registry.owner(ex.day, ex.module.split(".")[1], name)
        if owner is None or owner.id != ex.id:
            continue
        called = {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call)
                  and isinstance(c.func, ast.Name) and c.func.id in funcs}
        parts = [ast.get_source_segment(text, node) or ""]
        parts += [ast.get_source_segment(text, funcs[c]) or "" for c in sorted(called)]
        decorators = [ast.get_source_segment(text, d) or "" for d in node.decorator_list]
        out.append(Check(name, ast.get_docstring(node) or "", "\n".join(decorators + parts)))
    return out


def _terms(sentence: str) -> set[str]:
    literals = _LITERAL.findall(sentence)
    words = {w for lit in literals for w in _WORD.findall(lit)} or set(_WORD.findall(sentence))
    return {w for w in words if w not in _STOP and len(w) > 1}


def matching(sentence: str, found: list[Check]) -> list[str]:
    """The checks whose source or question names a term of the sentence (its literals first)."""
    terms = _terms(sentence)
    if not terms:
        return []
    scored = []
    for c in found:
        hay = c.source + "\n" + c.question
        hits = sum(1 for t in terms if re.search(rf"(?<![A-Za-z0-9_]){re.escape(t)}(?![A-Za-z0-9_])", hay))
        if hits and hits >= min(2, len(terms)):
            scored.append((-hits, c.name))
    return [name for _, name in sorted(scored)[:4]]


def raised(ex: registry.Exercise) -> list[str]:
    """The exception types the docstring's Raises section promises (a sentence that allows
    "another exception" promises only that something is raised)."""
    return sorted({m for section, s in sentences(_stub_doc(ex))
                   if section == "Raises" and "or another exception" not in s
                   for m in re.findall(r"\b([A-Z][A-Za-z]*(?:Error|Exception))\b", s)})


def table(day: str) -> str:
    lines = [f"# {day}: docstring sentences and the checks that name them", "",
             "Generated by `python tests/docstring_map.py`; a sentence with no check listed is",
             "covered in other words or needs a check (read it).", ""]
    for ex in (e for e in registry.exercises() if e.day == day):
        found = checks(ex)
        lines += [f"## {ex.id}", "", "| section | sentence | checks |", "|---|---|---|"]
        for section, s in sentences(_stub_doc(ex)):
            names = ", ".join(f"`{n}`" for n in matching(s, found)) or "-"
            lines.append(f"| {section} | {s.replace('|', '/')} | {names} |")
        lines += ["", "Checks: " + ", ".join(f"`{c.name}`" for c in found), ""]
    return "\n".join(lines)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for day in registry.days():
        (OUT / f"{day}.md").write_text(table(day), "utf-8")
        print(f"wrote {OUT / f'{day}.md'}")


if __name__ == "__main__":
    main()
