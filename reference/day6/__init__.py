"""Day 6: attention, mixed precision, distributed training, export, memory and GANs."""
