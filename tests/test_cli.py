"""The fastlr command: train on a generated problem, report the result and the reference time."""

import subprocess
import sys

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
        "batch epoch vs X.sum() (memory)",
        "sgd epoch vs SGDRegressor",
        "mini-batch epoch vs batch epoch",
        "batch epoch, 4x the rows",
        "batch fit to tol=1e-9 vs LinearRegression (lstsq)",
        "make_regression vs sklearn's",
    } <= comparisons
    for row in rows[1:]:
        ratio = float(row.split(" | ")[4].rstrip("x"))
        assert 0 < ratio < 1e4
        assert "(quick: not judged)" in row


def test_bench_rows_judge_their_targets():
    from fastlr.bench import Row

    met = Row("x", "d", 0.010, "other", 0.060, 6.0, ">= 5x", True).line()
    missed = Row("x", "d", 0.010, "other", 0.040, 4.0, ">= 5x", False).line()
    assert met.endswith(">= 5x met |")
    assert "| 6.00x |" in met
    assert missed.endswith(">= 5x MISSED |")
