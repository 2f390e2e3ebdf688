"""Graders for day3/conv.py: im2col, convolution by one matrix product, its backward pass, and
max pooling, against F.unfold, F.conv2d, autograd and F.max_pool2d."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from graders import reference, student
from graders import strategies as ds
from graders.checks import assert_close, assert_equal, fail
from graders.day3._helpers import LIBRARY_CONV, float_tol, grads64, pairs
from graders.forbid import by_hand, count_torch_calls, forbidden_calls
from graders.gpu import gpu_parity
from graders.profiles import examples
from graders.speed import speed_check

mod = student("day3.conv")
ref = reference("day3.conv")

UNFOLD = ("torch.nn.functional.unfold", "torch.nn.Unfold", "torch.Tensor.unfold")
POOLS = (
    "torch.nn.functional.max_pool1d", "torch.nn.functional.max_pool2d",
    "torch.nn.functional.max_pool2d_with_indices", "torch.nn.functional.max_pool3d",
    "torch.nn.functional.avg_pool2d", "torch.nn.functional.adaptive_max_pool2d",
    "torch.nn.functional.adaptive_avg_pool2d", "torch.nn.functional.lp_pool2d",
    "torch.max_pool2d", "torch.nn.MaxPool2d", "torch.nn.AvgPool2d",
    "torch.nn.AdaptiveMaxPool2d", "torch.nn.AdaptiveAvgPool2d",
)


def _out(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def conv_configs(draw, *, stride: bool = False, dilation: bool = False, groups: bool = False,
                 non_square: bool = False, layouts: tuple[str, ...] = ("contiguous",),
                 dtype=None, bias: bool = True, max_side: int = 7):
    """(x, weight, bias, stride, padding, dilation, groups) with only the asked features."""
    dtype = draw(ds.dtypes()) if dtype is None else dtype
    g = draw(st.integers(2, 3)) if groups else 1
    c_in, c_out = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    if non_square:
        k = draw(pairs(1, 3).filter(lambda t: t[0] != t[1]))
        s = draw(pairs(1, 3)) if stride else (1, 1)
        p = draw(pairs(0, 2))
        d = draw(pairs(1, 2)) if dilation else (1, 1)
    else:
        kk = draw(st.integers(1, 3))
        k = (kk, kk)
        ss = draw(st.integers(2, 3)) if stride else 1
        dd = draw(st.integers(2, 3)) if dilation else 1
        pp = draw(st.integers(0, 2))
        s, p, d = (ss, ss), (pp, pp), (dd, dd)
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    assume(_out(h, k[0], s[0], p[0], d[0]) >= 1 and _out(w, k[1], s[1], p[1], d[1]) >= 1)
    x = draw(ds.tensors((n, c_in, h, w), dtype, layouts=layouts))
    weight = draw(ds.tensors((c_out, c_in // g, *k), dtype, layouts=layouts))
    b = draw(ds.tensors((c_out,), dtype)) if bias and draw(st.booleans()) else None
    as_int = lambda t: t[0] if t[0] == t[1] and not non_square else t  # noqa: E731
    return x, weight, b, as_int(s), as_int(p), as_int(d), g


def _args_text(x, weight, s, p, d, g) -> str:
    return (f"x {tuple(x.shape)} {x.dtype}, weight {tuple(weight.shape)}, stride={s}, "
            f"padding={p}, dilation={d}, groups={g}")


# --- im2col --------------------------------------------------------------------------------------

@st.composite
def im2col_configs(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    k, s, p, d = draw(pairs(1, 3)), draw(pairs(1, 3)), draw(pairs(0, 2)), draw(pairs(1, 2))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    assume(_out(h, k[0], s[0], p[0], d[0]) >= 1 and _out(w, k[1], s[1], p[1], d[1]) >= 1)
    x = draw(ds.tensors((n, c, h, w), ds.dtypes()))
    return x, k, s, p, d


@settings(max_examples=examples(12))
@given(cfg=im2col_configs())
def test_im2col_matches_unfold(cfg):
    """Does im2col equal F.unfold for any kernel, stride, padding and dilation pairs and layouts?"""
    x, k, s, p, d = cfg
    with forbidden_calls(*UNFOLD, what="im2col", why="build the windows yourself (as_strided on "
                         "a padded copy, or index arithmetic)."):
        got = mod.im2col(x, k, stride=s, padding=p, dilation=d)
    assert_equal(got, F.unfold(x, k, dilation=d, padding=p, stride=s),
                 what=f"im2col(x {tuple(x.shape)}, kernel_size={k}, stride={s}, padding={p}, "
                 f"dilation={d})")


def test_im2col_orders_columns_and_rows_like_unfold():
    """Are columns ordered by window position and rows by (channel, kernel row, kernel column)?"""
    x = torch.arange(2 * 3 * 4, dtype=torch.float64).reshape(1, 2, 3, 4)
    got = mod.im2col(x, (2, 3), stride=1, padding=0, dilation=1)
    assert_equal(got, F.unfold(x, (2, 3)), what="im2col(x (1, 2, 3, 4), kernel_size=(2, 3))")


def test_im2col_accepts_ints():
    """Does im2col accept plain ints for kernel_size, stride, padding and dilation?"""
    x = torch.randn(2, 3, 6, 5, generator=torch.Generator().manual_seed(0))
    got = mod.im2col(x, 3, stride=2, padding=1, dilation=1)
    assert_equal(got, F.unfold(x, 3, padding=1, stride=2),
                 what="im2col(x (2, 3, 6, 5), 3, stride=2, padding=1)")


# --- conv2d --------------------------------------------------------------------------------------

def _check_conv2d(cfg, label: str) -> None:
    __tracebackhide__ = True
    x, weight, b, s, p, d, g = cfg
    with forbidden_calls(*LIBRARY_CONV, what="conv2d",
                         why="compute the convolution with im2col and one matrix product."):
        got = mod.conv2d(x, weight, b, stride=s, padding=p, dilation=d, groups=g)
    b64 = None if b is None else b.double()
    exact = F.conv2d(x.double(), weight.double(), b64, s, p, d, g)
    scale = F.conv2d(x.double().abs(), weight.double().abs(), None if b is None else b64.abs(),
                     s, p, d, g)
    c = float_tol(x.dtype)
    assert_close(got, exact.to(x.dtype), rtol=c, atol=c * (scale + 1),
                 what=f"conv2d({_args_text(x, weight, s, p, d, g)}) [{label}]")


@settings(max_examples=examples(8))
@given(cfg=conv_configs())
def test_conv2d_matches_torch_with_stride_1(cfg):
    """Does conv2d equal F.conv2d for square kernels with stride 1, padding and bias?"""
    _check_conv2d(cfg, "stride 1")


@settings(max_examples=examples(8))
@given(cfg=conv_configs(stride=True))
def test_conv2d_with_stride_above_1(cfg):
    """Does conv2d equal F.conv2d with stride > 1?"""
    _check_conv2d(cfg, "stride > 1")


@settings(max_examples=examples(8))
@given(cfg=conv_configs(dilation=True))
def test_conv2d_with_dilation_above_1(cfg):
    """Does conv2d equal F.conv2d with dilation > 1?"""
    _check_conv2d(cfg, "dilation > 1")


@settings(max_examples=examples(8))
@given(cfg=conv_configs(groups=True))
def test_conv2d_with_groups(cfg):
    """Does conv2d equal F.conv2d with groups > 1 (each group its own channels)?"""
    _check_conv2d(cfg, "groups > 1")


@settings(max_examples=examples(8))
@given(cfg=conv_configs(stride=True, dilation=True, non_square=True))
def test_conv2d_with_non_square_kernels_and_pairs(cfg):
    """Does conv2d equal F.conv2d with non-square kernels and per-dimension stride/padding/dilation?"""
    _check_conv2d(cfg, "non-square kernel, (height, width) pairs")


@settings(max_examples=examples(8))
@given(cfg=conv_configs(stride=True, groups=True, layouts=("permuted", "sliced", "offset")))
def test_conv2d_with_non_contiguous_inputs(cfg):
    """Does conv2d work on non-contiguous x and weight (permuted, sliced, offset storage)?"""
    _check_conv2d(cfg, "non-contiguous inputs")


@settings(max_examples=examples(8))
@given(cfg=conv_configs(stride=True, dilation=True, groups=True, dtype=torch.float64))
def test_conv2d_gradients_match_torch(cfg):
    """Do gradients flowing back through conv2d equal those through F.conv2d (float64)?"""
    x, weight, b, s, p, d, g = cfg
    bias = b if b is not None else torch.zeros(weight.shape[0], dtype=torch.float64)
    got = grads64(lambda a, w, c: mod.conv2d(a, w, c, stride=s, padding=p, dilation=d, groups=g),
                  x, weight, bias)
    exp = grads64(lambda a, w, c: F.conv2d(a, w, c, s, p, d, g), x, weight, bias)
    for name, gg, ee in zip(("x", "weight", "bias"), got, exp):
        assert_close(gg, ee, rtol=1e-7, atol=1e-7,
                     what=f"the gradient of conv2d with respect to {name} "
                     f"({_args_text(x, weight, s, p, d, g)})")


def _unfold_conv2d(x, w, b):
    """The same algorithm with the library's unfold: the speed baseline of student kits."""
    n, _, h, width = x.shape
    cols = F.unfold(x, w.shape[-2:], padding=1)
    return (w.reshape(w.shape[0], -1) @ cols).reshape(n, w.shape[0], h, width) + b.view(1, -1, 1, 1)


