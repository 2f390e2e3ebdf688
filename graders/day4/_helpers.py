"""Shared pieces of day 4's graders."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: small tensors gain nothing from more, and timings on a busy
    machine are much steadier."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _day4_one_thread() -> Iterator[None]:
    with one_thread():
        yield
