"""Wrong solutions for day4/embeddings.py, each a mistake students really make."""

import torch
import torch.nn.functional as F

from graders.testing import mutant


@mutant("day4.embeddings.embedding_backward", expect=r"SUM of their upstream gradients")
def embedding_backward_overwrites(ids, dout, num_embeddings):
    grad = torch.zeros(num_embeddings, dout.shape[-1], dtype=dout.dtype, device=dout.device)
    grad[ids.reshape(-1)] += dout.reshape(-1, dout.shape[-1])
    return grad


@mutant("day4.embeddings.embedding_backward", expect=r"must not call|forbidden|autograd")
def embedding_backward_with_autograd(ids, dout, num_embeddings):
    with torch.enable_grad():
        table = torch.zeros(num_embeddings, dout.shape[-1], dtype=dout.dtype, requires_grad=True)
        (F.embedding(ids, table) * dout).sum().backward()
    return table.grad


@mutant("day4.embeddings.nearest_neighbours", expect=r"not by dot product")
def nearest_by_dot_product(embeddings, index, k):
    n = embeddings.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(k)
    if not 0 <= index < n:
        raise IndexError(index)
    e = embeddings.detach().double()
    s = e @ e[index]
    s[index] = -torch.inf
    return torch.sort(s, descending=True, stable=True).indices[:k].tolist()


@mutant("day4.embeddings.nearest_neighbours", expect=r"zero vectors|NaN")
def nearest_zero_vector_nan(embeddings, index, k):
    n = embeddings.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(k)
    if not 0 <= index < n:
        raise IndexError(index)
    e = embeddings.detach().double()
    s = F.normalize(e, dim=1, eps=0.0) @ F.normalize(e, dim=1, eps=0.0)[index]
    s[index] = -torch.inf
    return torch.sort(s, descending=True, stable=True).indices[:k].tolist()


@mutant("day4.embeddings.nearest_neighbours", expect=r"float64")
def nearest_in_float32(embeddings, index, k):
    n = embeddings.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(k)
    if not 0 <= index < n:
        raise IndexError(index)
    e = embeddings.detach().float()
    s = F.cosine_similarity(e, e[index][None], dim=1)
    s[index] = -torch.inf
    return torch.sort(s, descending=True, stable=True).indices[:k].tolist()
