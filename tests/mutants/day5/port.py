"""Wrong solutions for day5/port.py, each a mistake students really make when porting to Keras."""

import os

import numpy as np
import torch  # torch and triton before TensorFlow (triton after TensorFlow crashes)
from torch import nn

try:
    import triton  # noqa: F401
except ImportError:
    pass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402

from graders.testing import mutant  # noqa: E402


def _np(t):
    return t.detach().numpy()


# --- layouts ------------------------------------------------------------------------------------

@mutant("day5.port.nchw_to_nhwc", expect=r"reshape")
def nchw_to_nhwc_reshape(x):
    if x.ndim != 4:
        raise ValueError("4-D only")
    n, c, h, w = x.shape
    return x.reshape(n, h, w, c)


@mutant("day5.port.nchw_to_nhwc", expect=r"shape")
def nchw_to_nhwc_swaps_h_and_w(x):
    if x.ndim != 4:
        raise ValueError("4-D only")
    return np.transpose(x, (0, 3, 2, 1))


@mutant("day5.port.nhwc_to_nchw", expect=r"shape")
def nhwc_to_nchw_same_axes_as_forward(x):
    if x.ndim != 4:
        raise ValueError("4-D only")
    return np.transpose(x, (0, 2, 3, 1))


@mutant("day5.port.nhwc_to_nchw", expect=r"reshape")
def nhwc_to_nchw_reshape(x):
    if x.ndim != 4:
        raise ValueError("4-D only")
    n, h, w, c = x.shape
    return x.reshape(n, c, h, w)


# --- dense / conv -------------------------------------------------------------------------------

@mutant("day5.port.dense_weights", expect=r"transpose")
def dense_weights_no_transpose(linear):
    out = [_np(linear.weight)]
    return out + ([_np(linear.bias)] if linear.bias is not None else [])


@mutant("day5.port.dense_weights", expect=r"reshape|as it is")
def dense_weights_reshape(linear):
    out = [_np(linear.weight).reshape(linear.in_features, linear.out_features)]
    return out + ([_np(linear.bias)] if linear.bias is not None else [])


@mutant("day5.port.dense_weights", expect=r"NoneType|bias|expects")
def dense_weights_always_bias(linear):
    return [_np(linear.weight).T, _np(linear.bias)]


@mutant("day5.port.conv2d_weights", expect=r"axes in the order")
def conv2d_weights_out_before_in(conv):
    out = [_np(conv.weight).transpose(2, 3, 0, 1)]
    return out + ([_np(conv.bias)] if conv.bias is not None else [])


@mutant("day5.port.conv2d_weights", expect=r"axes in the order")
def conv2d_weights_reversed_axes(conv):
    out = [_np(conv.weight).T]
    return out + ([_np(conv.bias)] if conv.bias is not None else [])


@mutant("day5.port.conv2d_weights", expect=r"reshape|axes in the order")
def conv2d_weights_reshape(conv):
    o, i, kh, kw = conv.weight.shape
    out = [_np(conv.weight).reshape(kh, kw, i, o)]
    return out + ([_np(conv.bias)] if conv.bias is not None else [])


# --- recurrent ----------------------------------------------------------------------------------

def _check(rnn):
    if rnn.num_layers != 1 or rnn.bidirectional or not rnn.bias or getattr(rnn, "proj_size", 0):
        raise ValueError("unsupported")


@mutant("day5.port.lstm_weights", expect=r"only one of torch's two biases")
def lstm_weights_input_bias_only(lstm):
    _check(lstm)
    return [_np(lstm.weight_ih_l0).T, _np(lstm.weight_hh_l0).T, _np(lstm.bias_ih_l0)]


@mutant("day5.port.lstm_weights", expect=r"order \(i, f, o, g\)")
def lstm_weights_ifog_order(lstm):
    _check(lstm)

    def ifog(w):
        i, f, g, o = np.split(_np(w), 4)
        return np.concatenate([i, f, o, g])

    return [ifog(lstm.weight_ih_l0).T, ifog(lstm.weight_hh_l0).T,
            ifog(lstm.bias_ih_l0 + lstm.bias_hh_l0)]


@mutant("day5.port.lstm_weights", expect=r"did not raise")
def lstm_weights_no_checks(lstm):
    return [_np(lstm.weight_ih_l0).T, _np(lstm.weight_hh_l0).T,
            _np(lstm.bias_ih_l0 + lstm.bias_hh_l0) if lstm.bias else np.zeros(4 * lstm.hidden_size, np.float32)]


