"""Does `drills similar` find two copied solutions, renamed and re-commented, and leave alone the
students who only have the stub or wrote their own code? Is the matching code shown side by
side, and are the pairs listed in summary.html?"""

from __future__ import annotations

import json
import re
from pathlib import Path

import course_class

from graders.core.paths import EXERCISES_DIR, REFERENCE_DIR
from graders.course import similarity

OWN_TENSORS = '''
def describe(t):
    info = {}
    info["shape"] = tuple(int(s) for s in t.size())
    info["dtype"], info["device"] = str(t.dtype), str(t.device)
    info["stride"] = t.stride()
    info["storage_offset"] = t.storage_offset()
    info["is_contiguous"] = t.is_contiguous()
    info["numel"] = t.numel()
    info["requires_grad"], info["is_leaf"] = t.requires_grad, t.is_leaf
    return info


def pairwise_sq_dists(x, y):
    diff = x[:, None, :] - y[None, :, :]
    return (diff ** 2).sum(-1)
'''


def _renamed(code: str) -> str:
    """The reference with its local names changed and a comment on every function: a copy."""
    for old, new in (("xx", "norms_a"), ("yy", "norms_b"), (r"\bd\b", "dist"), (r"\bt\b", "tensor_in")):
        code = re.sub(old, new, code)
    return code.replace("    return", "    # my own work\n    return")


def make_class(root: Path) -> list[Path]:
    """ann (the reference), ben (ann's copy, renamed), cat (the stub), dan (own code)."""
    stub = (EXERCISES_DIR / "day1" / "tensors.py").read_text()
    ref = (REFERENCE_DIR / "day1" / "tensors.py").read_text()
    codes = {"ann": ref, "ben": _renamed(ref), "cat": stub, "dan": stub + OWN_TENSORS}
    for name, code in codes.items():
        (root / name / "day1").mkdir(parents=True)
        (root / name / "day1" / "tensors.py").write_text(code)
    return sorted(root.iterdir())


def test_copied_solutions_are_paired_and_the_stub_is_not(tmp_path):
    """Is ann & ben the one pair above the threshold, although ben renamed the variables?"""
    files = similarity.read_submissions(make_class(tmp_path / "subs"), ["day1"])
    pairs, _ = similarity.compare(files, threshold=0.5)
    assert [(p.a, p.b, p.file) for p in pairs] == [("ann", "ben", "day1/tensors.py")], pairs
    assert pairs[0].similarity > 0.9 and pairs[0].tokens >= 40


def test_stub_code_alone_never_matches(tmp_path):
    """Do two students who handed in the untouched stub share nothing (the stub is left out)?"""
    stub = (EXERCISES_DIR / "day1" / "tensors.py").read_text()
    pairs, _ = similarity.compare({"x": {"day1/tensors.py": stub}, "y": {"day1/tensors.py": stub}}, threshold=0.05,
                                  min_tokens=1)
    assert pairs == []


def test_the_page_shows_the_pair_side_by_side_and_the_summary_lists_it(tmp_path):
    """Does similarity.html highlight the shared code, and summary.html link the pair?"""
    out = course_class.write(tmp_path / "out", [course_class.record(n, {}) for n in ("ann", "ben", "cat", "dan")])
    assert similarity.main(submissions=make_class(tmp_path / "subs"), out=out, threshold=0.5) == 0
    page = (out / "similarity.html").read_text()
    assert 'id="pair-1"' in page and "<mark>" in page and "norms_a" in page
    doc = json.loads((out / "similarity.json").read_text())
    assert [(p["a"], p["b"]) for p in doc["pairs"]] == [("ann", "ben")]
    assert "similarity.html#pair-1" in (out / "summary.html").read_text()
    assert (out / "similarity.csv").read_text().splitlines()[1].startswith("ann,ben,day1/tensors.py,")
