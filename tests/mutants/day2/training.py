"""Wrong solutions for day2/training.py, each a mistake students really make."""

from dataclasses import dataclass, field

import torch
from torch import nn

from graders.testing import alternative, mutant


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


# --- EarlyStopping ----------------------------------------------------------------------------

class _Stopper:
    """A correct EarlyStopping with hooks for one mistake each."""

    def __init__(self, patience, min_delta=0.0, mode="min"):
        if patience < 1 or min_delta < 0 or mode not in ("min", "max"):
            raise ValueError("bad arguments")
        self.patience, self.min_delta, self.mode = patience, min_delta, mode
        self.best = float("inf") if mode == "min" else float("-inf")
        self.best_epoch, self.bad_epochs, self._n, self._stop = -1, 0, 0, False

    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _stops(self):
        return self.bad_epochs >= self.patience

    def step(self, metric):
        value = float(metric)
        if self._improved(value):
            self.best, self.best_epoch, self.bad_epochs = value, self._n, 0
        else:
            self.bad_epochs += 1
        self._n += 1
        self._stop = self._stop or self._stops()
        return self._stop


@mutant("day2.training.EarlyStopping", expect=r"return True once bad_epochs >= patience")
class StopperOffByOne(_Stopper):
    def _stops(self):
        return self.bad_epochs > self.patience


@mutant("day2.training.EarlyStopping", expect=r"metric > best \+ min_delta")
class StopperDeltaWrongWayInMax(_Stopper):
    def _improved(self, value):
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best - self.min_delta


@mutant("day2.training.EarlyStopping", expect=r"keeps returning True")
class StopperForgetsItStopped(_Stopper):
    def step(self, metric):
        super().step(metric)
        return self.bad_epochs >= self.patience


@mutant("day2.training.EarlyStopping", expect=r"exactly min_delta better")
class StopperTiesImprove(_Stopper):
    def _improved(self, value):
        if self.mode == "min":
            return value <= self.best - self.min_delta
        return value >= self.best + self.min_delta


@mutant("day2.training.EarlyStopping", expect=r"NaN never improves")
class StopperNaNImproves(_Stopper):
    def _improved(self, value):
        if self.mode == "min":
            return not value >= self.best - self.min_delta
        return not value <= self.best + self.min_delta


@mutant("day2.training.EarlyStopping", expect=r"0-based")
class StopperOneBasedEpochs(_Stopper):
    def step(self, metric):
        self._n += 0 if self._n else 1  # counts epochs from 1
        value = float(metric)
        if self._improved(value):
            self.best, self.best_epoch, self.bad_epochs = value, self._n, 0
        else:
            self.bad_epochs += 1
        self._n += 1
        self._stop = self._stop or self._stops()
        return self._stop


@mutant("day2.training.EarlyStopping", expect=r"best is inf \(a Python float\), not None")
class StopperStartsFromNone(_Stopper):
    """best = None before any step, so the first value always improves (inf and NaN too)."""

    def __init__(self, patience, min_delta=0.0, mode="min"):
        super().__init__(patience, min_delta, mode)
        self.best = None

    def _improved(self, value):
        return self.best is None or super()._improved(value)


@mutant("day2.training.EarlyStopping", expect=r"inf is not better than inf")
class StopperFirstStepAlwaysImproves(_Stopper):
    """A first non-NaN value always improves, even inf in mode "min"."""

    def _improved(self, value):
        return super()._improved(value) or (self.best_epoch == -1 and value == value)


@mutant("day2.training.EarlyStopping", expect=r"only an\s+improvement .* changes best")
class StopperBestFollowsEveryGain(_Stopper):
    """best follows every better value; only bad_epochs and best_epoch use min_delta."""

    def step(self, metric):
        value = float(metric)
        if self._improved(value):
            self.best_epoch, self.bad_epochs = self._n, 0
        else:
            self.bad_epochs += 1
        if value < self.best if self.mode == "min" else value > self.best:
            self.best = value
        self._n += 1
        self._stop = self._stop or self._stops()
        return self._stop


