"""Shape arithmetic of convolution and pooling layers.

Before writing a convolution it pays to know, without running anything, what shape comes out of
it and how many parameters it holds. This module computes output sizes of ``nn.Conv2d``,
``nn.MaxPool2d`` and ``nn.ConvTranspose2d``, parameter counts and receptive fields, and rejects
exactly the configurations that PyTorch itself refuses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

IntOrPair = int | tuple[int, int]


def conv2d_output_shape(
    in_hw: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair | str = 0,
    dilation: IntOrPair = 1,
) -> tuple[int, int]:
    """Return the (height, width) that ``nn.Conv2d`` produces from an input of size ``in_hw``.

    Each of ``in_hw``, ``kernel_size``, ``stride``, ``dilation`` and an integer ``padding`` is an
    int (the same for both dimensions) or a pair ``(for height, for width)``. Per dimension::

        out = floor((in + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1

    ``padding`` may also be the string ``"valid"`` (no padding) or ``"same"`` (the output has the
    input's size; only allowed with stride 1, as in PyTorch).

    Args:
        in_hw: input height and width.
        kernel_size: kernel height and width.
        stride: step between windows.
        padding: zeros added on each side, or ``"valid"`` / ``"same"``.
        dilation: spacing between kernel taps.

    Returns:
        ``(out_h, out_w)`` as a tuple of two Python ints.

    Raises:
        ValueError: wherever ``nn.Conv2d`` refuses the configuration: an input size, kernel size,
            stride or dilation below 1, a negative padding, ``"same"`` with a stride other than 1,
            an unknown padding string, or a kernel that does not fit in the padded input (an
            output size below 1). Also when a pair does not have exactly two entries.

    Example:
        >>> conv2d_output_shape(32, 3, stride=2, padding=1)
        (16, 16)
        >>> conv2d_output_shape((8, 5), (3, 1), padding="same")
        (8, 5)
    """
    raise NotImplementedError("day3.shapes.conv2d_output_shape")


def pool2d_output_shape(
    in_hw: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    ceil_mode: bool = False,
) -> tuple[int, int]:
    """Return the (height, width) that ``nn.MaxPool2d`` produces from an input of size ``in_hw``.

    Arguments are ints or pairs as in :func:`conv2d_output_shape`; ``stride`` defaults to
    ``kernel_size``. Per dimension, with ``span = dilation * (kernel - 1) + 1``::

        out = floor_or_ceil((in + 2 * padding - span) / stride) + 1

    rounding up when ``ceil_mode`` is True. With ``ceil_mode`` a window may hang over the bottom or
    right edge, but the last window must start inside the input or the left padding: when
    ``(out - 1) * stride >= in + padding`` that window is dropped (``out`` decreases by one).

    Args:
        in_hw: input height and width.
        kernel_size: window height and width.
        stride: step between windows; None means ``kernel_size``.
        padding: implicit ``-inf`` padding on each side.
        dilation: spacing between window taps.
        ceil_mode: round the window count up instead of down.

    Returns:
        ``(out_h, out_w)`` as a tuple of two Python ints.

    Raises:
        ValueError: wherever ``nn.MaxPool2d`` refuses the configuration: an input size, kernel
            size, stride or dilation below 1, a negative padding, a padding larger than half the
            kernel size (``padding > kernel // 2``, whatever the dilation), or an output size
            below 1.

    Example:
        >>> pool2d_output_shape(7, 2)
        (3, 3)
        >>> pool2d_output_shape(7, 2, ceil_mode=True)
        (4, 4)
    """
    raise NotImplementedError("day3.shapes.pool2d_output_shape")


def conv_transpose2d_output_shape(
    in_hw: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    output_padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> tuple[int, int]:
    """Return the (height, width) that ``nn.ConvTranspose2d`` produces from ``in_hw``.

    Arguments are ints or pairs as in :func:`conv2d_output_shape`. Per dimension::

        out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1

    Args:
        in_hw: input height and width.
        kernel_size: kernel height and width.
        stride: upsampling factor.
        padding: removed from each side of the full output.
        output_padding: extra rows/columns added on the bottom/right.
        dilation: spacing between kernel taps.

    Returns:
        ``(out_h, out_w)`` as a tuple of two Python ints.

    Raises:
        ValueError: wherever ``nn.ConvTranspose2d`` refuses the configuration: an input size,
            kernel size, stride or dilation below 1, a negative padding or output_padding, an
            output_padding that is not smaller than the stride or the dilation (it must be
            smaller than at least one of them), or an output size below 1.

    Example:
        >>> conv_transpose2d_output_shape(16, 3, stride=2, padding=1, output_padding=1)
        (32, 32)
    """
    raise NotImplementedError("day3.shapes.conv_transpose2d_output_shape")


def conv2d_num_params(
    in_channels: int,
    out_channels: int,
    kernel_size: IntOrPair,
    groups: int = 1,
    bias: bool = True,
) -> int:
    """Return the number of parameters of ``nn.Conv2d(in_channels, out_channels, kernel_size,
    groups=groups, bias=bias)``.

    Each output channel sees ``in_channels // groups`` input channels through a
    ``kh x kw`` kernel, plus one bias when ``bias`` is True.

    Args:
        in_channels: input channels (at least 1).
        out_channels: output channels (at least 1).
        kernel_size: an int or a pair ``(kh, kw)``, each at least 1.
        groups: number of channel groups; must divide both channel counts.
        bias: whether the layer has a bias per output channel.

    Returns:
        The parameter count as a Python int.

    Raises:
        ValueError: unless channels, kernel sizes and groups are at least 1 and ``groups``
            divides both ``in_channels`` and ``out_channels``.

    Example:
        >>> conv2d_num_params(3, 64, 7, bias=False)
        9408
        >>> conv2d_num_params(32, 32, 3, groups=32)
        320
    """
    raise NotImplementedError("day3.shapes.conv2d_num_params")


def receptive_field(layers: Sequence[tuple[int, int, int]]) -> int:
    """Return how many consecutive input positions one output unit of a stack of layers sees.

    ``layers`` lists ``(kernel, stride, dilation)`` per layer (one spatial dimension), applied in
    order from the input. The receptive field is the span from the first to the last input
    position, inclusive, that can influence one output unit::

        rf = 1 + sum_i (kernel_i - 1) * dilation_i * prod_{j < i} stride_j

    Padding does not change it. An empty stack sees exactly one position.

    Args:
        layers: a sequence of ``(kernel, stride, dilation)`` triples of positive ints.

    Returns:
        The receptive field as a Python int.

    Example:
        >>> receptive_field([(3, 1, 1), (3, 1, 1)])
        5
        >>> receptive_field([(7, 2, 1), (3, 2, 1), (3, 1, 1)])
        19
    """
    raise NotImplementedError("day3.shapes.receptive_field")
