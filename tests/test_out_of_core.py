"""Data bigger than memory: generated straight to .npy files, fitted block by block from them."""

import dataclasses
import itertools
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastlr
from fastlr import _pages, cli, datasets, kernels, reference
from fastlr._settings import resolve_settings
from fastlr.engines import memory, streaming
from fastlr.kernels import generate as _generate
from fastlr.kernels.records import Linear, Rows, Scaling
from fastlr.training import run as _training
from fastlr.training.loop import RowOrder


# --------------------------------------------------------------------------- files on disk
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_rows", [1, 7, 1000, 5000, None])
def test_files_are_the_bytes_numpy_saves_whatever_the_chunk_size(tmp_path, dtype, chunk_rows):
    X, y, coef = fastlr.make_regression(1001, 5, noise=0.5, bias=2.0, random_state=4, dtype=dtype)
    np.save(tmp_path / "saved.npy", X)
    np.save(tmp_path / "saved.y.npy", y)
    x_path, y_path, file_coef = fastlr.make_regression(
        1001,
        5,
        noise=0.5,
        bias=2.0,
        random_state=4,
        dtype=dtype,
        out=tmp_path / "data.npy",
        chunk_rows=chunk_rows,
    )
    assert (x_path, y_path) == (str(tmp_path / "data.npy"), str(tmp_path / "data.y.npy"))
    assert (tmp_path / "data.npy").read_bytes() == (tmp_path / "saved.npy").read_bytes()
    assert (tmp_path / "data.y.npy").read_bytes() == (tmp_path / "saved.y.npy").read_bytes()
    np.testing.assert_array_equal(file_coef, coef)
    assert sorted(os.listdir(tmp_path)) == ["data.npy", "data.y.npy", "saved.npy", "saved.y.npy"]


def test_two_chunk_sizes_give_byte_identical_files(tmp_path):
    for name, rows in (("a", 3), ("b", 64)):
        fastlr.make_regression(
            500, 9, noise=1.0, random_state=1, out=tmp_path / name, chunk_rows=rows
        )
    assert (tmp_path / "a.npy").read_bytes() == (tmp_path / "b.npy").read_bytes()
    assert (tmp_path / "a.y.npy").read_bytes() == (tmp_path / "b.y.npy").read_bytes()


@pytest.mark.parametrize("first_row", [0, 1, 17, 999])
def test_a_block_of_rows_is_the_same_rows_of_the_reference(first_row):
    n, d, rows = 1200, 5, 150
    X_ref, y_ref, _ = reference.make_regression(n, d, noise=1.5, bias=1.0, random_state=8)
    spec = fastlr._random.regression_spec(n, d, 1.5, 1.0, 8, np.float64)
    rows = min(rows, n - first_row)
    X, y = np.empty((rows, d)), np.empty(rows)
    _generate.fill_regression(
        X, y, spec.coef, spec.bias, spec.noise, spec.key_x, spec.key_noise, first_row
    )
    np.testing.assert_array_equal(X, X_ref[first_row : first_row + rows])  # bit for bit
    np.testing.assert_allclose(y, y_ref[first_row : first_row + rows], rtol=1e-12, atol=1e-9)


@given(
    n=st.integers(1, 700),
    d=st.integers(1, 23),
    cuts=st.lists(st.integers(1, 699), max_size=6),
    dtype=st.sampled_from([np.float32, np.float64]),
)
@settings(max_examples=25)
def test_generated_blocks_of_any_split_give_the_same_bytes(n, d, cuts, dtype):
    spec = fastlr._random.regression_spec(n, d, 0.5, -1.0, 11, dtype)
    arguments = (spec.coef, spec.bias, spec.noise, spec.key_x, spec.key_noise)
    whole_X, whole_y = np.empty((n, d), dtype), np.empty(n, dtype)
    _generate.fill_regression(whole_X, whole_y, *arguments, 0)
    X, y = np.empty((n, d), dtype), np.empty(n, dtype)
    bounds = [0, *sorted({cut for cut in cuts if cut < n}), n]
    for start, stop in itertools.pairwise(bounds):
        block_X, block_y = np.empty((stop - start, d), dtype), np.empty(stop - start, dtype)
        _generate.fill_regression(block_X, block_y, *arguments, start)
        X[start:stop], y[start:stop] = block_X, block_y
    assert X.tobytes() == whole_X.tobytes()
    assert y.tobytes() == whole_y.tobytes()


