"""The ``fastlr`` command.

``fastlr train`` generates a large problem (or reads a data file), trains, times the NumPy
reference, and can save the model and a loss plot; ``fastlr generate OUT`` writes a generated
problem to ``.npy`` files in bounded memory; ``fastlr predict MODEL DATA`` applies a saved
model; ``fastlr bench`` times fastlr against its peers; ``fastlr cache [--clear]`` shows or
removes the compiled kernels' cache. Also run as ``python -m fastlr``.
``import fastlr`` does not import this module.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numba
import numpy as np

import fastlr
from fastlr._threading import active_layer
from fastlr.datafiles import is_streamable, read_table
from fastlr.engines.memory import PARALLEL_MIN_ELEMENTS

MODES = ("batch", "minibatch", "sgd")
#: ``train`` times the NumPy reference on a mapped X only up to this size (it loads X).
REFERENCE_MAX_MAPPED = 1 << 30


def _positive_int(text: str) -> int:
    value = int(text.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastlr", description="Linear regression by gradient descent with fused Numba kernels."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train_command(commands)
    generate = commands.add_parser(
        "generate",
        help="write a generated regression problem to .npy files, in bounded memory",
        description="Write X to OUT and y to OUT with .y.npy in place of .npy (y = X @ coef + "
        "bias + noise), generated block by block: memory stays at one block whatever the size. "
        "The same seed gives the same bytes as make_regression in memory.",
    )
    generate.add_argument("out", metavar="OUT", help="the .npy file for X (e.g. data.npy)")
    _add_shape_arguments(generate)
    _add_noise_arguments(generate)
    generate.add_argument(
        "--chunk-rows",
        type=_positive_int,
        metavar="ROWS",
        help="rows generated and written at a time (default: 64 MiB of X)",
    )
    generate.add_argument("--quiet", action="store_true", help="no progress bar or lines")
    predict = commands.add_parser(
        "predict",
        help="predict with a saved model",
        description="Apply a model saved by `fastlr train --save` to DATA. With --target, that "
        "column is left out of X and the R^2 against it is reported on stderr.",
    )
    predict.add_argument("model", metavar="MODEL", help="a model file from `fastlr train --save`")
    predict.add_argument("data", metavar="DATA", help="data file (.npy, .csv or .parquet)")
    predict.add_argument("--target", metavar="COL", help="a column of DATA to leave out of X")
    predict.add_argument(
        "--output", metavar="FILE", help="write the predictions to FILE (.npy or .csv), not stdout"
    )
    bench = commands.add_parser(
        "bench",
        help="time fastlr against NumPy, the memory stream, scikit-learn and PyTorch",
        description="Print a table of medians and ratios, each pair measured side by side on "
        "the same arrays, with the target each ratio is held to.",
    )
    bench.add_argument("--quick", action="store_true", help="sizes divided by 100 (seconds)")
    bench.add_argument("--repeats", type=_positive_int, default=7)
    cache = commands.add_parser(
        "cache",
        help="show where the compiled kernels are cached, or clear that cache",
        description="fastlr's kernels are compiled on first use and cached per user, outside "
        "the installed package (NUMBA_CACHE_DIR chooses another folder). Without an option, "
        "print the folder in use and its size.",
    )
    cache.add_argument(
        "--clear", action="store_true", help="remove the caches of every fastlr version"
    )
    return parser


def _add_train_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = commands.add_parser(
        "train",
        help="train on a generated problem or a data file; compare with the NumPy reference",
        description="Train fastlr on DATA (.npy, .csv or .parquet, y chosen by --target) or, "
        "without DATA, on a generated y = X @ coef + bias + noise; report the fit (for DATA, "
        "the coefficients by column name, kept in the model saved by --save), and the "
        "NumPy reference's time for the same epochs.",
    )
    train.add_argument("data", nargs="?", metavar="DATA", help="data file (default: generated)")
    train.add_argument(
        "--target",
        metavar="COL",
        help="the y column of DATA: a header name or an index (default: the last column); "
        "for .npy also a second .npy file holding y",
    )
    train.add_argument("--mode", choices=MODES, default="batch")
    _add_shape_arguments(train)
    train.add_argument(
        "--epochs",
        type=_positive_int,
        help="run exactly this many epochs (default: until converged)",
    )
    train.add_argument(
        "--learning-rate",
        type=_positive_float,
        metavar="LR",
        help="a fixed step (default: automatic)",
    )
    train.add_argument("--batch-size", type=_positive_int, default=256)
    _add_noise_arguments(train)
    train.add_argument("--threads", type=_positive_int, help="kernel threads (default: all)")
    train.add_argument(
        "--no-reference", action="store_true", help="skip timing the NumPy reference"
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar or lines")
    train.add_argument("--save", metavar="MODEL", help="save the model (.npz) to this path")
    train.add_argument(
        "--plot", metavar="IMAGE", help="save the loss curve to this image (needs matplotlib)"
    )


def _add_shape_arguments(command: argparse.ArgumentParser) -> None:
    """The shape and dtype of a generated problem (``train`` without DATA, ``generate``)."""
    command.add_argument("--n-samples", type=_positive_int, default=2_000_000, metavar="N")
    command.add_argument("--n-features", type=_positive_int, default=50, metavar="D")
    command.add_argument("--dtype", choices=("float32", "float64"), default="float64")


def _add_noise_arguments(command: argparse.ArgumentParser) -> None:
    """The noise, intercept and seed of a generated problem."""
    command.add_argument("--noise", type=float, default=1.0)
    command.add_argument("--bias", type=float, default=3.0)
    command.add_argument("--seed", type=int, default=0)


def _generated(args: argparse.Namespace, **out: Any) -> tuple[Any, Any, np.ndarray]:
    """``make_regression`` of the problem the arguments above describe (``out``: to files)."""
    return fastlr.make_regression(
        args.n_samples,
        args.n_features,
        noise=args.noise,
        bias=args.bias,
        random_state=args.seed,
        dtype=np.dtype(args.dtype),
        **out,
    )


def jit_cache(args: argparse.Namespace) -> int:
    """``fastlr cache [--clear]``: the JIT cache's folder and size, or remove it."""
    from fastlr.kernels import cache as _jitcache

    if args.clear:
        removed = _jitcache.clear()
        for removed_folder in removed:
            print(f"removed {removed_folder}")
        if not removed:
            print("nothing to remove: no fastlr JIT cache was found")
        return 0
    folder, n_files, n_bytes = _jitcache.describe()
    if folder is None:
        print("no writable cache folder: kernels are compiled in every process")
        return 0
    print(f"{folder}\n{n_files} files, {n_bytes / 2**20:.1f} MiB")
    return 0


