"""Day 4: text and sequences."""