def test_paths_follow_numpy_save(tmp_path):
    assert datasets.regression_paths(tmp_path / "run") == (
        str(tmp_path / "run.npy"),
        str(tmp_path / "run.y.npy"),
    )
    with pytest.raises(TypeError, match="out must be a str"):
        datasets.regression_paths(b"bytes.npy")  # type: ignore[arg-type]


def test_a_missing_folder_is_named_by_the_users_path(tmp_path):
    target = tmp_path / "missing" / "data.npy"
    with pytest.raises(FileNotFoundError) as error:
        fastlr.make_regression(10, 2, random_state=0, out=target)
    assert error.value.filename == str(target)  # not the temporary file's name
    assert not (tmp_path / "missing").exists()


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    calls = []

    def failing(spec, X, y, first_row):
        calls.append(first_row)
        if len(calls) == 2:
            raise MemoryError("simulated")
        X[...] = 0.0
        y[...] = 0.0

    monkeypatch.setattr(datasets, "_fill", failing)
    with pytest.raises(MemoryError, match="simulated"):
        fastlr.make_regression(100, 3, random_state=0, out=tmp_path / "data.npy", chunk_rows=10)
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        fastlr.make_regression(10, 3, random_state=0, out=tmp_path / "missing" / "data.npy")


def test_progress_lines_when_not_a_terminal(tmp_path, capsys):
    fastlr.make_regression(
        2000, 4, random_state=0, out=tmp_path / "data.npy", chunk_rows=100, verbose=1
    )
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 10
    assert lines[-1].startswith("data.npy: 0.1/0.1 MiB (100%)")


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="chunk_rows must be an int >= 1"):
        fastlr.make_regression(10, 2, out=tmp_path / "x.npy", chunk_rows=0)
    with pytest.raises(ValueError, match="verbose must be an int >= 0"):
        fastlr.make_regression(10, 2, out=tmp_path / "x.npy", verbose=-1)


def test_generate_command_writes_the_files_and_says_how_to_train(tmp_path, capsys):
    out = tmp_path / "data.npy"
    status = cli.main(
        ["generate", str(out), "--n-samples", "3000", "--n-features", "4", "--seed", "2", "--quiet"]
    )
    printed = capsys.readouterr()
    assert status == 0
    assert printed.err == ""
    assert f"to {out} and y to {tmp_path / 'data.y.npy'}" in printed.out
    assert f"fastlr train {out} --target {tmp_path / 'data.y.npy'}" in printed.out
    X, y, _ = fastlr.make_regression(3000, 4, noise=1.0, bias=3.0, random_state=2)
    np.testing.assert_array_equal(np.load(out), X)
    np.testing.assert_array_equal(np.load(tmp_path / "data.y.npy"), y)


# --------------------------------------------------------------------------- out-of-core fit
N, D = 20_000, 5  # chunks of ~1,050 rows (42 KB): blocks of 2 chunks at BLOCK
#: Block budget of most tests: 2 in-memory chunks, so a file of N rows is ~10 blocks.
BLOCK = 100_000


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(streaming, "BLOCK_BYTES", BLOCK)
    monkeypatch.setattr(memory, "GRAM_BLOCK_ELEMENTS", 6_000)  # Gram blocks: 744 rows at d=5


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    paths = {}
    for name, dtype in (("f64", np.float64), ("f32", np.float32)):
        paths[name] = fastlr.make_regression(
            N, D, noise=1.0, bias=2.0, random_state=5, dtype=dtype, out=folder / f"{name}.npy"
        )[:2]
    Y2 = np.column_stack([np.load(paths["f64"][1]), np.arange(N) % 7])
    np.save(folder / "Y2.npy", Y2)
    paths["Y2"] = str(folder / "Y2.npy")
    return paths


def _fit(params, X, y, **fit_kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastlr.ConvergenceWarning)
        return fastlr.LinearRegression(**params).fit(X, y, **fit_kwargs)


def _same_fit(a, b):
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)
    assert (a.solver_, a.learning_rate_, a.n_iter_) == (b.solver_, b.learning_rate_, b.n_iter_)


BATCH = [
    {},  # the Gram path, automatic everything
    {"solver": "fused", "max_iter": 40},
    {"solver": "fused", "max_iter": 15, "standardize": False},
    {"solver": "fused", "max_iter": 15, "fit_intercept": False, "penalty": "l2", "alpha": 0.1},
    {"solver": "fused", "max_iter": 15, "n_jobs": 1},
]


