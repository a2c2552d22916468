"""The fastlr command: train on a generated problem, report the result and the reference time."""

import subprocess
import sys

import numpy as np
import pytest

from fastlr import cli


@pytest.mark.parametrize("mode", ["batch", "minibatch", "sgd"])
def test_train_reports_result_and_reference(capsys, mode):
    status = cli.main(
        ["train", "--mode", mode, "--n-samples", "20000", "--n-features", "5", "--dtype", "float32"]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "data: 20,000 x 5 float32" in out
    assert f"training: mode={mode}" in out
    for label in ("epochs", "fit time", "coef error", "MSE", "R^2", "reference time"):
        assert f"  {label}" in out
    assert "fastlr is" in out
    assert "x faster" in out
    r2 = float(out.split("R^2")[1].split()[0])
    assert r2 > 0.999


def test_train_options_and_no_reference(capsys):
    status = cli.main(
        [
            "train",
            "--n-samples",
            "3000",
            "--n-features",
            "3",
            "--epochs",
            "4",
            "--learning-rate",
            "0.1",
            "--threads",
            "1",
            "--seed",
            "7",
            "--no-reference",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "epochs           4" in out
    assert "learning_rate=0.1" in out
    assert "reference" not in out
    assert "epoch 1/4" not in out


def test_divergence_is_one_line_not_a_traceback(capsys):
    status = cli.main(["train", "--n-samples", "2000", "--learning-rate", "50", "--no-reference"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("fastlr: error: training diverged")
    assert "Traceback" not in err


def test_bad_option_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--n-samples", "0"])
    assert exit_info.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err


def test_python_dash_m_runs_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "fastlr", "train", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "--n-samples" in result.stdout


def test_bench_quick_prints_every_comparison(capsys):
    assert cli.main(["bench", "--quick", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    comparisons = {row.split(" | ")[0].strip("| ") for row in rows[1:]}
    assert {
        "batch epoch vs NumPy epoch",
        "batch epoch vs fastlr.reference",
        "batch epoch vs its limit (read, gemv)",
        "sgd epoch alone vs random-row read",
        "default fit (Gram path) vs X.T @ X alone",
        "sgd fit (1 epoch) vs SGDRegressor",
        "mini-batch epoch alone vs batch epoch",
        "mini-batch epoch alone vs random-row read",
        "batch epoch, 4x the rows",
        "batch fit to tol=1e-9 vs LinearRegression (lstsq)",
        "make_regression vs sklearn's",
    } <= comparisons
    for row in rows[1:]:
        ratio = float(row.split(" | ")[4].rstrip("x"))
        assert 0 < ratio < 1e4
        assert "(quick: not judged)" in row


def test_bench_rows_judge_their_targets():
    from fastlr.devtools.bench import Row

    met = Row("x", "d", 0.010, "other", 0.060, 6.0, ">= 5x", True).line()
    missed = Row("x", "d", 0.010, "other", 0.040, 4.0, ">= 5x", False).line()
    assert met.endswith(">= 5x met |")
    assert "| 6.00x |" in met
    assert missed.endswith(">= 5x MISSED |")


@pytest.fixture
def data_files(tmp_path):
    """The same table as .npy (y last), .csv (header) and .parquet."""
    import fastlr

    X, y, _ = fastlr.make_regression(3000, 3, noise=0.5, random_state=1)
    table = np.column_stack([X, y])
    np.save(tmp_path / "d.npy", table)
    np.savetxt(tmp_path / "d.csv", table, delimiter=",", header="a,b,c,price", comments="")
    paths = {"npy": tmp_path / "d.npy", "csv": tmp_path / "d.csv"}
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    columns = {name: table[:, j] for j, name in enumerate(["a", "b", "c", "price"])}
    pq.write_table(pa.table(columns), tmp_path / "d.parquet")
    paths["parquet"] = tmp_path / "d.parquet"
    return X, y, paths


@pytest.mark.parametrize("kind", ["npy", "csv", "parquet"])
def test_train_on_a_data_file_saves_the_model_and_a_loss_plot(capsys, tmp_path, data_files, kind):
    import fastlr

    X, y, paths = data_files
    target = "price" if kind != "npy" else "-1"
    model_path, plot_path = tmp_path / f"{kind}.npz", tmp_path / f"{kind}.png"
    status = cli.main(
        [
            "train",
            str(paths[kind]),
            "--target",
            target,
            "--quiet",
            "--no-reference",
            "--save",
            str(model_path),
            "--plot",
            str(plot_path),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert "data: 3,000 x 3 float64" in out
    assert f"model saved to {model_path}" in out
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = fastlr.load(model_path)
    direct = fastlr.LinearRegression(random_state=0, batch_size=256).fit(X, y)
    np.testing.assert_array_equal(saved.coef_, direct.coef_)  # the same fit as in Python
    if kind == "npy":  # columns without names: numbered, and the model has none
        assert "  coef[0]          " in out
        assert not hasattr(saved, "feature_names_in_")
        assert saved.score(X, y) > 0.9999
    else:  # the header's (Parquet's) names, without the target
        assert "  coef[a]          " in out
        assert saved.feature_names_in_.tolist() == ["a", "b", "c"]
        with pytest.warns(UserWarning, match="X does not have valid feature names"):
            assert saved.score(X, y) > 0.9999


def test_predict_writes_the_saved_models_predictions(capsys, tmp_path, data_files):
    import fastlr

    X, y, paths = data_files
    model_path = tmp_path / "m.npz"
    fastlr.LinearRegression().fit(X, y).save(model_path)
    expected = fastlr.load(model_path).predict(X)
    assert cli.main(["predict", str(model_path), str(paths["csv"]), "--target", "price"]) == 0
    captured = capsys.readouterr()
    np.testing.assert_array_equal(np.array(captured.out.split(), dtype=float), expected)
    assert captured.err.startswith("R^2 against 'price': 0.9999")
    for suffix in ("npy", "csv", "NPY"):
        output = tmp_path / f"p.{suffix}"
        args = ["predict", str(model_path), str(paths["npy"]), "--target", "-1"]
        assert cli.main([*args, "--output", str(output)]) == 0
        written = np.load(output) if suffix != "csv" else np.loadtxt(output, delimiter=",")
        np.testing.assert_array_equal(written, expected)
    assert sorted(p.name for p in tmp_path.glob("p.*")) == ["p.NPY", "p.csv", "p.npy"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "{dir}/missing.csv"], "no such data file: '{dir}/missing.csv'"),
        (["train", "{dir}/d.txt"], "the data file must end in .npy, .csv, .parquet"),
        (["train", "{dir}/d.csv", "--target", "nope"], "has no column 'nope'; its columns are"),
        (["train", "{dir}/d.csv", "--target", "9"], "--target 9 is out of range"),
        (["predict", "{dir}/missing.npz", "{dir}/d.csv"], "No such file or directory"),
        (["predict", "{dir}/m.npz", "{dir}/d.csv"], "pass --target COL to leave out y"),
        (
            ["predict", "{dir}/m.npz", "{dir}/d.npy", "--target", "-1", "--output", "{dir}/p.txt"],
            "--output must end in .npy or .csv",
        ),
        (["predict", "{dir}/d.csv", "{dir}/d.csv"], "is not a fastlr model file"),
        (
            ["train", "{dir}/d.csv", "--target", "-1", "--save", "{dir}/nope/m.npz"],
            "no such folder for '{dir}/nope/m.npz'",
        ),
        (
            [
                "predict",
                "{dir}/m.npz",
                "{dir}/d.npy",
                "--target",
                "-1",
                "--output",
                "{dir}/n/p.npy",
            ],
            "no such folder for '{dir}/n/p.npy'",
        ),
    ],
)
def test_file_errors_are_one_line(capsys, tmp_path, data_files, args, message):
    import fastlr

    X, y, _paths = data_files
    (tmp_path / "d.txt").write_text("1,2\n")
    fastlr.LinearRegression().fit(X, y).save(tmp_path / "m.npz")
    args = [arg.format(dir=tmp_path) for arg in args]
    assert cli.main([*args, "--quiet"] if args[0] == "train" else args) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastlr: error: ")
    assert message.format(dir=tmp_path) in err
    assert err.count("\n") == 1


def test_plot_without_matplotlib_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    args = ["train", "--n-samples", "2000", "--n-features", "2", "--quiet", "--no-reference"]
    assert cli.main([*args, "--plot", str(tmp_path / "l.png")]) == 2
    assert capsys.readouterr().err == (
        'fastlr: error: --plot needs matplotlib: pip install "fastlr[plot]"\n'
    )
