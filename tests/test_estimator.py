"""fastlr.LinearRegression against its NumPy twin, against least squares, and across modes."""

import numba
import numpy as np
import pytest

import fastlr
from fastlr import reference
from fastlr.engines.memory import PARALLEL_MIN_ELEMENTS
from fastlr.training import run

LEARNING_RATES = {"batch": 0.5, "minibatch": 0.05, "sgd": 0.01}


def data(n=500, d=4, dtype=np.float64, seed=0, noise=0.5):
    X, y, coef = fastlr.make_regression(n, d, noise=noise, bias=2.0, random_state=seed, dtype=dtype)
    return X, y, coef


@pytest.mark.parametrize("mode", ["batch", "minibatch", "sgd"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fit_matches_reference_estimator(mode, dtype, shuffle, fit_intercept):
    X, y, _ = data(n=333, d=5, dtype=dtype)
    params = {
        "mode": mode,
        "learning_rate": LEARNING_RATES[mode],
        "max_iter": 6,
        "tol": None,
        "batch_size": 32,
        "shuffle": shuffle,
        "random_state": 3,
        "fit_intercept": fit_intercept,
    }
    fast = fastlr.LinearRegression(**params).fit(X, y)
    twin = reference.LinearRegression(**params).fit(X, y)
    np.testing.assert_allclose(fast.coef_, twin.coef_, rtol=1e-10, atol=1e-10)
    assert fast.intercept_ == pytest.approx(twin.intercept_, rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(fast.loss_history_, twin.loss_history_, rtol=1e-10)
    assert fast.n_iter_ == twin.n_iter_ == 6
    if not fit_intercept:
        assert fast.intercept_ == 0.0
    np.testing.assert_allclose(
        fast.predict(X), twin.predict(X), rtol=1e-5 if dtype == np.float32 else 1e-10
    )


def test_minibatch_with_batch_size_n_equals_batch():
    X, y, _ = data(n=700)
    batch = fastlr.LinearRegression(learning_rate=0.3, max_iter=20, tol=None, solver="fused")
    batch.fit(X, y)
    mini = fastlr.LinearRegression(
        mode="minibatch",
        batch_size=700,
        shuffle=False,
        learning_rate=0.3,
        max_iter=20,
        tol=None,
        average=False,
    ).fit(X, y)
    np.testing.assert_allclose(mini.coef_, batch.coef_, rtol=1e-10)
    assert mini.intercept_ == pytest.approx(batch.intercept_, rel=1e-10)
    np.testing.assert_allclose(mini.loss_history_, batch.loss_history_, rtol=1e-10)


def test_minibatch_with_batch_size_one_unshuffled_equals_sgd():
    X, y, _ = data(n=400)
    params = {"learning_rate": 0.01, "max_iter": 3, "tol": None, "shuffle": False, "average": False}
    sgd = fastlr.LinearRegression(mode="sgd", **params).fit(X, y)
    mini = fastlr.LinearRegression(mode="minibatch", batch_size=1, **params).fit(X, y)
    np.testing.assert_allclose(mini.coef_, sgd.coef_, rtol=1e-12)
    assert mini.intercept_ == pytest.approx(sgd.intercept_, rel=1e-12)
    np.testing.assert_allclose(mini.loss_history_, sgd.loss_history_, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_converges_to_least_squares(dtype):
    X, y, _ = data(n=5000, d=8, dtype=dtype, noise=3.0)
    model = fastlr.LinearRegression(learning_rate=0.5, max_iter=500, tol=None).fit(X, y)
    design = np.column_stack([X.astype(np.float64), np.ones(len(y))])
    solution = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(model.coef_, solution[:-1], rtol=1e-9, atol=1e-9)
    assert model.intercept_ == pytest.approx(solution[-1], rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("mode", ["minibatch", "sgd"])
def test_stochastic_modes_reach_least_squares_neighbourhood(mode):
    X, y, coef = data(n=20000, d=6, noise=0.1)
    model = fastlr.LinearRegression(
        mode=mode,
        learning_rate=LEARNING_RATES[mode] / 5,
        batch_size=16,
        max_iter=5,
        tol=None,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=0, atol=0.05)
    assert model.score(X, y) > 0.9999


def test_one_two_and_four_threads_give_identical_batch_results():
    n = 2 * PARALLEL_MIN_ELEMENTS // 5
    X, y, _ = data(n=n, d=5)
    before = numba.get_num_threads()
    fits = [
        fastlr.LinearRegression(learning_rate=0.5, max_iter=8, tol=None, n_jobs=k).fit(X, y)
        for k in (1, 2, 4)
    ]
    assert numba.get_num_threads() == before  # n_jobs is restored after the call
    for other in fits[1:]:
        np.testing.assert_array_equal(other.coef_, fits[0].coef_)
        assert other.intercept_ == fits[0].intercept_
        np.testing.assert_array_equal(other.loss_history_, fits[0].loss_history_)


def test_float32_input_is_summed_in_float64():
    # Residuals around 1e3 over 200,000 rows: a float32 running sum loses about four digits.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200_000, 3)).astype(np.float32)
    y = (1000.0 + rng.standard_normal(200_000)).astype(np.float32)
    coef = np.array([0.5, -0.25, 0.125])
    loss, grad, grad_b = fastlr.loss_and_gradient(X, y, coef, 0.0)
    r = X.astype(np.float64) @ coef - y.astype(np.float64)
    exact = 0.5 * np.sum(r * r) / r.size
    naive32 = 0.5 * float(np.cumsum((r * r).astype(np.float32), dtype=np.float32)[-1]) / r.size
    assert abs(naive32 - exact) / exact > 1e-5  # the test can tell float32 from float64 sums
    assert loss == pytest.approx(exact, rel=1e-12)
    assert grad_b == pytest.approx(r.mean(), rel=1e-12)
    np.testing.assert_allclose(grad, X.astype(np.float64).T @ r / r.size, rtol=1e-10)


def test_tol_none_runs_every_epoch_and_tol_stops_early():
    # The loss rule of the data path (the sufficient-statistics path certifies instead).
    X, y, _ = data()
    params = {"learning_rate": 0.05, "max_iter": 300, "n_iter_no_change": 1, "solver": "fused"}
    full = fastlr.LinearRegression(tol=None, **params).fit(X, y)
    early = fastlr.LinearRegression(tol=1e-6, **params).fit(X, y)
    assert full.n_iter_ == 300 == len(full.loss_history_)
    assert 2 < early.n_iter_ < 300 == early.max_iter
    assert len(early.loss_history_) == early.n_iter_
    last, previous = early.loss_history_[-1], early.loss_history_[-2]
    assert previous - last <= 1e-6 * previous
    assert np.all(np.diff(early.loss_history_[:-1]) / early.loss_history_[:-2] < -1e-6)


def test_column_target_gives_column_outputs():
    X, y, _ = data()
    model = fastlr.LinearRegression(learning_rate=0.5, max_iter=50, tol=None).fit(
        X, y.reshape(-1, 1)
    )
    flat = fastlr.LinearRegression(learning_rate=0.5, max_iter=50, tol=None).fit(X, y)
    assert model.coef_.shape == (1, 4)
    assert model.intercept_.shape == (1,)
    assert model.predict(X).shape == (len(y), 1)
    np.testing.assert_array_equal(model.coef_[0], flat.coef_)


def test_fortran_ordered_and_integer_input_give_the_same_model():
    X, y, _ = data()
    params = {"learning_rate": 0.5, "max_iter": 30, "tol": None}
    expected = fastlr.LinearRegression(**params).fit(X, y)
    fortran = fastlr.LinearRegression(**params).fit(np.asfortranarray(X), y)
    np.testing.assert_array_equal(fortran.coef_, expected.coef_)
    X_int = np.round(X * 10).astype(np.int64)
    params["learning_rate"] = 0.005
    as_int = fastlr.LinearRegression(**params).fit(X_int, y)
    as_float = fastlr.LinearRegression(**params).fit(X_int.astype(float), y)
    np.testing.assert_array_equal(as_int.coef_, as_float.coef_)


def test_fit_leaves_the_callers_arrays_untouched():
    X, y, _ = data(dtype=np.float32)
    X_before, y_before = X.copy(), y.copy()
    for mode in ("batch", "minibatch", "sgd"):
        fastlr.LinearRegression(mode=mode, learning_rate=0.01, max_iter=3, tol=None).fit(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    assert X.dtype == np.float32
    assert y.dtype == np.float32


def test_verbose_prints_progress_lines(capsys):
    X, y, _ = data()
    fastlr.LinearRegression(
        learning_rate=0.5, max_iter=50, tol=None, verbose=1, solver="fused"
    ).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("epoch  1/50  loss ")
    assert lines[-1].startswith("epoch 50/50")
    assert 5 <= len(lines) <= 12
    assert all("step" in line and "elapsed" in line for line in lines)
    fastlr.LinearRegression(learning_rate=0.5, max_iter=7, tol=None, verbose=2).fit(X, y)
    assert len(capsys.readouterr().out.strip().splitlines()) == 7
    fastlr.LinearRegression(learning_rate=0.5, max_iter=7, tol=None).fit(X, y)
    assert capsys.readouterr().out == ""


def test_verbose_on_the_sufficient_statistics_path_reports_between_compiled_blocks(capsys):
    X, y, _ = data()
    model = fastlr.LinearRegression(verbose=1).fit(X, y)  # max_iter=None: no total known
    lines = capsys.readouterr().out.strip().splitlines()
    assert model.solver_ == "gram"
    assert lines == [lines[0]]
    assert lines[0].startswith(f"epoch {model.n_iter_:>4}  loss ")


def test_verbose_on_a_terminal_draws_one_bar_line(monkeypatch):
    import io

    from fastlr import _progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(_progress.sys, "stderr", screen)
    X, y, _ = data()
    fastlr.LinearRegression(solver="fused", max_iter=40, tol=None, verbose=1).fit(X, y)
    text = screen.getvalue()
    assert text.endswith("\n")
    assert text.count("\n") == 1
    assert "[" + "#" * _progress.BAR_WIDTH + "] 40/40" in text.split("\r")[-1]


def test_params_protocol_and_repr():
    model = fastlr.LinearRegression(mode="sgd", learning_rate=0.1)
    params = model.get_params()
    assert params["mode"] == "sgd"
    assert params["learning_rate"] == 0.1
    assert params["tol"] == 1e-4
    assert model.set_params(max_iter=5) is model
    assert model.max_iter == 5
    assert repr(model) == "LinearRegression(mode='sgd', learning_rate=0.1, max_iter=5)"
    with pytest.raises(ValueError, match="invalid parameter 'beta'"):
        model.set_params(beta=1.0)
    clone = type(model)(**model.get_params())
    assert clone.get_params() == model.get_params()


def test_running_out_of_epochs_before_tol_warns():
    X, y, _ = data()
    with pytest.warns(fastlr.ConvergenceWarning, match="max_iter=3 .* tol=0.0001"):
        model = fastlr.LinearRegression(learning_rate=0.01, max_iter=3).fit(X, y)
    assert model.n_iter_ == 3


def test_running_out_of_epochs_warning_points_at_the_callers_line():
    X, y, _ = data()
    with pytest.warns(fastlr.ConvergenceWarning) as record:
        fastlr.LinearRegression(learning_rate=0.01, max_iter=3).fit(X, y)
    assert record[0].filename == __file__


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["batch", "minibatch", "sgd"])
def test_fit_reads_c_contiguous_float_input_in_place(monkeypatch, dtype, mode):
    X, y, _ = data(dtype=dtype)
    seen = {}
    original = run.train

    def spy(backend, rows, *args, **kwargs):
        seen["X"], seen["y"] = rows.X, rows.Y
        return original(backend, rows, *args, **kwargs)

    monkeypatch.setattr(run, "train", spy)
    fastlr.LinearRegression(mode=mode, learning_rate=0.01, max_iter=2, tol=None).fit(X, y)
    assert np.shares_memory(seen["X"], X)
    assert np.shares_memory(seen["y"], y)
    assert seen["X"].dtype == dtype


def test_read_only_input_and_a_single_sample_fit():
    X, y, _ = data(n=50)
    X.setflags(write=False)
    y.setflags(write=False)
    for mode in ("batch", "minibatch", "sgd"):
        params = {"mode": mode, "learning_rate": 0.05, "max_iter": 3, "tol": None}
        model = fastlr.LinearRegression(random_state=0, **params)
        twin = reference.LinearRegression(random_state=0, **params)
        np.testing.assert_allclose(model.fit(X, y).coef_, twin.fit(X, y).coef_, rtol=1e-10)
    one = fastlr.LinearRegression(learning_rate=0.1, max_iter=200, tol=None).fit([[2.0]], [3.0])
    assert one.predict([[2.0]])[0] == pytest.approx(3.0)


def hand_written_epochs(X, y, mode, learning_rate, epochs, batch_size, seed):
    """Mini-batch and sgd written out independently of fastlr's loop, shuffling and kernels."""
    rng = np.random.default_rng(seed)  # each epoch's Feistel keys, drawn as RowOrder documents
    half_bits = ((len(y) - 1).bit_length() + 1) // 2
    w, b = np.zeros(X.shape[1]), 0.0
    size = 1 if mode == "sgd" else batch_size
    for _ in range(epochs):
        keys = rng.integers(0, 2**64, size=4, dtype=np.uint64)
        order = reference.row_order(len(y), np.array([half_bits, *keys], dtype=np.uint64))
        for start in range(0, len(y), size):
            rows = order[start : start + size]
            r = X[rows] @ w + b - y[rows]
            w = w - learning_rate * (X[rows].T @ r) / len(rows)
            b = b - learning_rate * r.mean()
    return w, b


@pytest.mark.parametrize("mode", ["minibatch", "sgd"])
def test_stochastic_modes_match_a_hand_written_loop(mode):
    X, y, _ = data(n=301, d=4)
    model = fastlr.LinearRegression(
        mode=mode,
        learning_rate=0.02,
        max_iter=4,
        tol=None,
        batch_size=16,
        random_state=11,
        standardize=False,
        average=False,
    ).fit(X, y)
    w, b = hand_written_epochs(X, y, mode, 0.02, 4, 16, seed=11)
    np.testing.assert_allclose(model.coef_, w, rtol=1e-10)
    assert model.intercept_ == pytest.approx(b, rel=1e-10)
