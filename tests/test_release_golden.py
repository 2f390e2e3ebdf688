"""Do golden outputs serve the reference's answers exactly, and only for recorded inputs?

These tests record calls of small functions in this process and replay them, as a student
release does for the calls its public checks make to the reference.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.errors import Unsatisfiable

from graders.checks import golden
from graders.checks.golden_codec import Unrecordable, _raw, decode, encode, key

MODULE = "day0.example"


@pytest.fixture
def record(monkeypatch, tmp_path):
    """Recording on (into a temporary folder), and a fresh store for this test."""
    monkeypatch.setenv(golden.RECORD_ENV, str(tmp_path))
    monkeypatch.setattr(golden, "_recorded", {})

    def replay(name: str) -> golden.Replay:
        data = golden._merge({}, MODULE, golden._recorded.get(MODULE, {}))
        return golden.Replay(MODULE, name, data["calls"].get(name))

    return replay


def test_codec_round_trips_values_exactly():
    """Do tensors (NaN, -0.0, bfloat16, bool, empty) and containers decode bit for bit?"""
    values = {
        "f": torch.tensor([float("nan"), -0.0, 1e-30, float("inf")]),
        "b": torch.tensor([True, False]), "h": torch.arange(6, dtype=torch.bfloat16).reshape(2, 3),
        "e": torch.empty(0, 3), "rest": (1, 2.5, None, "s", [torch.float64, torch.Size([2])]),
    }
    back = decode(encode(values))
    for name in ("f", "b", "h", "e"):
        assert back[name].dtype == values[name].dtype and back[name].shape == values[name].shape
        assert _raw(back[name]) == _raw(values[name])
    assert back["rest"] == values["rest"]


def test_keys_tell_layouts_and_values_apart():
    """Do the same values in another layout, or one changed bit, give another key?"""
    x = torch.arange(6.0).reshape(2, 3)
    assert key((x,), {}) == key((x.clone(),), {})
    assert key((x,), {}) != key((x.t().contiguous().t(),), {})
    assert key((x,), {}) != key((x + torch.tensor(1e-7),), {})
    assert key((x,), {"dim": 1}) != key((x,), {"dim": 0})
    with pytest.raises(Unrecordable):
        key((torch.nn.Linear(2, 2),), {})


def test_replay_serves_recorded_answers(record):
    """Does a recorded call come back with the same value, dtype and shape?"""
    fn = golden.Recording(MODULE, "sq", lambda x, p=2: x.pow(p))
    x = torch.randn(3, 2, dtype=torch.float64)
    expected = fn(x, p=3)
    got = record("sq")(x.clone(), p=3)
    assert torch.equal(got, expected) and got.dtype == torch.float64


def test_unrecorded_input_is_not_assessed_outside_hypothesis(record):
    """Is a call with an input never recorded "not assessed" rather than failed or passed?"""
    golden.Recording(MODULE, "sq", lambda x: x * x)(torch.ones(2))
    with pytest.raises(pytest.skip.Exception, match="not assessed"):
        record("sq")(torch.zeros(2))


def test_unrecorded_input_is_rejected_inside_hypothesis(record):
    """Inside hypothesis, is an unrecorded input rejected, so shrinking stays on recorded ones?"""
    fn = golden.Recording(MODULE, "neg", lambda x: -x)
    fn(torch.tensor([3]))
    replay = record("neg")
    seen = []

    @settings(max_examples=20, database=None, derandomize=True)
    @given(st.integers(0, 5))
    def check(v):
        seen.append(int(replay(torch.tensor([v]))[0]))

    with _maybe_unsatisfiable():
        check()
    assert set(seen) == {-3}


class _maybe_unsatisfiable:
    """Hypothesis may find only the one recorded input valid, or give up: both are fine here."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None and issubclass(kind, pytest.skip.Exception):
            raise AssertionError("an unrecorded input inside hypothesis must be rejected, not skipped")
        return kind is None or issubclass(kind, Unsatisfiable)


def test_random_calls_are_served_per_random_state(record):
    """Does a call that draws random numbers replay per RNG state and leave the same state?"""
    fn = golden.Recording(MODULE, "noise", lambda n: torch.randn(n))
    torch.manual_seed(5)
    expected = fn(4)
    after = torch.get_rng_state()
    torch.manual_seed(5)
    got = record("noise")(4)
    assert torch.equal(got, expected) and torch.equal(torch.get_rng_state(), after)
    torch.manual_seed(6)
    with pytest.raises(pytest.skip.Exception):
        record("noise")(4)


def test_in_place_changes_are_replayed(record):
    """Does a reference that changes its input in place (and returns it) do so again?"""
    fn = golden.Recording(MODULE, "bump", lambda t: t.add_(1))
    a = torch.zeros(3)
    fn(a)
    b = torch.zeros(3)
    out = record("bump")(b)
    assert out is b and torch.equal(b, torch.ones(3))


def test_objects_of_reference_classes_are_not_assessed(record):
    """Is a call that returns an object (a model) "not assessed" in the release?"""
    golden.Recording(MODULE, "Model", lambda n: torch.nn.Linear(n, n))(2)
    with pytest.raises(pytest.skip.Exception, match="graded by your instructor"):
        record("Model")(2)


def test_speed_check_times_the_native_baseline_without_the_reference():
    """Without the reference, does speed_check time `native=`, or skip when there is none?"""
    from graders.speed import _baseline

    replay = golden.Replay(MODULE, "f", {})
    native = torch.cdist
    assert _baseline(replay, native, "f") == (native, "a PyTorch-native equivalent")
    with pytest.raises(pytest.skip.Exception, match="not assessed"):
        _baseline(replay, None, "f")
    real = golden.Recording(MODULE, "f", torch.cdist)
    assert _baseline(real, native, "f")[0] is torch.cdist


def test_calls_with_unrecordable_arguments_are_not_assessed(record):
    """Is a call whose arguments cannot be recorded (a path, a model) "not assessed"?"""
    golden.Recording(MODULE, "save", lambda model, path: None)(torch.nn.Linear(1, 1), "x.pt")
    with pytest.raises(pytest.skip.Exception, match="not assessed"):
        record("save")(torch.nn.Linear(1, 1), "x.pt")
