"""Shared pieces of the day-5 graders: a quiet, deterministic TensorFlow and numpy comparisons.

Import order matters with the pinned versions: torch and triton must be loaded before
TensorFlow (loading triton after TensorFlow crashes the interpreter), so this module imports
them first, and every day-5 grader imports TensorFlow through it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import torch

try:
    import triton  # noqa: F401
except Exception:  # noqa: BLE001 - triton is optional (CPU-only builds)
    pass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", module=r"keras(\.|$)")
warnings.filterwarnings("ignore", module=r"tensorflow(\.|$)")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from graders.checks import assert_close, fail  # noqa: E402

__all__ = [
    "ATOL", "keras", "tf", "as_array", "assert_np_close", "no_keras_training_loop", "set_weights",
    "tf_seed", "torch_out",
]

ATOL = 1e-5


def _configure() -> None:
    """TF32 off in both frameworks, quiet logs, few threads fighting over the cores."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    tf.config.experimental.enable_tensor_float_32_execution(False)
    tf.get_logger().setLevel("ERROR")
    try:  # only possible before TensorFlow's runtime starts
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover
        pass


_configure()


@pytest.fixture(autouse=True)
def tf_seed() -> Iterator[None]:
    """Every day-5 check starts with Python, numpy and TensorFlow seeded to 0 (import it in a module)."""
    keras.utils.set_random_seed(0)
    yield


def as_array(value: Any, what: str) -> np.ndarray:
    """``value`` (numpy array, tf tensor, Keras tensor, or list) as a numpy array, or a clear failure."""
    __tracebackhide__ = True
    if isinstance(value, torch.Tensor):
        fail(f"{what} returned a torch.Tensor; expected a numpy array (or a TensorFlow tensor).")
    try:
        return np.asarray(value)
    except Exception as exc:  # noqa: BLE001
        fail(f"{what} returned {type(value).__name__}, which is not array-like ({exc}).")
    raise AssertionError  # unreachable


def assert_np_close(got: Any, expected: Any, *, what: str, atol: float = ATOL, rtol: float = 0.0) -> None:
    """Compare arrays (numpy or tf) in float64 with the kit's student-worded messages."""
    __tracebackhide__ = True
    g = as_array(got, what)
    e = np.asarray(expected)
    if g.shape != e.shape:
        fail(f"{what} has shape {g.shape}, expected {e.shape}.")
    if not np.issubdtype(g.dtype, np.number):
        fail(f"{what} has dtype {g.dtype}, expected numbers like {e.dtype}.")
    assert_close(torch.from_numpy(g.astype(np.float64)), torch.from_numpy(e.astype(np.float64)),
                 rtol=rtol, atol=atol, what=what)


def torch_out(module: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """``module(x)`` under no_grad, as numpy (the module's mode is left as it is)."""
    with torch.no_grad():
        out = module(torch.from_numpy(np.ascontiguousarray(x)))
    if isinstance(out, tuple):
        out = out[0]
    return out.numpy()


def set_weights(layer: Any, weights: Any, *, what: str, layer_text: str) -> None:
    """``layer.set_weights(weights)``, turning Keras's errors into a student-worded failure."""
    __tracebackhide__ = True
    if not isinstance(weights, (list, tuple)):
        fail(f"{what} returned {type(weights).__name__}; expected a list of numpy arrays.")
    expected = [tuple(w.shape) for w in layer.weights]
    got = [tuple(np.shape(w)) for w in weights]
    if len(got) != len(expected) or got != expected:
        fail(f"{what} returned arrays of shapes {got}, but {layer_text} expects {expected} "
             f"(in this order).")
    for i, w in enumerate(weights):
        if not isinstance(w, np.ndarray):
            fail(f"{what}[{i}] is a {type(w).__name__}; expected a numpy array.")
        if w.dtype != np.float32:
            fail(f"{what}[{i}] has dtype {w.dtype}; expected float32.")
    layer.set_weights(list(weights))


_LOOP_METHODS = ("compile", "fit", "train_on_batch")


@contextmanager
def no_keras_training_loop(what: str, why: str) -> Iterator[None]:
    """Fail the check if the code run inside calls ``compile``, ``fit`` or ``train_on_batch``.

    The methods are replaced on ``keras.Model`` for the duration of the block (cheaper than a
    profile hook around TensorFlow, and it stops the call before any tracing happens).
    """
    __tracebackhide__ = True
    seen: list[str] = []

    def blocked(name: str):
        def method(self, *args, **kwargs):
            seen.append(name)
            raise RuntimeError(f"Model.{name} is not allowed in {what}")

        return method

    saved = {name: keras.Model.__dict__.get(name) for name in _LOOP_METHODS}
    for name in _LOOP_METHODS:
        setattr(keras.Model, name, blocked(name))
    try:
        yield
    except Exception:
        if not seen:
            raise
    finally:
        for name, value in saved.items():
            if value is None:
                delattr(keras.Model, name)
            else:
                setattr(keras.Model, name, value)
    if seen:
        calls = ", ".join(f"`model.{name}`" for name in dict.fromkeys(seen))
        fail(f"{what} calls {calls}, which is not allowed in this exercise: {why}")
