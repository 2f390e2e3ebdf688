"""``drills similar SUBMISSION... --out DIR``: pairs of submissions whose exercise code is alike.

Each exercise module (``day1/tensors.py``) of every submission is tokenised and fingerprinted
by copydetect (winnowed k-gram hashes, as MOSS: names, strings and layout do not matter), with
the fingerprints of the stub the students started from taken out (its signatures, docstrings
and helpers are everyone's), and with ``ignore_reference`` those of the reference too. Pairs
that share at least ``threshold`` of either file's fingerprinted code and ``min_tokens``
tokens are listed, most similar first, in ``similarity.csv``, ``similarity.json`` and
``similarity.html`` (side by side, the matching code highlighted). When DIR holds a grading
run's reports, ``summary.html`` lists the pairs too. Only pairs that share a fingerprint are
compared, so a class of 300 takes seconds.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from graders.grading import atomic

NOISE, GUARANTEE = 25, 30  # copydetect's defaults: k-grams of 25 tokens, a match of 30 always seen


@dataclass(frozen=True)
class Pair:
    """Two submissions' versions of one file and how much of each the other shares."""

    a: str
    b: str
    file: str
    similarity_a: float
    similarity_b: float
    tokens: int

    @property
    def similarity(self) -> float:
        return max(self.similarity_a, self.similarity_b)


def _fingerprint(name: str, code: str, boilerplate):
    from copydetect import CodeFingerprint

    return CodeFingerprint(name, NOISE, GUARANTEE - NOISE + 1, boilerplate=boilerplate, fp=io.StringIO(code))


def _boilerplate(rel: str, ignore_reference: bool):
    import numpy as np

    from graders.core.paths import EXERCISES_DIR, REFERENCE_DIR

    hashes: set[int] = set()
    for root in (EXERCISES_DIR, REFERENCE_DIR) if ignore_reference else (EXERCISES_DIR,):
        path = root / rel
        if path.is_file():
            hashes |= _fingerprint(str(path), path.read_text(encoding="utf-8"), None).hashes
    return np.array(sorted(hashes), dtype=np.int64)


def compare(files: dict[str, dict[str, str]], *, threshold: float = 0.5, min_tokens: int = 40,
            ignore_reference: bool = False) -> tuple[list[Pair], dict]:
    """Similar pairs among ``files`` (``{submission: {"day1/tensors.py": code}}``), and the
    fingerprints kept for the side-by-side view (``{(submission, file): CodeFingerprint}``)."""
    from copydetect import compare_files

    modules = sorted({rel for f in files.values() for rel in f})
    prints: dict = {}
    pairs: list[Pair] = []
    for rel in modules:
        boilerplate = _boilerplate(rel, ignore_reference)
        mine = {s: _fingerprint(rel, f[rel], boilerplate) for s, f in sorted(files.items()) if rel in f}
        index: dict[int, list[str]] = {}
        for s, fp in mine.items():
            for h in fp.hashes:
                index.setdefault(h, []).append(s)
        candidates = {pair for names in index.values() for pair in itertools.combinations(names, 2)}
        for a, b in sorted(candidates):
            tokens, (sa, sb), _ = compare_files(mine[a], mine[b])
            if tokens >= min_tokens and max(sa, sb) >= threshold:
                pairs.append(Pair(a, b, rel, round(float(sa), 4), round(float(sb), 4), int(tokens)))
                prints[(a, rel)], prints[(b, rel)] = mine[a], mine[b]
    pairs.sort(key=lambda p: (-p.similarity, p.a, p.b, p.file))
    return pairs, prints


def read_submissions(paths: list[Path], days: list[str]) -> dict[str, dict[str, str]]:
    """The exercise files of each submission, named as ``drills grade`` names them."""
    from graders.grading import intake
    from graders.grading.names import submission_names  # the one naming rule of the reports

    paths = sorted({p.resolve(): p for p in paths}.values(), key=lambda p: str(p))
    out = {}
    for name, path in zip(submission_names(paths), paths):
        sub = intake.read(path, set(days), name=name)
        out[name] = {rel: data.decode("utf-8", "replace") for rel, data in sub.files.items()}
    return out


def write(out: Path, pairs: list[Pair], prints: dict, *, threshold: float, min_tokens: int) -> None:
    """similarity.csv, similarity.json and similarity.html in ``out``."""
    from graders.course.similarity_page import render

    out.mkdir(parents=True, exist_ok=True)
    fh = io.StringIO(newline="")
    w = csv.writer(fh)
    w.writerow(["a", "b", "file", "similarity", "similarity_a", "similarity_b", "shared_tokens"])
    for p in pairs:
        w.writerow([p.a, p.b, p.file, f"{p.similarity:.3f}", f"{p.similarity_a:.3f}", f"{p.similarity_b:.3f}",
                    p.tokens])
    atomic.write(out / "similarity.csv", fh.getvalue())
    doc = {"threshold": threshold, "min_tokens": min_tokens,
           "pairs": [{**asdict(p), "similarity": p.similarity} for p in pairs]}
    atomic.write(out / "similarity.json", json.dumps(doc, indent=1, sort_keys=True) + "\n")
    atomic.write(out / "similarity.html", render(pairs, prints, threshold=threshold))


def main(*, submissions: list[Path], out: Path, days: str = "", threshold: float = 0.5, min_tokens: int = 40,
         ignore_reference: bool = False) -> int:
    """Run ``drills similar``; return the exit status."""
    from graders.core import registry

    missing = [str(p) for p in submissions if not Path(p).exists()]
    if missing:
        print(f"drills similar: no such submission: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not 0 < threshold <= 1:
        print("drills similar: --threshold is a share, above 0 and at most 1", file=sys.stderr)
        return 2
    try:
        selected = registry.parse_days(days)
    except ValueError as exc:
        print(f"drills similar: {exc}", file=sys.stderr)
        return 2
    files = read_submissions([Path(p) for p in submissions], selected)
    pairs, prints = compare(files, threshold=threshold, min_tokens=min_tokens, ignore_reference=ignore_reference)
    out = Path(out)
    write(out, pairs, prints, threshold=threshold, min_tokens=min_tokens)
    print(f"{len(pairs)} similar pair(s) among {len(files)} submissions: {out / 'similarity.html'}")
    if (out / "grades.json").exists():  # a report folder: list the pairs in summary.html too
        from graders.course import report

        return report.main(out=out, quiet=True)
    return 0
