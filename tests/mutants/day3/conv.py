"""Wrong solutions for day3/conv.py, each a mistake students really make."""

import torch
import torch.nn.functional as F

from graders.testing import mutant


def _pair(v):
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _cols(x, k, s, p, d):
    xp = F.pad(x, (p[1], p[1], p[0], p[0])).contiguous()
    n, c, h, w = xp.shape
    oh = (h - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w - d[1] * (k[1] - 1) - 1) // s[1] + 1
    sn, sc, sh, sw = xp.stride()
    win = xp.as_strided((n, c, k[0], k[1], oh, ow), (sn, sc, sh * d[0], sw * d[1], sh * s[0], sw * s[1]))
    return win.reshape(n, c * k[0] * k[1], oh * ow), oh, ow


@mutant("day3.conv.im2col", expect=r"im2col\(x")
def im2col_kernel_major_rows(x, kernel_size, stride=1, padding=0, dilation=1):
    k, s, p, d = _pair(kernel_size), _pair(stride), _pair(padding), _pair(dilation)
    cols, _, _ = _cols(x, k, s, p, d)
    n, c = x.shape[:2]
    return cols.reshape(n, c, k[0] * k[1], -1).transpose(1, 2).reshape(n, c * k[0] * k[1], -1)


@mutant("day3.conv.im2col", expect=r"not allowed")
def im2col_calls_unfold(x, kernel_size, stride=1, padding=0, dilation=1):
    return F.unfold(x, kernel_size, dilation=dilation, padding=padding, stride=stride)


@mutant("day3.conv.im2col", expect=r"dilation")
def im2col_ignores_dilation(x, kernel_size, stride=1, padding=0, dilation=1):
    k, s, p = _pair(kernel_size), _pair(stride), _pair(padding)
    return _cols(x, k, s, p, (1, 1))[0]


