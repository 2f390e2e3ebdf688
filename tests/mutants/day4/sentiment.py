"""Wrong solutions for day4/sentiment.py, each a mistake students really make."""

import re

import torch
from torch import nn

from graders.testing import mutant


@mutant("day4.sentiment.SentimentRNN", expect=r"change when a batch is right-padded")
class SentimentRNNReadsPadding(nn.Module):
    """Runs the GRU over the whole padded batch and takes the final time step."""

    def __init__(self, vocab_size, embed_dim, hidden_size, num_classes=2, pad_idx=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_idx)
        self.rnn = nn.GRU(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, ids, lengths):
        out, _ = self.rnn(self.embedding(ids))
        return self.head(out[:, -1])


@mutant("day4.sentiment.SentimentRNN", expect=r"arbitrary ids after each length")
class SentimentRNNMasksByPadId(nn.Module):
    """Takes the state at the last non-pad token found from the ids, not from the lengths."""

    def __init__(self, vocab_size, embed_dim, hidden_size, num_classes=2, pad_idx=0):
        super().__init__()
        self.pad_idx = pad_idx
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_idx)
        self.rnn = nn.GRU(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, ids, lengths):
        out, _ = self.rnn(self.embedding(ids))
        real = (ids != self.pad_idx).sum(1).clamp(min=1)
        last = out[torch.arange(ids.shape[0]), real - 1]
        return self.head(last)


def _tokenize(text):
    return re.findall(r"[^\W_]+|\S", text.lower())


class _BagOfWords(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, 2, mode="sum", padding_idx=0)

    def forward(self, ids, lengths):
        return self.embedding(ids)


def _vocab(texts):
    vocab = {"<pad>": 0, "<unk>": 1}
    for text in texts:
        for tok in _tokenize(text):
            vocab.setdefault(tok, len(vocab))
    return vocab


@mutant("day4.sentiment.train_sentiment", expect=r"word order|bar is 90%")
def train_sentiment_bag_of_words(seed=0):
    from drills_data.sentiment import load_sentiment_split

    torch.manual_seed(seed)
    split = load_sentiment_split()
    vocab = _vocab(split.train_texts)
    seqs = [[vocab[t] for t in _tokenize(text)] for text in split.train_texts]
    width = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), width, dtype=torch.int64)
    for b, s in enumerate(seqs):
        ids[b, : len(s)] = torch.tensor(s)
    labels = torch.tensor(split.train_labels)
    model = _BagOfWords(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        for batch in torch.randperm(len(labels)).split(128):
            opt.zero_grad()
            nn.functional.cross_entropy(model(ids[batch], None), labels[batch]).backward()
            opt.step()
    return model.eval(), vocab


@mutant("day4.sentiment.train_sentiment", expect=r"'<pad>' and '<unk>'")
def train_sentiment_vocab_without_specials(seed=0):
    from drills_data.sentiment import load_sentiment_split

    split = load_sentiment_split()
    vocab = {}
    for text in split.train_texts:
        for tok in _tokenize(text):
            vocab.setdefault(tok, len(vocab))
    return _BagOfWords(len(vocab)).eval(), vocab
