"""Wrong solutions for day1/tensors.py, each a mistake students really make."""

import torch

from graders.testing import mutant


@mutant("day1.tensors.describe", expect=r"stride.*tuple|expected \(")
def describe_strides_as_list(t):
    return {"shape": tuple(t.shape), "dtype": str(t.dtype), "device": str(t.device),
            "stride": list(t.stride()), "storage_offset": t.storage_offset(),
            "is_contiguous": t.is_contiguous(), "numel": t.numel(),
            "requires_grad": t.requires_grad, "is_leaf": t.is_leaf}


@mutant("day1.tensors.describe", expect=r"dtype")
def describe_dtype_object(t):
    return {"shape": tuple(t.shape), "dtype": t.dtype, "device": str(t.device),
            "stride": tuple(t.stride()), "storage_offset": t.storage_offset(),
            "is_contiguous": t.is_contiguous(), "numel": t.numel(),
            "requires_grad": t.requires_grad, "is_leaf": t.is_leaf}


@mutant("day1.tensors.describe", expect=r"is_contiguous|storage_offset")
def describe_assumes_contiguous(t):
    return {"shape": tuple(t.shape), "dtype": str(t.dtype), "device": str(t.device),
            "stride": tuple(t.stride()), "storage_offset": 0,
            "is_contiguous": True, "numel": t.numel(),
            "requires_grad": t.requires_grad, "is_leaf": t.is_leaf}


@mutant("day1.tensors.describe", expect=r"describe\(t\)\['device'\].*cuda:1")
def describe_device_type_only(t):
    return {"shape": tuple(t.shape), "dtype": str(t.dtype), "device": t.device.type,
            "stride": tuple(t.stride()), "storage_offset": t.storage_offset(),
            "is_contiguous": t.is_contiguous(), "numel": t.numel(),
            "requires_grad": t.requires_grad, "is_leaf": t.is_leaf}


@mutant("day1.tensors.pairwise_sq_dists", expect=r"negative")
def pairwise_no_clamp(x, y):
    return (x * x).sum(1, keepdim=True) - 2 * x @ y.T + (y * y).sum(1)


@mutant("day1.tensors.pairwise_sq_dists", expect=r"slower than (the reference|a PyTorch-native equivalent)")
def pairwise_python_loops(x, y):
    out = torch.zeros(x.shape[0], y.shape[0], dtype=x.dtype, device=x.device)
    for i in range(x.shape[0]):
        for j in range(y.shape[0]):
            out[i, j] = ((x[i] - y[j]) ** 2).sum()
    return out


@mutant("day1.tensors.pairwise_sq_dists", expect=r"shape")
def pairwise_wrong_broadcast(x, y):
    return ((x - y) ** 2).sum(-1, keepdim=True).expand(x.shape[0], y.shape[0]).clamp_min(0)


@mutant("day1.tensors.pairwise_sq_dists", expect=r"dtype")
def pairwise_always_float32(x, y):
    return (torch.cdist(x.float(), y.float()) ** 2)


@mutant("day1.tensors.masked_mean", expect=r"NaN")
def masked_mean_multiplies(x, mask, dim):
    m = mask.expand_as(x).to(x.dtype)
    return (x * m).sum(dim) / m.sum(dim).clamp_min(1)


@mutant("day1.tensors.masked_mean", expect=r"NaN|not close")
def masked_mean_divides_by_zero(x, mask, dim):
    m = mask.expand_as(x)
    return torch.where(m, x, torch.zeros_like(x)).sum(dim) / m.sum(dim)


@mutant("day1.tensors.masked_mean", expect=r"not close|shape")
def masked_mean_counts_everything(x, mask, dim):
    m = mask.expand_as(x)
    return torch.where(m, x, torch.zeros_like(x)).sum(dim) / x.shape[dim]


@mutant("day1.tensors.batched_gather", expect=r"loops over the batch")
def gather_loop_over_batch(x, idx):
    return torch.stack([x[b, idx[b]] for b in range(x.shape[0])])


@mutant("day1.tensors.batched_gather", expect=r"shape")
def gather_without_expand(x, idx):
    return torch.gather(x, 1, idx.unsqueeze(-1))


@mutant("day1.tensors.batched_gather", expect=r"differ|not close|shape")
def gather_first_batch_index(x, idx):
    return x[:, idx[0]]