@mutant("day5.port.gru_weights", expect=r"order \(r, z, n\)")
def gru_weights_not_reordered(gru):
    _check(gru)
    return [_np(gru.weight_ih_l0).T, _np(gru.weight_hh_l0).T,
            np.stack([_np(gru.bias_ih_l0), _np(gru.bias_hh_l0)])]


def _zrn(w):
    r, z, n = np.split(_np(w), 3)
    return np.concatenate([z, r, n])


@mutant("day5.port.gru_weights", expect=r"reset_after|\(2, 3H\)")
def gru_weights_summed_bias(gru):
    _check(gru)
    return [_zrn(gru.weight_ih_l0).T, _zrn(gru.weight_hh_l0).T,
            _zrn(gru.bias_ih_l0 + gru.bias_hh_l0)]


@mutant("day5.port.gru_weights", expect=r"input bias first")
def gru_weights_bias_rows_swapped(gru):
    _check(gru)
    return [_zrn(gru.weight_ih_l0).T, _zrn(gru.weight_hh_l0).T,
            np.stack([_zrn(gru.bias_hh_l0), _zrn(gru.bias_ih_l0)])]


# --- batch norm ---------------------------------------------------------------------------------

def _bn(bn, *, momentum, epsilon, order=("w", "b", "m", "v")):
    if not isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)):
        raise TypeError("batch norm only")
    if bn.momentum is None or bn.running_mean is None:
        raise ValueError("unsupported")
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon,
                                            center=bn.affine, scale=bn.affine)
    shape = (None, None, None, bn.num_features) if isinstance(bn, nn.BatchNorm2d) else (None, bn.num_features)
    layer.build(shape)
    arrays = {"w": bn.weight, "b": bn.bias, "m": bn.running_mean, "v": bn.running_var}
    keys = order if bn.affine else [k for k in order if k in "mv"]
    layer.set_weights([_np(arrays[k]) for k in keys])
    return layer


@mutant("day5.port.batchnorm_layer", expect=r"momentum as it is")
def batchnorm_layer_momentum_not_converted(bn):
    return _bn(bn, momentum=bn.momentum, epsilon=bn.eps)


@mutant("day5.port.batchnorm_layer", expect=r"Keras's default is 1e-3")
def batchnorm_layer_default_epsilon(bn):
    return _bn(bn, momentum=1 - bn.momentum, epsilon=1e-3)


@mutant("day5.port.batchnorm_layer", expect=r"moving_mean|gamma")
def batchnorm_layer_stats_first(bn):
    return _bn(bn, momentum=1 - bn.momentum, epsilon=bn.eps, order=("m", "v", "w", "b"))


# --- whole models -------------------------------------------------------------------------------

def _dense(linear, *, transpose=True):
    layer = keras.layers.Dense(linear.out_features, use_bias=linear.bias is not None)
    layer.build((None, linear.in_features))
    w = _np(linear.weight)
    layer.set_weights([w.T if transpose else w] + ([_np(linear.bias)] if linear.bias is not None else []))
    return layer


def _mlp(model, *, activations=True, transpose=True):
    if not isinstance(model, nn.Sequential):
        raise TypeError("Sequential only")
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            layers.append(_dense(m, transpose=transpose))
        elif isinstance(m, nn.ReLU):
            layers.append(keras.layers.ReLU())
        elif isinstance(m, (nn.Tanh, nn.Sigmoid)):
            if activations:
                layers.append(keras.layers.Activation("tanh" if isinstance(m, nn.Tanh) else "sigmoid"))
        elif isinstance(m, nn.Dropout):
            layers.append(keras.layers.Dropout(m.p))
        elif isinstance(m, nn.Flatten):
            if (m.start_dim, m.end_dim) != (1, -1):
                raise ValueError("default Flatten only")
            layers.append(keras.layers.Flatten())
        else:
            raise TypeError(type(m).__name__)
    return keras.Sequential(layers)


@mutant("day5.port.port_mlp", expect=r"untransposed|not compatible")
def port_mlp_no_transpose(model):
    return _mlp(model, transpose=False)


@mutant("day5.port.port_mlp", expect=r"activation layers")
def port_mlp_forgets_tanh_and_sigmoid(model):
    return _mlp(model, activations=False)


