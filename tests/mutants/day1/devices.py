"""Wrong solutions for day1/devices.py, each a mistake students really make."""

import torch

from graders.testing import alternative, mutant


@mutant("day1.devices.pick_device", expect=r"cuda:0|expected device|RuntimeError")
def indexed_cuda(prefer=None):
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda:0") if torch.cuda.is_available() else torch.device("cpu")


@mutant("day1.devices.pick_device", expect=r"RuntimeError|pick_device\(")
def ignores_preference(prefer=None):
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


@mutant("day1.devices.move_to", expect=r"container became|namedtuple|OrderedDict|defaultdict")
def rebuilds_plain_containers(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: rebuilds_plain_containers(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [rebuilds_plain_containers(v, device) for v in obj]
    return obj


@mutant("day1.devices.move_to", expect=r"changed its input|moved the input")
def assigns_in_place(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        for k in obj:
            obj[k] = assigns_in_place(obj[k], device)
        return obj
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            obj[i] = assigns_in_place(v, device)
        return obj
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(assigns_in_place(v, device) for v in obj))
    if isinstance(obj, tuple):
        return tuple(assigns_in_place(v, device) for v in obj)
    return obj


@mutant("day1.devices.move_to", expect=r"namedtuple|container became|raised")
def namedtuple_as_tuple(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        out = type(obj)() if not hasattr(obj, "default_factory") else type(obj)(obj.default_factory)
        for k, v in obj.items():
            out[k] = namedtuple_as_tuple(v, device)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(namedtuple_as_tuple(v, device) for v in obj)
    return obj


@mutant("day1.devices.pick_device", expect=r"pick_device\(prefer='cpu'\) with CUDA available")
def cuda_wins_over_preference(prefer=None):
    if torch.cuda.is_available():
        return torch.device("cuda")
    if prefer is not None and torch.device(prefer).type == "cuda":
        raise RuntimeError("CUDA is not available")
    return torch.device("cpu")


@alternative("day1.devices.pick_device")
def pick_device_through_a_device_object(prefer=None):
    """Builds the device first and asks it for its type (another legal way to read a preference)."""
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = prefer if isinstance(prefer, torch.device) else torch.device(prefer)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{device} asked for, but CUDA is not available")
    return device
