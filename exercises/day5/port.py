"""Porting trained PyTorch layers to TensorFlow/Keras, weight by weight.

Both frameworks compute the same functions with different conventions: weight layouts (a Linear
weight is (out, in), a conv weight (out, in, kh, kw)), image layouts (NCHW in torch, NHWC in
Keras, and so the order in which Flatten lists the features), the gate order and bias
conventions of recurrent layers, BatchNorm's momentum and epsilon conventions, and where "same"
padding puts an odd extra row. Each port is checked against the torch layer's own output on the
same data, in float32, with atol 1e-5 (TF32 off).

``TextClassifier`` is given; the functions are yours. Keep torch imported before TensorFlow
(as below): on some installations, loading torch's triton after TensorFlow crashes.
"""

from __future__ import annotations

import os

import numpy as np
import torch  # torch (and triton, which its optimizers load) must be imported before TensorFlow
from torch import nn

try:  # pragma: no cover - triton is absent on some platforms
    import triton  # noqa: F401
except ImportError:  # pragma: no cover
    pass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

__all__ = [
    "nchw_to_nhwc",
    "nhwc_to_nchw",
    "dense_weights",
    "conv2d_weights",
    "lstm_weights",
    "gru_weights",
    "batchnorm_layer",
    "port_mlp",
    "port_cnn",
    "TextClassifier",
    "port_text_classifier",
]


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    """Reorder a batch of images from channels-first (torch) to channels-last (Keras).

    Args:
        x: a numpy array of shape (N, C, H, W), any dtype.

    Returns:
        A numpy array y of shape (N, H, W, C) with ``y[n, h, w, c] == x[n, c, h, w]`` and x's
        dtype (a view of x or a copy: both are fine). x is left unchanged.

    Raises:
        ValueError: when x is not 4-D.

    Example:
        >>> nchw_to_nhwc(np.zeros((2, 3, 4, 5))).shape
        (2, 4, 5, 3)
    """
    raise NotImplementedError("day5.port.nchw_to_nhwc")


def nhwc_to_nchw(x: np.ndarray) -> np.ndarray:
    """Reorder a batch of images from channels-last (Keras) to channels-first (torch).

    The inverse of ``nchw_to_nhwc``: ``nhwc_to_nchw(nchw_to_nhwc(x))`` equals x.

    Args:
        x: a numpy array of shape (N, H, W, C), any dtype.

    Returns:
        A numpy array y of shape (N, C, H, W) with ``y[n, c, h, w] == x[n, h, w, c]`` and x's
        dtype (a view or a copy). x is left unchanged.

    Raises:
        ValueError: when x is not 4-D.

    Example:
        >>> nhwc_to_nchw(np.zeros((2, 4, 5, 3))).shape
        (2, 3, 4, 5)
    """
    raise NotImplementedError("day5.port.nhwc_to_nchw")


def dense_weights(linear: nn.Linear) -> list[np.ndarray]:
    """The weights of a torch Linear, ready for ``set_weights`` of the matching Keras Dense.

    The matching layer is ``keras.layers.Dense(linear.out_features, use_bias=linear.bias is not
    None)`` built for inputs (N, linear.in_features). After ``dense.set_weights(weights)``,
    ``dense(x)`` equals ``linear(x)`` for every float32 x (N, in_features), within atol 1e-5.
    Keras's Dense computes ``x @ kernel + bias`` with kernel of shape (in, out); look at the
    shape of torch's ``linear.weight`` before you hand it over.

    Args:
        linear: an ``nn.Linear`` (float32, on the CPU; its parameters require grad).

    Returns:
        ``[kernel, bias]`` as float32 numpy arrays of shapes (in_features, out_features) and
        (out_features,), or ``[kernel]`` alone when the layer has no bias. The torch layer is
        left unchanged.

    Example:
        >>> [w.shape for w in dense_weights(nn.Linear(5, 3))]
        [(5, 3), (3,)]
    """
    raise NotImplementedError("day5.port.dense_weights")


