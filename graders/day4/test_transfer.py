"""Graders for day4/transfer.py: mean pooling, sentence embeddings, a head on a frozen encoder.

Every exercise is checked with small toy parts built here (a word-level tokenizer and an
encoder whose token states know each word's polarity), so the module is graded without the
optional language model. With the ``lm`` extra installed, ``embed_sentences`` is also compared
with ``SentenceTransformer.encode`` and ``adapt_pretrained`` is also run on all-MiniLM-L6-v2;
without it those two checks are "not assessed".
"""

from __future__ import annotations

import re
import time
from functools import lru_cache
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from graders import strategies as ds
from graders import student
from graders.checks import (assert_close, close_values, describe_tensor, equal_values, fail,
                            not_assessed)
from graders.profiles import examples

mod = student("day4.transfer")

ACCURACY_BAR = 0.85
CPU_BUDGET_S = 120.0
N_TRAIN = 1000
N_TEST = 1000
TOY_DIM = 16


# --- toy parts ------------------------------------------------------------------------------

def _words(text):
    return re.findall(r"[^\W_]+|\S", text.lower())


class ToyTokenizer:
    """Word-level stand-in for a Hugging Face tokenizer: [CLS] words [SEP], right padding."""

    PAD, CLS, SEP, UNK = 0, 1, 2, 3

    def __init__(self, words):
        self.vocab = {w: i + 4 for i, w in enumerate(sorted(set(words)))}
        self.calls: list[int] = []

    def __len__(self):
        return len(self.vocab) + 4

    def __call__(self, texts, padding=False, truncation=False, return_tensors=None, **kwargs):
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        self.calls.append(len(texts))
        seqs = [[self.CLS] + [self.vocab.get(w, self.UNK) for w in _words(t)] + [self.SEP]
                for t in texts]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.PAD, dtype=torch.int64)
        mask = torch.zeros((len(seqs), width), dtype=torch.int64)
        for b, s in enumerate(seqs):
            ids[b, : len(s)] = torch.tensor(s)
            mask[b, : len(s)] = 1
        return {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": mask}


class ToyEncoder(nn.Module):
    """Token states = a word embedding plus a little of the sentence's masked mean, then dropout.

    Column 0 of the embedding is the word's polarity in ``polarity`` (+1, -1 or 0), the other
    columns are fixed random numbers. Padded positions hold non-zero states, and the context
    term reads only the positions the attention mask marks real (all of them without a mask).
    """

    def __init__(self, vocab_size, polarity=None, dim=TOY_DIM, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        weight = torch.randn(vocab_size, dim, generator=g)
        if polarity is not None:
            weight[:, 0] = 2.0 * polarity
        self.embedding = nn.Embedding(vocab_size, dim, _weight=weight)
        self.mix = nn.Linear(dim, dim)
        with torch.no_grad():
            self.mix.weight.copy_(0.25 * torch.eye(dim) + 0.05 * torch.randn(dim, dim, generator=g))
            self.mix.bias.copy_(0.1 * torch.randn(dim, generator=g))
        self.dropout = nn.Dropout(0.3)
        self.config = SimpleNamespace(hidden_size=dim)

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        emb = self.embedding(input_ids)
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
        m = mask.to(emb.dtype).unsqueeze(-1)
        context = (emb * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp_min(1)
        return SimpleNamespace(last_hidden_state=self.dropout(emb + self.mix(context)))


def _corpus():
    from drills_data.sentiment import load_sentiment_split

    return load_sentiment_split()


@lru_cache(maxsize=1)
def _toy_vocab_words():
    split = _corpus()
    return tuple(w for t in split.train_texts + split.test_texts for w in _words(t))


def toy_model(with_polarity=True, seed=0):
    """A fresh (tokenizer, encoder) pair over the corpus's words, the encoder in train mode."""
    from drills_data.sentiment import NEGATIVE_WORDS, POSITIVE_WORDS

    tokenizer = ToyTokenizer(_toy_vocab_words())
    polarity = torch.zeros(len(tokenizer))
    if with_polarity:
        for w, i in tokenizer.vocab.items():
            polarity[i] = 1.0 if w in POSITIVE_WORDS else -1.0 if w in NEGATIVE_WORDS else 0.0
    return tokenizer, ToyEncoder(len(tokenizer), polarity, seed=seed).train()


def _small_toy(vocab_size=30, seed=0):
    return ToyEncoder(vocab_size, seed=seed).train()


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(module, before):
    now = module.state_dict()
    return sorted(k for k, v in before.items() if k not in now or not equal_values(now[k], v))


# --- mean_pool ------------------------------------------------------------------------------

def _mean_pool_oracle(hidden, mask):
    h = hidden.double()
    keep = mask.bool().unsqueeze(-1)
    total = torch.where(keep, h, 0.0).sum(1)
    count = keep.sum(1).to(torch.float64)
    return torch.where(count > 0, total / count.clamp_min(1), 0.0).to(hidden.dtype)


@st.composite
def pool_inputs(draw):
    b = draw(st.integers(1, 3))
    t = draw(st.integers(1, 5))
    d = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    hidden = draw(ds.tensors((b, t, d), dtype, min_value=-10, max_value=10))
    kind = draw(st.sampled_from(["right", "any", "empty row"]))
    if kind == "right":
        lengths = [draw(st.integers(1, t)) for _ in range(b)]
        mask = torch.tensor([[1 if i < n else 0 for i in range(t)] for n in lengths])
    else:
        mask = torch.tensor([[draw(st.integers(0, 1)) for _ in range(t)] for _ in range(b)])
        if kind == "empty row":
            mask[draw(st.integers(0, b - 1))] = 0
    mask_dtype = draw(st.sampled_from([torch.int64, torch.bool, torch.float32]))
    return hidden, mask.to(mask_dtype)


@given(inputs=pool_inputs())
@settings(max_examples=examples(25))
def test_mean_pool_matches_a_masked_mean(inputs):
    """Is each row the mean of the states over its real tokens (zeros for a row without any)?"""
    hidden, mask = inputs
    h0, m0 = hidden.clone(), mask.clone()
    got = mod.mean_pool(hidden, mask)
    expected = _mean_pool_oracle(hidden, mask)
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and torch.isnan(got).any():
        row = int(torch.isnan(got).any(1).nonzero()[0])
        fail(f"mean_pool returned NaN in row {row}, whose mask is {mask[row].tolist()}: a row "
             f"with no real token must give zeros. Clamp the count of real tokens to at least 1 "
             f"before dividing (count.clamp_min(1)).")
    if isinstance(got, torch.Tensor) and got.shape == expected.shape and mask.bool().any(1).all():
        h = hidden.double()
        masked_sum = torch.where(mask.bool().unsqueeze(-1), h, 0.0).sum(1)
        for wrong, why in ((masked_sum / hidden.shape[1], "divides the sum of the real tokens' "
                            "states by T, the padded length"),
                           (h.mean(1), "averages over every position, padding included")):
            if not close_values(wrong, expected.double(), atol=1e-6) and close_values(
                    got.double(), wrong, rtol=1e-5, atol=1e-5):
                fail(f"mean_pool {why}: for the mask {mask.to(torch.int64).tolist()} it returned "
                     f"{got.tolist()}, expected {expected.tolist()}. Divide the masked sum by the "
                     f"number of real tokens in each row, attention_mask.sum(1).")
    assert_close(got, expected, rtol=1e-5, atol=1e-5,
                 what=f"mean_pool(hidden {tuple(hidden.shape)}, attention_mask "
                      f"{mask.to(torch.int64).tolist()} as {str(mask.dtype).replace('torch.', '')})")
    if not (equal_values(hidden, h0) and equal_values(mask, m0)):
        fail("mean_pool changed its inputs in place; it must leave hidden and attention_mask as they were.")


@given(inputs=pool_inputs(), big=st.sampled_from([1e4, -1e4, 123.0]))
@settings(max_examples=examples(15))
def test_mean_pool_ignores_padded_states(inputs, big):
    """Does changing the states at padded positions leave the result unchanged?"""
    hidden, mask = inputs
    pad = ~mask.bool()
    if not pad.any():
        return
    before = mod.mean_pool(hidden, mask)
    changed = hidden.masked_fill(pad.unsqueeze(-1), big)
    after = mod.mean_pool(changed, mask)
    if not isinstance(before, torch.Tensor) or not isinstance(after, torch.Tensor):
        fail(f"mean_pool returned {describe_tensor(before)}; expected a tensor.")
    if before.shape != after.shape or not close_values(before, after, rtol=1e-5, atol=1e-5,
                                                           equal_nan=True):
        fail(f"mean_pool's result changes when the states at padded positions (mask 0) are set "
             f"to {big:g}: mask {mask.to(torch.int64).tolist()}. Padding must never count: sum "
             f"only the real tokens' states and divide by the number of real tokens, not by T.")


def test_mean_pool_is_differentiable():
    """Does the gradient reach hidden, 1/count on each real token and 0 on padding?"""
    hidden = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    out = mod.mean_pool(hidden, mask)
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        fail("mean_pool's result is not connected to hidden by autograd: use torch operations "
             "only (no .item(), .numpy() or .detach()).")
    out.sum().backward()
    expected = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.25] * 4], dtype=torch.float64)
    assert_close(hidden.grad, expected.unsqueeze(-1).expand(2, 4, 3), atol=1e-9,
                 what="the gradient of mean_pool(hidden, [[1, 1, 0, 0], [1, 1, 1, 1]]).sum() with respect to hidden")


