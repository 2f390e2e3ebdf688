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


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _check_4d(x: np.ndarray) -> None:
    if np.ndim(x) != 4:
        raise ValueError(f"expected a 4-D array, got shape {np.shape(x)}")


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
    _check_4d(x)
    return np.transpose(x, (0, 2, 3, 1))


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
    _check_4d(x)
    return np.transpose(x, (0, 3, 1, 2))


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
    weights = [_np(linear.weight).T]
    if linear.bias is not None:
        weights.append(_np(linear.bias))
    return weights


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
    weights = [_np(conv.weight).transpose(2, 3, 1, 0)]
    if conv.bias is not None:
        weights.append(_np(conv.bias))
    return weights


def _check_rnn(rnn: nn.RNNBase) -> None:
    if rnn.num_layers != 1 or rnn.bidirectional or not rnn.bias or getattr(rnn, "proj_size", 0):
        raise ValueError("only one-layer, unidirectional layers with biases and no projection port")


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
    _check_rnn(lstm)
    return [
        _np(lstm.weight_ih_l0).T,
        _np(lstm.weight_hh_l0).T,
        _np(lstm.bias_ih_l0 + lstm.bias_hh_l0),
    ]


def _zrn(w: np.ndarray) -> np.ndarray:
    """Reorder torch's gate blocks (r, z, n) along axis 0 to Keras's (z, r, n)."""
    r, z, n = np.split(w, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


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
    _check_rnn(gru)
    return [
        _zrn(_np(gru.weight_ih_l0)).T,
        _zrn(_np(gru.weight_hh_l0)).T,
        np.stack([_zrn(_np(gru.bias_ih_l0)), _zrn(_np(gru.bias_hh_l0))]),
    ]


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
    if isinstance(bn, nn.BatchNorm2d):
        shape: tuple[int | None, ...] = (None, None, None, bn.num_features)
    elif isinstance(bn, nn.BatchNorm1d):
        shape = (None, bn.num_features)
    else:
        raise TypeError(f"expected BatchNorm1d or BatchNorm2d, got {type(bn).__name__}")
    if bn.momentum is None:
        raise ValueError("a cumulative moving average (momentum=None) has no Keras equivalent")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("batch norm without running statistics has no Keras equivalent")
    layer = keras.layers.BatchNormalization(
        axis=-1, momentum=1.0 - bn.momentum, epsilon=bn.eps, center=bn.affine, scale=bn.affine
    )
    layer.build(shape)
    weights = [_np(bn.weight), _np(bn.bias)] if bn.affine else []
    layer.set_weights(weights + [_np(bn.running_mean), _np(bn.running_var)])
    return layer


def _simple_layer(module: nn.Module) -> keras.layers.Layer | None:
    """The Keras twin of a weightless layer, or None when ``module`` is not one."""
    if isinstance(module, nn.ReLU):
        return keras.layers.ReLU()
    if isinstance(module, nn.Tanh):
        return keras.layers.Activation("tanh")
    if isinstance(module, nn.Sigmoid):
        return keras.layers.Activation("sigmoid")
    if isinstance(module, nn.Dropout):
        return keras.layers.Dropout(module.p)
    return None


def _dense(linear: nn.Linear) -> keras.layers.Dense:
    layer = keras.layers.Dense(linear.out_features, use_bias=linear.bias is not None)
    layer.build((None, linear.in_features))
    layer.set_weights(dense_weights(linear))
    return layer


def _check_flatten(module: nn.Flatten) -> None:
    if module.start_dim != 1 or module.end_dim != -1:
        raise ValueError("only nn.Flatten() with start_dim=1 and end_dim=-1 ports")


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
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"expected nn.Sequential, got {type(model).__name__}")
    layers: list[keras.layers.Layer] = []
    for module in model:
        simple = _simple_layer(module)
        if simple is not None:
            layers.append(simple)
        elif isinstance(module, nn.Linear):
            layers.append(_dense(module))
        elif isinstance(module, nn.Flatten):
            _check_flatten(module)
            layers.append(keras.layers.Flatten())
        else:
            raise TypeError(f"cannot port {type(module).__name__} in an MLP")
    return keras.Sequential(layers)


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv(conv: nn.Conv2d) -> list[keras.layers.Layer]:
    if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
        raise ValueError("only integer zero padding ports")
    if conv.groups != 1:
        raise ValueError("only groups=1 ports")
    stride, dilation = _pair(conv.stride), _pair(conv.dilation)
    if max(stride) > 1 and max(dilation) > 1:
        raise ValueError("Keras cannot combine stride and dilation above 1")
    layer = keras.layers.Conv2D(
        conv.out_channels,
        conv.kernel_size,
        strides=stride,
        dilation_rate=dilation,
        padding="valid",
        use_bias=conv.bias is not None,
    )
    padding = _pair(conv.padding)
    return [keras.layers.ZeroPadding2D(padding), layer] if any(padding) else [layer]


def _max_pool(pool: nn.MaxPool2d) -> keras.layers.MaxPooling2D:
    if any(_pair(pool.padding)) or _pair(pool.dilation) != (1, 1) or pool.ceil_mode:
        raise ValueError("only MaxPool2d without padding, dilation or ceil_mode ports")
    if pool.return_indices:
        raise ValueError("MaxPool2d(return_indices=True) does not port")
    stride = pool.kernel_size if pool.stride is None else pool.stride
    return keras.layers.MaxPooling2D(_pair(pool.kernel_size), _pair(stride), padding="valid")


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
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"expected nn.Sequential, got {type(model).__name__}")
    c, h, w = input_shape
    keras_model = keras.Sequential([keras.Input(shape=(h, w, c))])
    flat = False
    for module in model:
        simple = _simple_layer(module)
        if simple is not None:
            keras_model.add(simple)
        elif isinstance(module, nn.Conv2d) and not flat:
            *pads, conv = _conv(module)
            for pad in pads:
                keras_model.add(pad)
            keras_model.add(conv)
            conv.set_weights(conv2d_weights(module))
        elif isinstance(module, nn.MaxPool2d) and not flat:
            keras_model.add(_max_pool(module))
        elif isinstance(module, nn.BatchNorm2d) and not flat:
            keras_model.add(batchnorm_layer(module))
        elif isinstance(module, nn.Flatten) and not flat:
            _check_flatten(module)
            keras_model.add(keras.layers.Permute((3, 1, 2)))  # flatten in torch's (C, H, W) order
            keras_model.add(keras.layers.Flatten())
            flat = True
        elif isinstance(module, nn.Linear) and flat:
            dense = keras.layers.Dense(module.out_features, use_bias=module.bias is not None)
            keras_model.add(dense)
            dense.set_weights(dense_weights(module))
        elif isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d, nn.Flatten, nn.Linear)):
            where = "after" if flat else "before"
            raise ValueError(f"{type(module).__name__} {where} Flatten does not port")
        else:
            raise TypeError(f"cannot port {type(module).__name__} in a CNN")
    return keras_model


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
    vocab_size, embed_dim = model.embedding.weight.shape
    embedding = keras.layers.Embedding(vocab_size, embed_dim)
    lstm = keras.layers.LSTM(model.lstm.hidden_size)
    keras_model = keras.Sequential(
        [keras.Input(shape=(None,), dtype="int64"), embedding, lstm, _dense(model.head)]
    )
    embedding.set_weights([_np(model.embedding.weight)])
    lstm.set_weights(lstm_weights(model.lstm))
    return keras_model
