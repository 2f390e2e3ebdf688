"""Graders for day4/sentiment.py: a padding-proof recurrent classifier and its training."""

from __future__ import annotations

import re
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from graders import student
from graders.budget import spent
from graders.checks import fail
from graders.profiles import examples

mod = student("day4.sentiment")

ACCURACY_BAR = 0.90
CPU_BUDGET_S = 60.0
STEPS = 80


def _model(vocab_size=20, embed_dim=8, hidden_size=12, num_classes=3, pad_idx=0, seed=0):
    torch.manual_seed(seed)
    model = mod.SentimentRNN(vocab_size, embed_dim, hidden_size, num_classes=num_classes,
                             pad_idx=pad_idx)
    if not isinstance(model, nn.Module):
        fail(f"SentimentRNN(...) is a {type(model).__name__}; it must be an nn.Module.")
    return model


def _logits(model, ids, lengths, what, num_classes=3):
    with torch.no_grad():
        out = model(ids, lengths)
    if not isinstance(out, torch.Tensor) or out.shape != (ids.shape[0], num_classes):
        fail(f"SentimentRNN.forward({what}) returned "
             f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}; "
             f"expected logits of shape ({ids.shape[0]}, num_classes).")
    if out.dtype != torch.float32:
        fail(f"SentimentRNN.forward returned {out.dtype} logits; expected float32.")
    return out


@st.composite
def padded_batches(draw):
    pad_idx = draw(st.sampled_from([0, 3]))
    b = draw(st.integers(1, 4))
    lengths = [draw(st.integers(1, 6)) for _ in range(b)]
    seqs = [[draw(st.integers(0, 19).filter(lambda i: i != pad_idx)) for _ in range(n)]
            for n in lengths]
    extra = draw(st.integers(1, 3))
    junk = draw(st.lists(st.integers(0, 19), min_size=extra + max(lengths),
                         max_size=extra + max(lengths)))
    return pad_idx, seqs, extra, junk


@given(batch=padded_batches(), seed=st.integers(0, 3))
@settings(max_examples=examples(12))
def test_SentimentRNN_ignores_padding(batch, seed):
    """Are the logits of a sequence the same alone, padded, over-padded, or beside longer ones?"""
    pad_idx, seqs, extra, junk = batch
    model = _model(pad_idx=pad_idx, seed=seed).eval()
    alone = torch.cat([_logits(model, torch.tensor([s]), torch.tensor([len(s)]),
                               f"one sequence of length {len(s)}, no padding") for s in seqs])
    longest = max(len(s) for s in seqs)
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
    for width, filler in ((longest, "pad"), (longest + extra, "pad"), (longest + extra, "junk")):
        ids = torch.full((len(seqs), width), pad_idx, dtype=torch.int64)
        for b, s in enumerate(seqs):
            ids[b, : len(s)] = torch.tensor(s)
            if filler == "junk":
                ids[b, len(s):] = torch.tensor(junk[: width - len(s)])
        got = _logits(model, ids, lengths, f"ids {tuple(ids.shape)}, lengths {lengths.tolist()}")
        diff = float((got - alone).abs().max())
        if diff > 1e-5:
            row = int((got - alone).abs().amax(1).argmax())
            how = {"pad": f"right-padded with pad_idx={pad_idx} to length {width}",
                   "junk": f"with arbitrary ids after each length (padded to {width})"}[filler]
            fail(f"SentimentRNN's logits change when a batch is {how}: sequence {row} "
                 f"{seqs[row]} gives {got[row].tolist()} in the batch but {alone[row].tolist()} "
                 f"alone (difference {diff:.3g}). The model must stop reading each sequence at "
                 f"its length (pack_padded_sequence with the lengths), never read the padding.")


def test_SentimentRNN_trains_its_embedding():
    """Do gradients reach the embedding table, and can the model fit 32 random examples?"""
    torch.manual_seed(0)
    model = _model(vocab_size=30, embed_dim=8, hidden_size=32, num_classes=2, pad_idx=0)
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(2, 9, (32,), generator=g)
    ids = torch.randint(1, 30, (32, 8), generator=g)
    ids[torch.arange(8)[None, :] >= lengths[:, None]] = 0
    labels = torch.randint(0, 2, (32,), generator=g)
    model.train()
    loss = nn.functional.cross_entropy(model(ids, lengths), labels)
    loss.backward()
    tables = [p for p in model.parameters() if p.shape == (30, 8)]
    if not tables or all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in tables):
        fail("no gradient reaches an embedding table of shape (vocab_size, embed_dim): use an "
             "nn.Embedding(vocab_size, embed_dim, padding_idx=pad_idx) and keep the forward "
             "differentiable.")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(STEPS):
        opt.zero_grad()
        nn.functional.cross_entropy(model(ids, lengths), labels).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(ids, lengths).argmax(1) == labels).float().mean())
    if acc < 0.9:
        fail(f"after {STEPS} Adam steps (lr 1e-2) on 32 fixed examples, SentimentRNN(30, 8, 32) fits "
             f"only {acc:.0%} of them (expected at least 90%): is the output computed from the "
             f"recurrent state after each sequence's last token?")


# --- train_sentiment ----------------------------------------------------------------------------

def _tokenize(text):
    return re.findall(r"[^\W_]+|\S", text.lower())


@pytest.mark.timeout(600)
def test_train_sentiment_reaches_the_bar():
    """Does train_sentiment reach 90% test accuracy within 60 s of CPU time (one thread)?"""
    from drills_data.sentiment import load_sentiment_split

    start = time.process_time()  # one torch thread, as in every grader test
    result = mod.train_sentiment(seed=0)
    cpu = time.process_time() - start
    spent("train_sentiment(seed=0)", cpu, CPU_BUDGET_S)
    if not isinstance(result, tuple) or len(result) != 2:
        fail(f"train_sentiment returned {type(result).__name__}; expected (model, vocab).")
    model, vocab = result
    if not isinstance(vocab, dict) or "<pad>" not in vocab or "<unk>" not in vocab:
        fail("train_sentiment's vocab must be a dict {token: id} containing '<pad>' and '<unk>'.")
    split = load_sentiment_split()
    unk, pad = vocab["<unk>"], vocab["<pad>"]
    seqs = [[vocab.get(t, unk) for t in _tokenize(text)] for text in split.test_texts]
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(seqs), 512):
            chunk = seqs[start:start + 512]
            lengths = torch.tensor([len(s) for s in chunk], dtype=torch.int64)
            ids = torch.full((len(chunk), int(lengths.max())), pad, dtype=torch.int64)
            for b, s in enumerate(chunk):
                ids[b, : len(s)] = torch.tensor(s)
            logits = model(ids, lengths)
            labels = torch.tensor(split.test_labels[start:start + 512])
            correct += int((logits.argmax(1) == labels).sum())
    accuracy = correct / len(seqs)
    if accuracy < ACCURACY_BAR:
        fail(f"train_sentiment's model scores {accuracy:.1%} on the 2000 test reviews; the bar "
             f"is {ACCURACY_BAR:.0%} (it took {cpu:.1f} s of CPU). Near 50% means the model "
             f"does not use word order or did not train: read the tokens in order with a "
             f"recurrent layer, train a few epochs with Adam (lr around 1e-2).")
    if cpu > CPU_BUDGET_S:
        fail(f"train_sentiment took {cpu:.1f} s of CPU time; the budget is {CPU_BUDGET_S:.0f} s "
             f"(accuracy {accuracy:.1%}). Encode and pad the corpus once, use batches of 32-128, "
             f"and a small model (embeddings 32, hidden 64).")
