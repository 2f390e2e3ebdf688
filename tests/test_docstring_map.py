"""Does a check stand behind each sentence of the docstrings? (tests/docstring_map.py)"""

from __future__ import annotations

import re

import docstring_map as dm
import pytest

from graders.core import registry


@pytest.mark.parametrize("day", registry.days())
def test_the_sentence_tables_are_current(day):
    """Is tests/docstrings/<day>.md what the docstrings and checks give today?"""
    assert (dm.OUT / f"{day}.md").read_text("utf-8") == dm.table(day), (
        "run `python tests/docstring_map.py` and read the sentences with no check")


@pytest.mark.parametrize("ex", registry.exercises(), ids=lambda e: e.id)
def test_every_promised_exception_is_expected_by_a_check(ex):
    """Is each exception of the docstring's Raises section named by one of the exercise's checks?"""
    found = dm.checks(ex)
    missing = [e for e in dm.raised(ex)
               if not any(re.search(rf"\b{e}\b", c.source + c.question) for c in found)]
    assert not missing, f"{ex.id} promises {missing} but no check expects it"
