"""Golden outputs: the reference's answers to the graders' own calls, for student releases.

A student release holds no reference code, yet some public checks compare with the reference
(``reference("day1.tensors").fn(x)``). ``drills release`` runs those checks once against the
reference with recording on (the environment variable ``DRILLS_RECORD_GOLDEN=DIR``): every call
of a reference function is stored in ``DIR/dayN/<module>.json``, keyed by an exact hash of its
arguments (:mod:`graders.checks.golden_codec`). The graders' inputs are derandomised, so in the release
the same checks make the same calls, and the reference proxy serves the recorded answers.

- A call that reads torch's global random state is stored per state, and the state the reference
  left behind is restored after it is served; tensors the reference changed in place are
  changed the same way.
- An input that was never recorded (hypothesis shrinking towards a smaller failing input, or an
  argument the code under test changed) is rejected inside hypothesis, so shrinking stays on
  recorded inputs; outside hypothesis the check is "not assessed" (graded by the instructor).
- A call that cannot be stored exactly (it takes or returns an object of a class, a path...),
  or a recorded input met with another random state, makes the check "not assessed". Speed
  checks time a PyTorch-native baseline instead of the reference (``speed_check(..., native=fn)``).

``graders.core.runtime`` routes reference attributes here only while recording or where reference/ is absent.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any, NoReturn

import torch

from graders.checks.golden_codec import Unrecordable, decode, encode, key, tensor_leaves
from graders.core import paths, runtime

RECORD_ENV = "DRILLS_RECORD_GOLDEN"
GOLDEN_DIR = paths.GOLDEN_DIR
NOTES_FILE = "_notes.json"

_recorded: dict[str, dict[str, Any]] = {}
_notes: set[str] = set()
_loaded: dict[str, dict[str, Any]] = {}


def recording() -> bool:
    """True while ``drills release`` records golden outputs."""
    return bool(os.environ.get(RECORD_ENV))


def note(text: str) -> None:
    """Keep a remark for ``drills release`` (a call or a check that the release cannot serve)."""
    where = runtime.current()
    _notes.add(f"{where}: {text}" if where else text)


def _rng_hash() -> str:
    return hashlib.sha256(torch.get_rng_state().numpy().tobytes()).hexdigest()


class Recording:
    """A reference function that records each call's answer as it runs."""

    def __init__(self, short: str, name: str, fn: Any) -> None:
        self.short, self.name, self.fn = short, name, fn

    def __repr__(self) -> str:
        return f"<recording reference {self.short}.{self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        calls = _recorded.setdefault(self.short, {}).setdefault(self.name, {})
        try:
            k = key(args, kwargs)
        except Unrecordable as exc:
            note(f"{self.short}.{self.name} called with {exc}: not assessed in the release")
            return self.fn(*args, **kwargs)
        leaves = tensor_leaves((args, kwargs))
        before = [t.detach().clone() for t in leaves]
        rng_before, rng_hash = torch.get_rng_state(), _rng_hash()
        out = self.fn(*args, **kwargs)
        try:
            result = self._result(out, leaves, before)
        except Unrecordable as exc:
            calls[k] = {"unrecordable": f"it returns {exc}"}
            note(f"{self.short}.{self.name} returns {exc}: not assessed in the release")
            return out
        if torch.equal(torch.get_rng_state(), rng_before):
            calls[k] = {"result": result}
        else:
            result["rng_after"] = base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()
            calls.setdefault(k, {"by_rng": {}}).setdefault("by_rng", {})[rng_hash] = result
        return out

    @staticmethod
    def _result(out: Any, leaves: list, before: list) -> dict[str, Any]:
        result: dict[str, Any] = {}
        alias = next((i for i, t in enumerate(leaves) if out is t), None)
        result.update({"alias": alias} if alias is not None else {"out": encode(out)})
        changed = {str(i): encode(t.detach()) for i, (t, b) in enumerate(zip(leaves, before))
                   if not (t.shape == b.shape and torch.equal(t.detach(), b))}
        if changed:
            result["mutated"] = changed
        return result