@pytest.mark.parametrize("params", BATCH)
@pytest.mark.parametrize("kind", ["f64", "f32"])
def test_batch_fit_of_a_file_is_the_in_memory_fit_bit_for_bit(small_blocks, files, params, kind):
    x_path, y_path = files[kind]
    in_memory = _fit(params, np.load(x_path), np.load(y_path))
    _same_fit(_fit(params, x_path, y_path), in_memory)
    mapped = _fit(params, np.load(x_path, mmap_mode="r"), np.load(y_path, mmap_mode="r"))
    _same_fit(mapped, in_memory)


def test_weights_and_several_outputs_out_of_core(small_blocks, files):
    x_path, _ = files["f64"]
    weights = 1.0 + np.arange(N) % 3
    for params in ({}, {"solver": "fused", "max_iter": 10}):
        in_memory = _fit(params, np.load(x_path), np.load(files["Y2"]), sample_weight=weights)
        out_of_core = _fit(params, x_path, files["Y2"], sample_weight=weights)
        _same_fit(out_of_core, in_memory)
        assert out_of_core.coef_.shape == (2, D)


@pytest.mark.parametrize("mode", ["sgd", "minibatch"])
def test_stochastic_modes_without_shuffle_are_the_in_memory_fit(
    small_blocks, files, monkeypatch, mode
):
    x_path, y_path = files["f64"]
    params = {"mode": mode, "shuffle": False, "max_iter": 3, "batch_size": 64}
    X, y = np.load(x_path), np.load(y_path)
    # The training loop's calls (400 rows) fit in a block: the same calls, the same bits.
    monkeypatch.setattr(_training, "SLICE_ELEMENTS", 2_000)
    _same_fit(_fit(params, x_path, y_path), _fit(params, X, y))
    # Calls longer than a block are cut into blocks of whole batches: the same coefficients,
    # the loss summed in other groups. (Chunks larger than blocks change the scaling and the
    # step by rounding: both fixed here.)
    monkeypatch.setattr(_training, "SLICE_ELEMENTS", 1 << 21)
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 10_000)
    params = {**params, "standardize": False, "learning_rate": 0.01}
    cut, whole = _fit(params, x_path, y_path), _fit(params, X, y)
    np.testing.assert_array_equal(cut.coef_, whole.coef_)
    np.testing.assert_allclose(cut.loss_history_, whole.loss_history_, rtol=1e-13)


def test_chunks_larger_than_a_block_are_summed_in_pieces(files, monkeypatch):
    monkeypatch.setattr(streaming, "BLOCK_BYTES", 9_000)  # 225 rows: a chunk is ~5 blocks
    x_path, y_path = files["f64"]
    params = {"solver": "fused", "max_iter": 30}
    pieces, whole = _fit(params, x_path, y_path), _fit(params, np.load(x_path), np.load(y_path))
    np.testing.assert_allclose(pieces.coef_, whole.coef_, rtol=1e-12)
    np.testing.assert_allclose(pieces.loss_history_, whole.loss_history_, rtol=1e-12)


@pytest.mark.parametrize("mode", ["sgd", "minibatch"])
def test_shuffle_out_of_core_is_reproducible_and_converges(small_blocks, files, mode):
    x_path, y_path = files["f64"]
    X, y = np.load(x_path), np.load(y_path)
    params = {"mode": mode, "max_iter": 4, "random_state": 3, "batch_size": 32}
    first, second = _fit(params, x_path, y_path), _fit(params, x_path, y_path)
    _same_fit(first, second)
    other = _fit({**params, "random_state": 4}, x_path, y_path)
    assert not np.array_equal(first.coef_, other.coef_)
    in_memory = _fit(params, X, y)
    assert not np.array_equal(first.coef_, in_memory.coef_)  # another order of the rows...
    np.testing.assert_allclose(first.coef_, in_memory.coef_, rtol=1e-2, atol=1e-2)  # ...a fit
    assert first.score(X, y) > 0.9999


def test_a_file_within_one_block_is_shuffled_as_in_memory(files):
    x_path, y_path = files["f64"]
    params = {"mode": "minibatch", "max_iter": 2, "random_state": 1}
    _same_fit(_fit(params, x_path, y_path), _fit(params, np.load(x_path), np.load(y_path)))


