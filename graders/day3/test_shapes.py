"""Graders for day3/shapes.py: output sizes, parameter counts and receptive fields, checked
against real torch layers (a configuration torch refuses must raise ValueError)."""

from __future__ import annotations

import itertools
import warnings

import torch
import torch.nn.functional as F
from hypothesis import example, given
from hypothesis import strategies as st

from graders import student
from graders.checks import fail

mod = student("day3.shapes")

REFUSED = "refused"


def _run_torch(fn) -> tuple[int, int] | str:
    """torch's output (H, W) for a layer call, or REFUSED when torch raises."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
    except Exception:  # noqa: BLE001 - any refusal by torch
        return REFUSED
    if out.shape[-2] == 0 or out.shape[-1] == 0:
        return REFUSED  # torch refuses empty outputs (one transposed-conv path lets a few through)
    return int(out.shape[-2]), int(out.shape[-1])


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _zeros(in_hw) -> torch.Tensor:
    h, w = _pair(in_hw)
    return torch.zeros(1, 1, h, w)


def torch_conv(in_hw, kernel_size, stride=1, padding=0, dilation=1):
    kh, kw = _pair(kernel_size)
    return _run_torch(lambda: F.conv2d(_zeros(in_hw), torch.zeros(1, 1, kh, kw), None,
                                       stride, padding, dilation))


def torch_pool(in_hw, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return _run_torch(lambda: F.max_pool2d(_zeros(in_hw), kernel_size, stride, padding, dilation,
                                           ceil_mode))


def torch_conv_t(in_hw, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    kh, kw = _pair(kernel_size)
    return _run_torch(lambda: F.conv_transpose2d(_zeros(in_hw), torch.zeros(1, 1, kh, kw), None,
                                                 stride, padding, output_padding, 1, dilation))


#: The leading parameters of the three output-size functions, named in every call shown.
POSITIONAL = ("in_hw", "kernel_size")


def _call_text(name: str, args: tuple, kwargs: dict) -> str:
    parts = [f"{k}={v!r}" for k, v in zip(POSITIONAL, args)] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _check(name: str, expected, args: tuple, kwargs: dict, formula: str) -> None:
    __tracebackhide__ = True
    call = _call_text(name, args, kwargs)
    fn = getattr(mod, name)
    try:
        got = fn(*args, **kwargs)
    except ValueError as exc:
        if expected == REFUSED:
            return
        fail(f"{call} raised ValueError ({exc}), but torch accepts this configuration and "
             f"gives {expected}. {formula}")
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"{call} raised {type(exc).__name__}: {exc}; expected "
             + ("ValueError (torch refuses this configuration)." if expected == REFUSED
                else f"{expected}."))
    if expected == REFUSED:
        fail(f"{call} returned {got!r}, but torch refuses this configuration: raise ValueError. "
             f"Check sizes, kernels, strides and dilations below 1, negative padding and an "
             f"output size below 1.")
    if not isinstance(got, tuple) or len(got) != 2 or not all(type(v) is int for v in got):
        fail(f"{call} returned {got!r} ({type(got).__name__}); expected a tuple of two Python "
             f"ints, {expected}.")
    if got != expected:
        fail(f"{call} returned {got}, but torch gives {expected}. {formula}")


# --- strategies ----------------------------------------------------------------------------------

def int_or_pair(lo: int, hi: int) -> st.SearchStrategy:
    one = st.integers(lo, hi)
    return st.one_of(one, st.tuples(one, one))


CONV_FORMULA = "Per dimension: out = (in + 2*padding - dilation*(kernel - 1) - 1) // stride + 1."
POOL_FORMULA = ("Per dimension, span = dilation*(kernel-1)+1, out = floor_or_ceil((in + 2*padding "
                "- span) / stride) + 1; with ceil_mode drop the last window when it would start "
                "at or after in + padding.")
CONVT_FORMULA = ("Per dimension: out = (in - 1)*stride - 2*padding + dilation*(kernel - 1) + "
                 "output_padding + 1.")


# --- conv2d_output_shape -------------------------------------------------------------------------

def test_conv2d_output_shape_matches_conv2d_on_a_grid():
    """Does conv2d_output_shape give nn.Conv2d's size for every small int configuration?"""
    for in_hw, k, s, p, d in itertools.product(range(1, 8), range(1, 5), range(1, 4), range(0, 3),
                                               range(1, 3)):
        _check("conv2d_output_shape", torch_conv(in_hw, k, s, p, d), (in_hw, k),
               dict(stride=s, padding=p, dilation=d), CONV_FORMULA)


@given(in_hw=int_or_pair(1, 9), kernel_size=int_or_pair(1, 5), stride=int_or_pair(1, 3),
       padding=int_or_pair(0, 3), dilation=int_or_pair(1, 3))
