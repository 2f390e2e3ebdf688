"""Graders for day4/generation.py: sampling by distribution and reproducibility, the decode loop."""

from __future__ import annotations

import math

import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

from graders import student
from graders.checks import assert_equal, chi_square_pvalue, equal_values, fail
from graders.profiles import examples

mod = student("day4.generation")

DRAWS = 3000          # draws per distribution in the chi-square test
P_FAIL = 1e-6         # a correct sampler fails with probability 1e-6 per test (fixed seeds)


def _expected_probs(logits, temperature, top_k, top_p):
    """The exact sampling distribution in float64, following the docstring's rules."""
    scores = logits.double() / temperature
    v = scores.shape[-1]
    if top_k is not None and top_k < v:
        kth = torch.topk(scores, top_k).values[-1]
        scores = torch.where(scores < kth, torch.full_like(scores, -math.inf), scores)
    probs = torch.softmax(scores, -1)
    if top_p is not None:
        sorted_p, order = probs.sort(descending=True)
        before = sorted_p.cumsum(0) - sorted_p
        keep_sorted = before < top_p
        keep = torch.zeros_like(keep_sorted).scatter(0, order, keep_sorted)
        probs = torch.where(keep, probs, torch.zeros_like(probs))
        probs = probs / probs.sum()
    return probs


@st.composite
def sampling_cases(draw):
    v = draw(st.integers(2, 8))
    values = draw(st.lists(st.integers(-30, 30), min_size=v, max_size=v, unique=True))
    logits = torch.tensor(values, dtype=torch.float64) / 10
    if draw(st.integers(0, 4)) == 0:  # a masked token
        logits[draw(st.integers(0, v - 1))] = -math.inf
        assume(bool(torch.isfinite(logits).any()))
    temperature = draw(st.sampled_from([1.0, 1.0, 0.5, 2.0, 0.25]))
    top_k = draw(st.one_of(st.none(), st.integers(1, v + 1)))
    top_p = draw(st.one_of(st.none(), st.sampled_from([0.3, 0.5, 0.75, 0.9, 1.0])))
    if top_p is not None:
        scores = logits / temperature
        if top_k is not None and top_k < v:
            kth = torch.topk(scores, top_k).values[-1]
            scores = torch.where(scores < kth, torch.full_like(scores, -math.inf), scores)
        sorted_p = torch.softmax(scores, -1).sort(descending=True).values
        before = (sorted_p.cumsum(0) - sorted_p)[sorted_p > 0]
        # cumulative sums within float32 rounding of top_p would make the kept set ambiguous
        assume(bool(((before - top_p).abs() > 1e-4).all()))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    return logits, temperature, top_k, top_p, dtype


def _describe(temperature, top_k, top_p):
    return f"temperature={temperature}, top_k={top_k}, top_p={top_p}"


@given(case=sampling_cases(), other=sampling_cases(), seed=st.integers(0, 2**20))
@settings(max_examples=examples(10))
def test_sample_next_matches_the_distribution(case, other, seed):
    """Do the frequencies of many draws fit the exact distribution (chi-square, p >= 1e-6)?"""
    logits, temperature, top_k, top_p, dtype = case
    _check_distribution(logits, other[0], temperature, top_k, top_p, dtype, seed)


def test_sample_next_known_cases():
    """Is the distribution right where top-k and top-p interact (top-k first, then top-p)?"""
    cases = [
        # top-k keeps [3, 2]; renormalised 0.73 / 0.27; top_p 0.7 then keeps token 0 only
        ([3.0, 2.0, 1.0, 0.0], 1.0, 2, 0.7),
        ([0.0, 1.0, 2.0, 3.0, 4.0], 0.5, 3, None),
        ([1.0, -1.0, 0.5, 2.0], 1.0, None, 0.5),
        ([0.2, 0.1, 0.0, -0.1, -0.2, -0.3], 2.0, 5, 0.9),
    ]
    for i, (values, temperature, top_k, top_p) in enumerate(cases):
        logits = torch.tensor(values, dtype=torch.float64)
        _check_distribution(logits, logits.flip(0), temperature, top_k, top_p, torch.float32, i)


