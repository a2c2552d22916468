"""fastlr.dask on a real two-process LocalCluster: same answers as in memory, data on the workers.

The cluster is small (2 workers, 1 thread each) and so are the data: these tests check behaviour
(coefficients, passes over the data, what reaches the client), never speed.
"""

import numpy as np
import pytest

distributed = pytest.importorskip(
    "distributed", reason="fastlr.dask needs the optional extra 'dask' (dask[array], distributed)"
)
da = pytest.importorskip("dask.array", reason="fastlr.dask needs dask[array]")

import fastlr  # noqa: E402
from fastlr import dask as fdask  # noqa: E402
from fastlr.training.accuracy import MAX_REFINEMENTS  # noqa: E402

N, D, CHUNK = 6000, 4, 1000  # 6 blocks


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # the scheduler serves HTTP even without a dashboard, by default on port 8787: two
        # pytest-xdist workers each starting a cluster collided there ("Port 8787 is already in
        # use", an error under filterwarnings=error); any free port instead
        scheduler_kwargs={"dashboard_address": ":0"},
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def data():
    X, y, _coef = fastlr.make_regression(N, D, noise=0.5, bias=3.0, random_state=0)
    X[:, 0] = 10 * X[:, 0] + 100  # a large mean and scale: standardization and Chan's merge work
    return X, y


def on_dask(client, *arrays, chunks=CHUNK):
    persisted = [da.from_array(a, chunks=(chunks, *a.shape[1:])).persist() for a in arrays]
    distributed.wait(persisted)
    return persisted