def test_conv2d_output_shape_with_pairs(in_hw, kernel_size, stride, padding, dilation):
    """Does conv2d_output_shape handle (height, width) pairs that differ per dimension?"""
    expected = torch_conv(in_hw, kernel_size, stride, padding, dilation)
    _check("conv2d_output_shape", expected, (in_hw, kernel_size),
           dict(stride=stride, padding=padding, dilation=dilation), CONV_FORMULA)


@given(in_hw=int_or_pair(-1, 6), kernel_size=int_or_pair(-1, 4), stride=int_or_pair(-1, 3),
       padding=int_or_pair(-2, 2), dilation=int_or_pair(-1, 2))
def test_conv2d_output_shape_refuses_what_torch_refuses(in_hw, kernel_size, stride, padding,
                                                        dilation):
    """Does conv2d_output_shape raise ValueError exactly where nn.Conv2d refuses the configuration?"""
    expected = torch_conv(in_hw, kernel_size, stride, padding, dilation)
    if min(_pair(in_hw)) < 1 or min(_pair(kernel_size)) < 1:
        expected = REFUSED  # torch may not even build these tensors: refused all the same
    _check("conv2d_output_shape", expected, (in_hw, kernel_size),
           dict(stride=stride, padding=padding, dilation=dilation), CONV_FORMULA)


@given(in_hw=int_or_pair(1, 7), kernel_size=int_or_pair(1, 5), stride=int_or_pair(1, 2),
       padding=st.sampled_from(["same", "valid"]), dilation=int_or_pair(1, 3))
def test_conv2d_output_shape_same_and_valid(in_hw, kernel_size, stride, padding, dilation):
    """Does padding="same" keep the input size (stride 1 only) and "valid" mean no padding?"""
    expected = torch_conv(in_hw, kernel_size, stride, padding, dilation)
    _check("conv2d_output_shape", expected, (in_hw, kernel_size),
           dict(stride=stride, padding=padding, dilation=dilation),
           '"same" returns the input size and is refused (ValueError) unless the stride is 1; '
           '"valid" is padding 0.')


# --- pool2d_output_shape -------------------------------------------------------------------------

def test_pool2d_output_shape_matches_max_pool_on_a_grid():
    """Does pool2d_output_shape give nn.MaxPool2d's size for every small int configuration?"""
    for in_hw, k, s, p, d, ceil in itertools.product(range(1, 8), range(1, 5), [None, 1, 2, 3],
                                                     range(0, 3), range(1, 3), [False, True]):
        _check("pool2d_output_shape", torch_pool(in_hw, k, s, p, d, ceil), (in_hw, k),
               dict(stride=s, padding=p, dilation=d, ceil_mode=ceil), POOL_FORMULA)


@given(in_hw=int_or_pair(1, 9), kernel_size=int_or_pair(1, 5),
       stride=st.one_of(st.none(), int_or_pair(1, 4)), padding=int_or_pair(0, 3),
       dilation=int_or_pair(1, 3), ceil_mode=st.booleans())
def test_pool2d_output_shape_with_pairs(in_hw, kernel_size, stride, padding, dilation, ceil_mode):
    """Does pool2d_output_shape handle pairs, ceil_mode and the half-window padding limit?"""
    expected = torch_pool(in_hw, kernel_size, stride, padding, dilation, ceil_mode)
    _check("pool2d_output_shape", expected, (in_hw, kernel_size),
           dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode),
           POOL_FORMULA + " Padding above kernel // 2 is refused.")


@given(in_hw=int_or_pair(-1, 6), kernel_size=int_or_pair(-1, 4),
       stride=st.one_of(st.none(), int_or_pair(0, 3)), padding=int_or_pair(-1, 2),
       dilation=int_or_pair(0, 2), ceil_mode=st.booleans())
def test_pool2d_output_shape_refuses_what_torch_refuses(in_hw, kernel_size, stride, padding,
                                                        dilation, ceil_mode):
    """Does pool2d_output_shape raise ValueError exactly where nn.MaxPool2d refuses?"""
    expected = torch_pool(in_hw, kernel_size, stride, padding, dilation, ceil_mode)
    if min(_pair(in_hw)) < 1 or min(_pair(kernel_size)) < 1:
        expected = REFUSED
    _check("pool2d_output_shape", expected, (in_hw, kernel_size),
           dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode),
           POOL_FORMULA)


# --- conv_transpose2d_output_shape ---------------------------------------------------------------