class Replay:
    """A reference function served from golden outputs (student releases)."""

    def __init__(self, short: str, name: str, calls: dict[str, Any] | None) -> None:
        self.short, self.name, self.calls = short, name, calls

    def __repr__(self) -> str:
        return f"<golden reference {self.short}.{self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from graders.checks import not_assessed

        what = f"{self.short}.{self.name}"
        if self.calls is None:
            not_assessed(f"it compares with the reference's {self.name}, which is graded by "
                         f"your instructor")
        try:
            entry = self.calls.get(key(args, kwargs))
        except Unrecordable:  # the same argument types on every input: nothing to shrink to
            entry = {"unrecordable": "arguments"}
        if entry is None:
            _miss(what)
        if "unrecordable" in entry:
            not_assessed(f"it compares with the reference's {self.name}, which is graded by "
                         f"your instructor")
        result = entry.get("result") or entry["by_rng"].get(_rng_hash())
        if result is None:  # same input, other random state: the code under test drew numbers
            not_assessed(f"the random state before {what} differs from the recorded one; "
                         f"your instructor grades this check against the reference")
        leaves = tensor_leaves((args, kwargs))
        with torch.no_grad():
            for i, form in result.get("mutated", {}).items():
                leaves[int(i)].copy_(decode(form))
        if "rng_after" in result:
            state = torch.frombuffer(bytearray(base64.b64decode(result["rng_after"])), dtype=torch.uint8)
            torch.set_rng_state(state.clone())
        if "alias" in result:
            return leaves[result["alias"]]
        return _to_device(decode(result["out"]), leaves)


def _to_device(value: Any, leaves: list) -> Any:
    """Recorded tensors come back on the device of the first input tensor."""
    device = leaves[0].device if leaves else torch.device("cpu")
    if device.type == "cpu":
        return value
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(v, leaves) for v in value)
    if isinstance(value, dict):
        return {k: _to_device(v, leaves) for k, v in value.items()}
    return value


def _miss(what: str) -> NoReturn:
    """An input the golden outputs do not hold: reject it in hypothesis, else not assessed."""
    from hypothesis import currently_in_test_context, reject

    from graders.checks import not_assessed

    if currently_in_test_context():
        reject()
    not_assessed(f"this input of {what} was not recorded in the student kit; your instructor "
                 f"grades it against the reference")


def _load(short: str) -> dict[str, Any]:
    if short not in _loaded:
        path = paths.golden_file(short, GOLDEN_DIR)
        _loaded[short] = json.loads(path.read_text("utf-8")) if path.exists() else {}
    return _loaded[short]


def reference_attr(proxy: Any, name: str) -> Any:
    """The attribute ``name`` of a reference proxy: recorded while recording, else replayed."""
    short = proxy._short
    if recording():
        value = getattr(proxy.module, name)
        if callable(value):
            return Recording(short, name, value)
        try:
            _recorded.setdefault(short, {}).setdefault("__constants__", {})[name] = encode(value)
        except Unrecordable as exc:
            note(f"{short}.{name} is {exc}: not served in the release")
        return value
    data = _load(short)
    if name in data.get("constants", {}):
        return decode(data["constants"][name])
    return Replay(short, name, data.get("calls", {}).get(name))


def unwrap(fn: Any) -> Any:
    """The real function behind ``fn``: the reference while recording, None for a replay."""
    if isinstance(fn, Recording):
        return fn.fn
    if isinstance(fn, Replay):
        return None
    return fn


def _merge(old: dict[str, Any], short: str, table: dict[str, Any]) -> dict[str, Any]:
    calls = old.get("calls", {})
    for name, entries in table.items():
        if name == "__constants__":
            continue
        mine = calls.setdefault(name, {})
        for k, entry in entries.items():
            if "by_rng" in entry and "by_rng" in mine.get(k, {}):
                mine[k]["by_rng"].update(entry["by_rng"])
            else:
                mine[k] = entry
    constants = {**old.get("constants", {}), **table.get("__constants__", {})}
    return {"module": short, "calls": calls, "constants": constants, "format": 1}


def _write() -> None:
    """Write what this process recorded (merged with earlier runs) under ``$DRILLS_RECORD_GOLDEN``."""
    root = Path(os.environ.get(RECORD_ENV, ""))
    if not recording():
        return
    for short, table in _recorded.items():
        path = paths.golden_file(short, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        old = json.loads(path.read_text("utf-8")) if path.exists() else {}
        data = _merge(old, short, table)
        path.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n", "utf-8")
    notes_path = root / NOTES_FILE
    old_notes = json.loads(notes_path.read_text("utf-8")) if notes_path.exists() else []
    notes_path.write_text(json.dumps(sorted(set(old_notes) | _notes), indent=1) + "\n", "utf-8")


atexit.register(_write)
