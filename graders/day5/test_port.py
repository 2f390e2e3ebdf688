"""Graders for day5/port.py: torch layers and models ported to Keras, checked on the same data.

The oracle is always the torch layer itself: the Keras twin must give its output (float32,
atol 1e-5, TF32 off) on the same inputs, NHWC where torch has NCHW.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import nn

from graders import student
from graders.checks import close_values, fail
from graders.day5._helpers import tf_seed  # noqa: F401  (autouse fixture)
from graders.day5._helpers import ATOL, assert_np_close, keras, set_weights, torch_out
from graders.day5._port_cases import (
    bn_cases,
    cnn_cases,
    mlp_cases,
    nchw,
    randomise_bn,
    state_of,
)
from graders.profiles import examples

mod = student("day5.port")


def _rng(seed: int) -> np.random.Generator:
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


# --- nchw_to_nhwc / nhwc_to_nchw --------------------------------------------------------------

arrays4d = st.tuples(*[st.integers(1, 5)] * 4).flatmap(
    lambda shape: st.sampled_from([np.float32, np.float64, np.int64]).map(
        lambda dt: np.arange(np.prod(shape)).reshape(shape).astype(dt)
    )
)


def _not_a_reshape(got, x, axes, name):
    __tracebackhide__ = True
    right = x.transpose(axes)
    if got.shape == right.shape and not np.array_equal(got, right) and np.array_equal(got, x.reshape(right.shape)):
        fail(f"{name}(x of shape {x.shape}) returned x.reshape{right.shape}: a reshape keeps the "
             f"values in memory order, so they land in the wrong places; the axes must be "
             f"transposed.")


@given(x=arrays4d)
def test_nchw_to_nhwc_moves_channels_last(x):
    """Does nchw_to_nhwc give y[n, h, w, c] == x[n, c, h, w] with x's dtype?"""
    before = x.copy()
    got = mod.nchw_to_nhwc(x)
    if not isinstance(got, np.ndarray):
        fail(f"nchw_to_nhwc returned {type(got).__name__}; expected a numpy array.")
    if got.dtype != x.dtype:
        fail(f"nchw_to_nhwc returned dtype {got.dtype}; expected x's dtype {x.dtype}.")
    _not_a_reshape(got, x, (0, 2, 3, 1), "nchw_to_nhwc")
    assert_np_close(got, x.transpose(0, 2, 3, 1), atol=0, what=f"nchw_to_nhwc(x of shape {x.shape})")
    if not np.array_equal(x, before):
        fail("nchw_to_nhwc changed its input.")


@given(x=arrays4d)
def test_nhwc_to_nchw_moves_channels_first(x):
    """Does nhwc_to_nchw give y[n, c, h, w] == x[n, h, w, c] with x's dtype?"""
    got = mod.nhwc_to_nchw(x)
    if not isinstance(got, np.ndarray):
        fail(f"nhwc_to_nchw returned {type(got).__name__}; expected a numpy array.")
    if got.dtype != x.dtype:
        fail(f"nhwc_to_nchw returned dtype {got.dtype}; expected x's dtype {x.dtype}.")
    _not_a_reshape(got, x, (0, 3, 1, 2), "nhwc_to_nchw")
    assert_np_close(got, x.transpose(0, 3, 1, 2), atol=0, what=f"nhwc_to_nchw(x of shape {x.shape})")


def _raises(fn, exc, call_text, *args):
    __tracebackhide__ = True
    try:
        fn(*args)
    except exc:
        return
    except Exception as e:  # noqa: BLE001
        fail(f"{call_text} raised {type(e).__name__}: {e}; expected {exc.__name__}.")
    fail(f"{call_text} did not raise; expected {exc.__name__}.")


def test_nchw_to_nhwc_rejects_other_ranks():
    """Does nchw_to_nhwc raise ValueError for arrays that are not 4-D?"""
    for shape in [(2, 3, 4), (1, 2, 3, 4, 5)]:
        _raises(mod.nchw_to_nhwc, ValueError, f"nchw_to_nhwc(array of shape {shape})", np.zeros(shape))


