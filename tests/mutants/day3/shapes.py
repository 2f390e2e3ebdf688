"""Wrong solutions for day3/shapes.py, each a mistake students really make."""

import math

from graders.testing import mutant


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@mutant("day3.shapes.conv2d_output_shape", expect=r"torch refuses this configuration")
def conv_shape_never_refuses(in_hw, kernel_size, stride=1, padding=0, dilation=1):
    h_w, k, s, d = _pair(in_hw), _pair(kernel_size), _pair(stride), _pair(dilation)
    if padding == "same":
        return h_w
    p = (0, 0) if padding == "valid" else _pair(padding)
    out = tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, ss, pp, dd in zip(h_w, k, s, p, d))
    return out[0], out[1]


@mutant("day3.shapes.conv2d_output_shape", expect=r"dilation=\d.*but torch gives")
def conv_shape_ignores_dilation(in_hw, kernel_size, stride=1, padding=0, dilation=1):
    h_w, k, s = _pair(in_hw), _pair(kernel_size), _pair(stride)
    if min(h_w + k + s + _pair(dilation)) < 1:
        raise ValueError("bad")
    if isinstance(padding, str):
        if padding == "same":
            if s != (1, 1):
                raise ValueError("same needs stride 1")
            return h_w
        padding = 0
    p = _pair(padding)
    if min(p) < 0:
        raise ValueError("negative")
    out = tuple((n + 2 * pp - kk) // ss + 1 for n, kk, ss, pp in zip(h_w, k, s, p))
    if min(out) < 1:
        raise ValueError("too small")
    return out[0], out[1]


@mutant("day3.shapes.conv2d_output_shape", expect=r"same")
def conv_shape_same_with_any_stride(in_hw, kernel_size, stride=1, padding=0, dilation=1):
    h_w, k, s, d = _pair(in_hw), _pair(kernel_size), _pair(stride), _pair(dilation)
    if min(h_w + k + s + d) < 1:
        raise ValueError("bad")
    if padding == "same":
        return tuple(-(-n // ss) for n, ss in zip(h_w, s))
    p = (0, 0) if padding == "valid" else _pair(padding)
    if min(p) < 0:
        raise ValueError("negative")
    out = tuple((n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, ss, pp, dd in zip(h_w, k, s, p, d))
    if min(out) < 1:
        raise ValueError("too small")
    return out[0], out[1]


def _pool(in_hw, kernel_size, stride, padding, dilation, ceil_mode, *, fix_last=True,
          default_stride_one=False):
    h_w, k = _pair(in_hw), _pair(kernel_size)
    s = ((1, 1) if default_stride_one else k) if stride is None else _pair(stride)
    p, d = _pair(padding), _pair(dilation)
    if min(h_w + k + s + d) < 1 or min(p) < 0:
        raise ValueError("bad")
    out = []
    for n, kk, ss, pp, dd in zip(h_w, k, s, p, d):
        if pp > kk // 2:
            raise ValueError("padding")
        span = dd * (kk - 1) + 1
        o = (math.ceil if ceil_mode else math.floor)((n + 2 * pp - span) / ss) + 1
        if fix_last and ceil_mode and (o - 1) * ss >= n + pp:
            o -= 1
        if o < 1:
            raise ValueError("small")
        out.append(o)
    return tuple(out)


@mutant("day3.shapes.pool2d_output_shape", expect=r"ceil_mode=True\) returned")
def pool_shape_without_last_window_rule(in_hw, kernel_size, stride=None, padding=0, dilation=1,
                                        ceil_mode=False):
    return _pool(in_hw, kernel_size, stride, padding, dilation, ceil_mode, fix_last=False)


@mutant("day3.shapes.pool2d_output_shape", expect=r"stride=None")
def pool_shape_default_stride_one(in_hw, kernel_size, stride=None, padding=0, dilation=1,
                                  ceil_mode=False):
    return _pool(in_hw, kernel_size, stride, padding, dilation, ceil_mode, default_stride_one=True)


def _convt(in_hw, kernel_size, stride, padding, output_padding, dilation, *, use_op=True,
           check_op=True):
    h_w, k, s, p, op, d = map(_pair, (in_hw, kernel_size, stride, padding, output_padding, dilation))
    if min(h_w + k + s + d) < 1 or min(p + op) < 0:
        raise ValueError("bad")
    out = []
    for n, kk, ss, pp, oo, dd in zip(h_w, k, s, p, op, d):
        if check_op and oo >= ss and oo >= dd:
            raise ValueError("output_padding")
        o = (n - 1) * ss - 2 * pp + dd * (kk - 1) + (oo if use_op else 0) + 1
        if o < 1:
            raise ValueError("small")
        out.append(o)
    return tuple(out)


@mutant("day3.shapes.conv_transpose2d_output_shape", expect=r"output_padding=[1-9].*returned")
def convt_shape_forgets_output_padding(in_hw, kernel_size, stride=1, padding=0, output_padding=0,
                                       dilation=1):
    return _convt(in_hw, kernel_size, stride, padding, output_padding, dilation, use_op=False)


@mutant("day3.shapes.conv_transpose2d_output_shape", expect=r"torch refuses this configuration")
def convt_shape_accepts_any_output_padding(in_hw, kernel_size, stride=1, padding=0,
                                           output_padding=0, dilation=1):
    return _convt(in_hw, kernel_size, stride, padding, output_padding, dilation, check_op=False)


@mutant("day3.shapes.conv2d_num_params", expect=r"nn.Conv2d has \d+ parameters")
def num_params_ignores_groups(in_channels, out_channels, kernel_size, groups=1, bias=True):
    kh, kw = _pair(kernel_size)
    if min(in_channels, out_channels, kh, kw, groups) < 1 or in_channels % groups or out_channels % groups:
        raise ValueError("bad")
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)


@mutant("day3.shapes.conv2d_num_params", expect=r"raise ValueError")
def num_params_never_refuses(in_channels, out_channels, kernel_size, groups=1, bias=True):
    kh, kw = _pair(kernel_size)
    return out_channels * (in_channels // max(groups, 1)) * kh * kw + (out_channels if bias else 0)


@mutant("day3.shapes.conv2d_num_params", expect=r"conv2d_num_params\(in_channels=0.*raise ValueError")
def num_params_allows_no_input_channels(in_channels, out_channels, kernel_size, groups=1, bias=True):
    """0 input channels passes the divisibility test (0 % groups == 0) and is never refused."""
    kh, kw = _pair(kernel_size)
    if min(out_channels, kh, kw, groups) < 1 or in_channels % groups or out_channels % groups:
        raise ValueError("bad")
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)


@mutant("day3.shapes.receptive_field", expect=r"BEFORE")
def receptive_field_includes_own_stride(layers):
    rf, jump = 1, 1
    for k, s, d in layers:
        jump *= s
        rf += (k - 1) * d * jump
    return rf


@mutant("day3.shapes.receptive_field", expect=r"receptive_field\(")
def receptive_field_ignores_dilation(layers):
    rf, jump = 1, 1
    for k, s, _d in layers:
        rf += (k - 1) * jump
        jump *= s
    return rf