def test_conv_transpose2d_output_shape_matches_torch_on_a_grid():
    """Does conv_transpose2d_output_shape give nn.ConvTranspose2d's size on a grid of ints?"""
    for in_hw, k, s, p, op, d in itertools.product(range(1, 6), range(1, 5), range(1, 4),
                                                   range(0, 3), range(0, 3), range(1, 3)):
        _check("conv_transpose2d_output_shape", torch_conv_t(in_hw, k, s, p, op, d), (in_hw, k),
               dict(stride=s, padding=p, output_padding=op, dilation=d),
               CONVT_FORMULA + " output_padding must be smaller than the stride or the dilation.")


@given(in_hw=int_or_pair(-1, 7), kernel_size=int_or_pair(0, 4), stride=int_or_pair(0, 3),
       padding=int_or_pair(-1, 3), output_padding=int_or_pair(-1, 3), dilation=int_or_pair(0, 3))
def test_conv_transpose2d_output_shape_with_pairs_and_refusals(in_hw, kernel_size, stride, padding,
                                                               output_padding, dilation):
    """Does conv_transpose2d_output_shape handle pairs and raise ValueError where torch refuses?"""
    expected = torch_conv_t(in_hw, kernel_size, stride, padding, output_padding, dilation)
    if min(_pair(in_hw)) < 1 or min(_pair(kernel_size)) < 1:
        expected = REFUSED
    _check("conv_transpose2d_output_shape", expected, (in_hw, kernel_size),
           dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation),
           CONVT_FORMULA + " output_padding must be smaller than the stride or the dilation.")


# --- conv2d_num_params ---------------------------------------------------------------------------

@given(in_channels=st.integers(0, 8), out_channels=st.integers(0, 8),
       kernel_size=int_or_pair(0, 4), groups=st.integers(0, 4), bias=st.booleans())
@example(in_channels=0, out_channels=4, kernel_size=3, groups=1, bias=True)  # each size at 0 alone
@example(in_channels=4, out_channels=0, kernel_size=3, groups=1, bias=False)
@example(in_channels=4, out_channels=4, kernel_size=(3, 0), groups=1, bias=True)
@example(in_channels=4, out_channels=4, kernel_size=3, groups=0, bias=True)
@example(in_channels=4, out_channels=6, kernel_size=(1, 3), groups=2, bias=True)  # groups divide both
@example(in_channels=4, out_channels=6, kernel_size=3, groups=4, bias=True)  # ... and here they do not
def test_conv2d_num_params_matches_nn_conv2d(in_channels, out_channels, kernel_size, groups, bias):
    """Does conv2d_num_params count nn.Conv2d's parameters, and refuse invalid configurations?"""
    call = _call_text("conv2d_num_params", (), dict(in_channels=in_channels, out_channels=out_channels,
                                                    kernel_size=kernel_size, groups=groups, bias=bias))
    valid = (min(in_channels, out_channels, groups, *_pair(kernel_size)) >= 1
             and in_channels % groups == 0 and out_channels % groups == 0)
    try:
        got = mod.conv2d_num_params(in_channels, out_channels, kernel_size, groups=groups, bias=bias)
    except ValueError as exc:
        if not valid:
            return
        fail(f"{call} raised ValueError ({exc}) for a valid layer.")
    if not valid:
        fail(f"{call} returned {got!r}: raise ValueError unless channels, kernel sizes and groups "
             f"are at least 1 and groups divides both channel counts.")
    layer = torch.nn.Conv2d(in_channels, out_channels, kernel_size, groups=groups, bias=bias)
    expected = sum(p.numel() for p in layer.parameters())
    if type(got) is not int or got != expected:
        fail(f"{call} returned {got!r}; nn.Conv2d has {expected} parameters: "
             f"out * (in // groups) * kh * kw weights" + (" plus out biases." if bias else "."))


# --- receptive_field -----------------------------------------------------------------------------

def _measured_receptive_field(layers) -> int:
    """The span of input positions that reach output 0 of a 1-D stack of all-ones convolutions."""
    length = 1000
    x = torch.zeros(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in layers:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, 0].backward()
    hit = torch.nonzero(x.grad[0, 0]).flatten()
    return int(hit[-1] - hit[0] + 1)


@given(layers=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 3)),
                       min_size=0, max_size=4))
def test_receptive_field_matches_a_real_stack(layers):
    """Does receptive_field equal the span of inputs that reach one output of a real conv stack?"""
    expected = _measured_receptive_field(layers)
    got = mod.receptive_field(layers)
    if type(got) is not int or got != expected:
        fail(f"receptive_field({layers}) returned {got!r}; one output of that stack sees "
             f"{expected} input positions. Each layer adds (kernel - 1) * dilation times the "
             f"product of the strides of the layers BEFORE it (not including its own).")
