"""Grader tests of day 1."""
