"""From raw text to padded id tensors: tokenising, building a vocabulary, encoding, padding.

Every text model starts here. The rules are small but exact: what counts as a token, how the
vocabulary is ordered (so that ids are reproducible), what happens to words never seen in
training, and how sequences of different lengths become one rectangular batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor


def tokenize(text: str) -> list[str]:
    """Split a text into lower-case word and symbol tokens.

    The text is lower-cased first with ``text.lower()``. Then, reading it left to right, a token
    is either a maximal run of characters for which ``str.isalnum()`` is true (letters and
    digits of any script: "héllo", "42", "日本語"), or a single character that is neither
    alphanumeric nor whitespace (``str.isspace()``): punctuation, symbols, emoji, "_". Whitespace
    only separates tokens and never appears in one.

    Args:
        text: any string, possibly empty.

    Returns:
        The tokens in order; an empty list for an empty or all-whitespace text.

    Checked exactly on generated unicode text (letters, digits, punctuation, spaces of all
    kinds, empty strings).

    Example:
        >>> tokenize("Don't PANIC: 42 times!!")
        ['don', "'", 't', 'panic', ':', '42', 'times', '!', '!']
    """
    raise NotImplementedError("day4.text.tokenize")


def build_vocab(
    token_lists: Iterable[Sequence[str]],
    min_freq: int = 1,
    specials: Sequence[str] = ("<pad>", "<unk>"),
) -> dict[str, int]:
    """Build a token-to-id mapping with a reproducible order.

    Ids are 0, 1, 2, ... with no gaps, given in this order:

    1. the specials, in the order given (a special listed twice keeps its first id);
    2. every other token that occurs at least ``min_freq`` times over all the lists, by
       descending count, ties broken by code-point order of the token (plain ``str``
       comparison: "B" < "a" < "b").

    A token that is also a special keeps the special's id and is not added again, whatever its
    count. Counts are over all occurrences (a token repeated inside one list counts each time).

    Args:
        token_lists: an iterable of token sequences (for example the output of ``tokenize`` on
            each text); it may be a generator and may be empty, and so may each sequence.
        min_freq: the minimum count for a non-special token to be kept (at least 1).
        specials: tokens that always come first, even if they never occur in the data.

    Returns:
        A dict ``{token: id}`` whose insertion order is the id order.

    Example:
        >>> build_vocab([["b", "a", "b"], ["c", "a"], ["d"]], min_freq=2)
        {'<pad>': 0, '<unk>': 1, 'a': 2, 'b': 3}
    """
    raise NotImplementedError("day4.text.build_vocab")


def encode(tokens: Sequence[str], vocab: Mapping[str, int], unk: str = "<unk>") -> list[int]:
    """Map tokens to ids, sending unknown tokens to the id of ``unk``.

    Args:
        tokens: a sequence of tokens (may be empty).
        vocab: a mapping ``{token: id}`` such as ``build_vocab`` returns.
        unk: the token whose id replaces every token missing from ``vocab``.

    Returns:
        A list of Python ints, one per token.

    Raises:
        KeyError: a token is missing from ``vocab`` and ``unk`` is missing as well.

    Example:
        >>> encode(["a", "zebra"], {"<pad>": 0, "<unk>": 1, "a": 2})
        [2, 1]
    """
    raise NotImplementedError("day4.text.encode")


def decode(ids: Sequence[int] | Tensor, vocab: Mapping[str, int]) -> list[str]:
    """Map ids back to tokens: the inverse of ``encode`` for in-vocabulary tokens.

    Args:
        ids: a sequence of ints, or a 1-D integer tensor (may be empty).
        vocab: a mapping ``{token: id}`` with distinct ids.

    Returns:
        A list of str, one per id (Python ``str``, never a tensor).

    Raises:
        KeyError: an id is not the id of any token in ``vocab``.

    Example:
        >>> decode([2, 1], {"<pad>": 0, "<unk>": 1, "a": 2})
        ['a', '<unk>']
    """
    raise NotImplementedError("day4.text.decode")


def pad_batch(sequences: Sequence[Sequence[int] | Tensor], pad_id: int) -> tuple[Tensor, Tensor]:
    """Right-pad id sequences of different lengths into one batch.

    Args:
        sequences: B sequences of ids, each a list of ints or a 1-D integer tensor; any may be
            empty, and B may be 0.
        pad_id: the id written after the end of each shorter sequence.

    Returns:
        ``(ids, lengths)``: ``ids`` int64 of shape (B, T) with T the longest length (0 when
        every sequence is empty or B is 0), row b holding sequence b followed by ``pad_id``;
        ``lengths`` int64 of shape (B,). Both on the CPU. The inputs are left unchanged.

    Example:
        >>> ids, lengths = pad_batch([[5, 6, 7], [8]], pad_id=0)
        >>> ids
        tensor([[5, 6, 7],
                [8, 0, 0]])
        >>> lengths
        tensor([3, 1])
    """
    raise NotImplementedError("day4.text.pad_batch")
