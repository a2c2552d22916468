"""A dask array's rows on the cluster: the row blocks of X packed with their rows of y (and
the weights) into one future each, computed and kept on the workers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastlr.engines.dask import DaskRows, pack_block


def get_client(client: Any) -> Any:
    """``client``, or the current ``distributed`` client (a clear error when there is none)."""
    if client is not None:
        return client
    from distributed import get_client as current_client

    try:
        return current_client()
    except ValueError as error:
        raise ValueError(
            "fastlr.dask needs a distributed Client: start one (distributed.Client(...)) or "
            "pass client=..."
        ) from error


def scatter_blocks(client: Any, X: Any, y: Any, sample_weight: Any = None) -> DaskRows:
    """Pack the row blocks of ``X`` with their rows of ``y`` (and ``sample_weight``) into one
    future each, computed and kept on the workers (nothing comes back to the client).

    Examples
    --------
    Not run as a doctest (it needs a cluster and the optional dask):

    >>> from fastlr.dask import scatter_blocks
    >>> import dask.array as da  # doctest: +SKIP
    >>> from distributed import Client  # doctest: +SKIP
    >>> client = Client(processes=False)  # doctest: +SKIP
    >>> rows = scatter_blocks(client, da.ones((100, 3), chunks=25), da.ones(100, chunks=25))  # doctest: +SKIP
    >>> len(rows.blocks), rows.n, rows.d  # doctest: +SKIP
    (4, 100, 3)
    """  # noqa: E501
    import dask.array as da

    X = da.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}")
    if any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() first")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X needs at least one sample and one feature; got shape {X.shape}")
    X = X.rechunk({1: -1})
    y = da.asarray(y)
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have {X.shape[0]} rows (as X); got shape {y.shape}")
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError(f"y must have at least one output column; got shape {y.shape}")
    _check_real("X", X)
    _check_real("y", y)
    y = y.rechunk({0: X.chunks[0]} | ({1: -1} if y.ndim == 2 else {}))
    xs = X.to_delayed().ravel().tolist()
    ys = y.to_delayed().ravel().tolist()
    w = None
    if sample_weight is None:
        ws: list[Any] = [None] * len(xs)
    else:
        if np.ndim(sample_weight) == 0:
            w = da.full(X.shape[0], float(sample_weight), chunks=(X.chunks[0],))
        else:
            w = da.asarray(sample_weight)
            _check_real("sample_weight", w)
            w = w.astype(np.float64)
        if w.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight must be a scalar or 1-D with {X.shape[0]} values; got {w.shape}"
            )
        ws = w.rechunk({0: X.chunks[0]}).to_delayed().ravel().tolist()
    # Empty row blocks (boolean filtering leaves them) are skipped: each task gets rows.
    filled = [i for i, rows_in in enumerate(X.chunks[0]) if rows_in > 0]
    xs, ys, ws = [xs[i] for i in filled], [ys[i] for i in filled], [ws[i] for i in filled]
    x_blocks, y_blocks = client.compute(xs), client.compute(ys)
    w_blocks = client.compute(ws) if sample_weight is not None else ws
    blocks = client.map(pack_block, x_blocks, y_blocks, w_blocks, pure=False)
    k = 1 if y.ndim == 1 else int(y.shape[1])
    return DaskRows(client, blocks, X, y, w, int(X.shape[0]), int(X.shape[1]), k)


def _check_real(name: str, array: Any) -> None:
    """Refuse, on the client, a dtype that the blocks could only be cast from with a loss."""
    if np.dtype(array.dtype).kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, int or float); got {array.dtype}")
