"""Wrong solutions for day4/text.py, each a mistake students really make."""

import re
from collections import Counter

import torch

from graders.testing import mutant


@mutant("day4.text.tokenize", expect=r"tokenize\(")
def tokenize_split_on_whitespace(text):
    return text.lower().split()


@mutant("day4.text.tokenize", expect=r"'_' is not alphanumeric")
def tokenize_word_regex(text):
    return re.findall(r"\w+|\S", text.lower())


@mutant("day4.text.tokenize", expect=r"Lower-case")
def tokenize_no_lower(text):
    return re.findall(r"[^\W_]+|\S", text)


@mutant("day4.text.tokenize", expect=r"str\.isalnum|tokenize\(")
def tokenize_letters_only(text):
    tokens, run = [], ""
    for ch in text.lower():
        if ch.isalpha():
            run += ch
            continue
        if run:
            tokens.append(run)
            run = ""
        if not ch.isspace():
            tokens.append(ch)
    return tokens + ([run] if run else [])


@mutant("day4.text.build_vocab", expect=r"order|code-point")
def build_vocab_most_common(token_lists, min_freq=1, specials=("<pad>", "<unk>")):
    counts = Counter(t for toks in token_lists for t in toks)
    vocab = {}
    for s in specials:
        vocab.setdefault(s, len(vocab))
    for tok, c in counts.most_common():  # ties in order of first appearance
        if c >= min_freq and tok not in vocab:
            vocab[tok] = len(vocab)
    return vocab


@mutant("day4.text.build_vocab", expect=r"no gaps or repeats")
def build_vocab_specials_counted_again(token_lists, min_freq=1, specials=("<pad>", "<unk>")):
    counts = Counter(t for toks in token_lists for t in toks)
    vocab = {s: i for i, s in enumerate(specials)}
    for tok, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if c >= min_freq:
            vocab[tok] = len(specials) + len([k for k in vocab if k not in specials])
    return vocab


@mutant("day4.text.build_vocab", expect=r"min_freq")
def build_vocab_strict_min_freq(token_lists, min_freq=1, specials=("<pad>", "<unk>")):
    counts = Counter(t for toks in token_lists for t in toks)
    vocab = {}
    for s in specials:
        vocab.setdefault(s, len(vocab))
    for tok, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if c > min_freq and tok not in vocab:
            vocab[tok] = len(vocab)
    return vocab


@mutant("day4.text.encode", expect=r"never dropped|unk")
def encode_drops_unknown(tokens, vocab, unk="<unk>"):
    return [vocab[t] for t in tokens if t in vocab]


@mutant("day4.text.encode", expect=r"unk")
def encode_unknown_is_zero(tokens, vocab, unk="<unk>"):
    return [vocab.get(t, 0) for t in tokens]


@mutant("day4.text.decode", expect=r"inverse mapping")
def decode_by_position(ids, vocab):
    keys = list(vocab)
    return [keys[int(i)] for i in ids]


@mutant("day4.text.decode", expect=r"KeyError|int\(i\)")
def decode_tensor_elements(ids, vocab):
    itos = {i: t for t, i in vocab.items()}
    return [itos[i] for i in ids]


@mutant("day4.text.pad_batch", expect=r"right padding")
def pad_batch_left(sequences, pad_id):
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.int64)
    longest = max((len(s) for s in sequences), default=0)
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.int64)
    for b, s in enumerate(sequences):
        if len(s):
            ids[b, longest - len(s):] = torch.as_tensor(s)
    return ids, lengths


@mutant("day4.text.pad_batch", expect=r"pad_batch\(\[\]|max\(\)|empty")
def pad_batch_no_empty_batch(sequences, pad_id):
    longest = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.int64)
    for b, s in enumerate(sequences):
        ids[b, : len(s)] = torch.as_tensor(s, dtype=torch.int64)
    return ids, torch.tensor([len(s) for s in sequences])
