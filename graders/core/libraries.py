"""Libraries imported as they are installed, whatever imports them first.

pytest rewrites the ``assert`` statements of every module of a distribution that registers a
pytest plugin (hypothesis does, so all of hypothesis is rewritten), and keeps the rewritten code
only where it may write bytecode. With ``PYTHONDONTWRITEBYTECODE`` set, or an installation the
user cannot write to, that is a second more on every ``pytest exercises/dayN`` for messages of
hypothesis's own internal asserts, which no student reads.

Nothing here imports torch or pytest.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def as_installed() -> Iterator[None]:
    """Imports inside the block skip pytest's assertion rewriting (when pytest installed it)."""
    hooks = [(i, h) for i, h in enumerate(sys.meta_path)
             if type(h).__module__ == "_pytest.assertion.rewrite"]
    for _, hook in hooks:
        sys.meta_path.remove(hook)
    try:
        yield
    finally:
        for i, hook in hooks:
            sys.meta_path.insert(i, hook)
