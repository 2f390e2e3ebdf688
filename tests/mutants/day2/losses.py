"""Wrong solutions for day2/losses.py, each a mistake students really make."""

import torch
import torch.nn.functional as F

from graders.testing import mutant


@mutant("day2.losses.cross_entropy", expect=r"divide by all")
def ce_mean_over_all_samples(logits, targets, label_smoothing=0.0, ignore_index=-100):
    keep = targets != ignore_index
    logp = F.log_softmax(logits, dim=1)
    safe = torch.where(keep, targets, torch.zeros_like(targets))
    nll = -logp.gather(1, safe[:, None]).squeeze(1)
    loss = (1 - label_smoothing) * nll + label_smoothing * -logp.mean(1)
    return (loss * keep).sum() / len(targets)


@mutant("day2.losses.cross_entropy", expect=r"C - 1 others")
def ce_smoothing_over_other_classes(logits, targets, label_smoothing=0.0, ignore_index=-100):
    keep = targets != ignore_index
    logp = F.log_softmax(logits[keep], dim=1)
    nll = -logp.gather(1, targets[keep][:, None]).squeeze(1)
    c = logits.shape[1]
    others = (-logp.sum(1) - nll) / max(c - 1, 1)
    return ((1 - label_smoothing) * nll + label_smoothing * others).mean()


@mutant("day2.losses.cross_entropy", expect=r"not allowed")
def ce_calls_torch(logits, targets, label_smoothing=0.0, ignore_index=-100):
    if not 0 <= label_smoothing <= 1:
        raise ValueError("label_smoothing")
    return F.cross_entropy(logits, targets, label_smoothing=label_smoothing,
                           ignore_index=ignore_index)


@mutant("day2.losses.bce_with_logits", expect=r"underflows|not finite|inf")
def bce_naive_sigmoid(logits, targets, pos_weight=None):
    w = 1.0 if pos_weight is None else pos_weight
    p = torch.sigmoid(logits)
    return -(w * targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()


@mutant("day2.losses.bce_with_logits", expect=r"multiplies the\s+whole loss")
def bce_pos_weight_on_everything(logits, targets, pos_weight=None):
    w = 1.0 if pos_weight is None else pos_weight
    return (w * -(targets * F.logsigmoid(logits) + (1 - targets) * F.logsigmoid(-logits))).mean()


@mutant("day2.losses.bce_with_logits", expect=r"not allowed")
def bce_calls_torch(logits, targets, pos_weight=None):
    return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight)