def _check_distribution(logits, logits2, temperature, top_k, top_p, dtype, seed):
    v = max(len(logits), len(logits2))
    pad = lambda t: torch.cat([t, torch.full((v - len(t),), -math.inf, dtype=t.dtype)])  # noqa: E731
    a, b = pad(logits), pad(logits2)
    # rows alternate between two distributions: each row must be filtered on its own
    batch = torch.stack([a, b]).repeat(DRAWS, 1).to(dtype)
    g = torch.Generator().manual_seed(seed)
    ids = mod.sample_next(batch, temperature=temperature, top_k=top_k, top_p=top_p, generator=g)
    settings_text = _describe(temperature, top_k, top_p)
    if not isinstance(ids, torch.Tensor) or ids.shape != (2 * DRAWS,) or ids.dtype != torch.int64:
        fail(f"sample_next(logits of shape {tuple(batch.shape)}, {settings_text}) returned "
             f"{ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__} of shape "
             f"{tuple(getattr(ids, 'shape', ()))}; expected int64 ids of shape ({2 * DRAWS},).")
    for row, lg in ((0, a), (1, b)):
        drawn = ids[row::2]
        p = _expected_probs(lg, temperature, top_k, top_p)
        shown = [round(float(x), 3) for x in lg]
        if bool(((drawn < 0) | (drawn >= v)).any()):
            fail(f"sample_next returned ids outside [0, {v}).")
        counts = torch.bincount(drawn, minlength=v).double()
        outside = [i for i in range(v) if p[i] == 0 and counts[i] > 0]
        if outside:
            fail(f"sample_next(logits={shown}, {settings_text}) drew token(s) {outside}, which "
                 f"must have probability 0 (removed by top-k or top-p, or a -inf logit). "
                 f"Expected probabilities: {[round(float(x), 4) for x in p]}. For top-p, keep a "
                 f"token only while the probability mass BEFORE it is below top_p (the token "
                 f"that crosses top_p is kept, the rest are dropped).")
        support = p > 0
        if int(support.sum()) < 2:
            continue
        expected = p[support] * DRAWS
        observed = counts[support]
        pvalue = chi_square_pvalue(observed.tolist(), expected.tolist())
        if pvalue < P_FAIL:
            freq = [round(float(c) / DRAWS, 4) for c in counts]
            fail(f"sample_next(logits={shown}, {settings_text}): the frequencies of {DRAWS} "
                 f"draws {freq} do not fit the expected probabilities "
                 f"{[round(float(x), 4) for x in p]} (chi-square p-value {pvalue:.2g}). Check "
                 f"the order: divide by temperature, keep the top_k, renormalise, keep the "
                 f"top_p nucleus (including the token that crosses it), then sample.")


