"""Wrong solutions for day2/training.py, each a mistake students really make."""

import torch
from torch import nn

from graders.testing import mutant


# --- train_step -----------------------------------------------------------------------------

@mutant("day2.training.train_step", expect=r"zero_grad")
def train_step_no_zero_grad(model, batch, loss_fn, optimizer):
    model.train()
    loss = loss_fn(model(batch[0]), batch[1])
    loss.backward()
    optimizer.step()
    return loss.item()


@mutant("day2.training.train_step", expect=r"model\.train\(\)")
def train_step_no_train_mode(model, batch, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(batch[0]), batch[1])
    loss.backward()
    optimizer.step()
    return loss.item()


@mutant("day2.training.train_step", expect=r"Python float")
def train_step_returns_tensor(model, batch, loss_fn, optimizer):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(batch[0]), batch[1])
    loss.backward()
    optimizer.step()
    return loss


# --- accumulated_step -----------------------------------------------------------------------

@mutant("day2.training.accumulated_step", expect=r"n_k / N")
def accumulated_divides_by_count(model, micro_batches, loss_fn, optimizer):
    if not micro_batches:
        raise ValueError("empty")
    model.train()
    optimizer.zero_grad()
    total = 0.0
    for x, y in micro_batches:
        loss = loss_fn(model(x), y) / len(micro_batches)
        loss.backward()
        total += loss.item()
    optimizer.step()
    return total


@mutant("day2.training.accumulated_step", expect=r"exactly once")
def accumulated_steps_every_micro_batch(model, micro_batches, loss_fn, optimizer):
    if not micro_batches:
        raise ValueError("empty")
    model.train()
    n = sum(len(x) for x, _ in micro_batches)
    total = 0.0
    for x, y in micro_batches:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y) * len(x) / n
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total


@mutant("day2.training.accumulated_step", expect=r"Clear old gradients")
def accumulated_keeps_stale_grads(model, micro_batches, loss_fn, optimizer):
    if not micro_batches:
        raise ValueError("empty")
    model.train()
    n = sum(len(x) for x, _ in micro_batches)
    total = 0.0
    for x, y in micro_batches:
        loss = loss_fn(model(x), y) * len(x) / n
        loss.backward()
        total += loss.item()
    optimizer.step()
    return total


# --- evaluate -------------------------------------------------------------------------------

def _evaluate_core(model, loader, loss_fn, per_batch=False):
    losses, sizes, correct = [], [], 0
    for x, y in loader:
        logits = model(x)
        losses.append(loss_fn(logits, y).item())
        sizes.append(len(y))
        correct += (logits.argmax(1) == y).sum().item()
    n = sum(sizes)
    if n == 0:
        raise ValueError("empty")
    if per_batch:
        loss = sum(losses) / len(losses)
    else:
        loss = sum(l * s for l, s in zip(losses, sizes)) / n
    return {"loss": loss, "accuracy": correct / n}


@mutant("day2.training.evaluate", expect=r"mean of the batch means")
def evaluate_per_batch(model, loader, loss_fn):
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    with torch.no_grad():
        out = _evaluate_core(model, loader, loss_fn, per_batch=True)
    for m, mode in modes:
        m.training = mode
    return out


@mutant("day2.training.evaluate", expect=r"changed the mode")
def evaluate_leaves_eval_mode(model, loader, loss_fn):
    model.eval()
    with torch.no_grad():
        return _evaluate_core(model, loader, loss_fn)


@mutant("day2.training.evaluate", expect=r"changed the mode of")
def evaluate_restores_top_level_only(model, loader, loss_fn):
    was = model.training
    model.eval()
    with torch.no_grad():
        out = _evaluate_core(model, loader, loss_fn)
    model.train(was)
    return out


@mutant("day2.training.evaluate", expect=r"no_grad")
def evaluate_tracks_gradients(model, loader, loss_fn):
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    out = _evaluate_core(model, loader, loss_fn)
    for m, mode in modes:
        m.training = mode
    return out


# --- checkpoints ----------------------------------------------------------------------------

@mutant("day2.training.save_checkpoint", expect=r"lacks the keys|optimizer's state_dict")
def save_model_only(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "epoch": int(epoch)}, path)


@mutant("day2.training.save_checkpoint", expect=r"weights_only")
def save_whole_objects(path, model, optimizer, epoch):
    torch.save({"model": model, "optimizer": optimizer, "epoch": epoch}, path)


@mutant("day2.training.load_checkpoint",
        expect=r"optimizer's state_dict must be saved and\s+loaded")
def load_ignores_optimizer(path, model, optimizer=None):
    state = torch.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    return int(state["epoch"])


@mutant("day2.training.load_checkpoint", expect=r"weights_only=True")
def load_unsafely(path, model, optimizer=None):
    state = torch.load(path, weights_only=False)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    return int(state["epoch"])


# --- train_digits_mlp -----------------------------------------------------------------------

def _digits_loop(seed, *, epochs, lr, batch, seeded=True, optim="adam"):
    from drills_data.digits import load_digits_tensors

    if seeded:
        torch.manual_seed(seed)
    x, y, _, _ = load_digits_tensors()
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = (torch.optim.Adam(model.parameters(), lr=lr) if optim == "adam"
           else torch.optim.SGD(model.parameters(), lr=lr))
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for idx in order.split(batch):
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
    return model


@mutant("day2.training.train_digits_mlp", expect=r"the bar is 95%")
def digits_too_little_training(seed=0):
    return _digits_loop(seed, epochs=1, lr=1e-3, batch=256, optim="sgd")


@mutant("day2.training.train_digits_mlp", expect=r"different models")
def digits_not_seeded(seed=0):
    return _digits_loop(seed, epochs=2, lr=1e-2, batch=256, seeded=False)
