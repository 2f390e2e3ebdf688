"""Rebuild ``drills_data/digits_cnn_0to4.pt``: a DigitsCNN trained on the digits 0-4.

Deterministic: one thread, a fixed seed and a fixed data order, on the training images of the
digits 0 to 4 of the kit's fixed split (never its test images). Run from the repository root::

    PYTHONPATH=datasets python datasets/scripts/build_pretrained.py

It prints the test accuracy on the digits 0-4 and the checkpoint's size and SHA-256.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drills_data.digits import load_digits_tensors  # noqa: E402
from drills_data.pretrained import CHECKPOINT, PRETRAINED_CLASSES, DigitsCNN  # noqa: E402

SEED = 0
EPOCHS = 15
BATCH = 32
LR = 3e-3


def main(out: Path = CHECKPOINT) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    x_train, y_train, x_test, y_test = load_digits_tensors(PRETRAINED_CLASSES)
    model = DigitsCNN(num_classes=len(PRETRAINED_CLASSES))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    order = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        model.train()
        for idx in torch.randperm(len(x_train), generator=order).split(BATCH):
            opt.zero_grad()
            F.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x_test).argmax(1) == y_test).float().mean().item()
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"test accuracy on digits 0-4: {acc:.4f}")
    print(f"wrote {out} ({out.stat().st_size} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
