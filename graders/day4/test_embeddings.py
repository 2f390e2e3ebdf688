"""Graders for day4/embeddings.py: the embedding gradient by hand, cosine nearest neighbours."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from graders import strategies as ds
from graders import reference, student
from graders.checks import assert_close, assert_equal, close_values, equal_values, fail
from graders.forbid import by_hand

mod = student("day4.embeddings")
ref = reference("day4.embeddings")

def _student_embedding_backward(ids, dout, num_embeddings):
    with by_hand("embedding_backward", "torch.ops.aten.embedding_dense_backward",
                 "torch.embedding_backward",
                 why="compute the table's gradient yourself with an accumulating scatter (index_add_)"):
        return mod.embedding_backward(ids, dout, num_embeddings)


def _oracle(ids, dout, num_embeddings):
    table = torch.zeros(num_embeddings, dout.shape[-1], dtype=torch.float64, requires_grad=True)
    (F.embedding(ids, table) * dout.double()).sum().backward()
    return table.grad.to(dout.dtype)


@st.composite
def embedding_inputs(draw):
    v = draw(st.integers(1, 6))
    shape = draw(ds.shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    ids = draw(ds.tensors(shape, torch.int64, min_value=0, max_value=v - 1))
    if ids.numel() >= 2 and draw(st.booleans()):  # force a repeated id
        flat = ids.reshape(-1).clone()
        flat[-1] = flat[0]
        ids = flat.view(shape)
    d = draw(st.integers(1, 4))
    dout = draw(ds.tensors(tuple(shape) + (d,), ds.dtypes()))
    return ids, dout, v


def _compare(ids, dout, v):
    got = _student_embedding_backward(ids, dout, v)
    expected = _oracle(ids, dout, v)
    tol = 1e-5 if dout.dtype == torch.float32 else 1e-7
    repeated = ids.numel() > torch.unique(ids).numel()
    if (isinstance(got, torch.Tensor) and got.shape == expected.shape and repeated
            and not close_values(got.double(), expected.double(), rtol=tol, atol=tol)):
        fail(f"embedding_backward(ids={ids.tolist()}, ...) is wrong for ids that repeat: the "
             f"gradient of a row used several times is the SUM of their upstream gradients. "
             f"Indexed assignment (grad[ids] = dout, or grad[ids] += dout) keeps only one of "
             f"them; use index_add_ (or index_put_ with accumulate=True).\n"
             f"Got {got.tolist()}, expected {expected.tolist()}.")
    assert_close(got, expected, rtol=tol, atol=tol,
                 what=f"embedding_backward(ids of shape {tuple(ids.shape)}, dout, {v})")


@given(inputs=embedding_inputs())
def test_embedding_backward_matches_autograd(inputs):
    """Does embedding_backward equal autograd's table gradient, for ids of any shape?"""
    _compare(*inputs)


def test_embedding_backward_sums_repeated_ids():
    """Is the gradient of an id used several times the sum of all its upstream gradients?"""
    ids = torch.tensor([[2, 0, 2], [2, 1, 0]])
    dout = torch.arange(1.0, 13.0, dtype=torch.float64).view(2, 3, 2)
    _compare(ids, dout, 4)


def test_embedding_backward_empty_batch():
    """Does embedding_backward return an all-zero (V, D) gradient when there are no ids?"""
    ids = torch.zeros((0, 3), dtype=torch.int64)
    dout = torch.zeros((0, 3, 5), dtype=torch.float32)
    got = _student_embedding_backward(ids, dout, 4)
    assert_equal(got, torch.zeros(4, 5), what="embedding_backward(empty ids, dout (0, 3, 5), 4)")


# --- nearest_neighbours -------------------------------------------------------------------------

def _sims(e: torch.Tensor, index: int) -> torch.Tensor:
    """Cosine similarities to row ``index`` in float64 (for messages and input filtering)."""
    e = e.detach().double()
    return F.cosine_similarity(e, e[index : index + 1], dim=1, eps=1e-300)


def _check_neighbours(e, index, k, call):
    got = mod.nearest_neighbours(e, index, k)
    if not isinstance(got, list) or not all(type(i) is int for i in got):
        fail(f"{call} returned {got!r}; expected a list of Python ints (use .tolist()).")
    expected = ref.nearest_neighbours(e, index, k)
    if equal_values(got, expected):
        return
    s = _sims(e, index)
    if index in got:
        fail(f"{call} returned {got!r}, which contains the query row {index} itself: exclude it.")
    if len(got) != k or len(set(got)) != k:
        fail(f"{call} returned {got!r}; expected {k} distinct indices: {expected!r}.")
    zero_rows = [i for i in range(e.shape[0]) if float(torch.linalg.vector_norm(e[i].double())) == 0]
    detail = ""
    if zero_rows:
        detail = (f" Rows {zero_rows} are zero vectors: their similarity is 0 (not NaN), so they "
                  f"rank after every positive similarity and before every negative one.")
    fail(f"{call} returned {got!r}, expected {expected!r}. The cosine similarities to row "
         f"{index} are {[round(float(v), 12) for v in s]}: rank by cosine (not by dot product), "
         f"computed in float64, exact ties by lower index.{detail}")


