"""Devices: choosing where tensors live, and moving whole structures of them.

Code that runs on a laptop and on a GPU server picks its device once and moves data with
``.to(device)``; it never hard-codes ``.cuda()`` or ``.cpu()``.
"""

from __future__ import annotations

from typing import Any

import torch


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to compute on.

    Args:
        prefer: None to choose automatically, or ``"cpu"``/``"cuda"`` (a str or a
            ``torch.device``; an index such as ``"cuda:1"`` is allowed and kept).

    Returns:
        ``torch.device("cuda")`` (no index) when CUDA is available and nothing is preferred,
        else ``torch.device("cpu")``; ``torch.device(prefer)`` when given.

    Raises:
        RuntimeError: when ``prefer`` asks for CUDA and CUDA is not available.

    Example:
        >>> pick_device("cpu")
        device(type='cpu')
    """
    raise NotImplementedError("day1.devices.pick_device")


def move_to(obj: Any, device: str | torch.device) -> Any:
    """A copy of the structure ``obj`` with every tensor moved to ``device``.

    Walks nested dicts (``OrderedDict`` and other dict subclasses included, keys kept in order),
    lists, tuples and namedtuples, and rebuilds each container with its own type (a namedtuple
    stays that namedtuple; a ``defaultdict`` keeps its default factory). Tensors are moved with
    ``.to(device)``; every other leaf (ints, strings, None, arrays, ...) is kept as it is.
    The input structure is left unchanged.

    Example:
        >>> move_to({"x": torch.zeros(1), "n": [1, (torch.ones(2), "a")]}, "cpu")
        {'x': tensor([0.]), 'n': [1, (tensor([1., 1.]), 'a')]}
    """
    raise NotImplementedError("day1.devices.move_to")