def test_nhwc_to_nchw_rejects_other_ranks():
    """Does nhwc_to_nchw raise ValueError for arrays that are not 4-D?"""
    for shape in [(2, 3), (1, 2, 3, 4, 5)]:
        _raises(mod.nhwc_to_nchw, ValueError, f"nhwc_to_nchw(array of shape {shape})", np.zeros(shape))


# --- dense_weights ------------------------------------------------------------------------------

@settings(max_examples=examples(6))
@given(n_in=st.integers(1, 6), n_out=st.integers(1, 6), bias=st.booleans(), seed=st.integers(0, 999))
def test_dense_weights_give_linear_output(n_in, n_out, bias, seed):
    """Does a Dense holding dense_weights(linear) compute linear(x)?"""
    rng = _rng(seed)
    linear = nn.Linear(n_in, n_out, bias=bias)
    before = state_of(linear)
    weights = mod.dense_weights(linear)
    what = f"dense_weights(nn.Linear({n_in}, {n_out}, bias={bias}))"
    dense = keras.layers.Dense(n_out, use_bias=bias)
    dense.build((None, n_in))
    if isinstance(weights, (list, tuple)) and weights and np.shape(weights[0]) == (n_out, n_in) != (n_in, n_out):
        fail(f"{what}[0] has torch's weight shape (out, in) = {(n_out, n_in)}; Keras's Dense "
             f"kernel is (in, out) = {(n_in, n_out)}: Dense computes x @ kernel, so it needs the "
             f"transpose of torch's weight.")
    set_weights(dense, weights, what=what, layer_text=f"Dense({n_out}, use_bias={bias}) built for {n_in} inputs")
    x = rng.normal(size=(3, n_in)).astype(np.float32)
    got = dense(x)
    kernel, weight = np.asarray(weights[0]), linear.weight.detach().numpy()
    if kernel.shape == weight.T.shape and not close_values(kernel, weight.T):
        if close_values(kernel, weight):
            fail(f"{what}[0] is torch's weight as it is; Dense computes x @ kernel, so it needs "
                 f"the transpose (in, out).")
        if close_values(kernel, weight.reshape(kernel.shape)):
            fail(f"{what}[0] is torch's weight reshaped to (in, out); a reshape is not a "
                 f"transpose: the values land in the wrong places.")
    assert_np_close(got, torch_out(linear, x), what=f"Dense with {what} on x (3, {n_in})")
    if not state_of(linear) == before:
        fail(f"{what} changed the torch layer.")


# --- conv2d_weights -----------------------------------------------------------------------------

def _find_permutation(kernel: np.ndarray, weight: np.ndarray) -> tuple[int, ...] | None:
    """The one order of ``weight``'s axes that gives ``kernel`` (None when none or several do:
    axes of size 1, or equal values, leave the order unproven)."""
    import itertools

    found = [perm for perm in itertools.permutations(range(4))
             if weight.transpose(perm).shape == kernel.shape
             and np.array_equal(weight.transpose(perm), kernel)]
    return found[0] if len(found) == 1 else None


@st.composite
def conv_configs(draw):
    cin, cout = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    dilation = (1, 1) if max(stride) > 1 else draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    h = draw(st.integers(dilation[0] * (kh - 1) + 1, dilation[0] * (kh - 1) + 4))
    w = draw(st.integers(dilation[1] * (kw - 1) + 1, dilation[1] * (kw - 1) + 4))
    return dict(cin=cin, cout=cout, k=(kh, kw), stride=stride, dilation=dilation, hw=(h, w),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 999)))


@settings(max_examples=examples(8))
@given(cfg=conv_configs())
@example(cfg=dict(cin=2, cout=3, k=(2, 3), stride=(1, 1), dilation=(1, 1), hw=(4, 5), bias=True,
                  seed=0))  # every axis a different size: a reshape is told from the transpose
