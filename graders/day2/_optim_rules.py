"""Known mistakes in SGD's and Adam's update rules, replayed on recorded gradients.

When a student's optimizer drifts from torch's, the grader replays the same gradients and
hyper-parameters through the docstring's rule with one known mistake switched on at a time, and
names a mistake only when it reproduces the student's parameters: a diagnosis is stated on
evidence, never guessed. Replays are plain functions on tensors (no optimizer class)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from graders.checks import close_values

#: Adam's known mistakes: name -> what to tell the student.
ADAM_MISTAKES = {
    "eps inside": "eps is added inside the square root; torch.optim.Adam divides by "
                  "sqrt(v_hat) + eps (eps after the square root)",
    "no bias correction": "the moments are not bias-corrected: use m / (1 - b1**t) and "
                          "v / (1 - b2**t), t counting this parameter's steps from 1",
    "decoupled decay": "weight decay shrinks the parameter directly, which is AdamW; "
                       "torch.optim.Adam adds weight_decay * p to the gradient before the moments",
    "shared count": "one step count t is shared by all parameters and grows once per parameter "
                    "updated; keep a separate t for each parameter in self.state[p]",
}

#: SGD's known mistakes: name -> what to tell the student.
SGD_MISTAKES = {
    "no buffer": "the momentum buffer is not kept between steps (so only the first step is "
                 "right); keep buf in self.state[p] and update it as buf = momentum * buf + g",
    "dampened": "the buffer is updated as momentum * buf + (1 - momentum) * g; torch uses "
                "momentum * buf + g (no dampening)",
    "decay after momentum": "weight decay is added to the step after the momentum; torch adds "
                            "weight_decay * p to the gradient first and builds the buffer from "
                            "that",
    "nesterov old buffer": "with nesterov=True the step uses the previous buffer; update buf "
                           "first, then step along g + momentum * buf",
}

#: One step of a run: per parameter, its gradient (None: skipped) and its group's settings.
Step = Sequence[tuple[torch.Tensor | None, dict]]


def _adam(mistake: str, init: Sequence[torch.Tensor], steps: Sequence[Step]) -> list[torch.Tensor]:
    params = [t.clone() for t in init]
    state: list[dict] = [{} for _ in init]
    count = 0
    for step in steps:
        for i, (grad, h) in enumerate(step):
            if grad is None:
                continue
            (b1, b2), lr, eps, decay = h["betas"], h["lr"], h["eps"], h["weight_decay"]
            s = state[i]
            if not s:
                s.update(t=0, m=torch.zeros_like(grad), v=torch.zeros_like(grad))
            s["t"] += 1
            count += 1
            t = count if mistake == "shared count" else s["t"]
            g = grad
            if decay and mistake == "decoupled decay":
                params[i] = params[i] * (1 - lr * decay)
            elif decay:
                g = g + decay * params[i]
            s["m"] = b1 * s["m"] + (1 - b1) * g
            s["v"] = b2 * s["v"] + (1 - b2) * g * g
            m, v = s["m"], s["v"]
            if mistake != "no bias correction":
                m, v = m / (1 - b1**t), v / (1 - b2**t)
            denom = (v + eps).sqrt() if mistake == "eps inside" else v.sqrt() + eps
            params[i] = params[i] - lr * m / denom
    return params


def _sgd(mistake: str, init: Sequence[torch.Tensor], steps: Sequence[Step]) -> list[torch.Tensor]:
    params = [t.clone() for t in init]
    bufs: list[torch.Tensor | None] = [None for _ in init]
    for step in steps:
        for i, (grad, h) in enumerate(step):
            if grad is None:
                continue
            mu, decay, lr = h["momentum"], h["weight_decay"], h["lr"]
            g = grad + decay * params[i] if decay and mistake != "decay after momentum" else grad
            d = g
            if mu:
                old = bufs[i]
                if old is None or mistake == "no buffer":
                    buf = g
                else:
                    buf = mu * old + ((1 - mu) * g if mistake == "dampened" else g)
                bufs[i] = buf
                if h["nesterov"]:
                    d = g + mu * (old if mistake == "nesterov old buffer" and old is not None else buf)
                else:
                    d = buf
            if decay and mistake == "decay after momentum":
                d = d + decay * params[i]
            params[i] = params[i] - lr * d
    return params


_REPLAY = {"Adam": (_adam, ADAM_MISTAKES), "SGD": (_sgd, SGD_MISTAKES)}


def diagnose(name: str, init: Sequence[torch.Tensor], steps: Sequence[Step],
             got: Sequence[torch.Tensor]) -> str | None:
    """The one known mistake whose replay gives ``got`` (the student's parameters after
    ``steps``), or None when none does (then only say what differs)."""
    replay, mistakes = _REPLAY[name]
    found = [why for key, why in mistakes.items()
             if all(close_values(q, p, rtol=1e-7, atol=1e-10)
                    for p, q in zip(replay(key, init, steps), got))]
    return found[0] if len(found) == 1 else None