def conv2d_weights(conv: nn.Conv2d) -> list[np.ndarray]:
    """The weights of a torch Conv2d, ready for ``set_weights`` of the matching Keras Conv2D.

    The matching layer is ``keras.layers.Conv2D(conv.out_channels, conv.kernel_size,
    strides=conv.stride, dilation_rate=conv.dilation, padding="valid", use_bias=conv.bias is not
    None)`` on channels-last input (N, H, W, C). With the weights set, its output on
    ``nchw_to_nhwc(x)`` equals ``nchw_to_nhwc(conv(x))`` for a Conv2d with padding 0 and groups 1
    (checked for non-square kernels, several channel counts, stride and dilation; float32,
    atol 1e-5). torch stores the weight as (out_channels, in_channels, kh, kw); Keras's kernel is
    (kh, kw, in_channels, out_channels).

    Args:
        conv: an ``nn.Conv2d`` with groups 1 (float32, on the CPU).

    Returns:
        ``[kernel, bias]`` as float32 numpy arrays of shapes (kh, kw, in_channels, out_channels)
        and (out_channels,), or ``[kernel]`` alone when the layer has no bias. The torch layer is
        left unchanged.

    Example:
        >>> [w.shape for w in conv2d_weights(nn.Conv2d(3, 8, (5, 2)))]
        [(5, 2, 3, 8), (8,)]
    """
    raise NotImplementedError("day5.port.conv2d_weights")


def lstm_weights(lstm: nn.LSTM) -> list[np.ndarray]:
    """The weights of a torch LSTM, ready for ``set_weights`` of a Keras LSTM.

    The matching layer is ``keras.layers.LSTM(lstm.hidden_size)`` (its defaults: tanh and
    sigmoid activations, one bias) built for inputs (B, T, lstm.input_size). With the weights
    set, its outputs (all steps with ``return_sequences=True``, or the last step) equal those of
    ``lstm`` run with zero initial state on the same sequences (batch first; float32, atol 1e-5).
    Compare the gate order of both frameworks' docs, and note that torch has two bias vectors
    (``bias_ih_l0``, ``bias_hh_l0``) where Keras has one.

    Args:
        lstm: an ``nn.LSTM`` with one layer, unidirectional, with biases and no projection
            (``proj_size`` 0); ``batch_first`` does not matter here. float32, on the CPU.

    Returns:
        ``[kernel, recurrent_kernel, bias]`` as float32 numpy arrays of shapes
        (input_size, 4 * hidden_size), (hidden_size, 4 * hidden_size) and (4 * hidden_size,).
        The torch layer is left unchanged.

    Raises:
        ValueError: for more than one layer, a bidirectional layer, ``bias=False`` or
            ``proj_size > 0``.

    Example:
        >>> [w.shape for w in lstm_weights(nn.LSTM(3, 5))]
        [(3, 20), (5, 20), (20,)]
    """
    raise NotImplementedError("day5.port.lstm_weights")


def gru_weights(gru: nn.GRU) -> list[np.ndarray]:
    """The weights of a torch GRU, ready for ``set_weights`` of a Keras GRU with reset_after.

    The matching layer is ``keras.layers.GRU(gru.hidden_size, reset_after=True)`` (Keras 3's
    default; tanh and sigmoid activations) built for inputs (B, T, gru.input_size). With the
    weights set, its outputs equal those of ``gru`` run with zero initial state on the same
    sequences (batch first; float32, atol 1e-5). Compare the two frameworks' gate orders and
    where each applies the reset gate; ``reset_after=True`` keeps the input and recurrent biases
    apart, stacked as rows of one (2, 3 * hidden_size) bias.

    Args:
        gru: an ``nn.GRU`` with one layer, unidirectional, with biases. float32, on the CPU.

    Returns:
        ``[kernel, recurrent_kernel, bias]`` as float32 numpy arrays of shapes
        (input_size, 3 * hidden_size), (hidden_size, 3 * hidden_size) and (2, 3 * hidden_size).
        The torch layer is left unchanged.

    Raises:
        ValueError: for more than one layer, a bidirectional layer or ``bias=False``.

    Example:
        >>> [w.shape for w in gru_weights(nn.GRU(3, 5))]
        [(3, 15), (5, 15), (2, 15)]
    """
    raise NotImplementedError("day5.port.gru_weights")


