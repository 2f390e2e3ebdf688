"""Offline data for Deep Learning Drills.

Everything here is bundled with the kit or generated deterministically; nothing is downloaded.
See ``datasets/README.md`` for each data set's provenance, licence, size and split.
"""
