"""Day 1: tensors, strides and autograd."""
