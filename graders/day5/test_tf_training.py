"""Graders for day5/tf_training.py: a GradientTape step, a tf.data pipeline, digits in Keras.

``train_step`` is checked against torch: a Keras MLP holding a torch MLP's weights must, after
one plain-SGD step, hold the weights of the torch model after torch's own step.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from graders import student
from graders.checks import fail
from graders.day5._helpers import tf_seed  # noqa: F401  (autouse fixture)
from graders.day5._helpers import assert_np_close, keras, no_keras_training_loop, tf
from graders.profiles import examples

mod = student("day5.tf_training")

WHY = "write the step yourself with tf.GradientTape and the optimizer."


def _step(model, optimizer, loss_fn, x, y, what):
    __tracebackhide__ = True
    with no_keras_training_loop("train_step", WHY):
        loss = mod.train_step(model, optimizer, loss_fn, x, y)
    if not isinstance(loss, float):
        fail(f"{what} returned {type(loss).__name__} ({loss!r}); expected a Python float "
             f"(float(loss)).")
    return loss


def _ported_mlp(torch_mlp: nn.Sequential) -> keras.Sequential:
    layers = []
    for m in torch_mlp:
        if isinstance(m, nn.Linear):
            dense = keras.layers.Dense(m.out_features)
            dense.build((None, m.in_features))
            dense.set_weights([m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()])
            layers.append(dense)
        else:
            layers.append(keras.layers.ReLU())
    return keras.Sequential(layers)


def _compare_weights(keras_model, torch_mlp, initial, what):
    __tracebackhide__ = True
    denses = [layer for layer in keras_model.layers if isinstance(layer, keras.layers.Dense)]
    linears = [m for m in torch_mlp if isinstance(m, nn.Linear)]
    for i, (dense, linear) in enumerate(zip(denses, linears)):
        got = [np.asarray(v) for v in dense.weights]
        expected = [linear.weight.detach().numpy().T, linear.bias.detach().numpy()]
        for name, g, e, g0 in zip(("kernel", "bias"), got, expected, initial[i]):
            try:
                assert_np_close(g, e, what=f"{what}: the {name} of Dense layer {i}")
            except AssertionError:
                if np.array_equal(g, g0):
                    fail(f"{what}: the {name} of Dense layer {i} did not change at all; every "
                         f"trainable variable must get its gradient step (apply the gradients "
                         f"to model.trainable_variables, all of them).")
                raise


@settings(max_examples=examples(3))
@given(sizes=st.tuples(st.integers(2, 5), st.integers(2, 6), st.integers(2, 4)),
       n=st.integers(2, 6), lr=st.sampled_from([0.1, 0.5]), seed=st.integers(0, 999))
def test_train_step_matches_torch_sgd(sizes, n, lr, seed):
    """After two steps of plain SGD, do the Keras weights equal those of torch's SGD steps?"""
    d, h, c = sizes
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch_mlp = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, c))
    keras_model = _ported_mlp(torch_mlp)
    initial = [[np.asarray(v).copy() for v in layer.weights]
               for layer in keras_model.layers if isinstance(layer, keras.layers.Dense)]
    optimizer = keras.optimizers.SGD(learning_rate=lr)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for step in (1, 2):
        x = rng.normal(size=(n, d)).astype(np.float32)
        y = rng.integers(0, c, size=n)
        what = f"train_step on a Keras MLP {d}-{h}-{c}, SGD(lr={lr}), batch of {n}, step {step}"
        loss = _step(keras_model, optimizer, loss_fn, x, y, what)
        torch_mlp.zero_grad()
        torch_loss = F.cross_entropy(torch_mlp(torch.from_numpy(x)), torch.from_numpy(y))
        torch_loss.backward()
        with torch.no_grad():  # torch.optim.SGD(lr=lr) without momentum, written out
            for p in torch_mlp.parameters():
                p -= lr * p.grad
        if abs(loss - torch_loss.item()) > 1e-5:
            fail(f"{what} returned the loss {loss!r}; the batch loss before the step is "
                 f"{torch_loss.item()!r}.")
        _compare_weights(keras_model, torch_mlp, initial, what)