def test_conv2d_weights_give_conv_output(cfg):
    """Does a Conv2D holding conv2d_weights(conv) compute conv(x), channels last?"""
    rng = _rng(cfg["seed"])
    conv = nn.Conv2d(cfg["cin"], cfg["cout"], cfg["k"], stride=cfg["stride"],
                     dilation=cfg["dilation"], bias=cfg["bias"])
    before = state_of(conv)
    weights = mod.conv2d_weights(conv)
    what = (f"conv2d_weights(nn.Conv2d({cfg['cin']}, {cfg['cout']}, {cfg['k']}, "
            f"stride={cfg['stride']}, dilation={cfg['dilation']}, bias={cfg['bias']}))")
    layer = keras.layers.Conv2D(cfg["cout"], cfg["k"], strides=cfg["stride"],
                                dilation_rate=cfg["dilation"], use_bias=cfg["bias"])
    h, w = cfg["hw"]
    layer.build((None, h, w, cfg["cin"]))
    if isinstance(weights, (list, tuple)) and weights:
        kernel, weight = np.asarray(weights[0]), conv.weight.detach().numpy()
        right = weight.transpose(2, 3, 1, 0)
        perm = None
        if kernel.shape != right.shape or not np.array_equal(kernel, right):
            perm = _find_permutation(kernel, weight)
        if perm is None and kernel.shape == right.shape and not np.array_equal(kernel, right) \
                and np.array_equal(kernel, weight.reshape(right.shape)):
            fail(f"{what}[0] is torch's weight reshaped to (kh, kw, in, out); a reshape is not a "
                 f"transpose of the axes: the values land in the wrong places.")
        if perm is not None:
            fail(f"{what}[0] is torch's weight (out, in, kh, kw) with its axes in the order "
                 f"{perm}, giving shape {kernel.shape}; Keras's Conv2D kernel is "
                 f"(kh, kw, in, out) = {(*cfg['k'], cfg['cin'], cfg['cout'])}.")
    set_weights(layer, weights, what=what,
                layer_text=f"Conv2D({cfg['cout']}, {cfg['k']}) on {cfg['cin']} channels")
    x = rng.normal(size=(2, cfg["cin"], h, w)).astype(np.float32)
    assert_np_close(layer(nchw(x, to="nhwc")), nchw(torch_out(conv, x), to="nhwc"),
                    what=f"Conv2D with {what} on x (2, {cfg['cin']}, {h}, {w}) (NHWC)")
    if not state_of(conv) == before:
        fail(f"{what} changed the torch layer.")


# --- lstm_weights / gru_weights -----------------------------------------------------------------

@st.composite
def rnn_configs(draw):
    return dict(d=draw(st.integers(1, 4)), h=draw(st.integers(1, 4)), t=draw(st.integers(1, 4)),
                b=draw(st.integers(1, 3)), seed=draw(st.integers(0, 999)))


def _diagnose_rnn(weights, torch_rnn, n_gates, what):
    """Name a few recognisable mistakes before the numeric comparison."""
    __tracebackhide__ = True
    if not isinstance(weights, (list, tuple)) or len(weights) != 3:
        return
    kernel, _, bias = (np.asarray(w) for w in weights)
    w_ih = torch_rnn.weight_ih_l0.detach().numpy()
    b_ih, b_hh = torch_rnn.bias_ih_l0.detach().numpy(), torch_rnn.bias_hh_l0.detach().numpy()
    if kernel.shape == w_ih.shape and w_ih.shape != w_ih.T.shape:
        fail(f"{what}[0] has torch's shape ({n_gates}H, D); Keras's kernel is (D, {n_gates}H).")
    if n_gates == 4 and bias.shape == b_ih.shape and (close_values(bias, b_ih) or close_values(bias, b_hh)):
        fail(f"{what}[2] is only one of torch's two biases; Keras's LSTM has one bias, which must "
             f"act as bias_ih_l0 and bias_hh_l0 together.")
    names = "ifgo" if n_gates == 4 else "rzn"
    keras_names = "ifco" if n_gates == 4 else "zrh"
    right = (0, 1, 2, 3) if n_gates == 4 else (1, 0, 2)
    blocks = np.split(w_ih, n_gates, axis=0)
    import itertools

    for perm in itertools.permutations(range(n_gates)):
        candidate = np.concatenate([blocks[i] for i in perm], axis=0).T
        if perm != right and candidate.shape == kernel.shape and np.array_equal(candidate, kernel) \
                and not np.array_equal(candidate, np.concatenate([blocks[i] for i in right]).T):
            fail(f"{what}[0] holds torch's gate blocks in the order "
                 f"({', '.join(names[i] for i in perm)}); Keras's {'LSTM' if n_gates == 4 else 'GRU'} "
                 f"expects its order ({', '.join(keras_names)}), which is torch's "
                 f"({', '.join(names[i] for i in right)}).")
    if n_gates == 3:
        reorder = lambda b: np.concatenate([np.split(b, 3)[i] for i in right])  # noqa: E731
        if bias.shape == (2, b_ih.shape[0]) and close_values(bias[0], reorder(b_hh)) \
                and close_values(bias[1], reorder(b_ih)) and not close_values(b_ih, b_hh):
            fail(f"{what}[2] has the recurrent bias in row 0 and the input bias in row 1; Keras's "
                 f"GRU(reset_after=True) wants the input bias first.")
        if bias.shape == b_ih.shape:
            fail(f"{what}[2] has shape {bias.shape}; keras.layers.GRU(reset_after=True) keeps the "
                 f"input and recurrent biases apart, as a (2, 3H) array.")


