"""Is the feedback worded for a student: the right hint, whole sentences, inputs with names,
numbers that differ when they differ, and a scoreboard that says what it counted?"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from conftest import KIT, run_pytest

pytestmark = pytest.mark.timeout(600)


def _tree(tmp_path: Path, day: str, files: dict[str, str]) -> Path:
    """A submission-like tree: the reference of ``day`` with some files replaced."""
    root = tmp_path / "submission"
    shutil.copytree(KIT / "reference" / day, root / day)
    for name, text in files.items():
        (root / day / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def _failure(message: str, **kwargs):
    from graders.checks import DrillsFailure

    with pytest.raises(DrillsFailure) as info:
        from graders.checks import assert_close

        assert_close(*kwargs.pop("args"), **kwargs)
    return info.value


# --- messages composed from parts (in process) -------------------------------------------------


def test_sentence_what_is_never_continued_by_a_fragment():
    """Is a what= that is a full sentence printed whole, followed by a sentence of its own?"""
    import torch

    exc = _failure("", args=(torch.zeros(3), torch.ones(3)),
                   what="The loss went up after step 2, or gradients add up across steps.")
    text = str(exc)
    assert "steps. is not" not in text and "steps. The value is not close enough" in text, text


def test_advice_follows_the_numbers_and_marks_a_diagnosis():
    """Does advice= come after the numbers, and does it mark the failure as diagnosed?"""
    import torch

    exc = _failure("", args=(torch.zeros(3), torch.ones(3)), what="parameter w after step 1",
                   advice="Call optimizer.zero_grad() first.", hint="Look at the .grad.")
    text = str(exc)
    assert text.startswith("parameter w after step 1 is not close enough")
    assert text.endswith("Call optimizer.zero_grad() first."), text
    assert exc.diagnosed and exc.hint == "Look at the .grad."


def test_plain_comparison_is_not_a_diagnosis():
    """Is a comparison without advice left undiagnosed (so the exercise's hint is the hint)?"""
    import torch

    exc = _failure("", args=(torch.zeros(3), torch.ones(3)), what="f(x)")
    assert not exc.diagnosed and exc.hint == ""


def test_values_that_print_the_same_get_more_digits():
    """Do two different numbers never print alike ("got 0.518431, expected 0.518431")?"""
    import torch

    got = torch.tensor([0.5184310001], dtype=torch.float64)
    expected = torch.tensor([0.5184310002], dtype=torch.float64)
    text = str(_failure("", args=(got, expected), rtol=0.0, atol=0.0, what="f(x)"))
    shown = text.split("got ", 1)[1].split(" (allowed")[0]
    got_s, expected_s = shown.split(", expected ")
    assert got_s != expected_s, text


def test_nan_is_named_not_measured():
    """Is a NaN reported as NaN, never as a difference of nan?"""
    import torch

    text = str(_failure("", args=(torch.tensor([1.0, float("nan")]), torch.ones(2)), what="f(x)"))
    assert "has NaN where it should not" in text and "difference is nan" not in text, text


def test_a_check_hint_replaces_the_exercise_hint():
    """Is a check's own hint printed as the hint, and the exercise's labelled where the failure
    already gives a diagnosis?"""
    from graders.core import registry
    from graders.plugin import feedback

    ex = registry.by_id()["day2.training.train_step"]
    own = feedback.compose(ex, question="q", problem="p", check_hint="Zero the grads.")
    assert "Hint: Zero the grads." in own and ex.hints[0] not in own
    diagnosed = feedback.compose(ex, question="q", problem="p", diagnosed=True)
    assert "\nHint:" not in diagnosed
    assert f"The exercise's first hint (general, not about this failure): {ex.hints[0]}" in diagnosed
    plain = feedback.compose(ex, question="q", problem="p")
    assert f"Hint: {ex.hints[0]}" in plain


def test_drawn_tuple_is_shown_with_the_graders_names():
    """Is `case=(4, 2, False)` shown with the names the grader unpacks it into?"""
    from graders.plugin import feedback

    def test_something(case):
        embed, heads, causal = case
        return embed, heads, causal

    exc = AssertionError("x")
    exc.add_note("Falsifying example: test_something(\n    case=(4, 2, False),\n)")
    shown = feedback.falsifying_input(exc, test_something)
    assert shown == "case: embed=4, heads=2, causal=False", shown


def test_torchscript_trace_keeps_only_student_frames():
    """Does a TorchScript error lose the frames of the graders and of torch?"""
    from graders.plugin import feedback

    student = KIT / "exercises" / "day6" / "export.py"
    text = textwrap.dedent(f'''\
        The following operation failed in the TorchScript interpreter.
        Traceback of TorchScript (most recent call last):
          File "{KIT / 'graders' / 'day6' / 'test_export.py'}", line 10, in check
            return model(x)
                   ~~~~~ <--- HERE
          File "{student}", line 5, in forward
            return x.view(-1, 3)
                   ~~~~~~ <--- HERE
        RuntimeError: shape '[-1, 3]' is invalid for input of size 4''')
    exc = RuntimeError(text)
    shown = feedback.student_message(exc)
    assert "graders" not in shown and str(student) in shown and "x.view" in shown
    assert shown.endswith("input of size 4")


def test_a_copy_made_for_other_processes_is_shown_as_the_students_file():
    """Is a frame of the copy of the student's module that other processes import (a temporary
    folder of a new name on every run) shown as the student's own day6/module.py, so that the
    feedback is the same on every run?"""
    from graders.plugin import feedback

    texts = []
    for folder in ("drills_day6_hu7uv7vz", "drills_day6_7992e8by"):
        copy = f"/tmp/{folder}/_drills_student/day6/distributed.py"
        exc = RuntimeError(f'Traceback (most recent call last):\n  File "{copy}", line 69, in _worker\n'
                           f'    loss.backward()\nValueError: no gradients')
        texts.append(feedback.student_message(exc))
    assert texts[0] == texts[1], texts
    assert 'File "day6/distributed.py", line 69, in _worker' in texts[0], texts[0]


# --- as a student runs pytest (subprocesses) ---------------------------------------------------


def test_student_notimplemented_for_one_case_is_failed(tmp_path):
    """Is code that raises its own NotImplementedError for one case, after passing others,
    "failed" (not "not started"), with the student's message shown?"""
    src = (KIT / "reference/day1/tensors.py").read_text().replace(
        "    mask = mask.expand_as(x)\n",
        "    if not bool(mask.any()):\n        raise NotImplementedError('empty masks')\n"
        "    mask = mask.expand_as(x)\n", 1)
    root = _tree(tmp_path, "day1", {"tensors.py": src})
    code, out, report = run_pytest("exercises/day1/tensors.py", "--drills-target", str(root),
                                   "--drills-exercise", "masked_mean")
    assert code != 0
    entry = report["exercises"]["day1.tensors.masked_mean"]
    assert entry["status"] == "failed" and 0 < entry["points"] < entry["max_points"], entry
    assert "NotImplementedError: empty masks" in out and "not started" not in entry["feedback"]


def test_training_diagnosis_reads_as_sentences(tmp_path):
    """Does a missing zero_grad read as whole sentences, the diagnosis after the numbers, and
    the exercise's generic hint labelled as such?"""
    src = (KIT / "reference/day2/training.py").read_text()
    body = src.split("def train_step", 1)[1]
    broken = body.replace("    optimizer.zero_grad()\n", "", 1)
    root = _tree(tmp_path, "day2", {"training.py": src.replace(body, broken)})
    code, out, report = run_pytest("exercises/day2/training.py", "--drills-target", str(root),
                                   "--drills-exercise", "day2.training.train_step")
    assert code != 0
    feedback = report["exercises"]["day2.training.train_step"]["feedback"]
    assert "steps. is not" not in feedback
    assert "zero_grad" in feedback.split("What went wrong:")[1].split("\n\n")[0], feedback
    assert "\nHint:" not in feedback and "The exercise's first hint (general" in feedback


def test_exact_k_and_short_exercise_ids(kit):
    """Does `-k gradient` select the exercise gradient only (not numerical_gradient), does
    `--drills-exercise autograd.gradient` take the short id, and does an unknown id stop the run
    with a did-you-mean and exit status 2?"""
    code, out, report = run_pytest("exercises/day1/autograd.py", "--drills-target", "reference",
                                   "-k", "gradient")
    assert code == 0, out[-2000:]
    assert list(report["exercises"]) == ["day1.autograd.gradient"]
    code, out, report = run_pytest("exercises/day1/autograd.py", "--drills-target", "reference",
                                   "--drills-exercise", "autograd.gradient")
    assert code == 0 and list(report["exercises"]) == ["day1.autograd.gradient"], out[-2000:]
    code, out, report = run_pytest("exercises/day1/autograd.py", "--drills-exercise", "gradiant")
    assert code == 2 and report is None
    assert "no exercise 'gradiant'" in out and "did you mean" in out


def test_board_lists_only_what_ran(kit):
    """Do --collect-only and -x print only the exercises whose checks ran, and say so?"""
    code, out, report = run_pytest("exercises/day1/devices.py", "--collect-only")
    assert code == 0 and report["exercises"] == {}, out[-2000:]
    assert "No check ran (--collect-only" in out and "failed" not in out.split("scoreboard")[1]
    code, out, report = run_pytest("exercises/day1/devices.py", "-x")
    assert code != 0
    assert list(report["exercises"]) == ["day1.devices.pick_device"], report
    assert report["not_run"] == ["day1.devices.move_to"]
    assert "Only the exercises whose checks ran are listed" in out and "stopped early" in out


def test_board_explains_credit_and_checks_not_run_here(kit):
    """Does the board say how partial credit is counted, and that a passed exercise with a GPU
    check not run here passed?"""
    code, out, report = run_pytest("exercises/day1/devices.py", "--drills-target", "reference")
    assert code == 0, out[-2000:]
    board = out.split("scoreboard")[1]
    assert "shared equally by its checks" in board
    if report["exercises"]["day1.devices.move_to"]["not_assessed"]:
        assert "(passed; check not run here, at no cost: no CUDA device" in board, board
        assert "not assessed" not in board
