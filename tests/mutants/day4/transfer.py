"""Wrong solutions for day4/transfer.py, each a mistake students really make."""

import copy

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from graders.testing import mutant

# --- mean_pool ------------------------------------------------------------------------------


@mutant("day4.transfer.mean_pool", expect=r"divides the sum .* by T")
def mean_pool_divides_by_length(hidden, attention_mask):
    """Masks the sum but divides by the padded length T."""
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(1) / hidden.shape[1]


@mutant("day4.transfer.mean_pool", expect=r"changes when the states at padded positions")
def mean_pool_ignores_mask(hidden, attention_mask):
    """A plain mean over every position: padding counts."""
    return hidden.mean(dim=1)


@mutant("day4.transfer.mean_pool", expect=r"returned NaN in row")
def mean_pool_no_clamp(hidden, attention_mask):
    """Divides by the count without clamping: a row without real tokens gives 0/0."""
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(1) / mask.sum(1)


@mutant("day4.transfer.mean_pool", expect=r"not connected to hidden by autograd")
def mean_pool_through_numpy(hidden, attention_mask):
    """Computes the right numbers in NumPy, which cuts the autograd graph."""
    h = hidden.detach().numpy()
    m = attention_mask.to(hidden.dtype).unsqueeze(-1).numpy()
    count = m.sum(1)
    count[count == 0] = 1
    return torch.from_numpy((h * m).sum(1) / count)


# --- embed_sentences ------------------------------------------------------------------------

def _pool(states, mask):
    m = mask.to(states.dtype).unsqueeze(-1)
    return (states * m).sum(1) / m.sum(1).clamp_min(1)


