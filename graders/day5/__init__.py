"""Grader tests of day 5."""