# --- embed_sentences ------------------------------------------------------------------------

def _embed_oracle(texts, tokenizer, encoder):
    was = encoder.training
    encoder.eval()
    rows = []
    with torch.no_grad():
        for t in texts:  # one text at a time: no padding at all
            batch = tokenizer([t], padding=True, truncation=True, return_tensors="pt")
            out = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            rows.append(nn.functional.normalize(out.last_hidden_state.mean(1), dim=1))
    tokenizer.calls.clear()
    encoder.train(was)
    return torch.cat(rows)


def _embed(texts, tokenizer, encoder, batch_size):
    got = mod.embed_sentences(texts, tokenizer, encoder, batch_size=batch_size)
    what = f"embed_sentences({len(texts)} texts, batch_size={batch_size})"
    if not isinstance(got, torch.Tensor):
        fail(f"{what} returned {describe_tensor(got)}; expected a tensor of shape (N, D).")
    return got, what


@given(n=st.integers(1, 9), batch_size=st.integers(1, 4), start=st.integers(0, 400))
@settings(max_examples=examples(12))
def test_embed_sentences_matches_pooled_normalised_states(n, batch_size, start):
    """Are the rows the normalised mean of the real tokens' states, in order, chunk by chunk?"""
    split = _corpus()
    texts = split.train_texts[start:start + n]
    tokenizer, encoder = toy_model(with_polarity=False)
    expected = _embed_oracle(texts, tokenizer, encoder)
    got, what = _embed(texts, tokenizer, encoder, batch_size)
    if encoder.training:
        fail(f"after {what} the encoder is still in training mode, so its dropout is on: call "
             f"encoder.eval() before running it.")
    if got.requires_grad:
        fail(f"{what} returned a tensor that requires grad: run the encoder under "
             f"torch.no_grad() (the embeddings are features, not part of a graph).")
    too_big = [c for c in tokenizer.calls if c > batch_size]
    if too_big:
        fail(f"{what} gave the tokenizer {too_big[0]} texts at once; at most batch_size="
             f"{batch_size} texts may be tokenised and encoded together (calls: {tokenizer.calls}).")
    if sum(tokenizer.calls) < len(texts):
        fail(f"{what} tokenised only {sum(tokenizer.calls)} of the {len(texts)} texts.")
    if got.shape == expected.shape and not close_values(got.norm(dim=1), torch.ones(len(texts)),
                                                           atol=1e-4):
        fail(f"{what}: the rows' L2 norms are {[round(float(x), 4) for x in got.norm(dim=1)]}; "
             f"each embedding must be divided by its norm "
             f"(torch.nn.functional.normalize(x, dim=1)).")
    if got.shape == expected.shape and not close_values(got, expected, rtol=1e-5, atol=1e-5):
        encoder.eval()
        first = []
        with torch.no_grad():
            for t in texts:
                b = tokenizer([t], padding=True, return_tensors="pt")
                out = encoder(input_ids=b["input_ids"], attention_mask=b["attention_mask"])
                first.append(nn.functional.normalize(out.last_hidden_state[:, 0], dim=1))
        first = torch.cat(first)
        if close_values(got, first, rtol=1e-5, atol=1e-5):
            fail(f"{what} returns the state of each text's first token ([CLS]) instead of the "
                 f"mean over its real tokens: pool with mean_pool(states, attention_mask).")
    assert_close(got, expected, rtol=1e-5, atol=1e-5,
                 what=f"{what} (row i is texts[i]; padding must not leak into a row: pool with "
                      f"each chunk's attention mask)")


