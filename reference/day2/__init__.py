"""Day 2 reference solutions: a network by hand, then with PyTorch."""
