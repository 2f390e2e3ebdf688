"""What a report folder remembers of the staff's files: ``course.json`` beside ``grades.json``.

``drills grade ... --roster roster.csv --due ...`` and ``drills report OUT --overrides ...``
save their settings there (files by absolute path, read again each time), so that a later
``drills report OUT`` or a regrade into OUT applies the same roster, deadline and overrides,
with the files' current contents. An option given on the command line replaces the saved one;
``none`` drops it (``--overrides none``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from graders.grading import atomic

FILE = "course.json"
FEEDBACK = ("all", "public")


@dataclass(frozen=True)
class Settings:
    """The staff's inputs to the reports; paths are absolute, "" means not set."""

    roster: str = ""
    due: str = ""
    late_policy: str = ""
    extensions: str = ""
    timestamps: str = ""
    overrides: str = ""
    feedback: str = "all"
    assignment: str = "Deep Learning Drills"

    @property
    def staffed(self) -> bool:
        """True when anything changes the grades or their columns (not only the page)."""
        return bool(self.roster or self.due or self.overrides or self.timestamps or self.feedback != "all")

    def path(self, name: str) -> Path | None:
        value = getattr(self, name)
        return Path(value) if value else None


def load(out: Path) -> Settings:
    """The settings saved in ``out`` (defaults when there are none or they cannot be read)."""
    text = atomic.read_text(Path(out) / FILE)
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        doc = {}
    known = {f.name for f in fields(Settings)}
    return Settings(**{k: str(v) for k, v in doc.items() if k in known}) if isinstance(doc, dict) else Settings()


def merge(saved: Settings, **given: str | Path | None) -> Settings:
    """``saved`` with the options given (None: not given; ``none`` or "": dropped). Paths are
    made absolute; a feedback mode other than ``all``/``public`` is a ValueError."""
    changes: dict[str, str] = {}
    for name, value in given.items():
        if value is None:
            continue
        text = str(value).strip()
        if text.lower() == "none":
            text = ""
        if name in ("roster", "extensions", "timestamps", "overrides") and text:
            text = str(Path(text).expanduser().resolve())
        changes[name] = text
    if "feedback" in changes:
        changes["feedback"] = changes["feedback"] or "all"
        if changes["feedback"] not in FEEDBACK:
            raise ValueError(f"--feedback is 'all' or 'public', not {changes['feedback']!r}")
    return replace(saved, **changes)


def save(out: Path, settings: Settings) -> None:
    """Write ``course.json`` (only when something is set, so a plain grading run adds nothing)."""
    if settings != Settings() or (Path(out) / FILE).exists():
        atomic.write(Path(out) / FILE, json.dumps(asdict(settings), indent=1, sort_keys=True) + "\n")