# --- fit_with_early_stopping ------------------------------------------------------------------

def _fit(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs, *,
         copy=lambda m: {k: v.detach().clone() for k, v in m.state_dict().items()},
         per_batch=False, train_mode=True, zero=True, strict=True, stopper_class=None,
         restore_if_stopped_only=False):
    if max_epochs < 1 or patience < 1:
        raise ValueError("bad arguments")
    stopper = (stopper_class or _Stopper)(patience)
    best = copy(model)
    history = []
    for epoch in range(max_epochs):
        if train_mode or epoch == 0:
            model.train()
        for x, y in train_loader:
            if zero:
                optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        losses = []
        with torch.no_grad():
            for x, y in val_loader:
                losses.append((loss_fn(model(x), y).item(), len(x)))
        if per_batch:
            history.append(sum(v for v, _ in losses) / len(losses))
        else:
            history.append(sum(v * n for v, n in losses) / sum(n for _, n in losses))
        stop = stopper.step(history[-1])
        if stopper.best_epoch == epoch:
            best = copy(model)
        if stop:
            break
    if stop or not restore_if_stopped_only:
        model.load_state_dict(best, strict=strict)
    model.eval()
    return {"best_epoch": stopper.best_epoch, "best_val_loss": stopper.best,
            "epochs_run": len(history), "history": history}


@mutant("day2.training.fit_with_early_stopping", expect=r"shares\s+memory")
def fit_keeps_a_view_of_the_best(model, optimizer, loss_fn, train_loader, val_loader, patience,
                                 max_epochs):
    return _fit(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs,
                copy=lambda m: m.state_dict())


@mutant("day2.training.fit_with_early_stopping", expect=r"mean of the batch means")
def fit_averages_batches(model, optimizer, loss_fn, train_loader, val_loader, patience,
                         max_epochs):
    return _fit(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs,
                per_batch=True)


@mutant("day2.training.fit_with_early_stopping", expect=r"buffers")
def fit_copies_parameters_only(model, optimizer, loss_fn, train_loader, val_loader, patience,
                               max_epochs):
    return _fit(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs,
                copy=lambda m: {k: p.detach().clone() for k, p in m.named_parameters()},
                strict=False)


@mutant("day2.training.fit_with_early_stopping", expect=r"model\.train\(\)\s+at the start of")
def fit_sets_train_mode_once(model, optimizer, loss_fn, train_loader, val_loader, patience,
                             max_epochs):
    return _fit(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs,
                train_mode=False)


@mutant("day2.training.fit_with_early_stopping", expect=r"zero_grad\(\)")
def fit_accumulates_gradients(model, optimizer, loss_fn, train_loader, val_loader, patience,
                              max_epochs):
    return _fit(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs,
                zero=False)


@mutant("day2.training.fit_with_early_stopping", expect=r"0-based")
def fit_counts_epochs_from_one(model, optimizer, loss_fn, train_loader, val_loader, patience,
                               max_epochs):
    out = _fit(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs)
    out["best_epoch"] += 1
    return out


@mutant("day2.training.fit_with_early_stopping", expect=r"ran all max_epochs")
def fit_restores_only_when_stopped(model, optimizer, loss_fn, train_loader, val_loader, patience,
                                   max_epochs):
    """Loads the best weights back only after an early stop, not when max_epochs runs out."""
    return _fit(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs,
                restore_if_stopped_only=True)


@mutant("day2.training.fit_with_early_stopping", expect=r"a tie is no improvement")
def fit_ties_improve(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs):
    """Its own rule, val_loss <= best: an equal loss moves the best epoch and resets patience."""
    return _fit(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs,
                stopper_class=StopperTiesImprove)


@mutant("day2.training.fit_with_early_stopping", expect=r"load the state the\s+model had before")
def fit_without_a_starting_copy(model, optimizer, loss_fn, train_loader, val_loader, patience,
                                max_epochs):
    """best_state = None before training: with no improvement nothing is loaded back."""
    keep = {}

    def copy(m):
        if keep:  # the first call, before training, keeps nothing
            return {k: v.detach().clone() for k, v in m.state_dict().items()}
        keep["started"] = True
        return {}

    return _fit(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs,
                copy=copy, strict=False)


