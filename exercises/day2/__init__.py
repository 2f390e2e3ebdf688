"""Day 2: a network by hand, then with PyTorch."""