@pytest.mark.parametrize(("n", "rows"), [(1000, 100), (1003, 100), (64, 7), (5, 5), (6, 5)])
def test_each_shuffled_epoch_visits_every_row_once_block_by_block(n, rows):
    order = RowOrder(n, True, 0).next()
    plan = streaming.EpochPlan.draw(order, n, rows)
    visited = []
    for slot, first, last in plan.segments(0, n):
        start, stop = plan.block_rows(slot, n)
        inside = np.empty(stop - start, dtype=np.uint64)
        kernels.epoch_row_order(stop - start, plan.keys[slot], inside)
        visited.append(start + inside[first:last].astype(np.int64))
    visited = np.concatenate(visited)
    np.testing.assert_array_equal(np.sort(visited), np.arange(n))
    if n % rows:
        assert int(plan.blocks[-1]) == n // rows  # the shorter block last: batches stay whole
    if n >= 1000:
        assert not np.array_equal(visited, np.arange(n))
    # Positions split anywhere give the same segments.
    parts = [s for lo in range(0, n, 3) for s in plan.segments(lo, min(lo + 3, n))]
    assert sum(last - first for _, first, last in parts) == n


def test_hogwild_streams_block_by_block(small_blocks, files):
    x_path, y_path = files["f64"]
    model = _fit({"mode": "sgd", "hogwild": True, "n_jobs": 2, "max_iter": 3}, x_path, y_path)
    assert model.score(np.load(x_path), np.load(y_path)) > 0.9999


def test_partial_fit_on_memmap_chunks_is_partial_fit_on_arrays(small_blocks, files, monkeypatch):
    monkeypatch.setattr(_training, "SLICE_ELEMENTS", 2_000)  # sgd calls of 400 rows, in a block
    x_path, y_path = files["f64"]
    X, y = np.load(x_path), np.load(y_path)
    for mode in ("batch", "sgd"):
        streamed = fastlr.LinearRegression(mode=mode, shuffle=False)
        for X_chunk, y_chunk in fastlr.iter_chunks(x_path, chunk_rows=6_000, target=y_path):
            assert isinstance(X_chunk, np.memmap)
            streamed.partial_fit(X_chunk, y_chunk)
        in_memory = fastlr.LinearRegression(mode=mode, shuffle=False)
        for start in range(0, N, 6_000):
            in_memory.partial_fit(X[start : start + 6_000], y[start : start + 6_000])
        _same_fit(streamed, in_memory)
        assert streamed.t_ == 4


def test_predict_and_score_read_files_in_blocks(small_blocks, files):
    x_path, y_path = files["f32"]
    X, y = np.load(x_path), np.load(y_path)
    model = _fit({"solver": "fused", "max_iter": 20}, X, y)
    prediction = model.predict(x_path)
    assert prediction.dtype == np.float32
    np.testing.assert_array_equal(prediction, model.predict(X))
    assert model.score(x_path, y_path) == model.score(X, y)


@settings(max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.one_of(st.integers(1, 40), st.integers(1021, 12_007)),
    d=st.sampled_from([1, 3, 9]),  # rows unrolled for their width, and the generic loop
    k=st.sampled_from([1, 2, 5]),  # one output, the one-output rest, a group of four
    dtype=st.sampled_from([np.float32, np.float64]),
    weighted=st.booleans(),
    block_rows=st.integers(1, 6_000),
)
def test_block_passes_are_the_in_memory_passes(seed, n, d, k, dtype, weighted, block_rows):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    Y = rng.standard_normal((n, k)).astype(dtype)
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    W = float(n if w is None else w.sum())
    coef, intercept = rng.standard_normal((k, d)), rng.standard_normal(k)
    fused = memory.FusedBackend(2)
    streamed = streaming.StreamingBackend(2, block_bytes=block_rows * d * X.itemsize)
    chunks = kernels.chunk_starts(n)
    exact = int(np.diff(chunks).max()) <= block_rows  # blocks of whole chunks: the same bits

    def same(a, b):
        if exact:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)

    grads = np.empty((k, d + 1)), np.empty((k, d + 1))
    rows, model = Rows(X, Y, w), Linear(coef, intercept)
    losses = [
        b.loss_gradient(rows, W, model, g) for b, g in zip((fused, streamed), grads, strict=True)
    ]
    same(losses[0], losses[1])
    same(*grads)
    for gram in (False, True):
        a, b = fused.moments(rows, gram), streamed.moments(rows, gram)
        same(a.x_mean, b.x_mean)
        same(a.x_var, b.x_var)
        if gram:  # blocks of whole Gram sub-blocks: always the same bits
            np.testing.assert_array_equal(a.xx, b.xx)
            np.testing.assert_array_equal(a.xy, b.xy)
    scaling = Scaling(rng.standard_normal(d), rng.uniform(0.5, 2.0, d))
    same(fused.row_norm_bounds(rows, scaling, True), streamed.row_norm_bounds(rows, scaling, True))


