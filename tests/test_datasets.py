"""The offline data sets read what they promise, without paying for what they do not need."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest


def test_digits_are_sklearns_digits_read_without_importing_sklearn():
    code = ("import sys; from drills_data.digits import load_digits_split; load_digits_split(); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    from drills_data import digits

    images, labels = digits._raw()
    bunch = sklearn_datasets.load_digits()
    assert images.dtype == np.float32 and images.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(images, (bunch.images.astype(np.float32) / 16.0)[:, None])
    np.testing.assert_array_equal(labels, bunch.target.astype(np.int64))