def test_conv2d_is_fast():
    """Is conv2d vectorised (within 10x of the reference's speed, one matrix product)?"""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 32, 32, generator=gen)
    w = torch.randn(8, 4, 3, 3, generator=gen)
    b = torch.randn(8, generator=gen)
    _check_conv2d((x, w, b, 1, 1, 1, 1), "speed input")
    speed_check(lambda *a: mod.conv2d(*a, stride=1, padding=1),
                lambda *a: ref.conv2d(*a, stride=1, padding=1), (x, w, b), what="conv2d",
                native=_unfold_conv2d,
                advice="a Python loop over output pixels (or batch entries, or channels) is the "
                "usual cause: build all columns with im2col and do one matrix product.")


def test_conv2d_has_no_loop_over_batch_channels_or_groups():
    """Does conv2d run about as many torch operations for 2 or 8 images, channels or groups?"""
    gen = torch.Generator().manual_seed(3)
    cases = {  # dimension: its (smaller, larger) sizes as (x, weight, groups)
        "the batch entries": [((n, 4, 6, 5), (4, 4, 3, 3), 1) for n in (2, 8)],
        "the channels": [((2, c, 6, 5), (c, c, 3, 3), 1) for c in (2, 8)],
        "the groups": [((2, 16, 6, 5), (16, 16 // g, 3, 3), g) for g in (2, 8)],
    }
    for dimension, sizes in cases.items():
        counts = []
        for x_shape, w_shape, groups in sizes:
            x, w = torch.randn(x_shape, generator=gen), torch.randn(w_shape, generator=gen)
            b = torch.randn(w_shape[0], generator=gen)
            out, count = count_torch_calls(lambda *a: mod.conv2d(*a, padding=1, groups=groups), x, w, b)
            assert_close(out, F.conv2d(x, w, b, padding=1, groups=groups), rtol=1e-4, atol=1e-4,
                         what=f"conv2d(x of shape {x_shape}, weight of shape {w_shape}, padding=1, "
                              f"groups={groups})")
            counts.append(count)
        if counts[1] - counts[0] >= 6:  # a loop adds at least one operation per extra item
            fail(f"conv2d runs {counts[0]} torch operations for x of shape {sizes[0][0]} "
                 f"(groups={sizes[0][2]}) but {counts[1]} for {sizes[1][0]} (groups={sizes[1][2]}): "
                 f"it loops over {dimension} in Python. Build every column with im2col and do one "
                 f"matrix product for all batch entries, channels and groups at once.")


def test_conv2d_on_gpu():
    """Does conv2d agree on CUDA and keep its output on the input's device?"""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 9, 7, generator=gen, dtype=torch.float64)
    w = torch.randn(6, 2, 3, 2, generator=gen, dtype=torch.float64)
    b = torch.randn(6, generator=gen, dtype=torch.float64)
    gpu_parity(lambda *a: mod.conv2d(*a, stride=(2, 1), padding=1, dilation=(1, 2), groups=2),
               lambda dev: ((x.float().to(dev), w.float().to(dev), b.float().to(dev)), {}),
               what="conv2d", rtol=1e-4, atol=1e-4)


# --- conv2d_backward -----------------------------------------------------------------------------

@st.composite
def backward_configs(draw):
    cfg = draw(conv_configs(stride=True, dtype=torch.float64, bias=False,
                            layouts=ds.LAYOUTS))
    x, weight, _, s, p, _, _ = cfg
    s = draw(st.sampled_from([s, (s, s) if isinstance(s, int) else s]))
    out = F.conv2d(x, weight, None, s, p)
    dout = draw(ds.tensors(tuple(out.shape), torch.float64))
    return dout, x, weight, s, p


@settings(max_examples=examples(12))
@given(cfg=backward_configs())
def test_conv2d_backward_matches_autograd(cfg):
    """Do dx, dweight and dbias equal autograd's gradients of F.conv2d (stride, padding, float64)?"""
    dout, x, weight, s, p = cfg
    with by_hand("conv2d_backward", *LIBRARY_CONV):
        got = mod.conv2d_backward(dout, x, weight, stride=s, padding=p)
    if not isinstance(got, tuple) or len(got) != 3:
        fail(f"conv2d_backward returned {type(got).__name__}; expected a tuple (dx, dweight, dbias).")
    xx = x.clone().requires_grad_(True)
    ww = weight.clone().requires_grad_(True)
    bb = torch.zeros(weight.shape[0], dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        exp = torch.autograd.grad((F.conv2d(xx, ww, bb, s, p) * dout).sum(), (xx, ww, bb))
    text = f"x {tuple(x.shape)}, weight {tuple(weight.shape)}, stride={s}, padding={p}"
    for name, gg, ee in zip(("dx", "dweight", "dbias"), got, exp):
        assert_close(gg, ee, rtol=1e-7, atol=1e-9 * (1 + float(x.abs().max() + weight.abs().max()))
                     * (1 + float(dout.abs().max())),
                     what=f"{name} of conv2d_backward({text})")


def test_conv2d_backward_overlapping_windows_add_up():
    """Where windows overlap (stride 1, 3x3 kernel), are the gradients of a pixel summed?"""
    x = torch.ones(1, 1, 4, 4, dtype=torch.float64)
    w = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    dout = torch.ones(1, 1, 2, 2, dtype=torch.float64)
    with by_hand("conv2d_backward", *LIBRARY_CONV):
        dx, _, _ = mod.conv2d_backward(dout, x, w, stride=1, padding=0)
    expected = torch.tensor([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]],
                            dtype=torch.float64).reshape(1, 1, 4, 4)
    assert_close(dx, expected, rtol=0, atol=1e-12,
                 what="dx of conv2d_backward with all-ones x (1, 1, 4, 4), weight (1, 1, 3, 3) "
                 "(each pixel's dx counts the windows that cover it: overlaps must add, "
                 "e.g. with F.fold or index_add_, not overwrite)")


# --- max_pool2d ----------------------------------------------------------------------------------

@st.composite
def pool_configs(draw, *, negative: bool = False, layouts=ds.LAYOUTS, stride_one=False):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = draw(pairs(1, 3))
    s = None if draw(st.booleans()) else draw(pairs(1, 3))
    if stride_one:
        s = (1, 1)
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    assume(h + 2 * p[0] >= k[0] and w + 2 * p[1] >= k[1])
    numel = n * c * h * w
    perm = draw(st.permutations(list(range(numel))))
    base = torch.tensor(perm, dtype=torch.float64).reshape(n, c, h, w)
    base = -1.0 - base if negative else base - numel / 2
    dtype = draw(ds.dtypes())
    x = draw(ds.layout(base.to(dtype), layouts))
    return x, k, s, p


def _pool_text(x, k, s, p) -> str:
    return f"max_pool2d(x {tuple(x.shape)}, kernel_size={k}, stride={s}, padding={p})"


def _check_pool(x, k, s, p, extra: str = "") -> None:
    __tracebackhide__ = True
    with forbidden_calls(*POOLS, *UNFOLD, what="max_pool2d",
                         why="build the windows yourself and take their maximum."):
        got = mod.max_pool2d(x, k, stride=s, padding=p)
    assert_equal(got, F.max_pool2d(x, k, s, p), what=_pool_text(x, k, s, p) + extra)


@settings(max_examples=examples(12))
@given(cfg=pool_configs())
def test_max_pool2d_matches_torch(cfg):
    """Does max_pool2d equal F.max_pool2d (kernel, stride, padding pairs, default stride, layouts)?"""
    _check_pool(*cfg)


@settings(max_examples=examples(12))
@given(cfg=pool_configs(negative=True))
def test_max_pool2d_pads_with_minus_infinity(cfg):
    """With all-negative inputs, does the padding never win a maximum (it counts as -inf)?"""
    x, k, s, p = cfg
    assume(max(p) > 0)
    _check_pool(x, k, s, p, " with all-negative x: padding must count as -inf, never as 0")


def test_max_pool2d_default_stride_is_the_kernel_size():
    """Does stride=None mean stride = kernel_size (non-overlapping windows)?"""
    x = torch.arange(36.0).reshape(1, 1, 6, 6)
    got = mod.max_pool2d(x, 3)
    assert_equal(got, F.max_pool2d(x, 3), what="max_pool2d(x (1, 1, 6, 6), 3) (stride=None)")


@settings(max_examples=examples(12))
@given(cfg=pool_configs())
def test_max_pool2d_gradients_match_torch(cfg):
    """Does the gradient flowing back through max_pool2d reach each window's maximum, as torch's?"""
    x, k, s, p = cfg
    got = grads64(lambda a: mod.max_pool2d(a, k, stride=s, padding=p), x)
    exp = grads64(lambda a: F.max_pool2d(a, k, s, p), x)
    assert_close(got[0], exp[0], rtol=1e-9, atol=1e-9, what="the gradient of " + _pool_text(x, k, s, p))
