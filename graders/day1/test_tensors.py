"""Graders for day1/tensors.py: metadata, distances, masked reductions, gathers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from graders import reference, student
from graders import strategies as ds
from graders.checks import assert_close, assert_equal, describe_tensor, fail, plain
from graders.forbid import count_torch_calls
from graders.gpu import gpu_parity
from graders.speed import speed_check

mod = student("day1.tensors")
ref = reference("day1.tensors")

KEYS = ("shape", "dtype", "device", "stride", "storage_offset", "is_contiguous", "numel",
        "requires_grad", "is_leaf")


def _expected_description(t: torch.Tensor) -> dict:
    return {
        "shape": tuple(t.shape), "dtype": str(t.dtype), "device": str(t.device),
        "stride": tuple(t.stride()), "storage_offset": t.storage_offset(),
        "is_contiguous": t.is_contiguous(), "numel": t.numel(),
        "requires_grad": t.requires_grad, "is_leaf": t.is_leaf,
    }


def _check_description(t: torch.Tensor) -> None:
    got = plain(mod.describe(t), what="describe(t)")  # exact dict, tuples, ints, strs, bools
    if type(got) is not dict:
        fail(f"describe(t) returned {type(got).__name__}, expected a dict.")
    if set(got) != set(KEYS):
        missing, extra = sorted(set(KEYS) - set(got)), sorted(set(got) - set(KEYS))
        fail(f"describe(t) has the wrong keys: missing {missing}, unexpected {extra}.")
    for key, value in _expected_description(t).items():
        g = got[key]
        if key in ("shape", "stride"):
            if not isinstance(g, tuple) or not all(type(v) is int for v in g):
                fail(f"describe(t)['{key}'] is {describe_tensor(g)} ({type(g).__name__}); "
                     f"expected a tuple of Python ints such as {value!r}.")
        elif type(g) is not type(value):
            fail(f"describe(t)['{key}'] is {describe_tensor(g)} of type {type(g).__name__}; "
                 f"expected {value!r} of type {type(value).__name__}.")
        assert_equal(tuple(g) if key in ("shape", "stride") else g, value,
                     what=f"describe(t)['{key}'] for t of {ds_layout(t)}")


def ds_layout(t: torch.Tensor) -> str:
    return (f"shape {tuple(t.shape)}, strides {tuple(t.stride())}, offset "
            f"{t.storage_offset()}, dtype {t.dtype}")


@given(t=ds.tensors(shape=ds.shapes(min_dims=0, max_dims=4, min_side=0),
                    dtype=st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool])))
def test_describe_reads_layout_and_type(t):
    """Does describe report shape, dtype, device, strides, offset, contiguity and numel?"""
    _check_description(t)


@given(t=ds.tensors(shape=ds.shapes(max_dims=3)), how=st.sampled_from(["leaf", "nonleaf", "view"]))
def test_describe_reads_autograd_flags(t, how):
    """Does describe report requires_grad and is_leaf for leaves, results and views?"""
    leaf = t.clone().requires_grad_(True)
    if how == "leaf":
        x = leaf
    elif how == "nonleaf":
        x = leaf * 2
    else:
        x = leaf.detach()[..., :1].expand(*leaf.shape[:-1], 3)
    _check_description(x)


class _Elsewhere(torch.Tensor):
    """A CPU tensor that reports another device, as one on a second GPU would (no GPU needed)."""

    where = torch.device("cuda", 1)

    @property
    def device(self) -> torch.device:  # type: ignore[override]
        return self.where


@pytest.mark.parametrize("device", ["cuda:1", "meta"])
def test_describe_reports_the_whole_device(device):
    """Is "device" str(t.device), index included ("cuda:1"), on a tensor of another device?"""
    if device == "meta":
        t = torch.empty(3, 2, device="meta").t()
    else:
        t = torch.empty(3, 2).t().as_subclass(_Elsewhere)
    _check_description(t)


# --- pairwise_sq_dists ----------------------------------------------------------------------------

@st.composite
def point_sets(draw, dtype=None):
    dtype = draw(ds.dtypes()) if dtype is None else dtype
    d = draw(st.integers(1, 5))
    n, m = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    centre = draw(st.sampled_from([0.0, 0.0, 100.0, -1000.0]))
    x = draw(ds.tensors((n, d), dtype, min_value=-10, max_value=10)) + centre
    y = draw(ds.tensors((m, d), dtype, min_value=-10, max_value=10)) + centre
    if draw(st.booleans()):  # shared points: the true distance is exactly 0
        k = min(n, m)
        y = torch.cat([x[:k].clone(), y[k:]])
    return x, y


def _oracle(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x64, y64 = x.double(), y.double()
    exact = torch.cdist(x64, y64) ** 2
    c = 1e-5 if x.dtype == torch.float32 else 1e-12
    atol = c * ((x64 * x64).sum(1, keepdim=True) + (y64 * y64).sum(1)[None, :] + 1)
    return exact, atol


@given(xy=point_sets())
def test_pairwise_sq_dists_matches_cdist(xy):
    """Does pairwise_sq_dists equal torch.cdist(x, y)**2, within cancellation error?"""
    x, y = xy
    got = mod.pairwise_sq_dists(x, y)
    exact, atol = _oracle(x, y)
    assert_close(got, exact.to(x.dtype), rtol=0.0, atol=atol, what="pairwise_sq_dists(x, y)")


@given(x=ds.tensors(shape=st.tuples(st.integers(1, 6), st.integers(1, 5)),
                    dtype=ds.dtypes(), min_value=-1e3, max_value=1e3))
def test_pairwise_sq_dists_is_never_negative(x):
    """Are distances between identical points 0 or more, never slightly negative?"""
    got = mod.pairwise_sq_dists(x, x.clone())
    exact, atol = _oracle(x, x)
    assert_close(got, exact.to(x.dtype), rtol=0.0, atol=atol, what="pairwise_sq_dists(x, x)")
    if bool((got < 0).any()):
        i, j = [int(v) for v in (got < 0).nonzero()[0]]
        fail(f"pairwise_sq_dists(x, x) has a negative entry {got[i, j].item():.3g} at "
             f"({i}, {j}). Rounding in |x|^2 - 2 x.y + |y|^2 can go below 0: clamp at 0.")


def test_pairwise_sq_dists_is_fast():
    """Is pairwise_sq_dists vectorised (within 10x of the reference's speed)?"""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 16, generator=g)
    y = torch.randn(64, 16, generator=g)
    exact, atol = _oracle(x, y)
    assert_close(mod.pairwise_sq_dists(x, y), exact.float(), rtol=0.0, atol=atol,
                 what="pairwise_sq_dists(x, y)")
    speed_check(mod.pairwise_sq_dists, ref.pairwise_sq_dists, (x, y), what="pairwise_sq_dists",
                advice="loops over points in Python are the usual cause: use one matrix product "
                "x @ y.T and broadcasting.", native=lambda a, b: torch.cdist(a, b).square())


def test_pairwise_sq_dists_on_gpu():
    """Does pairwise_sq_dists give the same result on CUDA and keep outputs on the input's device?"""
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(7, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    gpu_parity(mod.pairwise_sq_dists, lambda dev: ((x.float().to(dev), y.float().to(dev)), {}),
               what="pairwise_sq_dists", rtol=1e-4, atol=1e-4)


# --- masked_mean ------------------------------------------------------------------------------------

@st.composite
def masked_inputs(draw):
    shape = draw(ds.shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    x = draw(ds.tensors(shape, ds.dtypes()))
    # the mask broadcasts: some dimensions are 1, some leading ones may be missing
    drop = draw(st.integers(0, len(shape) - 1))
    mshape = tuple(1 if draw(st.booleans()) and draw(st.booleans()) else s for s in shape[drop:])
    mask = draw(ds.tensors(mshape, torch.bool))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    poison = draw(st.sampled_from([None, float("nan"), float("inf"), -float("inf")]))
    if poison is not None:  # unselected entries must not matter
        x = torch.where(mask.expand_as(x), x, torch.full_like(x, poison))
    return x, mask, dim


def _masked_mean_oracle(x, mask, dim):
    m = mask.expand_as(x)
    x64 = torch.where(m, x.double(), torch.zeros((), dtype=torch.float64))
    count = m.sum(dim).double()
    total = x64.sum(dim)
    return torch.where(count > 0, total / count.clamp_min(1), torch.zeros((), dtype=torch.float64)).to(x.dtype)


@given(inputs=masked_inputs())
def test_masked_mean_matches_definition(inputs):
    """Does masked_mean average only the selected entries, ignoring NaN/inf elsewhere, 0 when none?"""
    x, mask, dim = inputs
    got = mod.masked_mean(x, mask, dim)
    expected = _masked_mean_oracle(x, mask, dim)
    tol = 1e-5 if x.dtype == torch.float32 else 1e-10
    assert_close(got, expected, rtol=tol, atol=tol, what=f"masked_mean(x, mask, dim={dim})")


def test_masked_mean_with_nothing_selected_is_zero():
    """Is the mean over an empty selection 0 rather than NaN?"""
    x = torch.tensor([[1.0, 2.0], [float("nan"), 4.0]])
    mask = torch.tensor([[False, False], [False, True]])
    assert_close(mod.masked_mean(x, mask, 1), torch.tensor([0.0, 4.0]), rtol=0, atol=1e-6,
                 what="masked_mean(x, mask, dim=1) with row 0 unselected")


def test_masked_mean_on_gpu():
    """Does masked_mean agree on CUDA and keep outputs on the input's device?"""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 5, generator=g)
    mask = torch.rand(4, 5, generator=g) > 0.5
    gpu_parity(mod.masked_mean, lambda dev: ((x.to(dev), mask.to(dev), 1), {}),
               what="masked_mean", rtol=1e-5, atol=1e-6)


# --- batched_gather ---------------------------------------------------------------------------------

@st.composite
def gather_inputs(draw):
    b, n, d, k = (draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 4)),
                  draw(st.integers(0, 6)))
    x = draw(ds.tensors((b, n, d), ds.dtypes()))
    idx = draw(ds.tensors((b, k), torch.int64, min_value=0, max_value=n - 1))
    return x, idx


@given(inputs=gather_inputs())
def test_batched_gather_matches_indexing(inputs):
    """Does batched_gather return x[b, idx[b, k]] for every b and k (repeats and K = 0 included)?"""
    x, idx = inputs
    got = mod.batched_gather(x, idx)
    expected = x[torch.arange(x.shape[0])[:, None], idx]
    assert_equal(got, expected, what="batched_gather(x, idx)")


def test_batched_gather_has_no_loop_over_batch():
    """Does batched_gather use the same number of torch operations for any batch size?"""
    g = torch.Generator().manual_seed(4)
    counts = {}
    for b in (2, 9):
        x = torch.randn(b, 6, 3, generator=g)
        idx = torch.randint(0, 6, (b, 4), generator=g)
        out, counts[b] = count_torch_calls(mod.batched_gather, x, idx)
        assert_equal(out, x[torch.arange(b)[:, None], idx], what="batched_gather(x, idx)")
    if counts[9] > counts[2]:
        fail(f"batched_gather makes {counts[2]} torch calls for a batch of 2 but {counts[9]} for "
             f"a batch of 9: it loops over the batch in Python. Gather every batch at once "
             f"(torch.gather or advanced indexing).")