# --------------------------------------------------------------------------- bounded memory
def test_a_pass_holds_one_block_of_a_file_many_times_larger(files):
    x_path, y_path = files["f64"]
    X, Y = np.load(x_path, mmap_mode="r"), np.load(y_path, mmap_mode="r").reshape(-1, 1)
    backend = streaming.StreamingBackend(2, block_bytes=BLOCK)
    settings = resolve_settings(_fit({}, X[:10], np.zeros(10)), 2)
    for params in (
        {"solver": "fused", "max_iter": 3, "tol": None},
        {"mode": "sgd", "max_iter": 2, "tol": None},
        {"mode": "minibatch", "max_iter": 2, "tol": None, "shuffle": False},
    ):
        s = dataclasses.replace(settings, **params, average=params.get("mode", "batch") != "batch")
        _training.train(backend, Rows(X, Y, None), s)
    assert X.nbytes >= 8 * BLOCK
    assert 0 < backend.largest_block <= BLOCK


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads /proc/self/smaps")
def test_released_pages_leave_the_process(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.ones((4096, 512)))  # 16 MiB
    X = np.load(path, mmap_mode="r")

    def resident_kib():
        with open("/proc/self/smaps") as smaps:
            text = smaps.read()
        mapping = text[text.index(str(path)) :]
        return int(mapping.split("Rss:")[1].split()[0])

    assert float(X.sum()) == X.size
    assert resident_kib() >= 16 << 10
    _pages.release(X, 0, X.shape[0])
    assert resident_kib() == 0
    assert float(X[:10].sum()) == 10 * 512  # still readable: mapped again on access
    copy_on_write = np.load(path, mmap_mode="c")
    copy_on_write[0, 0] = 5.0
    _pages.release(copy_on_write, 0, 4096)  # never released: the change lives in its pages
    assert copy_on_write[0, 0] == 5.0


PEAK_SCRIPT = """
import sys, warnings
import numpy as np
import fastlr
from fastlr.engines import streaming

warnings.simplefilter("ignore")
streaming.BLOCK_BYTES = 4 << 20
x_path, y_path, warm_x, warm_y = sys.argv[1:]
FITS = ({}, {"solver": "fused", "max_iter": 2}, {"mode": "sgd", "max_iter": 1})


def status(field):
    with open("/proc/self/status") as lines:
        return 1024 * int(next(line for line in lines if line.startswith(field)).split()[1])


def peak_growth(work):
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the high-water mark restarts from the present RSS
    before = status("VmRSS:")
    work()
    return status("VmHWM:") - before


def fits():
    for params in FITS:
        assert fastlr.LinearRegression(**params).fit(x_path, y_path).coef_.shape == (50,)


for params in FITS:
    fastlr.LinearRegression(**params).fit(warm_x, warm_y)  # compile, or load from the cache
control = peak_growth(lambda: float(np.load(x_path, mmap_mode="r").sum()))  # map, no release
print(peak_growth(fits), control)
"""


@pytest.mark.skipif(
    not os.path.exists("/proc/self/clear_refs"), reason="resets the peak RSS through /proc"
)
def test_peak_memory_of_a_fit_grows_by_blocks_not_by_the_file(tmp_path):
    x_path, y_path, _ = fastlr.make_regression(
        500_000, 50, noise=1.0, random_state=0, out=tmp_path / "big.npy"
    )  # 200 MB: 48 blocks of 4 MiB (the Gram pass also holds a float64 copy of 2**20 values)
    warm = fastlr.make_regression(3000, 50, random_state=0, out=tmp_path / "warm.npy")[:2]
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, x_path, y_path, *warm],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    growth, control = (int(value) for value in done.stdout.split()[-2:])
    file_bytes = os.path.getsize(x_path)
    assert growth < file_bytes / 4, (growth, file_bytes)
    assert control > file_bytes / 2, (control, file_bytes)  # the measure sees a mapped file


# --------------------------------------------------------------------------- bad files
def _save(path, array):
    np.save(path, array)
    return str(path)