@st.composite
def neighbour_inputs(draw):
    n_base = draw(st.integers(1, 5))
    d = draw(st.integers(1, 4))
    # generic non-zero components: the only exact ties are the ones constructed below
    component = ds.floats(-3, 3).filter(lambda v: abs(v) >= 1e-2)
    base = draw(ds.tensors((n_base, d), torch.float64, elements=component, layouts=("contiguous",)))
    rows = list(base)
    for _ in range(draw(st.integers(0, 3))):  # exact ties: duplicates, 2x / 0.5x copies, zeros
        kind = draw(st.sampled_from(["dup", "scale", "zero"]))
        src = rows[draw(st.integers(0, len(rows) - 1))]
        new = {"dup": src.clone(), "scale": src * draw(st.sampled_from([2.0, 0.5, 4.0])),
               "zero": torch.zeros(d, dtype=torch.float64)}[kind]
        rows.insert(draw(st.integers(0, len(rows))), new)
    assume(len(rows) >= 2)
    e = torch.stack(rows)
    index = draw(st.integers(0, len(rows) - 1))
    k = draw(st.integers(1, len(rows) - 1))
    s = _sims(e, index).tolist()
    # accidental near-ties (not exact ties) would make the order ambiguous
    assume(all(abs(a - b) < 1e-15 or abs(a - b) > 1e-12 for i, a in enumerate(s) for b in s[i + 1:]))
    dtype = draw(ds.dtypes())
    return e.to(dtype), index, k


@given(inputs=neighbour_inputs())
def test_nearest_neighbours_ranks_by_cosine(inputs):
    """Does nearest_neighbours rank rows by cosine similarity, ties (and zero rows) by index?"""
    e, index, k = inputs
    _check_neighbours(e, index, k, f"nearest_neighbours(embeddings {tuple(e.shape)} "
                                   f"{e.dtype}, index={index}, k={k})")


def test_nearest_neighbours_zero_vectors():
    """Do zero rows get similarity 0 (after positive, before negative rows), also as the query?"""
    e = torch.tensor([[1.0, 0.0], [0.0, 0.0], [2.0, 1.0], [-1.0, 0.5], [0.0, 0.0]])
    _check_neighbours(e, 0, 4, f"nearest_neighbours({e.tolist()}, index=0, k=4)")
    _check_neighbours(e, 1, 3, f"nearest_neighbours({e.tolist()}, index=1, k=3)")


def test_nearest_neighbours_uses_float64():
    """Are similarities that differ only beyond float32 precision still ranked correctly?"""
    e = torch.tensor([[1.0, 0.0], [1.0, 1.2e-4], [1.0, 1.0e-4], [-1.0, 0.5]], dtype=torch.float32)
    got = mod.nearest_neighbours(e, 0, 2)
    if not equal_values(got, [2, 1]):
        fail(f"nearest_neighbours(e, 0, 2) returned {got!r}, expected [2, 1] for rows "
             f"{e.tolist()}: their similarities to row 0 differ by about 2e-9, which float32 "
             f"rounds away. Convert to float64 before computing similarities.")
    w = torch.nn.Parameter(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]]))
    _check_neighbours(w, 0, 2, "nearest_neighbours(an nn.Parameter requiring grad, 0, 2)")


def test_nearest_neighbours_rejects_bad_arguments():
    """Does nearest_neighbours raise ValueError for k outside [1, n-1] and IndexError for index?"""
    e = torch.eye(3)
    for args, exc in (((e, 0, 0), ValueError), ((e, 0, 3), ValueError),
                      ((e, 3, 1), IndexError), ((e, -1, 1), IndexError)):
        try:
            mod.nearest_neighbours(*args)
        except exc:
            continue
        except Exception as err:  # noqa: BLE001
            fail(f"nearest_neighbours(eye(3), index={args[1]}, k={args[2]}) raised "
                 f"{type(err).__name__}; expected {exc.__name__}.")
        fail(f"nearest_neighbours(eye(3), index={args[1]}, k={args[2]}) returned without error; "
             f"expected {exc.__name__}.")
