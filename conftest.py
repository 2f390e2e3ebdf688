"""Loads the Deep Learning Drills pytest plugin for every run from this folder."""

pytest_plugins = ["graders.plugin"]
