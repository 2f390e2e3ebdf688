"""Grader tests of day 6."""
