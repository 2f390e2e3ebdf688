"""Do the graders' own oracles agree with the libraries whose rules they reproduce?

Some graders reimplement a library's rule instead of importing the library (which would be a
heavy or missing dependency where the exercise is graded): day 2's ``keras_rule`` is Keras'
``EarlyStopping``. Here each one is run side by side with the real library, where it is
installed.
"""

from __future__ import annotations

import math
import types

import pytest
from hypothesis import given, settings, strategies as st

from graders.day2.test_training import keras_rule

_GRID = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, -0.5])


@pytest.mark.slow
@pytest.mark.timeout(300)
@settings(max_examples=60, deadline=None)
@given(first=_GRID, rest=st.lists(st.one_of(_GRID, _GRID, st.sampled_from(
    [math.nan, math.inf, -math.inf])), max_size=9), patience=st.integers(1, 4),
       min_delta=st.sampled_from([0.0, 0.25, 0.5]), mode=st.sampled_from(["min", "max"]))
def test_keras_rule_is_keras_early_stopping(first, rest, patience, min_delta, mode):
    """Step by step, are best, best_epoch, the wait and stopping those of keras.callbacks.EarlyStopping?

    The first value is finite: Keras 3 starts from best=None, so a first NaN or inf would
    "improve" there, while the curriculum pins tf.keras 2's start at +-inf (NaN never improves).
    """
    keras = pytest.importorskip("keras")
    metrics = [first, *rest]
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                             min_delta=min_delta, mode=mode)
    model = types.SimpleNamespace(stop_training=False)
    callback.set_model(model)
    callback.on_train_begin()
    expected = keras_rule(metrics, patience, min_delta, mode)
    for epoch, (value, (stopped, best, best_epoch, bad)) in enumerate(zip(metrics, expected)):
        callback.on_epoch_end(epoch, {"val_loss": value})
        got = (float(callback.best), callback.best_epoch, callback.wait, model.stop_training)
        assert got == (best, best_epoch, bad, stopped), (metrics[:epoch + 1], got)
