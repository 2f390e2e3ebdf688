"""Can TensorFlow graders and torch code share one pytest session without crashing?

With the pinned versions, importing triton after TensorFlow kills the interpreter (torch's
optimizers and torchvision import triton lazily). The plugin imports torch and triton before any
grader module, and the day-5 modules import them before TensorFlow; this runs a day-5 grader
test and then a test that steps a torch optimizer, in one pytest process, as a student would.
"""

from __future__ import annotations

import textwrap

from conftest import run_pytest

AFTER_TF = textwrap.dedent(
    '''
    import sys


    def test_torch_optimizer_after_tensorflow():
        assert "tensorflow" in sys.modules, "the day-5 grader should have imported TensorFlow first"
        import torch

        p = torch.nn.Parameter(torch.ones(3))
        opt = torch.optim.SGD([p], lr=0.1)
        p.sum().backward()
        opt.step()
        import torchvision  # noqa: F401  (imports triton as well)

        assert torch.allclose(p.detach(), torch.full((3,), 0.9))
    '''
)


def test_tensorflow_grader_then_torch_optimizer(tmp_path):
    """Does a torch optimizer step still work after a TensorFlow grader ran in the same session?"""
    after = tmp_path / "test_after_tf.py"
    after.write_text(AFTER_TF)
    code, out, report = run_pytest(
        "exercises/day5/port.py", str(after), "--drills-target", "reference",
        "-k", "dense_weights or after_tensorflow", "-q",
    )
    assert code == 0, f"exit code {code} (a negative code is a signal: -11 is a segfault)\n{out[-3000:]}"
    assert "2 passed" in out, out[-3000:]
    assert report is not None and report["exercises"]["day5.port.dense_weights"]["status"] == "passed"
