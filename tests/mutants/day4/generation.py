"""Wrong solutions for day4/generation.py, each a mistake students really make."""

import torch

from graders.testing import mutant


def _checks(temperature, top_k, top_p):
    if temperature < 0 or (top_k is not None and top_k < 1) or (
            top_p is not None and not 0 < top_p <= 1):
        raise ValueError("bad argument")


def _top_k(scores, top_k):
    if top_k is not None and top_k < scores.shape[-1]:
        kth = torch.topk(scores, top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, -torch.inf)
    return scores


def _top_p(probs, top_p, crossing_kept=True):
    if top_p is None:
        return probs
    sorted_p, order = probs.sort(dim=-1, descending=True)
    cum = sorted_p.cumsum(-1)
    drop_sorted = (cum - sorted_p >= top_p) if crossing_kept else (cum > top_p)
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return probs.masked_fill(drop, 0.0)


@mutant("day4.generation.sample_next", expect=r"do not fit the expected probabilities")
def sample_ignores_temperature(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    _checks(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(-1)
    probs = _top_p(torch.softmax(_top_k(logits, top_k), -1), top_p)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@mutant("day4.generation.sample_next", expect=r"probability 0|crosses top_p")
def sample_top_p_drops_crossing_token(logits, temperature=1.0, top_k=None, top_p=None,
                                      generator=None):
    _checks(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(_top_k(logits / temperature, top_k), -1)
    probs = _top_p(probs, top_p, crossing_kept=False)
    probs = torch.where(probs.sum(-1, keepdim=True) > 0, probs, torch.ones_like(probs))
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@mutant("day4.generation.sample_next", expect=r"global RNG")
def sample_without_generator(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    _checks(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(-1)
    probs = _top_p(torch.softmax(_top_k(logits / temperature, top_k), -1), top_p)
    return torch.multinomial(probs, 1).squeeze(-1)


@mutant("day4.generation.sample_next", expect=r"do not fit|probability 0")
def sample_top_p_before_top_k(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    _checks(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(-1)
    scores = logits / temperature
    probs = _top_p(torch.softmax(scores, -1), top_p)  # nucleus of the unfiltered distribution
    probs = torch.where(_top_k(scores, top_k).isinf(), torch.zeros_like(probs), probs)
    probs = torch.where(probs.sum(-1, keepdim=True) > 0, probs, torch.ones_like(probs))
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@mutant("day4.generation.sample_next", expect=r"do not fit the expected probabilities")
def sample_biased_inverse_cdf(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    _checks(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(-1)
    probs = _top_p(torch.softmax(_top_k(logits / temperature, top_k), -1), top_p)
    probs = probs / probs.sum(-1, keepdim=True)
    cdf = probs.cumsum(-1)
    u = torch.rand(probs.shape[0], 1, generator=generator, dtype=probs.dtype)
    u = u.clamp(max=0.9)  # "avoid 1.0 overflowing the cdf": skews the last token's share
    return torch.searchsorted(cdf, u).squeeze(-1).clamp(max=probs.shape[-1] - 1)


def _sample(logits, temperature, top_k, generator):
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(_top_k(logits / temperature, top_k), -1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@mutant("day4.generation.generate", expect=r"\(1, 1\) tensor|re-read the prompt")
def generate_rereads_everything(model, prompt_ids, max_new_tokens, temperature=1.0, top_k=None,
                                generator=None):
    model.eval()
    ids = [int(i) for i in prompt_ids]
    out = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(torch.tensor([ids]), None)
            nxt = int(_sample(logits[:, -1], temperature, top_k, generator))
            out.append(nxt)
            ids.append(nxt)
    return out


@mutant("day4.generation.generate", expect=r"no_grad|training mode|eval")
def generate_with_grad_in_train_mode(model, prompt_ids, max_new_tokens, temperature=1.0,
                                     top_k=None, generator=None):
    ids = torch.as_tensor(prompt_ids, dtype=torch.int64).reshape(1, -1)
    out = []
    logits, state = model(ids, None)
    for _ in range(max_new_tokens):
        nxt = _sample(logits[:, -1].detach(), temperature, top_k, generator)
        out.append(int(nxt))
        logits, state = model(nxt.view(1, 1), state)
    return out


@mutant("day4.generation.generate", expect=r"same generator seed|pass the generator")
def generate_drops_generator(model, prompt_ids, max_new_tokens, temperature=1.0, top_k=None,
                             generator=None):
    model.eval()
    ids = torch.as_tensor(prompt_ids, dtype=torch.int64).reshape(1, -1)
    out = []
    with torch.no_grad():
        logits, state = model(ids, None)
        for _ in range(max_new_tokens):
            nxt = _sample(logits[:, -1], temperature, top_k, None)
            out.append(int(nxt))
            logits, state = model(nxt.view(1, 1), state)
    return out


@mutant("day4.generation.sample_next", expect=r"probability 0|removed by top-k")
def sample_ignores_top_k(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    _checks(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(-1)
    probs = _top_p(torch.softmax(logits / temperature, -1), top_p)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@mutant("day4.generation.sample_next", expect=r"probability 0|top-p")
def sample_ignores_top_p(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    _checks(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(_top_k(logits / temperature, top_k), -1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