def test_embed_sentences_does_not_depend_on_batch_size():
    """Do batch sizes 1, 3 and 64 give the same embeddings (no padding leaks in)?"""
    split = _corpus()
    texts = split.train_texts[:12] + ["good", split.test_texts[0] + " " + split.test_texts[1]]
    tokenizer, encoder = toy_model(with_polarity=False)
    results = {bs: _embed(texts, tokenizer, encoder, bs)[0] for bs in (1, 3, 64)}
    for bs in (3, 64):
        if results[bs].shape != results[1].shape:
            fail(f"embed_sentences returned shape {tuple(results[bs].shape)} with batch_size={bs} "
                 f"but {tuple(results[1].shape)} with batch_size=1.")
        diff = (results[bs] - results[1]).abs().amax(1)
        if float(diff.max()) > 1e-5:
            row = int(diff.argmax())
            fail(f"embed_sentences gives text {row} ({texts[row]!r}) a different embedding with "
                 f"batch_size={bs} than with batch_size=1 (largest difference {float(diff.max()):.3g}): "
                 f"padding leaks into the pooled vector. Pass the attention mask to the encoder "
                 f"and pool with it (mean_pool).")


@lru_cache(maxsize=1)
def _sentence_transformer():
    from drills_data.language_model import load_sentence_transformer

    return load_sentence_transformer()