def _check_rnn(kind, cfg):
    __tracebackhide__ = True
    rng = _rng(cfg["seed"])
    d, h, t, b = cfg["d"], cfg["h"], cfg["t"], cfg["b"]
    torch_rnn = getattr(nn, kind)(d, h, batch_first=True)
    before = state_of(torch_rnn)
    weights = getattr(mod, f"{kind.lower()}_weights")(torch_rnn)
    what = f"{kind.lower()}_weights(nn.{kind}({d}, {h}))"
    _diagnose_rnn(weights, torch_rnn, 4 if kind == "LSTM" else 3, what)
    extra = {} if kind == "LSTM" else {"reset_after": True}
    layer = getattr(keras.layers, kind)(h, return_sequences=True, **extra)
    layer.build((None, t, d))
    text = f"keras.layers.{kind}({h}{', reset_after=True' if extra else ''}) on {d} features"
    set_weights(layer, weights, what=what, layer_text=text)
    x = rng.normal(size=(b, t, d)).astype(np.float32)
    assert_np_close(layer(x), torch_out(torch_rnn, x),
                    what=f"Keras {kind} with {what}, all outputs for x (B={b}, T={t}, D={d})")
    if not state_of(torch_rnn) == before:
        fail(f"{what} changed the torch layer.")


@settings(max_examples=examples(4))
@given(cfg=rnn_configs())
def test_lstm_weights_give_lstm_output(cfg):
    """Does a Keras LSTM holding lstm_weights(lstm) give the torch LSTM's outputs?"""
    _check_rnn("LSTM", cfg)


@settings(max_examples=examples(4))
@given(cfg=rnn_configs())
def test_gru_weights_give_gru_output(cfg):
    """Does a Keras GRU (reset_after=True) holding gru_weights(gru) give the torch GRU's outputs?"""
    _check_rnn("GRU", cfg)


def test_lstm_weights_reject_unsupported_layers():
    """Does lstm_weights raise ValueError for stacked, bidirectional, bias-free or projected LSTMs?"""
    for text, kwargs in [("num_layers=2", dict(num_layers=2)), ("bidirectional=True", dict(bidirectional=True)),
                         ("bias=False", dict(bias=False)), ("proj_size=2", dict(proj_size=2))]:
        _raises(mod.lstm_weights, ValueError, f"lstm_weights(nn.LSTM(3, 4, {text}))", nn.LSTM(3, 4, **kwargs))


def test_gru_weights_reject_unsupported_layers():
    """Does gru_weights raise ValueError for stacked, bidirectional or bias-free GRUs?"""
    for text, kwargs in [("num_layers=2", dict(num_layers=2)), ("bidirectional=True", dict(bidirectional=True)),
                         ("bias=False", dict(bias=False))]:
        _raises(mod.gru_weights, ValueError, f"gru_weights(nn.GRU(3, 4, {text}))", nn.GRU(3, 4, **kwargs))


# --- batchnorm_layer ----------------------------------------------------------------------------