@given(values=st.lists(st.lists(st.integers(-3, 3), min_size=4, max_size=4), min_size=1,
                       max_size=4),
       top_k=st.one_of(st.none(), st.integers(1, 4)),
       top_p=st.one_of(st.none(), st.sampled_from([0.2, 1.0])),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_sample_next_greedy_at_temperature_zero(values, top_k, top_p, dtype):
    """Does temperature 0 return the argmax of each row, lowest index on ties?"""
    logits = torch.tensor(values, dtype=dtype)
    got = mod.sample_next(logits, temperature=0, top_k=top_k, top_p=top_p)
    expected = torch.tensor([row.index(max(row)) for row in values], dtype=torch.int64)
    assert_equal(got, expected, what=f"sample_next(logits={values}, temperature=0, "
                                     f"top_k={top_k}, top_p={top_p})")


def test_sample_next_is_reproducible_with_its_generator():
    """Does the same generator seed give the same ids, whatever the global RNG does?"""
    logits = torch.zeros(300, 6)
    logits[:, 0] = 0.5
    runs = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        g = torch.Generator().manual_seed(123)
        runs.append(mod.sample_next(logits, temperature=1.0, generator=g))
    if not equal_values(runs[0], runs[1]):
        fail("sample_next gave different ids for the same generator seed after the global seed "
             "changed: it draws from the global RNG. Pass generator=generator to "
             "torch.multinomial (and draw nothing else at random).")
    g = torch.Generator().manual_seed(124)
    other = mod.sample_next(logits, temperature=1.0, generator=g)
    if equal_values(other, runs[0]):
        fail("sample_next gave the same 300 ids for two different generator seeds: the draws do "
             "not come from the generator.")
    torch.manual_seed(5)
    a = mod.sample_next(logits[:50], top_k=3)
    torch.manual_seed(5)
    b = mod.sample_next(logits[:50], top_k=3)
    if not equal_values(a, b):
        fail("with generator=None, sample_next must draw from the global RNG (torch.manual_seed "
             "makes it reproducible).")


def test_sample_next_rejects_bad_arguments():
    """Does sample_next raise ValueError for temperature < 0, top_k < 1 and top_p outside (0, 1]?"""
    logits = torch.zeros(1, 3)
    for kwargs in ({"temperature": -1.0}, {"top_k": 0}, {"top_p": 0.0}, {"top_p": 1.5}):
        try:
            mod.sample_next(logits, **kwargs)
        except ValueError:
            continue
        except Exception as exc:  # noqa: BLE001
            fail(f"sample_next(logits, **{kwargs}) raised {type(exc).__name__}; expected ValueError.")
        fail(f"sample_next(logits, **{kwargs}) returned without error; expected ValueError.")


# --- generate -----------------------------------------------------------------------------------

class _ScriptedLM(nn.Module):
    """A deterministic recurrent LM that records every call.

    The state is the running sum of all ids read so far; the logits of a position depend on
    the id there and on that sum, so a model fed the wrong state or ids gives other logits.
    """

    def __init__(self, vocab: int = 7, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.table = nn.Parameter(torch.randn(vocab, vocab, generator=g) * 3)
        self.vocab = vocab
        self.calls: list[dict] = []

    def forward(self, ids, state):
        self.calls.append({"ids": ids.detach().clone(), "state": None if state is None else
                           state.clone(), "grad": torch.is_grad_enabled(), "training": self.training})
        total = torch.zeros((), dtype=torch.int64) if state is None else state
        sums = total + ids[0].cumsum(0)
        rows = (ids[0] * 3 + sums) % self.vocab
        logits = self.table[rows].unsqueeze(0)
        return logits, sums[-1].clone()


def _greedy_expected(model, prompt, n):
    with torch.no_grad():
        ids = list(prompt)
        out = []
        for _ in range(n):
            logits, _ = model(torch.tensor([ids]), None)
            nxt = int(logits[0, -1].argmax())
            out.append(nxt)
            ids.append(nxt)
    model.calls.clear()
    return out


def _check_calls(model, prompt, new_ids, what):
    calls = model.calls
    if not calls:
        fail(f"{what} never called the model.")
    first = calls[0]
    if first["state"] is not None or first["ids"].shape != (1, len(prompt)) or \
            first["ids"][0].tolist() != list(prompt):
        fail(f"{what}: the first call must be model(prompt ids of shape (1, {len(prompt)}), "
             f"None); it was given ids {first['ids'].tolist()} and state {first['state']}.")
    previous_state = None
    for i, call in enumerate(calls):
        if call["grad"]:
            fail(f"{what}: call {i} of the model ran with gradient tracking on: wrap the loop "
                 f"in torch.no_grad().")
        if call["training"]:
            fail(f"{what}: call {i} of the model ran in training mode: call model.eval() first.")
        if i == 0:
            previous_state = sum(prompt)
            continue
        if call["ids"].shape != (1, 1):
            fail(f"{what}: call {i} gave the model ids of shape {tuple(call['ids'].shape)}; after "
                 f"the prompt, feed only the newest id as a (1, 1) tensor with the carried state "
                 f"(do not re-read the prompt).")
        if int(call["ids"]) != new_ids[i - 1]:
            fail(f"{what}: call {i} fed id {int(call['ids'])}, but the id generated before it "
                 f"was {new_ids[i - 1]}.")
        if call["state"] is None or int(call["state"]) != previous_state:
            fail(f"{what}: call {i} was given state {call['state']}, not the state the model "
                 f"returned on the previous call: carry the state along.")
        previous_state += int(call["ids"])
    if len(calls) < len(new_ids):
        fail(f"{what} made {len(calls)} model calls for {len(new_ids)} new ids: call it once on "
             f"the prompt and once per new id.")


@given(prompt=st.lists(st.integers(0, 6), min_size=1, max_size=5), n=st.integers(0, 6),
       seed=st.integers(0, 50), as_tensor=st.booleans())
@settings(max_examples=examples(15))
def test_generate_greedy_decoding(prompt, n, seed, as_tensor):
    """With temperature 0, does generate feed the prompt once, then each new id with the state?"""
    model = _ScriptedLM(seed=seed).train()
    expected = _greedy_expected(model, prompt, n)
    model.train()
    arg = torch.tensor(prompt, dtype=torch.int64) if as_tensor else list(prompt)
    got = mod.generate(model, arg, n, temperature=0)
    what = f"generate(model, prompt={prompt}, max_new_tokens={n}, temperature=0)"
    if not isinstance(got, list) or not all(type(i) is int for i in got):
        fail(f"{what} returned {got!r}; expected a list of {n} Python ints (the new ids only).")
    if len(got) == len(prompt) + n and got[: len(prompt)] == list(prompt):
        fail(f"{what} returned the prompt too; return only the {n} new ids.")
    if n > 0:
        _check_calls(model, prompt, got, what)
    assert_equal(got, expected, what=what)


@given(prompt=st.lists(st.integers(0, 6), min_size=1, max_size=4), seed=st.integers(0, 2**20),
       top_k=st.sampled_from([1, 2, 3]))
@settings(max_examples=examples(10))
def test_generate_samples_reproducibly_within_top_k(prompt, seed, top_k):
    """Does generate sample with its generator (same seed, same ids) and honour top_k?"""
    outs = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        model = _ScriptedLM(seed=3)
        g = torch.Generator().manual_seed(seed)
        outs.append(mod.generate(model, list(prompt), 8, temperature=1.5, top_k=top_k, generator=g))
        _check_calls(model, prompt, outs[-1], f"generate(model, {prompt}, 8, top_k={top_k})")
    if outs[0] != outs[1]:
        fail(f"generate with the same generator seed gave {outs[0]} and then {outs[1]}: pass the "
             f"generator to sample_next.")
    ids = list(prompt)
    probe = _ScriptedLM(seed=3)
    for new in outs[0]:
        with torch.no_grad():
            logits, _ = probe(torch.tensor([ids]), None)
        allowed = torch.topk(logits[0, -1], top_k).indices.tolist()
        if new not in allowed:
            fail(f"generate(..., top_k={top_k}) produced id {new} after {ids}, which is not among "
                 f"the top {top_k} logits {sorted(allowed)} of that step.")
        ids.append(new)