def _require_language_model():
    from drills_data import language_model

    if not language_model.available():
        not_assessed(language_model.missing_reason())


@pytest.mark.timeout(600)
def test_embed_sentences_reproduces_sentence_transformers():
    """With the bundled all-MiniLM-L6-v2: does it reproduce SentenceTransformer.encode?"""
    _require_language_model()
    from drills_data.language_model import load_pretrained

    split = _corpus()
    texts = split.train_texts[:20] + ["Clichéd!", split.test_texts[3]]
    expected = _sentence_transformer().encode(texts, batch_size=32, convert_to_tensor=True)
    tokenizer, encoder = load_pretrained()
    got, what = _embed(texts, tokenizer, encoder, 6)
    assert_close(got, expected.cpu(), rtol=1e-4, atol=1e-5,
                 what=f"{what} with all-MiniLM-L6-v2 (compared with SentenceTransformer.encode)")


# --- FrozenEncoderClassifier ----------------------------------------------------------------

def _classifier(encoder, feature_dim=TOY_DIM, hidden_size=12, num_classes=3, seed=0):
    torch.manual_seed(seed)
    model = mod.FrozenEncoderClassifier(encoder, feature_dim, hidden_size=hidden_size,
                                        num_classes=num_classes)
    if not isinstance(model, nn.Module):
        fail(f"FrozenEncoderClassifier(...) is a {type(model).__name__}; it must be an nn.Module.")
    return model