def _bn_layer(bn, what):
    __tracebackhide__ = True
    layer = mod.batchnorm_layer(bn)
    if not isinstance(layer, keras.layers.BatchNormalization):
        fail(f"{what} returned {type(layer).__name__}; expected a keras.layers.BatchNormalization.")
    if not layer.built:
        fail(f"{what} returned a layer that is not built; build it for the input shape, then set "
             f"its weights.")
    expected = {"moving_mean": bn.running_mean, "moving_variance": bn.running_var}
    if bn.affine:
        expected |= {"gamma": bn.weight, "beta": bn.bias}
    for name, value in expected.items():
        var = getattr(layer, name, None)
        if var is None:
            fail(f"{what} returned a layer without {name} (center and scale follow bn.affine).")
        assert_np_close(var, value.detach().numpy(), what=f"{what}: the layer's {name}")
    return layer


@settings(max_examples=examples(6))
@given(case=bn_cases())
def test_batchnorm_layer_matches_in_inference(case):
    """In inference mode, does the Keras layer give bn.eval()(x), channels last?"""
    bn, x, what = case
    before = state_of(bn)
    layer = _bn_layer(bn, what)
    if abs(float(layer.epsilon) - bn.eps) > 1e-12:
        hint = " (Keras's default is 1e-3)" if abs(float(layer.epsilon) - 1e-3) < 1e-12 else ""
        fail(f"{what} has epsilon {layer.epsilon}; torch's layer uses eps={bn.eps}{hint}.")
    was_training = bn.training
    expected = torch_out(bn.eval(), x)
    bn.train(was_training)
    for training in (None, False):
        got = layer(nchw(x, to="nhwc")) if training is None else layer(nchw(x, to="nhwc"), training=False)
        call = "layer(x)" if training is None else "layer(x, training=False)"
        assert_np_close(got, nchw(expected, to="nhwc"), what=f"{call} for {what}")
    if not state_of(bn) == before:
        fail(f"{what} changed the torch layer.")


@settings(max_examples=examples(5))
@given(case=bn_cases())
def test_batchnorm_layer_matches_in_training(case):
    """In training mode, does the layer use batch statistics and move its mean with torch's momentum?"""
    bn, x, what = case
    layer = _bn_layer(bn, what)
    if abs(float(layer.momentum) - (1 - bn.momentum)) > 1e-12:
        hint = (" (torch's momentum as it is: Keras's momentum weighs the old moving value, "
                "torch's weighs the new batch value)") if abs(float(layer.momentum) - bn.momentum) < 1e-12 else ""
        fail(f"{what} has momentum {layer.momentum}, expected 1 - {bn.momentum} = "
             f"{1 - bn.momentum:.6g}{hint}.")
    got = layer(nchw(x, to="nhwc"), training=True)
    bn.train()
    expected = torch_out(bn, x)
    assert_np_close(got, nchw(expected, to="nhwc"), what=f"layer(x, training=True) for {what}")
    assert_np_close(layer.moving_mean, bn.running_mean.numpy(),
                    what=f"moving_mean after one training call, for {what}")


def test_batchnorm_layer_rejects_unportable_layers():
    """Does batchnorm_layer raise ValueError (momentum None, no running stats) and TypeError (other layers)?"""
    _raises(mod.batchnorm_layer, ValueError, "batchnorm_layer(nn.BatchNorm2d(3, momentum=None))",
            nn.BatchNorm2d(3, momentum=None))
    _raises(mod.batchnorm_layer, ValueError,
            "batchnorm_layer(nn.BatchNorm1d(3, track_running_stats=False))",
            nn.BatchNorm1d(3, track_running_stats=False))
    _raises(mod.batchnorm_layer, TypeError, "batchnorm_layer(nn.LayerNorm(3))", nn.LayerNorm(3))


# --- port_mlp -----------------------------------------------------------------------------------

def _keras_model(result, what):
    __tracebackhide__ = True
    if not isinstance(result, keras.Model):
        fail(f"{what} returned {type(result).__name__}; expected a keras.Model "
             f"(keras.Sequential is one).")
    return result