def relative(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


def test_gram_path_matches_the_in_memory_fit_and_reads_the_data_once(client, data):
    X, y = data
    Xd, yd = on_dask(client, X, y)
    expected = fastlr.LinearRegression(solver="gram").fit(X, y)
    with distributed.get_task_stream(client) as stream:
        model = fastlr.LinearRegression(solver="gram").fit(Xd, yd)
    assert model.solver_ == expected.solver_ == "gram"
    assert model.n_iter_ == expected.n_iter_
    assert relative(model.coef_, expected.coef_) < 1e-10
    assert abs(model.intercept_ - expected.intercept_) < 1e-10 * abs(expected.intercept_)
    # one task per block for the moments pass, then one fused pass over the blocks for each
    # correction of the refinement against the data (as in memory: fastlr.training.accuracy)
    visits = [str(t["key"]) for t in stream.data if str(t["key"]).find("_block_") >= 0]
    moments = [key for key in visits if "_block_moments" in key]
    assert len(moments) == N // CHUNK
    passes, rest = divmod(len(visits) - len(moments), N // CHUNK)
    assert rest == 0
    assert 1 <= passes <= MAX_REFINEMENTS
    assert model.block_tasks_ == len(visits)


def test_data_path_matches_the_in_memory_fit_epoch_for_epoch(client, data):
    X, y = data
    Xd, yd = on_dask(client, X, y)
    params = {"solver": "fused", "max_iter": 25, "tol": None}
    expected = fastlr.LinearRegression(**params).fit(X, y)
    model = fastlr.LinearRegression(**params).fit(Xd, yd)
    assert model.solver_ == "fused"
    assert model.n_iter_ == 25
    assert relative(model.coef_, expected.coef_) < 1e-10
    assert relative(model.loss_history_, expected.loss_history_) < 1e-10
    assert model.learning_rate_ == pytest.approx(expected.learning_rate_, rel=1e-10)


def test_weights_and_several_outputs_match_in_memory(client, data):
    X, y = data
    Y = np.column_stack([y, -2 * y + X[:, 1]])
    w = np.random.default_rng(1).uniform(0, 2, size=N)
    Xd, Yd, wd = on_dask(client, X, Y, w)
    for params in ({"solver": "gram"}, {"solver": "fused", "max_iter": 10, "tol": None}):
        expected = fastlr.LinearRegression(**params).fit(X, Y, sample_weight=w)
        model = fastlr.LinearRegression(**params).fit(Xd, Yd, sample_weight=wd)
        assert model.coef_.shape == (2, D)
        assert relative(model.coef_, expected.coef_) < 1e-10


def test_a_polynomial_is_refined_with_the_compensated_gradient_on_the_workers(client):
    # x to x⁵ (NIST's Wampler problems): the plain data gradient's rounding limits the
    # refinement, which goes on with the compensated one, a task per block
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 20.0, N)
    X = np.column_stack([x**p for p in range(1, 6)])
    y = 1.0 + X.sum(axis=1) + 1e-3 * rng.standard_normal(N)
    expected = fastlr.LinearRegression().fit(X, y)
    Xd, yd = on_dask(client, X, y)
    with distributed.get_task_stream(client) as stream:
        model = fastlr.LinearRegression().fit(Xd, yd)
    assert any("_block_compensated" in str(t["key"]) for t in stream.data)
    assert expected.certified_digits_ >= 12.0
    assert model.certified_digits_ >= 12.0
    assert relative(model.coef_, expected.coef_) < 1e-12
    assert abs(model.intercept_ - expected.intercept_) < 1e-12 * abs(expected.intercept_)


def test_uneven_blocks_and_float32(client, data):
    X, y = data
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    Xd, yd = on_dask(client, X32, y32, chunks=1700)  # 4 blocks, the last one short
    expected = fastlr.LinearRegression(solver="gram").fit(X32, y32)
    model = fastlr.LinearRegression(solver="gram").fit(Xd, yd)
    assert relative(model.coef_, expected.coef_) < 1e-10


@pytest.mark.parametrize("mode", ["sgd", "minibatch"])
def test_averaged_stochastic_fits_reach_least_squares(client, mode):
    X, y, _ = fastlr.make_regression(2 * N, D, noise=1.0, random_state=2)
    train, test = slice(0, N), slice(N, 2 * N)
    A = np.column_stack([X[train], np.ones(N)])
    solution = np.linalg.lstsq(A, y[train], rcond=None)[0]
    best = np.mean((X[test] @ solution[:-1] + solution[-1] - y[test]) ** 2)
    Xd, yd = on_dask(client, X[train], y[train])
    # (each block takes ~1000 / batch_size steps per epoch: averaging does not add them up)
    batch_size = 16 if mode == "minibatch" else 1
    model = fastlr.LinearRegression(
        mode=mode, batch_size=batch_size, max_iter=10, tol=None, random_state=0
    )
    model.fit(Xd, yd)
    assert model.n_iter_ == 10
    mse = np.mean((model.predict(X[test]) - y[test]) ** 2)
    assert mse <= 1.01 * best


def test_nothing_the_size_of_x_reaches_the_client(client, data, monkeypatch):
    from dask.sizeof import sizeof

    X, y = data
    Xd, yd = on_dask(client, X, y)
    received = []
    result, gather = distributed.Future.result, distributed.Client.gather

    def recorded_result(self, *args, **kwargs):
        value = result(self, *args, **kwargs)
        received.append(sizeof(value))
        return value

    def recorded_gather(self, *args, **kwargs):
        value = gather(self, *args, **kwargs)
        received.append(sizeof(value))
        return value

    def refuse(*args, **kwargs):
        raise AssertionError("X was computed on the client")

    monkeypatch.setattr(distributed.Future, "result", recorded_result)
    monkeypatch.setattr(distributed.Client, "gather", recorded_gather)
    monkeypatch.setattr(type(Xd), "__array__", refuse)
    monkeypatch.setattr(type(Xd), "compute", refuse)
    for params in ({"solver": "gram"}, {"solver": "fused"}, {"mode": "sgd"}, {"mode": "minibatch"}):
        fastlr.LinearRegression(**params, max_iter=3, tol=None).fit(Xd, yd)
    assert received, "the fits returned results through Future.result / Client.gather"
    assert max(received) < X.nbytes / 50  # (d-sized vectors, k x d and d x d statistics)


def test_a_nan_is_named_from_the_workers(client, data):
    X, y = data
    X = X.copy()
    X[4321, 2] = np.nan
    Xd, yd = on_dask(client, X, y)
    with pytest.raises(ValueError, match=r"X contains nan at index \(4321, 2\)"):
        fastlr.LinearRegression().fit(Xd, yd)


@pytest.mark.parametrize("mode", ["batch", "sgd"])
def test_values_too_large_to_square_are_named_from_the_workers(client, data, mode):
    # the overflow message's magnitudes come from a distributed max, as in memory
    X, y = data
    Xd, yd = on_dask(client, X, y * 1e200)
    with pytest.raises(fastlr.DivergenceError, match=r"max \|y\| = \d\.\d+e\+20[23].*rescale"):
        fastlr.LinearRegression(mode=mode, random_state=0).fit(Xd, yd)


def test_a_tiny_column_is_refused_from_the_workers(client, data):
    X, y = data
    Xd, yd = on_dask(client, X * [1.0, 1.0, 1e-200, 1.0], y)
    with pytest.raises(ValueError, match=r"X\[:, 2\] is not constant but its values are tiny"):
        fastlr.LinearRegression().fit(Xd, yd)


def test_unsupported_options_say_so(client, data):
    X, y = data
    Xd, yd = on_dask(client, X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        fastlr.LinearRegression(early_stopping=True).fit(Xd, yd)
    with pytest.raises(ValueError, match="rows"):
        fastlr.LinearRegression().fit(Xd, yd[:-1])


def test_merge_moments_is_chan_merge():
    from fastlr.engines.memory import FusedBackend
    from fastlr.kernels.records import Rows

    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(101, 3)) * [1, 10, 1e3] + 1e4, rng.normal(size=(101, 2))
    whole = FusedBackend(1).moments(Rows(X, Y, None), True)
    pieces = np.array_split(range(101), 5)
    parts = [FusedBackend(1).moments(Rows(X[r], Y[r], None), True) for r in pieces]
    merged = parts[0]
    for part in parts[1:]:
        merged = fdask.merge_moments(merged, part)
    np.testing.assert_allclose(merged.xx, whole.xx, rtol=1e-10)
    np.testing.assert_allclose(merged.xy, whole.xy, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(merged.x_mean, whole.x_mean, rtol=1e-13)
    np.testing.assert_allclose(merged.x_var, whole.x_var, rtol=1e-10)


def test_running_out_of_epochs_warns_at_the_callers_line(client, data):
    X, y = data
    Xd, yd = on_dask(client, X, y)
    with pytest.warns(fastlr.ConvergenceWarning, match="max_iter=2") as record:
        fastlr.LinearRegression(solver="fused", max_iter=2).fit(Xd, yd)
    assert record[0].filename == __file__
    with pytest.warns(fastlr.ConvergenceWarning) as record:
        fdask.fit(fastlr.LinearRegression(solver="fused", max_iter=2), Xd, yd, client=client)
    assert record[0].filename == __file__


@pytest.mark.parametrize("outputs", [1, 2])
def test_predict_of_a_dask_array_is_lazy_and_equals_in_memory(client, data, outputs):
    X, y = data
    Y = y if outputs == 1 else np.column_stack([y, 2 * y])
    Xd, Yd = on_dask(client, X, Y)
    model = fastlr.LinearRegression().fit(Xd, Yd)
    model.callback = lambda info: None  # not sent to the workers
    predicted = model.predict(Xd)
    assert isinstance(predicted, da.Array)
    assert predicted.shape == Y.shape
    assert predicted.dtype == np.float64
    np.testing.assert_array_equal(predicted.compute(), model.predict(X))
    as_float32 = model.predict(Xd.astype(np.float32))
    assert as_float32.dtype == np.float32 == as_float32.compute().dtype
    with pytest.raises(ValueError, match="X has 3 features, but LinearRegression is expecting 4"):
        model.predict(Xd[:, :3])


def test_a_fit_that_fails_on_a_worker_leaves_the_users_arrays_alive(client, data):
    X, y = data
    Xd, yd = on_dask(client, X, y)
    with pytest.raises(ValueError, match="at least one output column"):
        fastlr.LinearRegression().fit(Xd, da.zeros((N, 0), chunks=CHUNK))
    bad = Xd.map_blocks(_fails_on_second_block, dtype=Xd.dtype)
    with pytest.raises(RuntimeError, match="a worker failed"):
        fastlr.LinearRegression().fit(bad, yd)
    assert float(Xd.sum().compute()) == pytest.approx(float(X.sum()))
    model = fastlr.LinearRegression().fit(Xd, yd)  # the persisted data are still there
    assert relative(model.coef_, fastlr.LinearRegression().fit(X, y).coef_) < 1e-10


def _fails_on_second_block(block, block_info=None):
    if block_info[0]["chunk-location"][0] == 1:
        raise RuntimeError("a worker failed")
    return block


def test_non_real_and_empty_inputs_are_refused_on_the_client(client, data):
    X, y = data
    Xd, yd = on_dask(client, X, y)
    with pytest.raises(TypeError, match=r"y must hold real numbers .*complex128"):
        fastlr.LinearRegression().fit(Xd, yd + 3j)
    with pytest.raises(TypeError, match=r"sample_weight must hold real numbers"):
        fastlr.LinearRegression().fit(Xd, yd, sample_weight=np.ones(N) + 1j)
    with pytest.raises(TypeError, match=r"y must hold real numbers .*<U"):
        fastlr.LinearRegression().fit(Xd, da.from_array(y.astype(str), chunks=CHUNK))


@pytest.mark.parametrize(
    ("params", "outputs"),
    [({}, 2), ({"solver": "fused"}, 2), ({"mode": "sgd", "standardize": False}, 1)],
)
def test_nan_in_y_is_named_with_its_index(client, data, params, outputs):
    X, y = data
    Y = np.column_stack([y] * outputs) if outputs > 1 else y.copy()
    Y[2345, ...] = np.nan
    Xd, Yd = on_dask(client, X, Y)
    where = r"\(2345, 0\)" if outputs > 1 else "2345"
    with pytest.raises(ValueError, match=rf"y contains nan at index {where}"):
        fastlr.LinearRegression(**params, max_iter=3, tol=None).fit(Xd, Yd)


def test_empty_blocks_after_filtering_are_skipped(client, data):
    X, y = data
    keep = np.ones(N, dtype=bool)
    keep[CHUNK : 2 * CHUNK] = False
    Xd, yd, kd = on_dask(client, X, y, keep)
    Xm, ym = Xd[kd], yd[kd]
    Xm.compute_chunk_sizes()
    ym.compute_chunk_sizes()
    assert 0 in Xm.chunks[0]
    model = fastlr.LinearRegression().fit(Xm, ym)
    expected = fastlr.LinearRegression().fit(X[keep], y[keep])
    assert relative(model.coef_, expected.coef_) < 1e-10


def test_a_block_smaller_than_batch_size_is_a_warning_not_a_silent_change(client, data):
    X, y = data
    Xd, yd = on_dask(client, X[: N - CHUNK + 1], y[: N - CHUNK + 1])  # last block: 1 row
    with pytest.warns(UserWarning, match=r"batch_size=256 is larger than the smallest row block"):
        fastlr.LinearRegression(mode="minibatch", batch_size=256, max_iter=2, tol=None).fit(Xd, yd)


def test_predict_names_a_nan_by_its_index_in_x_and_score_takes_unknown_chunks(client, data):
    X, y = data
    model = fastlr.LinearRegression().fit(X, y)
    bad = X.copy()
    bad[2345, 1] = np.nan
    (bad_d,) = on_dask(client, bad)
    with pytest.raises(ValueError, match=r"X contains nan at index \(2345, 1\)"):
        model.predict(bad_d).compute()
    Xd, yd, kd = on_dask(client, X, y, X[:, 1] > 0)
    assert model.score(Xd[kd], yd[kd]) == pytest.approx(model.score(X[X[:, 1] > 0], y[X[:, 1] > 0]))