def _chunk_states(texts, tokenizer, encoder, batch_size):
    """(token states, attention mask) per chunk of at most batch_size texts, as a student loops."""
    for i in range(0, len(texts), batch_size):
        b = tokenizer(list(texts[i:i + batch_size]), padding=True, truncation=True, return_tensors="pt")
        yield encoder(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state, b["attention_mask"]


@mutant("day4.transfer.embed_sentences", expect=r"L2 norms")
def embed_sentences_not_normalised(texts, tokenizer, encoder, batch_size=32):
    """Mean-pools correctly but forgets to normalise each row."""
    encoder.eval()
    with torch.no_grad():
        return torch.cat([_pool(s, m) for s, m in _chunk_states(texts, tokenizer, encoder, batch_size)])


@mutant("day4.transfer.embed_sentences", expect=r"first token \(\[CLS\]\)")
def embed_sentences_cls_token(texts, tokenizer, encoder, batch_size=32):
    """Takes the [CLS] token's state, as for BERT classification, instead of mean pooling."""
    encoder.eval()
    with torch.no_grad():
        return torch.cat([nn.functional.normalize(s[:, 0], dim=1)
                          for s, _ in _chunk_states(texts, tokenizer, encoder, batch_size)])


@mutant("day4.transfer.embed_sentences", expect=r"still in training mode")
def embed_sentences_dropout_on(texts, tokenizer, encoder, batch_size=32):
    """Never calls encoder.eval(): dropout stays on and the embeddings are noisy."""
    with torch.no_grad():
        return torch.cat([nn.functional.normalize(_pool(s, m), dim=1)
                          for s, m in _chunk_states(texts, tokenizer, encoder, batch_size)])


@mutant("day4.transfer.embed_sentences", expect=r"padding leaks into the pooled vector")
def embed_sentences_mean_over_padding(texts, tokenizer, encoder, batch_size=32):
    """Averages the states over every position of the padded chunk."""
    encoder.eval()
    with torch.no_grad():
        return torch.cat([nn.functional.normalize(s.mean(1), dim=1)
                          for s, _ in _chunk_states(texts, tokenizer, encoder, batch_size)])


@mutant("day4.transfer.embed_sentences", expect=r"texts at once")
def embed_sentences_one_big_batch(texts, tokenizer, encoder, batch_size=32):
    """Ignores batch_size and tokenises every text in one call."""
    encoder.eval()
    with torch.no_grad():
        (s, m), = _chunk_states(texts, tokenizer, encoder, len(texts))
        return nn.functional.normalize(_pool(s, m), dim=1)


@mutant("day4.transfer.embed_sentences", expect=r"requires grad")
def embed_sentences_builds_a_graph(texts, tokenizer, encoder, batch_size=32):
    """Right numbers, but runs the encoder with gradient tracking on."""
    encoder.eval()
    return torch.cat([nn.functional.normalize(_pool(s, m), dim=1)
                      for s, m in _chunk_states(texts, tokenizer, encoder, batch_size)])


# --- FrozenEncoderClassifier ----------------------------------------------------------------

class _GoodHead(nn.Module):
    def __init__(self, encoder, feature_dim, hidden_size=64, num_classes=2):
        super().__init__()
        self.encoder = encoder
        self.rnn = nn.GRU(feature_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def classify(self, states, lengths):
        packed = pack_padded_sequence(states, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.rnn(packed)
        return self.head(h_n[-1])

    def forward(self, input_ids, attention_mask):
        with torch.no_grad():
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.classify(states, attention_mask.sum(1))


@mutant("day4.transfer.FrozenEncoderClassifier", expect=r"still have requires_grad=True")
class ClassifierNotFrozen(_GoodHead):
    """Runs the encoder without gradients but never sets requires_grad False on its weights."""

    def __init__(self, encoder, feature_dim, hidden_size=64, num_classes=2):
        super().__init__(encoder, feature_dim, hidden_size, num_classes)
        self.encoder.eval()

    def train(self, mode=True):
        super().train(mode)
        self.encoder.eval()
        return self


@mutant("day4.transfer.FrozenEncoderClassifier", expect=r"after model.train\(\) the encoder")
class ClassifierEncoderBackInTraining(_GoodHead):
    """Freezes the weights and calls encoder.eval() once, but model.train() undoes it."""

    def __init__(self, encoder, feature_dim, hidden_size=64, num_classes=2):
        super().__init__(encoder, feature_dim, hidden_size, num_classes)
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder.eval()


@mutant("day4.transfer.FrozenEncoderClassifier", expect=r"change when a batch is right-padded")
class ClassifierLastPosition(ClassifierNotFrozen):
    """Runs the GRU over the padded states and takes the output at the last position."""

    def __init__(self, encoder, feature_dim, hidden_size=64, num_classes=2):
        super().__init__(encoder, feature_dim, hidden_size, num_classes)
        for p in self.encoder.parameters():
            p.requires_grad_(False)

    def classify(self, states, lengths):
        out, _ = self.rnn(states)
        return self.head(out[:, -1])


@mutant("day4.transfer.FrozenEncoderClassifier", expect=r"ignores word order")
class ClassifierPooledHead(nn.Module):
    """A linear head on the mean-pooled states: frozen and padding-proof, but blind to order."""

    def __init__(self, encoder, feature_dim, hidden_size=64, num_classes=2):
        super().__init__()
        self.encoder = encoder
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder.eval()
        self.head = nn.Sequential(nn.Linear(feature_dim, hidden_size), nn.Tanh(),
                                  nn.Linear(hidden_size, num_classes))

    def train(self, mode=True):
        super().train(mode)
        self.encoder.eval()
        return self

    def classify(self, states, lengths):
        keep = (torch.arange(states.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
        pooled = torch.where(keep, states, 0.0).sum(1) / lengths[:, None].to(states.dtype)
        return self.head(pooled)

    def forward(self, input_ids, attention_mask):
        with torch.no_grad():
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.classify(states, attention_mask.sum(1))


# --- adapt_pretrained -----------------------------------------------------------------------

class _Frozen(_GoodHead):
    def __init__(self, encoder, feature_dim, hidden_size=64, num_classes=2):
        super().__init__(encoder, feature_dim, hidden_size, num_classes)
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode=True):
        super().train(mode)
        self.encoder.eval()
        return self


def _states(texts, tokenizer, encoder):
    b = tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        states = torch.cat([
            encoder(input_ids=b["input_ids"][i:i + 64],
                    attention_mask=b["attention_mask"][i:i + 64]).last_hidden_state
            for i in range(0, len(texts), 64)])
    return states, b["attention_mask"].sum(1)


def _train_head(model, states, lengths, labels, epochs, lr, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.tensor(list(labels))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=g).split(32):
            width = int(lengths[idx].max())
            opt.zero_grad()
            nn.functional.cross_entropy(model.classify(states[idx, :width], lengths[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


@mutant("day4.transfer.adapt_pretrained", expect=r"scores .* the bar is 85%")
def adapt_pretrained_pooled_head(texts, labels, tokenizer, encoder, seed=0):
    """Trains a classifier on mean-pooled sentence embeddings: word order is lost."""
    torch.manual_seed(seed)
    model = ClassifierPooledHead(encoder, encoder.config.hidden_size)
    states, lengths = _states(texts, tokenizer, encoder)
    return _train_head(model, states, lengths, labels, epochs=10, lr=3e-3, seed=seed)


@mutant("day4.transfer.adapt_pretrained", expect=r"changed the pretrained encoder's weights")
def adapt_pretrained_finetunes_everything(texts, labels, tokenizer, encoder, seed=0):
    """Trains the head, then 'improves' it with a few steps that update the encoder too."""
    torch.manual_seed(seed)
    model = _Frozen(encoder, encoder.config.hidden_size)
    states, lengths = _states(texts, tokenizer, encoder)
    _train_head(model, states, lengths, labels, epochs=10, lr=3e-3, seed=seed)
    for p in encoder.parameters():
        p.requires_grad_(True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-5)
    b = tokenizer(list(texts[:16]), padding=True, truncation=True, return_tensors="pt")
    y = torch.tensor(list(labels[:16]))
    for _ in range(2):
        opt.zero_grad()
        out = encoder(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).last_hidden_state
        nn.functional.cross_entropy(model.classify(out, b["attention_mask"].sum(1)), y).backward()
        opt.step()
    return model.eval()


@mutant("day4.transfer.adapt_pretrained", expect=r"changed the pretrained encoder's weights")
def adapt_pretrained_finetunes_a_copy(texts, labels, tokenizer, encoder, seed=0):
    """Leaves the given encoder alone but fine-tunes a copy of it inside the returned model."""
    return adapt_pretrained_finetunes_everything(texts, labels, tokenizer, copy.deepcopy(encoder), seed)


@mutant("day4.transfer.adapt_pretrained", expect=r"scores .* the bar is 85%")
def adapt_pretrained_one_epoch(texts, labels, tokenizer, encoder, seed=0):
    """Stops after one epoch at a small learning rate: the head is barely trained."""
    torch.manual_seed(seed)
    model = _Frozen(encoder, encoder.config.hidden_size)
    states, lengths = _states(texts, tokenizer, encoder)
    return _train_head(model, states, lengths, labels, epochs=1, lr=1e-4, seed=seed)