def test_bad_files_get_clear_errors(tmp_path, files):
    x_path, y_path = files["f64"]
    model = fastlr.LinearRegression()
    with pytest.raises(FileNotFoundError, match=r"X: no such .npy file"):
        model.fit(tmp_path / "missing.npy", y_path)
    with pytest.raises(ValueError, match=r"fit reads .npy files in place, not .*iter_chunks"):
        model.fit(tmp_path / "data.csv", y_path)
    with pytest.raises(ValueError, match=r"X must be 2-D .* holds shape \(4, 2, 2\)"):
        model.fit(_save(tmp_path / "cube.npy", np.zeros((4, 2, 2))), np.zeros(4))
    with pytest.raises(ValueError, match=r"one row per sample of X \(20000\); .* \(19999,\)"):
        model.fit(x_path, _save(tmp_path / "short.npy", np.zeros(N - 1)))
    with pytest.raises(TypeError, match=r"holds int64; .*float32 or float64.*astype"):
        model.fit(_save(tmp_path / "int.npy", np.zeros((4, 2), dtype=np.int64)), np.zeros(4))
    with pytest.raises(TypeError, match=r"y .* holds >f8"):
        model.fit(x_path, _save(tmp_path / "big_endian.npy", np.zeros(N, dtype=">f8")))
    fortran = _save(tmp_path / "fortran.npy", np.asfortranarray(np.zeros((4, 2))))
    with pytest.raises(ValueError, match=r"is not C-ordered .*ascontiguousarray"):
        model.fit(fortran, np.zeros(4))
    with pytest.raises(ValueError, match=r"early_stopping holds a copy"):
        fastlr.LinearRegression(early_stopping=True).fit(x_path, y_path)
    with pytest.raises(ValueError, match=r"cannot read .* as a numeric array"):
        model.fit(_save(tmp_path / "objects.npy", np.array([{}], dtype=object)), [0.0])


