"""Hostile submissions for the tests of `drills grade`."""
