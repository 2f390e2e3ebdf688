"""Day 3: computer vision."""
