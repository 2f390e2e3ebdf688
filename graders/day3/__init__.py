"""Grader tests of day 3."""
