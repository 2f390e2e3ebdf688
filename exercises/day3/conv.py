"""Convolution and pooling from first principles.

``im2col`` lays every receptive window out as a column, so that a convolution becomes one
matrix product: the trick behind fast convolutions on CPUs and GPUs. The backward pass folds
gradients back onto the image (col2im), and max pooling reuses the same windows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

IntOrPair = int | tuple[int, int]


def im2col(
    x: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> Tensor:
    """Unfold every sliding window of a batch of images into a column, as ``F.unfold`` does.

    For ``x`` of shape (N, C, H, W) and a ``kh x kw`` kernel, the result has shape
    (N, C * kh * kw, L) where L = out_h * out_w is the number of windows (sizes as in
    ``day3.shapes.conv2d_output_shape``). Column ``l`` holds the window whose top-left corner is
    at output position ``(l // out_w, l % out_w)``; inside a column the entries are ordered by
    channel, then kernel row, then kernel column (row-major over (C, kh, kw)). Positions in the
    zero padding contribute zeros.

    Args:
        x: (N, C, H, W) float tensor, any strides (non-contiguous inputs must work), any device.
        kernel_size: int or pair ``(kh, kw)``.
        stride: int or pair.
        padding: int or pair of zeros added on each side.
        dilation: int or pair.

    Returns:
        A new (N, C * kh * kw, L) tensor with x's dtype and device, equal to
        ``F.unfold(x, kernel_size, dilation, padding, stride)`` exactly (it only copies values).
        Configurations where ``F.unfold`` fails (a kernel that does not fit) are not checked.

    Forbidden:
        ``F.unfold``, ``nn.Unfold`` and ``Tensor.unfold``: the point is to build the windows
        yourself (``as_strided`` on a padded copy, or index arithmetic).

    Example:
        >>> x = torch.arange(16.).reshape(1, 1, 4, 4)
        >>> im2col(x, 2, stride=2)[0, :, 0]
        tensor([0., 1., 4., 5.])
    """
    raise NotImplementedError("day3.conv.im2col")


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation, equal to ``F.conv2d``, computed with im2col and one matrix product.

    Args:
        x: (N, C_in, H, W) input, any strides, float32 or float64, CPU or CUDA.
        weight: (C_out, C_in // groups, kh, kw) kernels (kh and kw may differ).
        bias: (C_out,) or None.
        stride, padding, dilation: ints or pairs (height, width); padding is zeros, an int or a
            pair of non-negative ints (no strings).
        groups: input and output channels split into this many independent groups; group ``g``
            uses input channels ``g*C_in//groups ... (g+1)*C_in//groups - 1`` and produces the
            matching block of output channels.

    Returns:
        (N, C_out, out_h, out_w) with x's dtype and device, matching
        ``F.conv2d(x, weight, bias, stride, padding, dilation, groups)`` within
        rtol 1e-5, atol 1e-5 * scale for float32 and rtol 1e-7, atol 1e-7 * scale for float64
        (scale grows with the size of the sums). Gradients flowing back through your function
        (autograd) must match too.

    Forbidden:
        every library convolution: ``F.conv1d/2d/3d``, ``F.conv_transpose*``, ``torch.conv*``,
        ``nn.Conv*`` and ``torch.nn.grad``. Use ``im2col`` (yours) and one matrix product
        (``@``, ``matmul``, ``bmm`` or ``einsum``) for all groups at once.

    Speed:
        No Python loops over pixels, channels or batch entries: the check times your function
        against the reference on the same inputs and fails above 10x, printing the ratio.

    Example:
        >>> x = torch.ones(1, 1, 3, 3)
        >>> conv2d(x, torch.ones(1, 1, 2, 2), torch.tensor([0.5]))
        tensor([[[[4.5000, 4.5000],
                  [4.5000, 4.5000]]]])
    """
    raise NotImplementedError("day3.conv.conv2d")


def conv2d_backward(
    dout: Tensor,
    x: Tensor,
    weight: Tensor,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of ``F.conv2d(x, weight, bias, stride, padding)`` (groups 1, dilation 1) by hand.

    With ``cols = im2col(x)`` of shape (N, C_in*kh*kw, L) and the output ``W_flat @ cols``:
    ``dweight = sum_n dout_n @ cols_n^T``, ``dbias = dout`` summed over N, H and W, and
    ``dx`` = col2im(``W_flat^T @ dout_n``): each column's gradient added back onto the pixels of
    its window (overlapping windows add up; gradients landing in the padding are dropped).

    Args:
        dout: (N, C_out, out_h, out_w) upstream gradient.
        x: (N, C_in, H, W) forward input.
        weight: (C_out, C_in, kh, kw) forward weight.
        stride: int or pair.
        padding: int or pair.

    Returns:
        ``(dx, dweight, dbias)`` with the shapes of x, weight and (C_out,), on x's device and in
        x's dtype; compared with autograd in float64 (rtol 1e-7, atol 1e-7 * scale).

    Forbidden:
        autograd (the check runs your function with grad mode off and no ``.backward``), the
        library convolutions and ``torch.nn.grad``. ``F.fold`` (col2im) is allowed.

    Example:
        >>> x, w = torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3)
        >>> dx, dw, db = conv2d_backward(torch.ones(2, 4, 3, 3), x, w)
        >>> dx.shape, dw.shape, db.shape
        (torch.Size([2, 3, 5, 5]), torch.Size([4, 3, 3, 3]), torch.Size([4]))
    """
    raise NotImplementedError("day3.conv.conv2d_backward")


def max_pool2d(
    x: Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
) -> Tensor:
    """2-D max pooling, equal to ``F.max_pool2d(x, kernel_size, stride, padding)``.

    Args:
        x: (N, C, H, W) input, any strides, any float dtype and device; values may be negative.
        kernel_size: int or pair.
        stride: int or pair; None means ``kernel_size``.
        padding: int or pair, at most half the kernel size; the padding counts as ``-inf``, so
            it never wins a maximum (zero padding would be wrong for negative inputs).

    Returns:
        (N, C, out_h, out_w) with x's dtype and device, exactly equal to ``F.max_pool2d``.
        Gradients through your function (autograd) must match torch's, except at tied maxima,
        which are not checked.

    Forbidden:
        the library pooling functions and modules (``F.max_pool*``, ``F.avg_pool*``,
        ``F.adaptive_*_pool*``, ``F.lp_pool*``, ``nn.*Pool*``, ``torch.max_pool*``) and
        ``F.unfold``/``Tensor.unfold``: build the windows yourself (your ``im2col`` ideas).

    Example:
        >>> x = torch.arange(16.).reshape(1, 1, 4, 4)
        >>> max_pool2d(x, 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    raise NotImplementedError("day3.conv.max_pool2d")
