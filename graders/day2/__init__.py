"""Grader tests of day 2."""
