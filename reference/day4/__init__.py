"""Day 4 reference solutions: text and sequences."""
