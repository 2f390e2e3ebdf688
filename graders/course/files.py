"""Reading the staff's own CSV files (roster, overrides, extensions, timestamps).

Headers are compared without case or surrounding blanks; a UTF-8 byte-order mark (Excel's)
is fine. A missing file, a missing column or a bad value is a :class:`StaffFileError` that
names the file, the line and the column, so the instructor can fix it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path


class StaffFileError(ValueError):
    """A staff file that cannot be used as it is (exit status 2)."""


def read_rows(path: Path, *, required: tuple[str, ...], what: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of the CSV file ``path`` as ``(line number, {column: value})``, columns named
    in lower case; ``required`` columns must be there. ``what`` names the file in errors."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StaffFileError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise StaffFileError(f"the {what} {path} is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise StaffFileError(f"the {what} {path} is empty")
    names = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise StaffFileError(f"the {what} {path} has no column {', '.join(missing)} "
                             f"(its columns: {', '.join(names)})")
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        line = reader.line_num
        rows.append((line, {n: (values[i].strip() if i < len(values) else "") for i, n in enumerate(names) if n}))
    return rows


def where(path: Path, line: int) -> str:
    """``roster.csv line 4``: where a value came from, for messages."""
    return f"{Path(path).name} line {line}"
