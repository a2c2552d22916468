"""Jitted kernels (``@njit``, and the records they take; nothing here knows parameters as
strings).

Rooms: :mod:`~fastlr.kernels.jit` (jit settings), :mod:`~fastlr.kernels.records` (the typed
records the kernels take), :mod:`~fastlr.kernels.layout` (row chunks, the shuffle, scratch
arrays on a cache line), :mod:`~fastlr.kernels.options` (optional inputs),
:mod:`~fastlr.kernels.passes` (fused passes, compiled for the rows they meet:
``row_passes``; prediction), :mod:`~fastlr.kernels.multi_output`
(the fused pass for several outputs), :mod:`~fastlr.kernels.compensated` (the fused pass in
double-double, for refinement), :mod:`~fastlr.kernels.narrow` (the fused pass over narrow
rows), :mod:`~fastlr.kernels.row_vectors` (its 4-row step over float32 rows in explicit vectors, on
:mod:`~fastlr.kernels.vectors`),
:mod:`~fastlr.kernels.statistics` (moments, row norms),
:mod:`~fastlr.kernels.cross_products` (the Gram pass), :mod:`~fastlr.kernels.transpose` (its
copy, 8 x 8 blocks in registers), :mod:`~fastlr.kernels.gram_tiles` (its products, 4 x 4 tiles of
dot products in vectors),
:mod:`~fastlr.kernels.epochs` (sgd, mini-batch), :mod:`~fastlr.kernels.gram` (sufficient
statistics), :mod:`~fastlr.kernels.rules` (the epoch rules compiled),
:mod:`~fastlr.kernels.functional` (the kernels of ``fastlr.loss_and_gradient`` and friends),
:mod:`~fastlr.kernels.generate` (``make_regression``, loaded on first use) and
:mod:`~fastlr.kernels.cache` (where numba keeps them). This package re-exports the kernels the
engines call.

Private. Every kernel has a NumPy twin in :mod:`fastlr.reference` and a test that holds the two
together. Kernels trust their inputs: dtypes, shapes, contiguity and parameter values are checked
once, above them (:mod:`fastlr._validation`).

Conventions
-----------
- ``X`` is a C-contiguous 2-D float32 or float64 array, ``y`` a 1-D float32 or float64 array; both
  are read as they are (no copies) and every sum is accumulated in float64.
- ``coef`` is a float64 array updated in place; the intercept is a float passed in and returned.
- ``shuffle`` is empty (an epoch visits rows 0, 1, ..., n - 1) or the key of a permutation of
  the rows computed on the fly (no index array; see ``_fill_rows``).
- Parallel reductions split the rows into ``n_chunks(n)`` contiguous chunks. The layout depends on
  ``n`` only, never on the thread count, and the chunk results are summed in chunk order, so serial
  and parallel kernels return bit-identical results on any number of threads.
"""

from fastlr.kernels.compensated import (
    add_compensated,
    compensated_parts_parallel,
    compensated_parts_serial,
    finish_compensated,
    reduce_compensated_parts,
    sum_compensated_parts,
)
from fastlr.kernels.cross_products import STEP as GRAM_STEP
from fastlr.kernels.cross_products import fold_blocks_parallel, fold_blocks_serial, reduce_groups
from fastlr.kernels.epochs import minibatch_epoch, sgd_epoch, sgd_epoch_hogwild
from fastlr.kernels.gram import gram_epochs, gram_loss_and_gradient
from fastlr.kernels.layout import (
    MAX_CHUNKS,
    MIN_CHUNK_ROWS,
    PREFETCH_ROWS,
    ROW_BLOCK,
    chunk_starts,
    epoch_row_order,
    n_chunks,
)
from fastlr.kernels.multi_output import (
    fused_parts_multi_parallel,
    fused_parts_multi_serial,
    fused_pass_multi_parallel,
    fused_pass_multi_serial,
    reduce_fused_parts_multi,
)
from fastlr.kernels.narrow import LANES, NARROW_MAX
from fastlr.kernels.passes import (
    ROWS_PER_STEP,
    fused_pass_parallel,
    fused_pass_serial,
    predict_parallel,
    predict_serial,
    reduce_fused_parts,
    row_passes,
)
from fastlr.kernels.rules import update_parameters
from fastlr.kernels.statistics import (
    column_moment_parts,
    column_moments,
    reduce_row_norms,
    row_norm_bounds,
    row_norm_parts,
)

__all__ = [
    "GRAM_STEP",
    "LANES",
    "MAX_CHUNKS",
    "MIN_CHUNK_ROWS",
    "NARROW_MAX",
    "PREFETCH_ROWS",
    "ROWS_PER_STEP",
    "ROW_BLOCK",
    "add_compensated",
    "chunk_starts",
    "column_moment_parts",
    "column_moments",
    "compensated_parts_parallel",
    "compensated_parts_serial",
    "epoch_row_order",
    "finish_compensated",
    "fold_blocks_parallel",
    "fold_blocks_serial",
    "fused_parts_multi_parallel",
    "fused_parts_multi_serial",
    "fused_pass_multi_parallel",
    "fused_pass_multi_serial",
    "fused_pass_parallel",
    "fused_pass_serial",
    "gram_epochs",
    "gram_loss_and_gradient",
    "minibatch_epoch",
    "n_chunks",
    "predict_parallel",
    "predict_serial",
    "reduce_compensated_parts",
    "reduce_fused_parts",
    "reduce_fused_parts_multi",
    "reduce_groups",
    "reduce_row_norms",
    "row_norm_bounds",
    "row_norm_parts",
    "row_passes",
    "sgd_epoch",
    "sgd_epoch_hogwild",
    "sum_compensated_parts",
    "update_parameters",
]