# --- correct alternatives ---------------------------------------------------------------------

@alternative("day2.training.EarlyStopping")
class StopperFromHistory:
    """Keeps every metric and recomputes the state from the history (a list, not counters)."""

    def __init__(self, patience, min_delta=0.0, mode="min"):
        if not patience >= 1:
            raise ValueError("patience must be at least 1")
        if min_delta < 0:
            raise ValueError("min_delta must be >= 0")
        if mode not in {"min", "max"}:
            raise ValueError("mode must be 'min' or 'max'")
        self.patience, self.min_delta, self.sign = patience, min_delta, 1 if mode == "min" else -1
        self.history, self.stopped = [], False
        self.best, self.best_epoch, self.bad_epochs = self.sign * float("inf"), -1, 0

    def step(self, metric):
        self.history.append(float(metric))
        # in "max" mode, negate values: an improvement is then always "smaller by min_delta"
        if self.sign * self.history[-1] + self.min_delta < self.sign * self.best:
            self.best, self.best_epoch = self.history[-1], len(self.history) - 1
        self.bad_epochs = len(self.history) - 1 - self.best_epoch
        self.stopped |= self.bad_epochs >= self.patience
        return bool(self.stopped)


@alternative("day2.training.fit_with_early_stopping")
def fit_with_deepcopy(model, optimizer, loss_fn, train_loader, val_loader, patience, max_epochs):
    """copy.deepcopy of the state dict, a summed loss for validation, inference mode."""
    import copy
    import math

    if min(patience, max_epochs) < 1:
        raise ValueError("patience and max_epochs must be at least 1")
    best_state, best, best_epoch, bad, history = copy.deepcopy(model.state_dict()), math.inf, \
        -1, 0, []
    while len(history) < max_epochs:
        model.train()
        for inputs, targets in train_loader:
            for p in model.parameters():
                p.grad = None
            loss_fn(model(inputs), targets).backward()
            optimizer.step()
        model.eval()
        total, count = torch.zeros((), dtype=torch.float64), 0
        with torch.inference_mode():
            for inputs, targets in val_loader:
                total += loss_fn(model(inputs), targets).double() * inputs.shape[0]
                count += inputs.shape[0]
        history.append((total / count).item())
        if history[-1] < best:
            best, best_epoch, bad = history[-1], len(history) - 1, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if bad >= patience:
                break
    model.load_state_dict(best_state)
    return {"best_epoch": best_epoch, "best_val_loss": best, "epochs_run": len(history),
            "history": history}


@alternative("day2.training.EarlyStopping")
class StopperKerasLiteral:
    """Keras' own code: min_delta negated in "min", np.less / np.greater on value - min_delta,
    a ``wait`` counter exposed as the property bad_epochs, np.inf."""

    def __init__(self, patience, min_delta=0.0, mode="min"):
        import numpy as np

        if mode not in ("min", "max"):
            raise ValueError(f"unknown mode {mode!r}")
        if patience < 1 or min_delta < 0:
            raise ValueError("patience must be >= 1 and min_delta >= 0")
        self.monitor_op = np.less if mode == "min" else np.greater
        self.patience = patience
        self.min_delta = -min_delta if mode == "min" else min_delta
        self.best = np.inf if mode == "min" else -np.inf
        self.best_epoch, self.wait, self._epoch, self.stopped_epoch = -1, 0, 0, None

    @property
    def bad_epochs(self):
        return self.wait

    def step(self, metric):
        current = float(metric)
        if self.monitor_op(current - self.min_delta, self.best):
            self.best, self.best_epoch, self.wait = current, self._epoch, 0
        else:
            self.wait += 1
        if self.wait >= self.patience and self.stopped_epoch is None:
            self.stopped_epoch = self._epoch
        self._epoch += 1
        return self.stopped_epoch is not None


