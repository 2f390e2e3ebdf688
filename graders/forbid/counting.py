"""``count_torch_calls``: how many torch operations a call runs (a loop shows as a count that
grows with the input)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from graders.forbid.observers import AtenObserver


class _Counter(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


class _OpCounter(TorchDispatchMode):
    _should_skip_dynamo = AtenObserver._should_skip_dynamo

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def count_torch_calls(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """Call ``fn`` and count the torch functions and Tensor methods it calls directly, plus
    the dispatcher operators they run (so calls made with torch-function handling off count
    too). Compare counts of one function at two sizes, never with another function's."""
    counter, ops = _Counter(), _OpCounter()
    with counter, ops:
        result = fn(*args, **kwargs)
    return result, counter.count + ops.count
