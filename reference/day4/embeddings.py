"""Embedding tables: their gradient by hand, and what their geometry means.

An embedding lookup ``table[ids]`` is the simplest layer there is, yet its backward pass hides a
classic bug: a token that occurs twice in a batch must receive the sum of both gradients. The
second exercise uses a trained table the way people inspect word vectors: by cosine similarity.
"""

from __future__ import annotations

import torch
from torch import Tensor


def embedding_backward(ids: Tensor, dout: Tensor, num_embeddings: int) -> Tensor:
    """The gradient of the embedding table for ``out = table[ids]``, computed by hand.

    Args:
        ids: integer ids (int64) of any shape S (for example (B, T)), each in
            ``[0, num_embeddings)``; ids may repeat, and S may contain zero elements.
        dout: the upstream gradient dL/d(out), shape S + (D,), float32 or float64, on the same
            device as ``ids``.
        num_embeddings: the number of rows V of the table.

    Returns:
        dL/d(table), shape (V, D), with ``dout``'s dtype and device: row v is the **sum** of the
        rows of ``dout`` whose id is v (zero for ids that never occur).

    Forbidden: autograd (``.backward()``, ``torch.autograd.grad``) and torch's own embedding
    backward; the check runs your function with grad mode off. Checked against autograd through
    ``F.embedding`` in float64 (rtol 1e-7, atol 1e-7; float32 inputs rtol 1e-5, atol 1e-5).

    Example:
        >>> embedding_backward(torch.tensor([1, 1]), torch.ones(2, 3), 3)
        tensor([[0., 0., 0.],
                [2., 2., 2.],
                [0., 0., 0.]])
    """
    dim = dout.shape[-1]
    grad = dout.new_zeros((num_embeddings, dim))
    return grad.index_add_(0, ids.reshape(-1), dout.reshape(-1, dim))


def nearest_neighbours(embeddings: Tensor, index: int, k: int) -> list[int]:
    """The k rows most similar to row ``index`` by cosine similarity.

    The similarity of rows a and b is ``a . b / (|a| |b|)``, computed in float64 whatever the
    input dtype, and defined as 0 when either row is the zero vector.

    Args:
        embeddings: (n, d) float tensor (it may require grad; it is not modified).
        index: the query row, ``0 <= index < n``.
        k: how many neighbours to return, ``1 <= k <= n - 1``.

    Returns:
        k distinct row indices as Python ints, never ``index`` itself, most similar first. Rows
        with exactly equal similarity come by lower index first: duplicated rows, rows that
        differ by a power-of-two factor (``v`` and ``2 * v``), and zero vectors (similarity 0).

    Raises:
        ValueError: k is outside ``[1, n - 1]``.
        IndexError: index is outside ``[0, n)`` (negative indices are not accepted).

    Checked against similarities computed in float64 (float32 is not precise enough: rows that
    differ by 1e-8 in similarity must be ranked right); rows whose similarities differ by less
    than 1e-12 without being exact ties as above may come in either order.

    Example:
        >>> e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.1], [1.0, 0.0]])
        >>> nearest_neighbours(e, 0, 2)
        [3, 2]
    """
    n = embeddings.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be in [1, {n - 1}], got {k}")
    if not 0 <= index < n:
        raise IndexError(f"index {index} is out of range for {n} rows")
    rows = embeddings.detach().to(torch.float64)
    norms = torch.linalg.vector_norm(rows, dim=1)
    unit = rows / torch.where(norms > 0, norms, torch.ones_like(norms)).unsqueeze(1)
    sims = unit @ unit[index]
    sims[index] = -torch.inf
    order = torch.sort(sims, descending=True, stable=True).indices
    return order[:k].tolist()