def _batch(seqs, width=None, pad=0):
    width = width or max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.int64)
    mask = torch.zeros((len(seqs), width), dtype=torch.int64)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = torch.tensor(s)
        mask[b, : len(s)] = 1
    return ids, mask


def _logits(model, ids, mask, what, num_classes=3):
    with torch.no_grad():
        out = model(ids, mask)
    if not isinstance(out, torch.Tensor) or out.shape != (ids.shape[0], num_classes):
        fail(f"FrozenEncoderClassifier.forward({what}) returned {describe_tensor(out)}; expected "
             f"logits of shape ({ids.shape[0]}, num_classes={num_classes}).")
    if out.dtype != torch.float32:
        fail(f"FrozenEncoderClassifier.forward returned {out.dtype} logits; expected float32.")
    return out


def test_FrozenEncoderClassifier_freezes_the_encoder():
    """Is every encoder weight frozen, the encoder kept in eval mode, and left unchanged by training?"""
    encoder = _small_toy()
    before = _snapshot(encoder)
    model = _classifier(encoder)
    thawed = [n for n, p in encoder.named_parameters() if p.requires_grad]
    if thawed:
        fail(f"after FrozenEncoderClassifier(encoder, ...) the encoder's parameters {thawed} still "
             f"have requires_grad=True: set p.requires_grad_(False) for every p in "
             f"encoder.parameters() in __init__.")
    model.train()
    training = [n or "encoder" for n, m in encoder.named_modules() if m.training]
    if training:
        fail(f"after model.train() the encoder (modules {training[:3]}) is in training mode, so "
             f"its dropout changes the features: override train() to call super().train(mode) "
             f"and then self.encoder.eval().")
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        fail("FrozenEncoderClassifier has no parameter that requires grad: the head must be trainable.")
    g = torch.Generator().manual_seed(3)
    ids, mask = _batch([torch.randint(1, 30, (int(n),), generator=g).tolist()
                        for n in torch.randint(2, 7, (8,), generator=g)])
    labels = torch.randint(0, 3, (8,), generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-2)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(ids, mask), labels).backward()
        opt.step()
    with_grad = [n for n, p in encoder.named_parameters() if p.grad is not None]
    if with_grad:
        fail(f"after backward() the encoder's parameters {with_grad} have gradients: they must "
             f"be frozen (requires_grad False) and the encoder run under torch.no_grad().")
    changed = _changed(encoder, before)
    if changed:
        fail(f"three Adam steps over model.parameters() changed the encoder's {changed}: the "
             f"pretrained encoder must stay exactly as it was.")


@st.composite
def classifier_batches(draw):
    b = draw(st.integers(1, 4))
    lengths = [draw(st.integers(1, 6)) for _ in range(b)]
    seqs = [[draw(st.integers(1, 29)) for _ in range(n)] for n in lengths]
    return seqs, draw(st.integers(1, 3))


@given(batch=classifier_batches(), seed=st.integers(0, 3))
@settings(max_examples=examples(10))
def test_FrozenEncoderClassifier_ignores_padding(batch, seed):
    """Are a sequence's logits the same alone, right-padded, or beside longer ones?"""
    seqs, extra = batch
    model = _classifier(_small_toy(seed=seed), seed=seed).eval()
    alone = torch.cat([_logits(model, *_batch([s]), f"one sequence of length {len(s)}")
                       for s in seqs])
    longest = max(len(s) for s in seqs)
    for width in (longest, longest + extra):
        ids, mask = _batch(seqs, width)
        got = _logits(model, ids, mask, f"ids {tuple(ids.shape)} with mask rows summing to "
                                        f"{mask.sum(1).tolist()}")
        diff = (got - alone).abs().amax(1)
        if float(diff.max()) > 1e-5:
            row = int(diff.argmax())
            fail(f"FrozenEncoderClassifier's logits change when a batch is right-padded to length "
                 f"{width}: sequence {row} (ids {seqs[row]}) gives {got[row].tolist()} in the batch "
                 f"but {alone[row].tolist()} alone (difference {float(diff.max()):.3g}). The head "
                 f"must read each sequence's states only up to its length "
                 f"(attention_mask.sum(1)) and take the state after the last real token.")