def _seeded(seed: int):
    def init(shape, dtype=None):
        return tf.constant(np.random.default_rng(seed).normal(0, 0.5, size=shape), dtype=dtype or "float32")

    return init


def _unbuilt_model():
    return keras.Sequential([
        keras.layers.Dense(4, activation="tanh", kernel_initializer=_seeded(1), bias_initializer=_seeded(2)),
        keras.layers.Dense(3, kernel_initializer=_seeded(3), bias_initializer=_seeded(4)),
    ])


def test_train_step_builds_and_trains_an_unbuilt_model():
    """On a model not built before the call, does the step still update every trainable variable?"""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 5)).astype(np.float32), rng.integers(0, 3, size=6)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model = _unbuilt_model()
    what = "train_step on a keras.Sequential with no input shape (not built before the call)"
    try:
        _step(model, keras.optimizers.SGD(0.5), loss_fn, x, y, what)
    except AssertionError:
        raise
    except Exception as e:  # noqa: BLE001
        fail(f"{what} raised {type(e).__name__}: {e}. This model had no variables before the "
             f"call, so model.trainable_variables was an empty list until the forward pass "
             f"built it: read model.trainable_variables after the forward pass.")
    twin = _unbuilt_model()
    twin(x[:1])
    initial = [np.asarray(v).copy() for v in twin.trainable_variables]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, twin(x, training=True))
    grads = tape.gradient(loss, twin.trainable_variables)
    keras.optimizers.SGD(0.5).apply_gradients(zip(grads, twin.trainable_variables))
    if len(model.trainable_variables) != len(twin.trainable_variables):
        fail(f"{what}: the model has {len(model.trainable_variables)} trainable variables after "
             f"the call, expected {len(twin.trainable_variables)}.")
    unchanged = [v.path for v, v0 in zip(model.trainable_variables, initial) if np.array_equal(np.asarray(v), v0)]
    if unchanged:
        fail(f"{what}: {len(unchanged)} of {len(initial)} trainable variables did not change "
             f"({', '.join(unchanged)}). A model without an input shape has no variables until "
             f"its first call: read model.trainable_variables after the forward pass.")
    for v, expected in zip(model.trainable_variables, twin.trainable_variables):
        assert_np_close(v, expected, what=f"{what}: variable {v.path} after the step")


def test_train_step_runs_the_model_in_training_mode():
    """Does the step call the model with training=True (batch norm on batch statistics)?"""
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(8, 3)) * 3 + 2).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)

    def make():
        bn = keras.layers.BatchNormalization(momentum=0.5)
        model = keras.Sequential([keras.Input(shape=(3,)), bn,
                                  keras.layers.Dense(1, kernel_initializer=_seeded(5))])
        return model, bn

    model, bn = make()
    loss_fn = keras.losses.MeanSquaredError()
    what = "train_step on BatchNormalization -> Dense with mean squared error"
    loss = _step(model, keras.optimizers.SGD(0.1), loss_fn, x, y, what)
    twin, _ = make()
    expected = float(loss_fn(y, twin(x, training=True)))
    inference = float(loss_fn(y, make()[0](x, training=False)))
    if abs(loss - expected) > 1e-5:
        extra = (" That is the loss in inference mode: call model(x, training=True)."
                 if abs(loss - inference) <= 1e-5 else "")
        fail(f"{what} returned the loss {loss!r}, expected {expected!r} (training mode).{extra}")
    mean = x.mean(0)
    assert_np_close(bn.moving_mean, 0.5 * mean, what=f"{what}: the batch norm's moving_mean after the "
                    f"step (it moves only when the model runs with training=True)")


# --- make_dataset -------------------------------------------------------------------------------