def _conv(x, weight, bias, stride, padding, dilation, groups):
    k = tuple(weight.shape[-2:])
    cols, oh, ow = _cols(x, k, _pair(stride), _pair(padding), _pair(dilation))
    n, c_out = x.shape[0], weight.shape[0]
    cols = cols.reshape(n, groups, -1, oh * ow)
    w = weight.reshape(groups, c_out // groups, -1)
    out = torch.einsum("gok,ngkl->ngol", w, cols).reshape(n, c_out, oh, ow)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


@mutant("day3.conv.conv2d", expect=r"groups > 1")
def conv2d_ignores_groups(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    # every output channel sees the first in/groups input channels
    c = weight.shape[1]
    return _conv(x[:, :c], weight, bias, stride, padding, dilation, 1)


@mutant("day3.conv.conv2d", expect=r"dilation > 1|non-square")
def conv2d_dilation_in_size_only(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    d = _pair(dilation)
    k = tuple(weight.shape[-2:])
    cols, oh, ow = _cols(x, k, _pair(stride), _pair(padding), (1, 1))
    oh2 = (x.shape[2] + 2 * _pair(padding)[0] - d[0] * (k[0] - 1) - 1) // _pair(stride)[0] + 1
    ow2 = (x.shape[3] + 2 * _pair(padding)[1] - d[1] * (k[1] - 1) - 1) // _pair(stride)[1] + 1
    out = _conv(x, weight, bias, stride, padding, 1, groups)
    return out[..., :oh2, :ow2]


@mutant("day3.conv.conv2d", expect=r"stride > 1|non-square")
def conv2d_stride_by_subsampling_wrong_offset(x, weight, bias=None, stride=1, padding=0, dilation=1,
                                              groups=1):
    s = _pair(stride)
    full = _conv(x, weight, bias, 1, padding, dilation, groups)
    oh = (full.shape[2] - 1) // s[0] + 1
    ow = (full.shape[3] - 1) // s[1] + 1
    return full[..., s[0] - 1::s[0], s[1] - 1::s[1]][..., :oh, :ow] if s != (1, 1) else full


@mutant("day3.conv.conv2d", expect=r"non-contiguous|view size")
def conv2d_views_non_contiguous(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    w = weight.view(weight.shape[0], -1).view(weight.shape)
    return _conv(x, w, bias, stride, padding, dilation, groups)


@mutant("day3.conv.conv2d", expect=r"slower than (the reference|a PyTorch-native equivalent)")
def conv2d_loops_over_pixels(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    s, p, d = _pair(stride), _pair(padding), _pair(dilation)
    kh, kw = weight.shape[-2:]
    xp = F.pad(x, (p[1], p[1], p[0], p[0]))
    oh = (xp.shape[2] - d[0] * (kh - 1) - 1) // s[0] + 1
    ow = (xp.shape[3] - d[1] * (kw - 1) - 1) // s[1] + 1
    c_out = weight.shape[0]
    cg, og = x.shape[1] // groups, c_out // groups
    out = torch.zeros(x.shape[0], c_out, oh, ow, dtype=x.dtype, device=x.device)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * s[0]: i * s[0] + d[0] * (kh - 1) + 1: d[0],
                       j * s[1]: j * s[1] + d[1] * (kw - 1) + 1: d[1]]
            for g in range(groups):
                pg = patch[:, g * cg:(g + 1) * cg].reshape(x.shape[0], -1)
                wg = weight[g * og:(g + 1) * og].reshape(og, -1)
                out[:, g * og:(g + 1) * og, i, j] = pg @ wg.T
    return out if bias is None else out + bias.view(1, -1, 1, 1)


@mutant("day3.conv.conv2d", expect=r"loops over the batch entries")
def conv2d_loops_over_batch(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Vectorised per image, but one image at a time: fast enough on a batch of 2."""
    return torch.cat([_conv(x[i:i + 1], weight, bias, stride, padding, dilation, groups)
                      for i in range(x.shape[0])])


@mutant("day3.conv.conv2d", expect=r"loops over the groups")
def conv2d_loops_over_groups(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """One matrix product per group instead of one for all groups."""
    cg, og = x.shape[1] // groups, weight.shape[0] // groups
    outs = [_conv(x[:, g * cg:(g + 1) * cg], weight[g * og:(g + 1) * og],
                  None if bias is None else bias[g * og:(g + 1) * og], stride, padding, dilation, 1)
            for g in range(groups)]
    return torch.cat(outs, dim=1)


@mutant("day3.conv.conv2d", expect=r"not allowed")
def conv2d_calls_F_conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return F.conv2d(x, weight, bias, stride, padding, dilation, groups)


@mutant("day3.conv.conv2d_backward", expect=r"overlap|not close")
def conv2d_backward_overwrites_overlaps(dout, x, weight, stride=1, padding=0):
    s, p = _pair(stride), _pair(padding)
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    cols, oh, ow = _cols(x, (kh, kw), s, p, (1, 1))
    d = dout.reshape(n, c_out, -1)
    dweight = torch.einsum("nol,nkl->ok", d, cols).reshape(weight.shape)
    dcols = torch.einsum("ok,nol->nkl", weight.reshape(c_out, -1), d).reshape(n, c_in, kh, kw, oh, ow)
    dxp = torch.zeros(n, c_in, h + 2 * p[0], w + 2 * p[1], dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i: i + s[0] * (oh - 1) + 1: s[0], j: j + s[1] * (ow - 1) + 1: s[1]] = dcols[:, :, i, j]
    return dxp[:, :, p[0]: p[0] + h, p[1]: p[1] + w], dweight, dout.sum(dim=(0, 2, 3))


@mutant("day3.conv.conv2d_backward", expect=r"not allowed")
def conv2d_backward_with_autograd(dout, x, weight, stride=1, padding=0):
    xx = x.detach().requires_grad_(True)
    ww = weight.detach().requires_grad_(True)
    bb = torch.zeros(weight.shape[0], dtype=x.dtype, requires_grad=True)
    with torch.enable_grad():
        out = F.conv2d(xx, ww, bb, stride, padding)
        return torch.autograd.grad(out, (xx, ww, bb), dout)


@mutant("day3.conv.conv2d_backward", expect=r"dbias")
def conv2d_backward_bias_mean(dout, x, weight, stride=1, padding=0):
    s, p = _pair(stride), _pair(padding)
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    cols, _, _ = _cols(x, (kh, kw), s, p, (1, 1))
    d = dout.reshape(n, c_out, -1)
    dweight = torch.einsum("nol,nkl->ok", d, cols).reshape(weight.shape)
    dcols = torch.einsum("ok,nol->nkl", weight.reshape(c_out, -1), d)
    dx = F.fold(dcols, (h, w), (kh, kw), padding=p, stride=s)
    return dx, dweight, dout.mean(dim=(0, 2, 3))


def _pool(x, kernel_size, stride, padding, fill):
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    p = _pair(padding)
    xp = F.pad(x, (p[1], p[1], p[0], p[0]), value=fill).contiguous()
    n, c, h, w = xp.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    sn, sc, sh, sw = xp.stride()
    return xp.as_strided((n, c, k[0], k[1], oh, ow), (sn, sc, sh, sw, sh * s[0], sw * s[1])).amax(dim=(2, 3))


@mutant("day3.conv.max_pool2d", expect=r"-inf")
def max_pool_zero_padding(x, kernel_size, stride=None, padding=0):
    return _pool(x, kernel_size, stride, padding, 0.0)


@mutant("day3.conv.max_pool2d", expect=r"not allowed")
def max_pool_calls_torch(x, kernel_size, stride=None, padding=0):
    return F.max_pool2d(x, kernel_size, stride, padding)


@mutant("day3.conv.max_pool2d", expect=r"stride=None")
def max_pool_default_stride_one(x, kernel_size, stride=None, padding=0):
    return _pool(x, kernel_size, 1 if stride is None else stride, padding, float("-inf"))


@mutant("day3.conv.max_pool2d", expect=r"view size|not compatible|non-contiguous|stride")
def max_pool_views_input(x, kernel_size, stride=None, padding=0):
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    p = _pair(padding)
    xp = F.pad(x, (p[1], p[1], p[0], p[0]), value=float("-inf"))
    n, c, h, w = xp.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    sn, sc, sh, sw = x.stride()  # strides of the unpadded input: wrong for the padded copy
    base = xp.reshape(-1)
    return base.as_strided((n, c, k[0], k[1], oh, ow), (sn, sc, sh, sw, sh * s[0], sw * s[1])).amax(dim=(2, 3))