# --------------------------------------------------------------------------- iter_chunks
@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The same table as .npy, .csv (with a header) and .parquet."""
    folder = tmp_path_factory.mktemp("tables")
    rng = np.random.default_rng(0)
    table = np.round(rng.normal(size=(1003, 4)), 6)
    np.save(folder / "t.npy", table)
    np.savetxt(folder / "t.csv", table, delimiter=",", header="a,b,c,price", comments="")
    paths = {"npy": folder / "t.npy", "csv": folder / "t.csv"}
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    columns = {name: table[:, j] for j, name in enumerate(["a", "b", "c", "price"])}
    pq.write_table(pa.table(columns), folder / "t.parquet", row_group_size=300)
    paths["parquet"] = folder / "t.parquet"
    return table, paths


@pytest.mark.parametrize("kind", ["npy", "csv", "parquet"])
@pytest.mark.parametrize("target", [None, "-1", "price"])
def test_iter_chunks_streams_each_format_in_fixed_chunks(tables, kind, target):
    table, paths = tables
    if kind == "npy" and target == "price":
        target = "3"  # a .npy table has no header: columns are named by index
    chunks = list(fastlr.iter_chunks(paths[kind], chunk_rows=100, target=target))
    X = np.concatenate([X for X, _ in chunks])
    if kind != "parquet":  # parquet batches may end early at row groups
        assert [X.shape[0] for X, _ in chunks] == [100] * 10 + [3]
    if target is None:
        np.testing.assert_array_equal(X, table)
        assert all(y is None for _, y in chunks)
    else:
        np.testing.assert_array_equal(X, table[:, :3])
        np.testing.assert_array_equal(np.concatenate([y for _, y in chunks]), table[:, 3])
        assert all(X.flags.c_contiguous for X, _ in chunks)


def test_iter_chunks_feeds_partial_fit(tables):
    _, paths = tables
    model = fastlr.LinearRegression(mode="minibatch", random_state=0)
    for X, y in fastlr.iter_chunks(paths["csv"], chunk_rows=250, target="price"):
        model.partial_fit(X, y)
    assert model.t_ == 5
    assert model.n_features_in_ == 3


def test_iter_chunks_converts_integer_npy_chunks(tmp_path):
    np.save(tmp_path / "ints.npy", np.arange(12, dtype=np.int32).reshape(6, 2))
    chunks = list(fastlr.iter_chunks(tmp_path / "ints.npy", chunk_rows=4, target="1"))
    assert [X.dtype for X, _ in chunks] == [np.float64, np.float64]
    np.testing.assert_array_equal(chunks[1][1], [9.0, 11.0])


@pytest.mark.parametrize(
    ("name", "content", "kwargs", "error", "message"),
    [
        ("t.txt", "1,2\n", {}, ValueError, "must end in .npy, .csv, .parquet"),
        ("missing.csv", None, {}, FileNotFoundError, "no such data file"),
        ("t.csv", "a,b\n1,2\n", {"chunk_rows": 0}, ValueError, "chunk_rows must be an int >= 1"),
        ("t.csv", "a,b\n1,2\n", {"target": "c"}, ValueError, "has no column 'c'"),
        ("t.csv", "a,b\n1,2\n3,x\n", {}, ValueError, "not a numeric CSV table \\(in lines 2-3\\)"),
        ("t.csv", "a,b,c\n1,2\n", {}, ValueError, "the header has 3 columns, the rows 2"),
        ("t.csv", "", {}, ValueError, "is empty"),
        ("t.npy", np.zeros(3), {}, ValueError, "needs 2 dimensions"),
        ("t.npy", np.zeros((3, 2)), {"target": "{dir}/y.npy"}, ValueError, "one value per row"),
    ],
)
def test_iter_chunks_names_bad_input(tmp_path, name, content, kwargs, error, message):
    np.save(tmp_path / "y.npy", np.zeros(5))
    if isinstance(content, str):
        (tmp_path / name).write_text(content)
    elif content is not None:
        np.save(tmp_path / name, content)
    kwargs = {k: v.format(dir=tmp_path) if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises(error, match=message):
        list(fastlr.iter_chunks(tmp_path / name, **kwargs))


def test_train_command_streams_a_npy_file_with_its_y_file(tmp_path, capsys, monkeypatch):
    x_path, y_path, _ = fastlr.make_regression(5000, 3, random_state=0, out=tmp_path / "d.npy")
    monkeypatch.setattr(cli, "REFERENCE_MAX_MAPPED", 1000)
    status = cli.main(["train", x_path, "--target", y_path, "--quiet", "--epochs", "3"])
    out = capsys.readouterr().out
    assert status == 0
    assert "target 'd.y.npy', mapped, streamed in blocks" in out
    assert "NumPy reference skipped: X streams from its file" in out


def test_a_memmap_the_kernels_cannot_stream_is_converted_like_any_array(tmp_path):
    """A memmap of ints (or a strided one) is an array like others: converted, not refused;
    only a path promises out-of-core reading and is held to the streamable layout."""
    X, y, _ = fastlr.make_regression(200, 3, random_state=0)
    ints = np.round(X * 10).astype(np.int64)
    np.save(tmp_path / "ints.npy", ints)
    np.save(tmp_path / "y.npy", y.astype(np.int32))
    mapped = np.load(tmp_path / "ints.npy", mmap_mode="r")
    mapped_y = np.load(tmp_path / "y.npy", mmap_mode="r")
    expected = fastlr.LinearRegression().fit(ints.astype(np.float64), y.astype(np.int32))
    model = fastlr.LinearRegression().fit(mapped, mapped_y)
    np.testing.assert_array_equal(model.coef_, expected.coef_)
    assert model.intercept_ == expected.intercept_
    np.testing.assert_array_equal(model.predict(mapped[::2]), expected.predict(ints[::2]))


def test_a_target_that_overflows_is_refused_and_nothing_is_written(tmp_path):
    out = tmp_path / "g.npy"
    with pytest.raises(ValueError, match="y overflowed float32"):
        fastlr.make_regression(10, 2, bias=1e39, dtype=np.float32, random_state=0, out=out)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_in_the_way_of_y_leaves_the_old_x_file_and_no_temporary(tmp_path):
    old = np.full((3, 3), 7.0)
    np.save(tmp_path / "d.npy", old)
    (tmp_path / "d.y.npy").mkdir()
    with pytest.raises(IsADirectoryError) as error:
        fastlr.make_regression(5, 2, random_state=0, out=tmp_path / "d.npy")
    assert error.value.filename == str(tmp_path / "d.y.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "d.npy"), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npy", "d.y.npy"]


@pytest.mark.parametrize("out", ["", "folder/", ".npy"])
def test_out_must_name_a_file(out):
    with pytest.raises(ValueError, match="out must name a file"):
        fastlr.make_regression(5, 2, random_state=0, out=out)