def _cnn(model, input_shape, *, permute=True, same=False, bn_eps=None, kernel_axes=(2, 3, 1, 0)):
    c, h, w = input_shape
    out = keras.Sequential([keras.Input(shape=(h, w, c))])
    flat = False
    for m in model:
        if isinstance(m, nn.Conv2d):
            if isinstance(m.padding, str) or m.groups != 1:
                raise ValueError("unsupported conv")
            pad = m.padding
            use_same = same and pad[0] == m.kernel_size[0] // 2 and pad[1] == m.kernel_size[1] // 2 and any(pad)
            if any(pad) and not use_same:
                out.add(keras.layers.ZeroPadding2D(pad))
            conv = keras.layers.Conv2D(m.out_channels, m.kernel_size, strides=m.stride,
                                       dilation_rate=m.dilation, use_bias=m.bias is not None,
                                       padding="same" if use_same else "valid")
            out.add(conv)
            conv.set_weights([_np(m.weight).transpose(kernel_axes)]
                             + ([_np(m.bias)] if m.bias is not None else []))
        elif isinstance(m, nn.MaxPool2d):
            if m.padding or m.ceil_mode or m.dilation != 1:
                raise ValueError("unsupported pool")
            out.add(keras.layers.MaxPooling2D(m.kernel_size, strides=m.stride or m.kernel_size))
        elif isinstance(m, nn.BatchNorm2d):
            layer = keras.layers.BatchNormalization(momentum=1 - m.momentum,
                                                    epsilon=m.eps if bn_eps is None else bn_eps)
            out.add(layer)
            layer.set_weights([_np(m.weight), _np(m.bias), _np(m.running_mean), _np(m.running_var)])
        elif isinstance(m, nn.Flatten):
            if permute:
                out.add(keras.layers.Permute((3, 1, 2)))
            out.add(keras.layers.Flatten())
            flat = True
        elif isinstance(m, nn.Linear):
            if not flat:
                raise ValueError("Linear before Flatten")
            dense = keras.layers.Dense(m.out_features)
            out.add(dense)
            dense.set_weights([_np(m.weight).T, _np(m.bias)])
        elif isinstance(m, nn.ReLU):
            out.add(keras.layers.ReLU())
        elif isinstance(m, (nn.Tanh, nn.Sigmoid)):
            out.add(keras.layers.Activation("tanh" if isinstance(m, nn.Tanh) else "sigmoid"))
        elif isinstance(m, nn.Dropout):
            out.add(keras.layers.Dropout(m.p))
        else:
            raise TypeError(type(m).__name__)
    return out


@mutant("day5.port.port_cnn", expect=r"order of the flattened features")
def port_cnn_flattens_nhwc(model, input_shape):
    return _cnn(model, input_shape, permute=False)


@mutant("day5.port.port_cnn", expect=r"padding='same' does not pad as torch")
def port_cnn_same_padding(model, input_shape):
    return _cnn(model, input_shape, same=True)


@mutant("day5.port.port_cnn", expect=r"has epsilon 0.001 in Keras")
def port_cnn_keras_default_bn_epsilon(model, input_shape):
    return _cnn(model, input_shape, bn_eps=1e-3)


@mutant("day5.port.port_cnn", expect=r"padding_mode|dilation=2|Flatten\(2\)|Flatten\(\), nn\.")
def port_cnn_refuses_too_little(model, input_shape):
    """Ports right, but refuses only string padding, groups and pooling options: a reflect
    padding, stride with dilation, a partial Flatten or a conv after Flatten go through."""
    return _cnn(model, input_shape)


@mutant("day5.port.port_cnn", expect=r"Keras kernel is not torch's weight as \(kh, kw, in, out\)")
def port_cnn_kernel_height_width_swapped(model, input_shape):
    """Kernel axes (kw, kh, in, out): right only for square kernels."""
    return _cnn(model, input_shape, same=True, kernel_axes=(3, 2, 1, 0))


def _text(model, *, sum_biases=True, sequences=False):
    lstm = model.lstm
    emb = keras.layers.Embedding(model.embedding.num_embeddings, model.embedding.embedding_dim)
    rnn = keras.layers.LSTM(lstm.hidden_size, return_sequences=sequences)
    head = keras.layers.Dense(model.head.out_features)
    out = keras.Sequential([keras.Input(shape=(None,), dtype="int64"), emb, rnn, head])
    emb.set_weights([_np(model.embedding.weight)])
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0 if sum_biases else lstm.bias_ih_l0
    rnn.set_weights([_np(lstm.weight_ih_l0).T, _np(lstm.weight_hh_l0).T, _np(bias)])
    head.set_weights([_np(model.head.weight).T, _np(model.head.bias)])
    return out


@mutant("day5.port.port_text_classifier", expect=r"bias_ih_l0 alone")
def port_text_classifier_one_bias(model):
    return _text(model, sum_biases=False)


@mutant("day5.port.port_text_classifier", expect=r"shape")
def port_text_classifier_every_step(model):
    return _text(model, sequences=True)