@alternative("day2.training.EarlyStopping")
@dataclass
class StopperDataclass:
    """A dataclass; values negated in "max" so that one test, ``best - value > min_delta``
    (the gain, not Keras' form), serves both modes; best is a property; torch compares."""

    patience: int
    min_delta: float = 0.0
    mode: str = "min"
    best_epoch: int = field(default=-1, init=False)
    bad_epochs: int = field(default=0, init=False)
    _score: float = field(default=float("inf"), init=False, repr=False)
    _calls: int = field(default=0, init=False, repr=False)
    _done: bool = field(default=False, init=False, repr=False)

    def __post_init__(self):
        if self.patience < 1 or self.min_delta < 0 or self.mode not in {"min", "max"}:
            raise ValueError("patience >= 1, min_delta >= 0, mode 'min' or 'max'")
        self._sign = 1.0 if self.mode == "min" else -1.0

    @property
    def best(self):
        return self._sign * self._score

    def step(self, metric):
        value = torch.as_tensor(metric, dtype=torch.float64) * self._sign
        if bool(self._score - value > self.min_delta):
            self._score, self.best_epoch, self.bad_epochs = value.item(), self._calls, 0
        else:
            self.bad_epochs += 1
        self._calls += 1
        self._done = self._done or self.bad_epochs >= self.patience
        return self._done


@alternative("day2.training.fit_with_early_stopping")
def fit_with_model_copy_and_float32_sum(model, optimizer, loss_fn, train_loader, val_loader,
                                        patience, max_epochs):
    """A deepcopy of the whole model as the best; the validation loss summed in a float32
    tensor (the model is float64: still the mean over samples); zero_grad(set_to_none=False)."""
    import copy

    if patience < 1 or max_epochs < 1:
        raise ValueError("patience and max_epochs must be at least 1")
    stopper = _Stopper(patience)
    best_model, history = copy.deepcopy(model), []
    for epoch in range(max_epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad(set_to_none=False)
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        total, count = torch.zeros(()), 0
        with torch.no_grad():
            for x, y in val_loader:
                total += loss_fn(model(x), y) * len(x)
                count += len(x)
        history.append((total / count).item())
        stop = stopper.step(history[-1])
        if stopper.best_epoch == epoch:
            best_model = copy.deepcopy(model)
        if stop:
            break
    model.load_state_dict(best_model.state_dict())
    model.eval()
    return {"best_epoch": stopper.best_epoch, "best_val_loss": stopper.best,
            "epochs_run": len(history), "history": history}


@alternative("day2.training.fit_with_early_stopping")
def fit_inline_with_concatenated_validation(model, optimizer, loss_fn, train_loader, val_loader,
                                            patience, max_epochs):
    """Counters inline, a while loop, one loss_fn call on the concatenated validation outputs,
    inference mode, model.zero_grad(), and the best state copied back in place with copy_."""
    import math
    from collections import OrderedDict

    if not (patience >= 1 and max_epochs >= 1):
        raise ValueError("patience and max_epochs must be at least 1")

    def snapshot():
        return OrderedDict((k, torch.empty_like(v).copy_(v)) for k, v in model.state_dict().items())

    best_state, best, best_epoch, bad, history, epoch = snapshot(), math.inf, -1, 0, [], 0
    while epoch < max_epochs:
        model.train(True)
        for x, y in train_loader:
            model.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.train(False)
        with torch.inference_mode():
            outputs, targets = zip(*[(model(x), y) for x, y in val_loader])
            val = float(loss_fn(torch.cat(outputs), torch.cat(targets)))
        history.append(val)
        if val < best:
            best, best_epoch, bad, best_state = val, epoch, 0, snapshot()
        else:
            bad += 1
        epoch += 1
        if bad >= patience:
            break
    with torch.no_grad():
        for k, v in model.state_dict().items():
            v.copy_(best_state[k])
    return {"best_epoch": best_epoch, "best_val_loss": best, "epochs_run": epoch,
            "history": history}
