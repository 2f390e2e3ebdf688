"""Graders for day1/devices.py: choosing a device and moving nested structures."""

from __future__ import annotations

from collections import OrderedDict, defaultdict, namedtuple

import pytest
import torch

from graders import student
from graders.checks import assert_equal, fail
from graders.gpu import gpu_parity

mod = student("day1.devices")

Pair = namedtuple("Pair", ["first", "second"])


class Config(dict):
    """A dict subclass, as libraries often use."""


@pytest.fixture
def cuda_available(monkeypatch):
    def set_to(value: bool):  # pretend, whichever way the code asks
        monkeypatch.setattr(torch.cuda, "is_available", lambda: value)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 2 if value else 0)
    return set_to


@pytest.mark.parametrize("available", [False, True])
def test_pick_device_chooses_by_availability(cuda_available, available):
    """Does pick_device() give device('cuda') (no index) with CUDA and device('cpu') without?"""
    cuda_available(available)
    got = mod.pick_device()
    expected = torch.device("cuda") if available else torch.device("cpu")
    if not isinstance(got, torch.device):
        fail(f"pick_device() returned {got!r} ({type(got).__name__}); expected a torch.device.")
    assert_equal(got, expected, what=f"pick_device() with CUDA {'available' if available else 'absent'}")


@pytest.mark.parametrize("available", [False, True])
@pytest.mark.parametrize("prefer", ["cpu", torch.device("cpu"), "cuda", torch.device("cuda"), "cuda:1",
                                    torch.device("cuda", 0)])
def test_pick_device_honours_preference(cuda_available, prefer, available):
    """Does a preference win (str or device, index kept) with or without CUDA, and asking for
    absent CUDA raise RuntimeError?"""
    cuda_available(available)
    cuda = "available" if available else "absent"
    if torch.device(prefer).type == "cuda" and not available:
        try:
            got = mod.pick_device(prefer)
        except NotImplementedError:
            raise
        except RuntimeError:
            return
        fail(f"pick_device(prefer={prefer!r}) with CUDA absent returned {got!r}; expected RuntimeError.")
    got = mod.pick_device(prefer)
    if not isinstance(got, torch.device):
        fail(f"pick_device(prefer={prefer!r}) returned {got!r}; expected a torch.device.")
    assert_equal(got, torch.device(prefer), what=f"pick_device(prefer={prefer!r}) with CUDA {cuda}")


def _structure():
    t1, t2, t3 = torch.arange(3.0), torch.ones(2, 2), torch.zeros(1, dtype=torch.int64)
    leaf = object()
    od = OrderedDict([("z", t1), ("a", [t2, "text", 3])])
    dd = defaultdict(list, {"k": (t3, None)})
    obj = {
        "od": od,
        "dd": dd,
        "cfg": Config(w=t2, n=1.5),
        "pair": Pair(t1, (t3, leaf)),
        "list": [t1, [t2, (t3,)], leaf],
        "tuple": (t2,),
        "none": None,
    }
    return obj, leaf


def _walk(got, ref, path, device):
    if isinstance(ref, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            fail(f"move_to: at {path} expected a tensor, got {type(got).__name__}.")
        if got.device.type != torch.device(device).type:
            fail(f"move_to: the tensor at {path} is on {got.device}, expected {device}.")
        assert_equal(got.dtype, ref.dtype, what=f"the dtype of the tensor at {path}")
        assert_equal(tuple(got.shape), tuple(ref.shape), what=f"the shape of the tensor at {path}")
        return
    if type(got) is not type(ref):
        fail(f"move_to: at {path} the container became {type(got).__name__}; expected "
             f"{type(ref).__name__} (rebuild each container with its own type).")
    if isinstance(ref, dict):
        if list(got) != list(ref):
            fail(f"move_to: the keys at {path} are {list(got)}; expected {list(ref)} in that order.")
        if isinstance(ref, defaultdict) and got.default_factory is not ref.default_factory:
            fail(f"move_to: the defaultdict at {path} lost its default_factory.")
        for k in ref:
            _walk(got[k], ref[k], f"{path}[{k!r}]", device)
    elif isinstance(ref, (list, tuple)):
        if len(got) != len(ref):
            fail(f"move_to: at {path} there are {len(got)} items; expected {len(ref)}.")
        for i, (g, r) in enumerate(zip(got, ref)):
            _walk(g, r, f"{path}[{i}]", device)
    elif got is not ref:
        fail(f"move_to: the leaf at {path} was replaced ({got!r} instead of {ref!r}); keep "
             f"non-tensor leaves as they are.")


def test_move_to_keeps_every_container_type():
    """Are nested dicts (OrderedDict, defaultdict, subclasses), lists, tuples and namedtuples rebuilt
    with their own types, non-tensor leaves kept and every tensor moved?"""
    obj, _ = _structure()
    got = mod.move_to(obj, "meta")
    _walk(got, obj, "obj", "meta")


def test_move_to_leaves_input_unchanged():
    """Is the input structure left as it was (same containers, tensors on their devices)?"""
    obj, leaf = _structure()
    before = repr(obj)
    ids = {k: id(v) for k, v in obj.items()}
    mod.move_to(obj, "meta")
    if repr(obj) != before or {k: id(v) for k, v in obj.items()} != ids:
        fail("move_to changed its input: build new containers instead of assigning into the old ones.")
    if obj["list"][0].device.type != "cpu":
        fail("move_to moved the input's own tensors: return new ones.")


def test_move_to_on_gpu():
    """Does move_to move nested tensors to CUDA and back (outputs on the requested device)?"""
    base = {"a": [torch.arange(4.0)], "b": (torch.ones(2),)}
    gpu_parity(mod.move_to, lambda dev: ((base, dev), {}), what="move_to", rtol=0, atol=0)
