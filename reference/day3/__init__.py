"""Day 3: computer vision (reference solutions)."""
