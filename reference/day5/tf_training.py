"""Training in TensorFlow/Keras: a GradientTape step, a tf.data pipeline, and a digits CNN.

``train_step`` is what ``model.fit`` does for one batch; ``make_dataset`` is the Keras side of a
shuffling DataLoader; ``fit_digits_keras`` redoes the day-3 digits task in Keras.

Keep torch imported before TensorFlow (as below): on some installations, loading torch's triton
after TensorFlow crashes.
"""

from __future__ import annotations

import os

import numpy as np
import torch  # noqa: F401  torch (and triton) must be imported before TensorFlow
from drills_data.digits import load_digits_split

try:  # pragma: no cover - triton is absent on some platforms
    import triton  # noqa: F401
except ImportError:  # pragma: no cover
    pass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["train_step", "make_dataset", "fit_digits_keras"]


def train_step(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    loss_fn: keras.losses.Loss,
    x: np.ndarray | tf.Tensor,
    y: np.ndarray | tf.Tensor,
) -> float:
    """One optimisation step with ``tf.GradientTape``: what ``model.fit`` does for one batch.

    Under a ``tf.GradientTape``, compute ``loss = loss_fn(y, model(x, training=True))`` (a scalar
    tensor), take its gradients with respect to every trainable variable of the model, and apply
    them with ``optimizer`` (``apply_gradients`` or ``apply``). Training mode matters: dropout
    is active and batch norm uses (and updates) batch statistics. The model may not be built
    before the call: a Keras model without an input shape creates its variables during its
    first forward pass, so its list of trainable variables is empty until then. Non-trainable
    variables (batch norm's moving statistics) are updated by the forward pass, never by the
    optimizer.

    Forbidden: ``model.compile``, ``model.fit`` and ``model.train_on_batch`` (the point is to
    write the step they run).

    Checked: with ``keras.optimizers.SGD`` (no momentum), a Keras MLP holding a torch MLP's
    weights has, after the step, the weights of the torch model after torch's own step with
    ``torch.optim.SGD`` and the matching loss (float32, atol 1e-5); every trainable variable
    moves, also for a model built by the call; batch norm runs in training mode; the returned
    value is a Python float equal to the loss before the step.

    Args:
        model: a ``keras.Model``, possibly not built yet.
        optimizer: a Keras optimizer.
        loss_fn: a Keras loss, called as ``loss_fn(y_true, y_pred)`` and returning a scalar.
        x: the inputs of one batch (numpy array or tf tensor).
        y: the targets of that batch.

    Returns:
        The batch loss before the update, as a Python float.

    Example:
        >>> model = keras.Sequential([keras.layers.Dense(3)])
        >>> loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        >>> x, y = np.ones((4, 5), np.float32), np.array([0, 1, 2, 0])
        >>> isinstance(train_step(model, keras.optimizers.SGD(0.1), loss_fn, x, y), float)
        True
    """
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    variables = model.trainable_variables  # read after the forward: it may have built the model
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return float(loss)


def make_dataset(
    x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, seed: int
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of (x_batch, y_batch) over two arrays, like a shuffling DataLoader.

    Every pass over the dataset (an epoch) yields all n rows once, in batches of batch_size
    rows, the last batch smaller when batch_size does not divide n (never dropped); row i of x
    stays paired with row i of y. Batches are tuples of two tf tensors with the dtypes of x and
    y and shapes (b, *x.shape[1:]) and (b, *y.shape[1:]).

    Without shuffle, every epoch keeps the input order. With shuffle, each epoch is a uniformly
    random permutation of all n rows (every row can come first: a shuffle buffer smaller than
    n is not enough), a new one at every epoch; two datasets made with the same arguments yield
    the same sequence of epochs, and different seeds give different orders. Checked by these
    properties, not against the reference's own permutation.

    Args:
        x: a numpy array of n >= 1 rows.
        y: a numpy array of n rows.
        batch_size: rows per batch, >= 1.
        shuffle: reshuffle every epoch, or keep the input order.
        seed: fixes the sequence of permutations when shuffling (ignored otherwise).

    Returns:
        The dataset; it can be iterated many times (one epoch each).

    Raises:
        ValueError: when x and y differ in length or batch_size < 1.

    Example:
        >>> ds = make_dataset(np.arange(5.0), np.arange(5), batch_size=2, shuffle=False, seed=0)
        >>> [len(xb) for xb, yb in ds]
        [2, 2, 1]
    """
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} != {len(y)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(max(len(x), 1), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size)


def fit_digits_keras(seed: int = 0) -> keras.Model:
    """Train a Keras model on the bundled digits: the day-3 task, in TensorFlow.

    Use ``drills_data.digits.load_digits_split()`` (its fixed split: 1438 training images, 359
    test images, float32 (N, 1, 8, 8) in [0, 1]): images go to Keras channels last, (N, 8, 8, 1).
    Train on the training split only. Seed everything from ``seed`` (for example
    ``keras.utils.set_random_seed(seed)``) so that a seed gives the same model.

    Checked (``train``): the returned model, called on the test images as float32
    (N, 8, 8, 1), gives scores (N, 10) (logits or probabilities) whose argmax is right for at
    least 97% of the 359 test images, and the call takes at most 60 s of CPU time on a 2-core
    machine (a small CNN trained for a few epochs needs a few seconds).

    Args:
        seed: the random seed.

    Returns:
        The trained ``keras.Model``.

    Example:
        >>> model = fit_digits_keras(seed=0)
        >>> model(np.zeros((2, 8, 8, 1), np.float32)).shape
        TensorShape([2, 10])
    """
    keras.utils.set_random_seed(seed)
    split = load_digits_split()
    x_train = np.transpose(split.x_train, (0, 2, 3, 1))
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    data = make_dataset(x_train, split.y_train, 32, shuffle=True, seed=seed)
    model.fit(data, epochs=8, verbose=0, shuffle=False)
    return model