def batchnorm_layer(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> keras.layers.BatchNormalization:
    """A built Keras BatchNormalization that behaves as the given torch batch norm.

    The layer normalises the last axis (channels last): a BatchNorm1d becomes a layer built for
    inputs (N, C) (torch's (N, C, L) form is not ported), a BatchNorm2d one built for (N, H, W, C).
    Its weights are set from ``bn`` (gamma and beta only when ``bn.affine``; with
    ``affine=False`` the layer has ``center=False, scale=False``), its ``momentum`` is
    ``1 - bn.momentum`` (Keras keeps ``momentum * moving + (1 - momentum) * batch``; torch keeps
    ``(1 - momentum) * running + momentum * batch``) and its ``epsilon`` is ``bn.eps`` (Keras's
    default is not torch's).

    Checked (float32, atol 1e-5): in inference mode (``layer(x)`` or ``training=False``) the
    output equals ``bn.eval()(x)``; in training mode (``training=True``) it equals
    ``bn.train()(x)`` and afterwards ``moving_mean`` equals torch's new ``running_mean``
    (the moving variances differ by design: torch keeps the unbiased batch variance, Keras the
    biased one); ``momentum`` and ``epsilon`` are compared with 1e-12. ``bn`` is left unchanged.

    Args:
        bn: an ``nn.BatchNorm1d`` or ``nn.BatchNorm2d`` with running statistics (float32, on the
            CPU, in train or eval mode).

    Returns:
        A built ``keras.layers.BatchNormalization`` with its weights set.

    Raises:
        TypeError: when ``bn`` is neither a BatchNorm1d nor a BatchNorm2d.
        ValueError: when ``bn.momentum`` is None (a cumulative average has no Keras twin) or
            ``bn`` keeps no running statistics (``track_running_stats=False``).

    Example:
        >>> layer = batchnorm_layer(nn.BatchNorm2d(4))
        >>> round(layer.momentum, 6), layer.epsilon
        (0.9, 1e-05)
    """
    raise NotImplementedError("day5.port.batchnorm_layer")


def port_mlp(model: nn.Sequential) -> keras.Model:
    """Port a torch MLP to a Keras model with the same weights.

    ``model`` is an ``nn.Sequential`` of ``nn.Linear`` (with or without bias), ``nn.ReLU``,
    ``nn.Tanh``, ``nn.Sigmoid``, ``nn.Dropout`` and ``nn.Flatten()`` (default start_dim=1,
    end_dim=-1), in any order that torch can run. The Keras model takes the same float32 numpy
    array x as the torch model (for example (N, in_features), or (N, C, H, W) when it starts
    with Flatten) and, in inference mode (``keras_model(x)`` or ``training=False``), returns
    ``model.eval()(x)`` within atol 1e-5. It is ready to call: weights set, no fitting.

    Args:
        model: the torch MLP (float32, on the CPU). It is left unchanged, its mode included.

    Returns:
        A ``keras.Model`` (for example a ``keras.Sequential``).

    Raises:
        TypeError: when ``model`` is not an ``nn.Sequential`` or holds another kind of layer.
        ValueError: for an ``nn.Flatten`` with other start_dim or end_dim.

    Example:
        >>> mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
        >>> x = np.ones((2, 4), np.float32)
        >>> np.allclose(port_mlp(mlp)(x), mlp(torch.from_numpy(x)).detach(), atol=1e-5)
        True
    """
    raise NotImplementedError("day5.port.port_mlp")


def port_cnn(model: nn.Sequential, input_shape: tuple[int, int, int]) -> keras.Model:
    """Port a torch CNN (NCHW) to a Keras model that takes NHWC images.

    ``model`` is an ``nn.Sequential`` made of, before an optional ``nn.Flatten()`` (default
    dims): ``nn.Conv2d`` (integer or pair kernel_size, stride, padding and dilation, zero
    padding mode, groups 1, with or without bias, never both stride and dilation above 1),
    ``nn.MaxPool2d`` (kernel_size and stride; no padding, dilation 1, ceil_mode False),
    ``nn.BatchNorm2d`` (with running statistics), ``nn.ReLU``, ``nn.Tanh``, ``nn.Sigmoid`` and
    ``nn.Dropout``; after the Flatten: ``nn.Linear`` and the same activations and dropout.

    For images x of shape (N, C, H, W) = (N, *input_shape), the Keras model called on
    ``nchw_to_nhwc(x)`` in inference mode returns ``model.eval()(x)`` (shape (N, features))
    within atol 1e-5, float32. Without a Flatten it returns the last feature map channels last,
    i.e. ``nchw_to_nhwc(model.eval()(x))``. Traps that are checked: the order in which Flatten
    lists the features differs between NCHW and NHWC, so the first Linear after it must still
    see torch's order; Keras's ``padding="same"`` does not pad as torch does for stride 2 or even
    kernels (it puts the extra row at the bottom/right); odd input sizes.

    Args:
        model: the torch CNN (float32, on the CPU). It is left unchanged, its mode included.
        input_shape: torch's (C, H, W) of one image, without the batch dimension.

    Returns:
        A ``keras.Model`` with weights set, taking float32 (N, H, W, C).

    Raises:
        TypeError: when ``model`` is not an ``nn.Sequential`` or holds another kind of layer.
        ValueError: for a configuration outside the list above (string padding, groups > 1,
            a non-zero padding mode, stride and dilation both above 1, pooling with padding,
            dilation or ceil_mode, Flatten with other dims, a Linear before the Flatten or a
            Conv2d, MaxPool2d or BatchNorm2d after it).

    Example:
        >>> cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
        ...                     nn.Linear(4 * 8 * 8, 10)).eval()
        >>> keras_model = port_cnn(cnn, (1, 8, 8))
        >>> x = np.random.rand(2, 1, 8, 8).astype(np.float32)
        >>> expected = cnn(torch.from_numpy(x)).detach().numpy()
        >>> np.allclose(keras_model(nchw_to_nhwc(x)), expected, atol=1e-5)
        True
    """
    raise NotImplementedError("day5.port.port_cnn")


class TextClassifier(nn.Module):
    """Given (not an exercise): embedding, one-layer LSTM (batch first), head on the last state."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, num_classes: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits (B, num_classes) for int64 ids (B, T), T >= 1."""
        _, (h, _) = self.lstm(self.embedding(ids))
        return self.head(h[-1])


def port_text_classifier(model: TextClassifier) -> keras.Model:
    """Port a TextClassifier (embedding, LSTM, linear head) to Keras.

    Args:
        model: a ``TextClassifier`` (float32, on the CPU). It is left unchanged.

    Returns:
        A ``keras.Model`` with weights set, taking integer token ids (B, T) (int32 or int64
        numpy arrays, 0 <= id < vocab_size, T >= 1, no padding) and returning ``model(ids)``'s
        logits (B, num_classes) within atol 1e-5, float32.

    Example:
        >>> clf = TextClassifier(vocab_size=20, embed_dim=4, hidden_size=6, num_classes=3)
        >>> ids = np.array([[1, 5, 7], [2, 2, 19]])
        >>> port_text_classifier(clf)(ids).shape
        TensorShape([2, 3])
    """
    raise NotImplementedError("day5.port.port_text_classifier")