@settings(max_examples=examples(5))
@given(case=mlp_cases())
def test_port_mlp_matches_torch(case):
    """Does the ported MLP give the torch MLP's eval-mode output on the same input?"""
    model, x, text = case
    before = state_of(model)
    keras_model = _keras_model(mod.port_mlp(model), f"port_mlp({text})")
    expected = torch_out(model.eval(), x)
    model.train(before.training)
    try:
        assert_np_close(keras_model(x), expected, what=f"port_mlp({text}) on x of shape {x.shape}")
    except AssertionError as e:
        fail(" ".join([str(e), *_mlp_notes(model, keras_model)]))
    assert_np_close(keras_model(x, training=False), expected,
                    what=f"port_mlp({text}) called with training=False")
    if state_of(model) != before:
        fail(f"port_mlp({text}) changed the torch model (its weights or its train/eval mode).")


def _mlp_notes(model, keras_model):
    """Recognisable slips in a ported MLP, read from its layers (best effort)."""
    notes = []
    linears = [m for m in model if isinstance(m, nn.Linear)]
    denses = [lay for lay in keras_model.layers if isinstance(lay, keras.layers.Dense)]
    if len(linears) == len(denses):
        for i, (lin, dense) in enumerate(zip(linears, denses)):
            kernel, weight = np.asarray(dense.kernel), lin.weight.detach().numpy()
            if kernel.shape == weight.shape and close_values(kernel, weight) and not close_values(kernel, weight.T):
                notes.append(f"Dense {i} holds torch's weight untransposed (Dense computes x @ kernel).")
            if getattr(dense, "activation", None) not in (None, keras.activations.linear):
                notes.append(f"Dense {i} has its own activation; torch's Linear has none.")
    n_act = sum(isinstance(m, (nn.ReLU, nn.Tanh, nn.Sigmoid)) for m in model)
    k_act = sum(isinstance(lay, (keras.layers.ReLU, keras.layers.Activation)) for lay in keras_model.layers)
    if k_act != n_act:
        notes.append(f"The torch model has {n_act} activation layers, the Keras model {k_act}.")
    return notes


def test_port_mlp_rejects_unportable_models():
    """Does port_mlp raise TypeError for other layers or a non-Sequential, ValueError for Flatten(2)?"""
    _raises(mod.port_mlp, TypeError, "port_mlp(nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)))",
            nn.Sequential(nn.Linear(4, 3), nn.Softmax(1)))
    _raises(mod.port_mlp, TypeError, "port_mlp(nn.Linear(4, 3))", nn.Linear(4, 3))
    _raises(mod.port_mlp, ValueError, "port_mlp(nn.Sequential(nn.Flatten(2), nn.Linear(4, 3)))",
            nn.Sequential(nn.Flatten(2), nn.Linear(4, 3)))


# --- port_cnn -----------------------------------------------------------------------------------

def _check_cnn(model, shape, text, *, on_failure=""):
    __tracebackhide__ = True
    before = state_of(model)
    x = np.random.default_rng(len(text)).normal(size=(2, *shape)).astype(np.float32)
    keras_model = _keras_model(mod.port_cnn(model, shape), f"port_cnn({text}, {shape})")
    expected = torch_out(model.eval(), x)
    model.train(before.training)
    if expected.ndim == 4:
        expected = nchw(expected, to="nhwc")
    try:
        got = keras_model(nchw(x, to="nhwc"))
    except Exception as e:  # noqa: BLE001
        fail(f"port_cnn({text}, {shape}) returned a model that fails on NHWC input of shape "
             f"{(2, *shape[1:], shape[0])}: {type(e).__name__}: {e}")
    try:
        assert_np_close(got, expected, what=f"port_cnn({text}, {shape}) on NHWC images")
    except AssertionError as e:
        notes = [on_failure] if on_failure else []
        notes += _cnn_notes(model, keras_model)
        fail(" ".join([str(e), *notes]))
    if state_of(model) != before:
        fail(f"port_cnn({text}, {shape}) changed the torch model (its weights or its mode).")


