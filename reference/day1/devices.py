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
    if prefer is not None:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA was asked for, but no CUDA device is available")
        return device
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


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
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        items = [(k, move_to(v, device)) for k, v in obj.items()]
        if hasattr(obj, "default_factory"):
            out = type(obj)(obj.default_factory)
            out.update(items)
            return out
        return type(obj)(items)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(move_to(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(move_to(v, device) for v in obj)
    return obj