def test_FrozenEncoderClassifier_forward_is_classify():
    """Does forward(ids, mask) equal classify(encoder states, mask.sum(1)), and classify ignore junk?"""
    encoder = _small_toy(seed=1)
    model = _classifier(encoder, seed=1).eval()
    ids, mask = _batch([[3, 4, 5, 6], [7, 8], [9]], width=5)
    with torch.no_grad():
        states = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        lengths = mask.sum(1)
        via_classify = model.classify(states, lengths)
        via_forward = _logits(model, ids, mask, "ids (3, 5)")
        junk = states.clone()
        junk[mask == 0] = 7.5
        with_junk = model.classify(junk, lengths)
    assert_close(via_forward, via_classify, rtol=1e-5, atol=1e-5,
                 what="forward(ids, mask) compared with classify(encoder(ids, mask).last_hidden_state, mask.sum(1))")
    if not close_values(with_junk, via_classify, rtol=1e-5, atol=1e-5):
        fail(f"classify(states, lengths) changes when the states past each length are replaced "
             f"by other values (lengths {lengths.tolist()}): it must read states[b, :lengths[b]] "
             f"only (pack_padded_sequence with the lengths).")


def test_FrozenEncoderClassifier_reads_in_order():
    """Does the head read the token states in order (reordering the tokens changes the logits)?"""
    for seed in range(3):
        encoder = _small_toy(seed=seed)
        model = _classifier(encoder, seed=seed).eval()
        g = torch.Generator().manual_seed(10 + seed)
        seqs = [torch.randint(1, 30, (6,), generator=g).tolist() for _ in range(4)]
        ids, mask = _batch(seqs)
        with torch.no_grad():
            states = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            lengths = mask.sum(1)
            forward = model.classify(states, lengths)
            backward = model.classify(states.flip(1), lengths)
        if not close_values(forward, backward, rtol=1e-4, atol=1e-5):
            return
    fail("FrozenEncoderClassifier.classify gives the same logits when every sequence's token "
         "states are reversed: the head ignores word order (a pooled or bag-of-states head), "
         "and on the sentiment corpus only word order tells negation and 'but' apart. Read the "
         "states in order with a recurrent layer (nn.GRU) and classify from its final state.")


def test_FrozenEncoderClassifier_head_learns():
    """Can the head fit 32 random labelled sequences in 80 full-batch Adam steps (lr 1e-2)?"""
    model = _classifier(_small_toy(seed=2), hidden_size=32, num_classes=2)
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(2, 9, (32,), generator=g)
    ids, mask = _batch([torch.randint(1, 30, (int(n),), generator=g).tolist() for n in lengths], 8)
    labels = torch.randint(0, 2, (32,), generator=g)
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(80):
        opt.zero_grad()
        nn.functional.cross_entropy(model(ids, mask), labels).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(ids, mask).argmax(1) == labels).float().mean())
    if acc < 0.9:
        fail(f"after 80 Adam steps (lr 1e-2) on 32 fixed sequences, the head of "
             f"FrozenEncoderClassifier(encoder, {TOY_DIM}, hidden_size=32, num_classes=2) fits "
             f"only {acc:.0%} of them (expected at least 90%): does it read the encoder's token "
             f"states with a recurrent layer and classify from the state after the last real "
             f"token?")


# --- adapt_pretrained -----------------------------------------------------------------------