def _cnn_notes(model, keras_model):
    """Recognisable slips in a ported CNN, read from its layers (best effort)."""
    notes = []
    bns = [m for m in model if isinstance(m, nn.BatchNorm2d)]
    kbns = [lay for lay in keras_model.layers if isinstance(lay, keras.layers.BatchNormalization)]
    if len(bns) == len(kbns):
        for i, (bn, kbn) in enumerate(zip(bns, kbns)):
            if abs(float(kbn.epsilon) - bn.eps) > 1e-12:
                notes.append(f"Batch norm {i} has epsilon {kbn.epsilon} in Keras but eps={bn.eps} "
                             f"in torch.")
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    kconvs = [lay for lay in keras_model.layers if isinstance(lay, keras.layers.Conv2D)]
    if len(convs) != len(kconvs):
        return notes
    for i, (conv, kconv) in enumerate(zip(convs, kconvs)):
        weight, kernel = conv.weight.detach().numpy(), np.asarray(kconv.get_weights()[0])
        right = weight.transpose(2, 3, 1, 0)
        if kernel.shape != right.shape or not np.array_equal(kernel, right):
            perm = _find_permutation(kernel, weight)
            notes.append(f"Conv {i}'s Keras kernel is not torch's weight as (kh, kw, in, out)"
                         + (f": it is the weight's axes in the order {perm}, not (2, 3, 1, 0)."
                            if perm else "."))
        elif kconv.padding == "same" and (max(conv.stride) > 1 or min(conv.kernel_size) % 2 == 0
                                          or any(conv.kernel_size[j] // 2 != conv.padding[j]
                                                 for j in range(2))):
            notes.append(f"Conv {i} uses Keras's padding='same', which does not pad as this torch "
                         f"layer (stride {conv.stride}, kernel {conv.kernel_size}, padding "
                         f"{conv.padding}) does: pad explicitly with ZeroPadding2D, then 'valid'.")
    return notes


@settings(max_examples=examples(6))
@given(case=cnn_cases())
def test_port_cnn_matches_torch(case):
    """Does the ported CNN, on NHWC images, give the torch CNN's eval-mode output?"""
    model, shape, text = case
    _check_cnn(model, shape, text)


def test_port_cnn_keeps_torch_flatten_order():
    """After Flatten, does the first Linear see the features in torch's (C, H, W) order?"""
    torch.manual_seed(1)
    conv_only = nn.Sequential(nn.Conv2d(2, 3, 1))
    _check_cnn(conv_only, (2, 3, 4), "nn.Sequential(nn.Conv2d(2, 3, 1))")
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.Flatten(), nn.Linear(36, 5))
    _check_cnn(model, (2, 3, 4), "nn.Sequential(nn.Conv2d(2, 3, 1), nn.Flatten(), nn.Linear(36, 5))",
               on_failure="The same model without Flatten and Linear ports right, so look at the "
               "order of the flattened features: torch flattens (C, H, W), Keras's Flatten on "
               "NHWC gives (H, W, C).")


def test_port_cnn_pads_as_torch_with_stride_and_odd_sizes():
    """With stride 2, even kernels and odd or even sizes, does the port pad exactly as torch does?"""
    torch.manual_seed(2)
    cases = [((3, 2, 1), (1, 8, 8)), ((3, 2, 1), (1, 7, 9)), ((4, 2, 1), (1, 9, 8)),
             ((2, 1, 1), (1, 5, 6)), ((3, 1, 1), (1, 5, 4))]
    for (k, s, p), shape in cases:
        model = nn.Sequential(nn.Conv2d(1, 2, k, stride=s, padding=p))
        _check_cnn(model, shape, f"nn.Sequential(nn.Conv2d(1, 2, {k}, stride={s}, padding={p}))",
                   on_failure="Keras's padding='same' does not pad as torch does (for stride 2 "
                   "or an even kernel it puts the extra row at the bottom/right, and its output "
                   "size is ceil(H / stride)): pad explicitly, as torch does, then convolve with "
                   "padding='valid'.")


