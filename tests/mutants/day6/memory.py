"""Wrong solutions for day6/memory.py, each a mistake students really make."""

import torch
from torch.utils.checkpoint import checkpoint

from graders.testing import mutant


@mutant("day6.memory.saved_tensor_stats", expect=r"saved twice")
def distinct_tensors_only(fn):
    seen = {}

    def pack(t):
        seen[(t.data_ptr(), t.shape, t.stride())] = t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return len(seen), sum(seen.values())


@mutant("day6.memory.saved_tensor_stats", expect=r"bytes")
def storage_bytes(fn):
    count, nbytes = 0, 0

    def pack(t):
        nonlocal count, nbytes
        count += 1
        nbytes += t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return count, nbytes


@mutant("day6.memory.saved_tensor_stats", expect=r"still installed")
def no_cleanup_on_error(fn):
    count, nbytes = 0, 0

    def pack(t):
        nonlocal count, nbytes
        count += 1
        nbytes += t.numel() * t.element_size()
        return t

    hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t)
    hooks.__enter__()
    fn()
    hooks.__exit__(None, None, None)
    return count, nbytes


@mutant("day6.memory.checkpointed_forward", expect=r"nothing was checkpointed")
def no_checkpoint(blocks, x):
    for block in blocks:
        x = block(x)
    return x


@mutant("day6.memory.checkpointed_forward", expect=r"use_reentrant=False")
def reentrant(blocks, x):
    for block in blocks:
        x = checkpoint(block, x, use_reentrant=True)
    return x


@mutant("day6.memory.checkpointed_forward", expect=r"dropout masks")
def forgets_rng_state(blocks, x):
    for block in blocks:
        x = checkpoint(block, x, use_reentrant=False, preserve_rng_state=False)
    return x


@mutant("day6.memory.checkpointed_forward", expect=r"detach")
def detaches_between_blocks(blocks, x):
    for i, block in enumerate(blocks):
        x = checkpoint(block, x if i == 0 else x.detach(), use_reentrant=False)
    return x
