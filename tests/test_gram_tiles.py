"""The Gram pass's products (fastlr.kernels.gram_tiles and the loop over tiles in
fastlr.kernels.cross_products): the sums of exact products, only the rows asked for, rows that
end where memory ends, and bad arrays refused."""

import math

import numpy as np
import pytest
from guard_page import ending_at_a_guard_page

from fastlr.kernels.cross_products import SUB_ROWS, _add_products
from fastlr.kernels.layout import aligned_zeros


def _exact_upper_products(V, Z, rows):
    """Σ_t V[a, t] · Z[c, t] for a <= c, each sum of exact products rounded once (fsum)."""
    m = Z.shape[0]
    out = np.zeros((m, m))
    for a in range(m):
        for c in range(a, m):
            out[a, c] = math.fsum(float(V[a, t]) * float(Z[c, t]) for t in range(rows))
    return out


def _add(V, Z, rows, G):
    # nothing to prefetch: an empty span of rows of an unrelated array
    _add_products(V, Z, rows, G, np.zeros((1, 1)), 0, 0)


@pytest.mark.parametrize("rows", [0, 1, 7, 8, 9, 31, SUB_ROWS])
@pytest.mark.parametrize("m", [4, 8, 12])
def test_products_are_the_exact_sums_of_the_rows_asked_for(rows, m):
    rng = np.random.default_rng(rows * 100 + m)
    V = aligned_zeros(m, SUB_ROWS)
    Z = aligned_zeros(m, SUB_ROWS)
    V[:] = rng.standard_normal((m, SUB_ROWS))
    Z[:] = rng.standard_normal((m, SUB_ROWS))
    V[:, rows:] = np.nan  # stale values past the rows: never read
    Z[:, rows:] = np.inf
    G = np.full((m, m), 0.5)
    _add(V, Z, rows, G)
    expected = 0.5 + _exact_upper_products(V, Z, rows)
    upper = np.triu_indices(m)
    # 8 lanes of about rows / 8 terms, added as a tree: a few roundings of the largest terms
    np.testing.assert_allclose(G[upper], expected[upper], rtol=0, atol=1e-13 * max(rows, 1))


def test_products_add_the_same_bits_whatever_the_alignment_of_the_arrays():
    rng = np.random.default_rng(1)
    m, rows = 8, 37
    values = rng.standard_normal((2, m, rows))
    results = []
    for skip in (0, 1, 3):  # vectors at 0, 8 and 24 bytes past a cache line
        flat = np.zeros(2 * m * rows + skip)
        V = flat[skip : skip + m * rows].reshape(m, rows)
        Z = np.zeros((m, rows))
        V[:], Z[:] = values
        G = np.zeros((m, m))
        _add(V, Z, rows, G)
        results.append(G)
    for G in results[1:]:
        np.testing.assert_array_equal(G, results[0])


@pytest.mark.parametrize("rows", [5, 8, 13])
def test_the_last_rows_are_read_through_a_mask_where_memory_ends(rows):
    m = 4
    Z = ending_at_a_guard_page(m * rows, np.float64).reshape(m, rows)
    Z[:] = np.arange(m * rows).reshape(m, rows) / 7.0
    G = np.zeros((m, m))
    _add(Z, Z, rows, G)
    expected = _exact_upper_products(Z, Z, rows)
    upper = np.triu_indices(m)
    np.testing.assert_allclose(G[upper], expected[upper], rtol=1e-14)


@pytest.mark.parametrize(
    ("V_shape", "Z_shape", "rows", "G_shape"),
    [
        ((6, 8), (6, 8), 8, (6, 6)),  # m not a multiple of the tile
        ((4, 8), (8, 8), 8, (8, 8)),  # V and Z differ
        ((8, 8), (8, 8), 9, (8, 8)),  # more rows than Z holds
        ((8, 8), (8, 8), -1, (8, 8)),
        ((8, 8), (8, 8), 8, (4, 8)),  # G too small
    ],
)
def test_arrays_that_do_not_hold_the_tiles_are_refused(V_shape, Z_shape, rows, G_shape):
    with pytest.raises(IndexError, match="do not hold the tiles"):
        _add(np.zeros(V_shape), np.zeros(Z_shape), rows, np.zeros(G_shape))


def test_rows_that_are_not_contiguous_are_refused():
    Z = np.zeros((8, 16))[:, ::2]
    with pytest.raises(IndexError, match="do not hold the tiles"):
        _add(Z, Z, 8, np.zeros((8, 8)))


def test_aligned_zeros_start_on_a_cache_line():
    for rows, columns in ((52, SUB_ROWS), (3, 5), (0, 4)):
        Z = aligned_zeros(rows, columns)
        assert Z.shape == (rows, columns)
        assert Z.ctypes.data % 64 == 0
        assert not Z.any()