def test_port_cnn_rejects_unportable_models():
    """Does port_cnn raise ValueError for unsupported settings and TypeError for other layers?"""
    bad_value = [
        ("nn.Conv2d(2, 2, 3, padding='same')", nn.Conv2d(2, 2, 3, padding="same")),
        ("nn.Conv2d(2, 2, 3, groups=2)", nn.Conv2d(2, 2, 3, groups=2)),
        ("nn.MaxPool2d(2, padding=1)", nn.MaxPool2d(2, padding=1)),
        ("nn.MaxPool2d(2, ceil_mode=True)", nn.MaxPool2d(2, ceil_mode=True)),
        ("nn.Conv2d(2, 2, 3, padding='valid')", nn.Conv2d(2, 2, 3, padding="valid")),
        ("nn.Conv2d(2, 2, 3, padding=1, padding_mode='reflect')",
         nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect")),
        ("nn.Conv2d(2, 2, 3, padding=1, padding_mode='circular')",
         nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular")),
        ("nn.Conv2d(2, 2, 2, stride=2, dilation=2)", nn.Conv2d(2, 2, 2, stride=2, dilation=2)),
        ("nn.MaxPool2d(2, dilation=2)", nn.MaxPool2d(2, dilation=2)),
    ]
    for text, layer in bad_value:
        _raises(mod.port_cnn, ValueError, f"port_cnn(nn.Sequential({text}), (2, 6, 6))",
                nn.Sequential(layer), (2, 6, 6))
    bad_order = [
        ("nn.Linear(6, 3)", [nn.Linear(6, 3)]),
        ("nn.Conv2d(2, 2, 3), nn.Flatten(2)", [nn.Conv2d(2, 2, 3), nn.Flatten(2)]),
        ("nn.Conv2d(2, 2, 3), nn.Flatten(0)", [nn.Conv2d(2, 2, 3), nn.Flatten(0)]),
        ("nn.Flatten(), nn.Conv2d(72, 2, 1)", [nn.Flatten(), nn.Conv2d(72, 2, 1)]),
        ("nn.Flatten(), nn.MaxPool2d(2)", [nn.Flatten(), nn.MaxPool2d(2)]),
        ("nn.Flatten(), nn.BatchNorm2d(72)", [nn.Flatten(), nn.BatchNorm2d(72)]),
    ]
    for text, layers in bad_order:
        _raises(mod.port_cnn, ValueError, f"port_cnn(nn.Sequential({text}), (2, 6, 6))",
                nn.Sequential(*layers), (2, 6, 6))
    _raises(mod.port_cnn, TypeError, "port_cnn(nn.Sequential(nn.AvgPool2d(2)), (2, 6, 6))",
            nn.Sequential(nn.AvgPool2d(2)), (2, 6, 6))
    _raises(mod.port_cnn, TypeError, "port_cnn(nn.ModuleList([nn.Conv2d(2, 2, 3)]), (2, 6, 6))",
            nn.ModuleList([nn.Conv2d(2, 2, 3)]), (2, 6, 6))


# --- port_text_classifier -----------------------------------------------------------------------

@settings(max_examples=examples(3))
@given(v=st.integers(2, 12), e=st.integers(1, 4), h=st.integers(1, 4), c=st.integers(2, 4),
       t=st.integers(1, 5), int32=st.booleans(), seed=st.integers(0, 999))
def test_port_text_classifier_matches_torch(v, e, h, c, t, int32, seed):
    """Does the ported TextClassifier give the torch model's logits for the same ids?"""
    rng = _rng(seed)
    model = mod.TextClassifier(v, e, h, c)
    before = state_of(model)
    ids = rng.integers(0, v, size=(3, t)).astype(np.int32 if int32 else np.int64)
    text = f"port_text_classifier(TextClassifier({v}, {e}, {h}, {c}))"
    keras_model = _keras_model(mod.port_text_classifier(model), text)
    with torch.no_grad():
        expected = model(torch.from_numpy(ids.astype(np.int64))).numpy()
    try:
        assert_np_close(keras_model(ids), expected, what=f"{text} on {ids.dtype} ids of shape {ids.shape}")
    except AssertionError as e:
        notes = []
        for lay in keras_model.layers:
            if isinstance(lay, keras.layers.LSTM) and len(lay.weights) == 3:
                bias, lstm = np.asarray(lay.weights[2]), model.lstm
                for name in ("bias_ih_l0", "bias_hh_l0"):
                    if close_values(bias, getattr(lstm, name).detach().numpy()):
                        notes.append(f"The Keras LSTM's bias is torch's {name} alone; it must act as "
                                     f"bias_ih_l0 and bias_hh_l0 together.")
        fail(" ".join([str(e), *notes]))
    if state_of(model) != before:
        fail(f"{text} changed the torch model.")
