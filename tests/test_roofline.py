"""The roofline probe's reads (fastlr.devtools.roofline) touch every byte they claim to: each
returns the sum of what it read, checked here against NumPy's sum of the same arrays."""

import numpy as np
import pytest

from fastlr.devtools.roofline import read_parallel, read_rows, read_serial
from fastlr.training.loop import RowOrder


@pytest.mark.parametrize("n", [1, 7, 1000, 70_001])
@pytest.mark.parametrize("d", [1, 5, 50])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_reads_sum_every_element_of_x_and_y(n, d, dtype):
    rng = np.random.default_rng(n + d)
    X = rng.uniform(0.5, 1.5, (n, d)).astype(dtype)
    y = rng.uniform(0.5, 1.5, n).astype(dtype)
    expected = X.sum(dtype=np.float64) + y.sum(dtype=np.float64)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert read_serial(X, y) == pytest.approx(expected, rel=rtol)
    assert read_parallel(X, y) == pytest.approx(expected, rel=rtol)
    assert read_rows(X, y, RowOrder(n, True, 0).next()) == pytest.approx(expected, rel=rtol)


def test_a_read_that_skipped_rows_would_be_seen():
    X, y = np.ones((1000, 3)), np.ones(1000)
    X[-1] = 1e6  # the last row of the last chunk
    assert read_serial(X, y) == read_parallel(X, y) == pytest.approx(3e6 + 999 * 3 + 1000)


def test_the_fma_probe_does_the_products_it_counts():
    from fastlr.devtools.roofline import _fma_rounds

    block, coef = np.ones((4, 1024)), np.full(1024, 0.5)
    assert _fma_rounds(block, coef, 3) == 3 * 4 * 1024 * 0.5
