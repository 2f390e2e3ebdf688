"""Wrong solutions for day5/tf_training.py, each a mistake students really make in Keras/TF."""

import os

import numpy as np
import torch  # noqa: F401  torch and triton before TensorFlow (triton after TensorFlow crashes)

try:
    import triton  # noqa: F401
except ImportError:
    pass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from graders.testing import mutant  # noqa: E402

# --- train_step ---------------------------------------------------------------------------------


@mutant("day5.tf_training.train_step", expect=r"read model.trainable_variables after")
def train_step_reads_variables_before_forward(model, optimizer, loss_fn, x, y):
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return float(loss)


@mutant("day5.tf_training.train_step", expect=r"training=True")
def train_step_inference_mode(model, optimizer, loss_fn, x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return float(loss)


@mutant("day5.tf_training.train_step", expect=r"did not change")
def train_step_last_layer_only(model, optimizer, loss_fn, x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    variables = model.layers[-1].trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return float(loss)


@mutant("day5.tf_training.train_step", expect=r"not allowed")
def train_step_with_train_on_batch(model, optimizer, loss_fn, x, y):
    model.compile(optimizer=optimizer, loss=loss_fn)
    with tf.GradientTape():
        pass
    return float(model.train_on_batch(x, y))


@mutant("day5.tf_training.train_step", expect=r"Python float")
def train_step_returns_tensor(model, optimizer, loss_fn, x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


# --- make_dataset -------------------------------------------------------------------------------

def _checked(x, y, batch_size):
    if len(x) != len(y) or batch_size < 1:
        raise ValueError("bad arguments")
    return tf.data.Dataset.from_tensor_slices((x, y))


@mutant("day5.tf_training.make_dataset", expect=r"buffer")
def make_dataset_small_buffer(x, y, batch_size, shuffle, seed):
    ds = _checked(x, y, batch_size)
    if shuffle:
        ds = ds.shuffle(batch_size, seed=seed)
    return ds.batch(batch_size)


@mutant("day5.tf_training.make_dataset", expect=r"shuffle before batching")
def make_dataset_shuffles_batches(x, y, batch_size, shuffle, seed):
    ds = _checked(x, y, batch_size).batch(batch_size)
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed)
    return ds


@mutant("day5.tf_training.make_dataset", expect=r"same order in two epochs")
def make_dataset_no_reshuffle(x, y, batch_size, shuffle, seed):
    ds = _checked(x, y, batch_size)
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=False)
    return ds.batch(batch_size)


@mutant("day5.tf_training.make_dataset", expect=r"last, partial batch")
def make_dataset_drops_remainder(x, y, batch_size, shuffle, seed):
    ds = _checked(x, y, batch_size)
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed)
    return ds.batch(batch_size, drop_remainder=True)


@mutant("day5.tf_training.make_dataset", expect=r"same seed must give the same")
def make_dataset_ignores_seed(x, y, batch_size, shuffle, seed):
    ds = _checked(x, y, batch_size)
    if shuffle:
        ds = ds.shuffle(len(x))
    return ds.batch(batch_size)


# --- fit_digits_keras ---------------------------------------------------------------------------

def _digits():
    from drills_data.digits import load_digits_split

    return load_digits_split()


@mutant("day5.tf_training.fit_digits_keras", expect=r"test accuracy; the bar is 97%")
def fit_digits_keras_one_slow_epoch(seed=0):
    keras.utils.set_random_seed(seed)
    split = _digits()
    model = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(np.transpose(split.x_train, (0, 2, 3, 1)), split.y_train, epochs=1, verbose=0)
    return model


@mutant("day5.tf_training.fit_digits_keras", expect=r"channels\s+last")
def fit_digits_keras_channels_first(seed=0):
    keras.utils.set_random_seed(seed)
    split = _digits()
    model = keras.Sequential([keras.Input(shape=(1, 8, 8)),
                              keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(split.x_train, split.y_train, epochs=1, verbose=0)
    return model