def _seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def _check_output_folders(*paths: str | None) -> None:
    """Fail before a long fit, not after it, when an output file's folder does not exist."""
    for path in paths:
        if path is not None:
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise FileNotFoundError(f"no such folder for {path!r}: {folder!r}")


class _TrainingData(NamedTuple):
    """The problem ``fastlr train`` fits, and what its report needs to know of it."""

    X: np.ndarray
    y: np.ndarray
    source: str  # where X and y came from, for the data line
    true_coef: np.ndarray | None = None  # generated problems only
    labels: list[str] | None = None  # the coefficients' names (data files only)
    names: list[str] | None = None  # the file's own column names, kept in the model


def train(args: argparse.Namespace) -> int:
    """``fastlr train``: fit DATA or a generated problem, report the fit, time the reference."""
    _check_output_folders(args.save, args.plot)
    print(f"fastlr {fastlr.__version__}, numba {numba.__version__}, numpy {np.__version__}")
    data = _training_data(args)
    X, y = data.X, data.y
    n, d = X.shape

    params = {
        "mode": args.mode,
        "learning_rate": "auto" if args.learning_rate is None else args.learning_rate,
        "max_iter": args.epochs,
        "tol": None if args.epochs is not None else 1e-4,
        "batch_size": args.batch_size,
        "random_state": args.seed,
        "n_jobs": args.threads,
    }
    # Compile (or load from the cache) every kernel the real fit will call, on a small slice
    # large enough to take the same parallel path, so the timed fit is steady-state.
    start = time.perf_counter()
    warm_rows = min(n, max(2048, PARALLEL_MIN_ELEMENTS // max(d, 1) + 1))
    warm = {**params, "max_iter": 1, "tol": None} if args.mode != "batch" else params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch on a slice: only the compilation matters
        fastlr.LinearRegression(**warm).fit(X[:warm_rows], y[:warm_rows]).predict(X[:warm_rows])
    print(f"JIT warm-up (compile, or load from the cache): {_seconds(time.perf_counter() - start)}")

    epochs = "until converged" if args.epochs is None else str(args.epochs)
    print(f"training: mode={args.mode} learning_rate={params['learning_rate']} epochs={epochs}")
    model = fastlr.LinearRegression(**params, verbose=0 if args.quiet else 1)
    start = time.perf_counter()
    model.fit(X, y)
    fit_time = time.perf_counter() - start
    _report_fit(model, fit_time, data, args)
    if data.names is not None:  # X is the file's columns as an array: the names come from the file
        model.feature_names_in_ = np.array(data.names, dtype=object)
    if not args.no_reference and isinstance(X, np.memmap) and X.nbytes > REFERENCE_MAX_MAPPED:
        print(
            "NumPy reference skipped: X streams from its file, and the reference would load it "
            "(with float64 temporaries) into memory; --no-reference silences this"
        )
    elif not args.no_reference:
        from fastlr import reference

        print(f"NumPy reference, same data and {model.n_iter_} epochs ...", flush=True)
        start = time.perf_counter()
        # The same path, stopping rule and refinement, within the same epochs.
        same = {**params, "max_iter": model.n_iter_, "solver": model.solver_}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            twin = reference.LinearRegression(**same).fit(X, y)
        ref_time = time.perf_counter() - start
        agree = float(np.max(np.abs(twin.coef_ - model.coef_)))
        print(
            f"  reference time   {_seconds(ref_time)}: fastlr is {ref_time / fit_time:.1f}x "
            f"faster; max |coef difference| {agree:.1e}"
        )
    if args.save is not None:
        model.save(args.save)
        print(f"model saved to {args.save}")
    if args.plot is not None:
        _plot_loss(model, args.plot)
        print(f"loss curve saved to {args.plot}")
    return 0


def _training_data(args: argparse.Namespace) -> _TrainingData:
    """DATA (y: ``--target``, by default its last column) or a generated problem, printed."""
    start = time.perf_counter()
    if args.data is not None:
        table = read_table(args.data, "-1" if args.target is None else args.target)
        assert table.y is not None
        if not isinstance(table.X, np.memmap):
            how = "read"
        elif is_streamable(table.X):
            how = "mapped, streamed in blocks"
        else:  # ints, Fortran order, other byte orders: fit converts them like any array
            how = "mapped, converted to a float copy in memory (not C-ordered float32/64)"
        source = f"{args.data}, target {table.target!r}, {how}"
        names = table.features if table.named else None
        data = _TrainingData(table.X, table.y, source, labels=table.features, names=names)
    else:
        X, y, true_coef = _generated(args)
        data = _TrainingData(X, y, "generated", true_coef=true_coef)
    n, d = data.X.shape
    print(
        f"data: {n:,} x {d} {data.X.dtype.name} ({data.X.nbytes / 2**20:,.0f} MiB), "
        f"{data.source} in {_seconds(time.perf_counter() - start)}"
    )
    return data


def _report_fit(model: Any, fit_time: float, data: _TrainingData, args: argparse.Namespace) -> None:
    """The ``result:`` lines: the epochs, time, coefficients, MSE, R^2 and certified digits."""
    X, y, true_coef = data.X, data.y, data.true_coef
    prediction = model.predict(X).astype(np.float64)
    mse = float(np.mean((prediction - y) ** 2))
    r2 = model.score(X, y)
    if args.mode == "batch" and X.size >= PARALLEL_MIN_ELEMENTS:
        threads = f"{args.threads or numba.get_num_threads()} threads, layer {active_layer()}"
    else:
        threads = "serial kernel"
    print("result:")
    print(
        f"  epochs           {model.n_iter_} ({model.solver_} path, step "
        f"{model.learning_rate_:.4g}, momentum {model.momentum_:.4g})"
    )
    if model.solver_ == "gram":
        per_epoch = (
            f"one pass for X'X and X'y, {model.n_iter_} iterations on them, then refined "
            "against the data"
        )
    else:
        per_epoch = f"{fit_time / model.n_iter_ * 1e3:.3g} ms/epoch"
    print(f"  fit time         {_seconds(fit_time)} ({per_epoch}, {threads})")
    if true_coef is not None:
        coef_error = np.abs(model.coef_ - true_coef)
        relative = float(np.linalg.norm(model.coef_ - true_coef) / np.linalg.norm(true_coef))
        print(
            f"  coef error       max |coef - true| {coef_error.max():.3e}, "
            f"relative L2 {relative:.3e}"
        )
        print(f"  intercept        {model.intercept_:.6f} (true {args.bias:g})")
        print(f"  MSE              {mse:.6f} (noise variance {args.noise**2:g})")
    else:
        for line in _coef_lines(model.coef_, data.labels or []):
            print(line)
        print(f"  intercept        {model.intercept_:.6g}")
        print(f"  MSE              {mse:.6g}")
    print(f"  R^2              {r2:.6f}")
    if not np.isnan(model.certified_digits_):
        print(
            f"  certified        {model.certified_digits_:.1f} significant digits of every "
            "coefficient and the intercept"
        )


#: ``train`` prints at most this many coefficients of a data file (then how many more).
MAX_COEF_LINES = 20


def _coef_lines(coef: np.ndarray, labels: list[str]) -> list[str]:
    """``  coef[name]       value`` for each feature (the column names, or their numbers),
    aligned with the other result lines (or past the longest name)."""
    shown = [f"coef[{label}]" for label in labels[:MAX_COEF_LINES]]
    width = max([16, *(len(label) for label in shown)]) + 1
    lines = [f"  {label:<{width}}{value:.6g}" for label, value in zip(shown, coef, strict=False)]
    if len(labels) > MAX_COEF_LINES:
        lines.append(f"  ... and {len(labels) - MAX_COEF_LINES} more coefficients")
    return lines


def _plot_loss(model: object, path: str) -> None:
    try:
        import matplotlib
    except ImportError:
        raise ImportError('--plot needs matplotlib: pip install "fastlr[plot]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import fastlr.plot

    figure, axis = plt.subplots(figsize=(7, 4))
    try:
        fastlr.plot.loss_history(model, labels=["training loss"], ax=axis)
        figure.tight_layout()
        figure.savefig(path, dpi=110)
    finally:
        plt.close(figure)


def generate(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    x_path, y_path, coef = _generated(
        args, out=args.out, chunk_rows=args.chunk_rows, verbose=0 if args.quiet else 1
    )
    seconds = time.perf_counter() - start
    size = os.path.getsize(x_path) + os.path.getsize(y_path)
    print(
        f"wrote X ({args.n_samples:,} x {args.n_features} {args.dtype}) to {x_path} and y to "
        f"{y_path}: {size / 2**20:,.0f} MiB in {_seconds(seconds)}"
    )
    shown = np.array2string(coef, precision=4, threshold=12, edgeitems=3, max_line_width=100)
    print(f"true coef {shown}, bias {args.bias:g}, noise {args.noise:g}")
    print(f"train on it: fastlr train {x_path} --target {y_path}")
    return 0


def predict(args: argparse.Namespace) -> int:
    suffix = None if args.output is None else os.path.splitext(args.output)[1].lower()
    if suffix not in (None, ".npy", ".csv"):
        raise ValueError(f"--output must end in .npy or .csv; got {args.output!r}")
    _check_output_folders(args.output)
    model = fastlr.load(args.model)
    table = read_table(args.data, args.target)
    hint = "" if args.target is not None else "; pass --target COL to leave out y"
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is not None and table.named:
        _check_columns(args.data, [str(name) for name in fitted], table.features, hint)
    if table.X.shape[1] != model.n_features_in_:
        raise ValueError(
            f"{args.data} has {table.X.shape[1]} feature columns, but the model was fitted "
            f"with {model.n_features_in_}{hint}"
        )
    if fitted is not None and not table.named:
        print(
            f"fastlr: warning: {args.data} has no column names; its columns are taken as the "
            f"model's features {_listed([str(name) for name in fitted])}, in that order",
            file=sys.stderr,
        )
    with warnings.catch_warnings():
        # The names were checked above; X goes to the model as an array, without them.
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        prediction = model.predict(table.X)
        r2 = None if table.y is None else model.score(table.X, table.y)
    if r2 is not None:
        print(f"R^2 against {table.target!r}: {r2:.6f}", file=sys.stderr)
    if suffix == ".npy":
        with open(args.output, "wb") as handle:  # (np.save would append .npy to "P.NPY")
            np.save(handle, prediction)
    else:  # stdout, or a .csv file
        output = sys.stdout if args.output is None else args.output
        np.savetxt(output, prediction, fmt="%.17g", delimiter=",")
    return 0


def _listed(names: list[str], most: int = 5) -> str:
    """``a, b, c`` (the first ``most`` names, then ``...``)."""
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")


def _check_columns(data: str, fitted: list[str], columns: list[str], hint: str) -> None:
    """Raise unless the feature columns of ``data`` are the model's ``feature_names_in_``, in
    order; the error names the columns unseen at fit and those missing (scikit-learn's
    check, on one line)."""
    if columns == fitted:
        return
    unseen = sorted(set(columns) - set(fitted))
    missing = sorted(set(fitted) - set(columns))
    problems = []
    if unseen:
        problems.append(f"unseen at fit time: {_listed(unseen)}")
    if missing:
        problems.append(f"seen at fit time, yet missing: {_listed(missing)}")
    if not problems:
        problems.append(f"the same names in another order ({_listed(columns)})")
    raise ValueError(
        f"the columns of {data} do not match the feature names the model was fitted with "
        f"({_listed(fitted)}): {'; '.join(problems)}{hint if unseen else ''}"
    )


def _one_line(exc: BaseException) -> str:
    """The error's message on one line (file errors keep their errno text and path)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastlr`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "bench":
            from fastlr.devtools import bench

            bench.run(quick=args.quick, repeats=args.repeats)
            return 0
        commands = {"predict": predict, "generate": generate, "cache": jit_cache, "train": train}
        return commands[args.command](args)
    except BrokenPipeError:  # `fastlr predict ... | head`: the reader has gone, quietly stop
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, FloatingPointError, MemoryError, OSError, ImportError) as exc:
        print(f"fastlr: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fastlr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