def _accuracy(model, tokenizer, texts, labels):
    correct = 0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(texts), 250):
            batch = tokenizer(texts[start:start + 250], padding=True, truncation=True,
                              return_tensors="pt")
            logits = model(batch["input_ids"], batch["attention_mask"])
            if not isinstance(logits, torch.Tensor) or logits.shape[:1] != (len(texts[start:start + 250]),):
                fail(f"the model from adapt_pretrained returned {describe_tensor(logits)} for "
                     f"{len(texts[start:start + 250])} texts; expected logits (B, 2).")
            want = torch.tensor(labels[start:start + 250])
            correct += int((logits.argmax(1) == want).sum())
    return correct / len(texts)


def _check_adapt(tokenizer, encoder, which):
    split = _corpus()
    encoder.eval()
    before = _snapshot(encoder)
    start = time.process_time()  # one torch thread, as in every grader test
    model = mod.adapt_pretrained(split.train_texts[:N_TRAIN], split.train_labels[:N_TRAIN],
                                 tokenizer, encoder, seed=0)
    cpu = time.process_time() - start
    if not isinstance(model, nn.Module):
        fail(f"adapt_pretrained returned {describe_tensor(model)}; expected the trained nn.Module.")
    changed = _changed(encoder, before)
    inner = getattr(model, "encoder", None)
    if not changed and isinstance(inner, nn.Module) and inner is not encoder:
        changed = _changed(inner, before)
    if changed:
        fail(f"adapt_pretrained ({which}) changed the pretrained encoder's weights "
             f"({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''}): the encoder must "
             f"stay frozen. Set requires_grad False on its parameters, keep it in eval mode, and "
             f"optimise only the head's parameters.")
    accuracy = _accuracy(model, tokenizer, split.test_texts[:N_TEST], split.test_labels[:N_TEST])
    if accuracy < ACCURACY_BAR:
        fail(f"adapt_pretrained ({which}), trained on {N_TRAIN} reviews, scores {accuracy:.1%} on "
             f"the first {N_TEST} test reviews; the bar is {ACCURACY_BAR:.0%} (it took {cpu:.1f} s "
             f"of CPU). Near 50-60% means the head does not use word order: a pooled sentence "
             f"embedding averages away negation and 'but'. Read the encoder's token states in "
             f"order with a recurrent head (FrozenEncoderClassifier) and train it for several "
             f"epochs (Adam, lr around 3e-3).")
    if cpu > CPU_BUDGET_S:
        fail(f"adapt_pretrained ({which}) took {cpu:.1f} s of CPU time; the budget is "
             f"{CPU_BUDGET_S:.0f} s (accuracy {accuracy:.1%}). The encoder is frozen: compute its "
             f"token states for the training texts once, then train the head on them.")


_toy_outcome: dict[str, object] = {}


@pytest.mark.timeout(600)
def test_adapt_pretrained_with_a_toy_encoder():
    """With a toy encoder that knows word polarity only: 85% on 1000 test reviews from 1000 labels?"""
    tokenizer, encoder = toy_model(with_polarity=True)
    _toy_outcome.clear()
    try:
        _check_adapt(tokenizer, encoder, "toy encoder")
    except BaseException as exc:
        _toy_outcome["failed"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _toy_outcome["error"] = exc
        raise


@pytest.mark.timeout(600)
def test_adapt_pretrained_with_the_bundled_model():
    """With the bundled all-MiniLM-L6-v2: 85% on 1000 test reviews from 1000 labels, encoder unchanged?"""
    _require_language_model()
    if isinstance(_toy_outcome.get("error"), NotImplementedError):
        raise _toy_outcome["error"]  # not started: say so here too
    if "failed" in _toy_outcome:  # the same code already failed on the small encoder
        fail(f"not run on all-MiniLM-L6-v2 (about 30 s), because adapt_pretrained already "
             f"failed with the toy encoder: {_toy_outcome['failed']}")
    from drills_data.language_model import load_pretrained

    tokenizer, encoder = load_pretrained()
    _check_adapt(tokenizer, encoder, "all-MiniLM-L6-v2")