def _epoch(ds, what):
    __tracebackhide__ = True
    xs, ys, sizes = [], [], []
    try:
        for batch in ds:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                fail(f"{what} yields {type(batch).__name__} items; expected (x_batch, y_batch) pairs.")
            xb, yb = (np.asarray(b) for b in batch)
            xs.append(xb)
            ys.append(yb)
            sizes.append(len(xb))
    except TypeError as e:
        fail(f"{what} returned something that cannot be iterated as a tf.data.Dataset: {e}")
    if not xs:
        return np.empty((0,)), np.empty((0,)), sizes
    return np.concatenate(xs), np.concatenate(ys), sizes


def _dataset(x, y, batch_size, shuffle, seed, what):
    __tracebackhide__ = True
    ds = mod.make_dataset(x, y, batch_size, shuffle, seed)
    if not isinstance(ds, tf.data.Dataset):
        fail(f"{what} returned {type(ds).__name__}; expected a tf.data.Dataset.")
    return ds


def _data(n):
    x = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float32)  # row i is (i, -i)
    y = (np.arange(n) * 7 + 3).astype(np.int64)
    return x, y


def _expected_sizes(n, b):
    return [b] * (n // b) + ([n % b] if n % b else [])


@settings(max_examples=examples(6))
@given(n=st.integers(1, 20), batch_size=st.integers(1, 8))
def test_make_dataset_keeps_order_without_shuffle(n, batch_size):
    """Without shuffle, does every epoch give all rows in order, the last batch kept?"""
    x, y = _data(n)
    what = f"make_dataset(x ({n}, 2), y ({n},), batch_size={batch_size}, shuffle=False, seed=0)"
    ds = _dataset(x, y, batch_size, False, 0, what)
    for epoch in (1, 2):
        gx, gy, sizes = _epoch(ds, what)
        if sizes != _expected_sizes(n, batch_size):
            fail(f"{what}: epoch {epoch} has batches of sizes {sizes}, expected "
                 f"{_expected_sizes(n, batch_size)} (the last, partial batch is kept).")
        if gx.dtype != x.dtype or gy.dtype != y.dtype:
            fail(f"{what}: batches have dtypes {gx.dtype} and {gy.dtype}, expected x's {x.dtype} "
                 f"and y's {y.dtype}.")
        assert_np_close(gx, x, atol=0, what=f"{what}: the x rows of epoch {epoch}")
        assert_np_close(gy, y, atol=0, what=f"{what}: the y rows of epoch {epoch}")


def _order(gx, gy, x, what, epoch):
    """The permutation an epoch applied, after checking that it is one and rows stayed paired."""
    __tracebackhide__ = True
    n = len(x)
    idx = gx[:, 0].astype(np.int64) if gx.ndim == 2 else np.full(1, -1)
    if gx.shape != x.shape or sorted(idx.tolist()) != list(range(n)):
        fail(f"{what}: epoch {epoch} is not a permutation of the {n} rows (got x of shape "
             f"{gx.shape}); every row must come exactly once per epoch.")
    if not np.array_equal(gy, idx * 7 + 3):
        fail(f"{what}: in epoch {epoch} the y rows are no longer paired with their x rows; "
             f"shuffle (x, y) together.")
    return idx


def test_make_dataset_shuffles_each_epoch_reproducibly():
    """With shuffle, is each epoch a new permutation, the same sequence again for the same seed?"""
    n, b = 37, 5
    x, y = _data(n)
    what = f"make_dataset(x ({n}, 2), y ({n},), batch_size={b}, shuffle=True, seed=3)"
    ds = _dataset(x, y, b, True, 3, what)
    orders = []
    for epoch in (1, 2, 3):
        gx, gy, sizes = _epoch(ds, what)
        if sizes != _expected_sizes(n, b):
            fail(f"{what}: epoch {epoch} has batches of sizes {sizes}, expected {_expected_sizes(n, b)}.")
        orders.append(_order(gx, gy, x, what, epoch))
    if any(np.array_equal(o, np.arange(n)) for o in orders):
        fail(f"{what} kept the input order in an epoch; with shuffle=True every epoch is shuffled.")
    if np.array_equal(orders[0], orders[1]) or np.array_equal(orders[1], orders[2]):
        fail(f"{what} gave the same order in two epochs; reshuffle at every epoch "
             f"(reshuffle_each_iteration=True).")
    again = [_order(*_epoch(_dataset(x, y, b, True, 3, what), what)[:2], x, what, 1)]
    if not np.array_equal(again[0], orders[0]):
        fail(f"{what}, made twice, gave different first epochs; the same seed must give the same "
             f"sequence of epochs (pass the seed to the shuffle).")
    other = _order(*_epoch(_dataset(x, y, b, True, 4, what), what)[:2], x, what, 1)
    if np.array_equal(other, orders[0]):
        fail(f"{what.replace('seed=3', 'seed=4')} gave the same order as seed=3; the seed must "
             f"fix the permutation.")


def test_make_dataset_shuffle_is_uniform():
    """Can every row land anywhere (a full shuffle, not a small buffer or whole batches)?"""
    n, b = 64, 8
    x, y = _data(n)
    what = f"make_dataset(x ({n}, 2), y ({n},), batch_size={b}, shuffle=True, seed=0)"
    ds = _dataset(x, y, b, True, 0, what)
    orders = [_order(*_epoch(ds, what)[:2], x, what, e) for e in (1, 2, 3, 4)]
    firsts = np.concatenate([o[:b] for o in orders])
    if firsts.max() < n // 2:
        fail(f"{what}: over 4 epochs, the first batch only ever held rows {sorted(set(firsts.tolist()))}, "
             f"all from the first half. A shuffle buffer smaller than the data set is not a uniform "
             f"shuffle: use a buffer of len(x).")
    runs = max(int(np.sum(np.diff(o) == 1)) for o in orders)
    if runs > n // 4:
        fail(f"{what}: {runs} of {n - 1} neighbouring rows of an epoch are neighbours in the input "
             f"too; the rows are not shuffled individually (shuffle before batching, not the batches).")


def test_make_dataset_rejects_bad_arguments():
    """Does make_dataset raise ValueError for x and y of different lengths or batch_size < 1?"""
    x, y = _data(5)
    for args, text in [((x, y[:4], 2), "x of 5 rows, y of 4"), ((x, y, 0), "batch_size=0")]:
        try:
            mod.make_dataset(*args, False, 0)
        except ValueError:
            continue
        except Exception as e:  # noqa: BLE001
            fail(f"make_dataset with {text} raised {type(e).__name__}: {e}; expected ValueError.")
        fail(f"make_dataset with {text} did not raise; expected ValueError.")


# --- fit_digits_keras ---------------------------------------------------------------------------

BAR, CPU_BUDGET = 0.97, 60.0


@pytest.mark.timeout(600)
def test_fit_digits_keras_reaches_97_percent():
    """Does the trained Keras model reach 97% test accuracy on the digits within 60 s of CPU?"""
    from drills_data.digits import load_digits_split

    start = time.process_time()
    model = mod.fit_digits_keras(seed=0)
    cpu = time.process_time() - start
    if not isinstance(model, keras.Model):
        fail(f"fit_digits_keras returned {type(model).__name__}; expected a keras.Model.")
    split = load_digits_split()
    x_test = np.ascontiguousarray(np.transpose(split.x_test, (0, 2, 3, 1)))
    try:
        scores = np.asarray(model(x_test, training=False))
    except Exception as e:  # noqa: BLE001
        fail(f"the returned model fails on the test images as float32 (359, 8, 8, 1), channels "
             f"last: {type(e).__name__}: {str(e)[:300]}")
    if scores.shape != (len(x_test), 10):
        fail(f"the model gives scores of shape {scores.shape} on the test images (359, 8, 8, 1); "
             f"expected (359, 10).")
    accuracy = float((scores.argmax(1) == split.y_test).mean())
    if accuracy < BAR:
        fail(f"the model reaches {accuracy:.1%} test accuracy; the bar is {BAR:.0%} "
             f"(after {cpu:.1f} s of CPU).")
    if cpu > CPU_BUDGET:
        fail(f"fit_digits_keras took {cpu:.1f} s of CPU time; the budget is {CPU_BUDGET:.0f} s "
             f"(accuracy {accuracy:.1%}).")
