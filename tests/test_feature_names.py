"""Feature names, as scikit-learn: ``feature_names_in_`` from a DataFrame's string columns,
checked by ``predict``, ``score`` and later ``partial_fit`` calls; kept by ``save``/``load``
and by ``fastlr train`` on a CSV or Parquet file, and checked by ``fastlr predict``.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest

import fastlr
from fastlr import cli, reference

pd = pytest.importorskip("pandas")

ESTIMATORS = [fastlr.LinearRegression, reference.LinearRegression]
IDS = ["fastlr", "reference"]
NAMES = ["rooms", "area", "age"]
MISMATCH = "The feature names should match those that were passed during fit.\n"
NO_NAMES_AT_FIT = "X has feature names, but LinearRegression was fitted without feature names"
NO_NAMES_NOW = (
    "X does not have valid feature names, but LinearRegression was fitted with feature names"
)


def _data(seed: int = 0, n: int = 120) -> tuple[Any, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES)))
    y = X @ [1.5, -2.0, 0.5] + 3.0 + 0.01 * rng.normal(size=n)
    return pd.DataFrame(X, columns=NAMES), y


def _fitted_attributes(model: Any) -> dict[str, Any]:
    return {
        name: np.copy(value) if isinstance(value, np.ndarray) else value
        for name, value in vars(model).items()
        if name.endswith("_") and not name.startswith("_")
    }


def _assert_unchanged(before: dict[str, Any], model: Any) -> None:
    after = _fitted_attributes(model)
    assert sorted(after) == sorted(before)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


# --------------------------------------------------------------------------- fit
@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_fitting_a_dataframe_sets_feature_names_in(cls):
    X, y = _data()
    model = cls().fit(X, y)
    assert isinstance(model.feature_names_in_, np.ndarray)
    assert model.feature_names_in_.dtype == object
    assert model.feature_names_in_.tolist() == NAMES
    assert model.n_features_in_ == 3
    np.testing.assert_array_equal(model.coef_, cls().fit(X.to_numpy(), y).coef_)
    # The same names in the same order: no warning (warnings are errors here), same numbers.
    array_fit = cls().fit(X.to_numpy(), y)
    np.testing.assert_array_equal(model.predict(X), array_fit.predict(X.to_numpy()))
    assert model.score(X, y) > 0.99


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_an_array_fit_after_a_dataframe_fit_removes_the_names(cls):
    X, y = _data()
    model = cls().fit(X, y)
    model.fit(X.to_numpy(), y)
    assert not hasattr(model, "feature_names_in_")
    model.predict(X.to_numpy())  # no warning: fitted without names, predicted without


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_a_path_fit_after_a_dataframe_fit_removes_the_names(cls, tmp_path):
    X, y = _data()
    np.save(tmp_path / "X.npy", np.ascontiguousarray(X.to_numpy()))
    model = cls().fit(X, y)
    model.fit(str(tmp_path / "X.npy"), y)
    assert not hasattr(model, "feature_names_in_")


def test_a_fit_handed_elsewhere_removes_the_names(monkeypatch):
    """A dask array (trained by fastlr.dask) has no column names: the fit drops stale ones."""
    from fastlr import _fitted, estimator

    monkeypatch.setattr(estimator, "is_dask_array", lambda X: isinstance(X, list))
    monkeypatch.setattr(_fitted, "train_on_dask", lambda *args, **kwargs: None)  # a list: "dask"
    X, y = _data()
    model = fastlr.LinearRegression().fit(X, y)
    assert model.feature_names_in_.tolist() == NAMES
    model.fit([], y)
    assert not hasattr(model, "feature_names_in_")


@pytest.mark.parametrize(
    "columns",
    [pd.RangeIndex(3), [0, 1, 2], np.array([1.5, 2.5, 3.5]), [("a", 1), ("b", 1), ("c", 1)]],
    ids=["range-index", "ints", "floats", "tuples"],
)
def test_columns_that_are_not_all_str_mean_no_names(columns):
    X, y = _data()
    frame = pd.DataFrame(X.to_numpy(), columns=columns)
    model = fastlr.LinearRegression().fit(frame, y)
    assert not hasattr(model, "feature_names_in_")
    model.predict(frame)  # neither has names: no warning
    model.predict(frame.to_numpy())


def test_mixed_str_and_other_column_names_raise_type_error_and_keep_the_model():
    X, y = _data()
    model = fastlr.LinearRegression().fit(X, y)
    before = _fitted_attributes(model)
    mixed = pd.DataFrame(X.to_numpy(), columns=["a", 1, "c"])
    with pytest.raises(TypeError, match=re.escape("['int', 'str'] as feature name")):
        model.fit(mixed, y)
    _assert_unchanged(before, model)
    with pytest.raises(TypeError, match="Feature names are only supported if all input"):
        model.predict(mixed)


def test_a_failed_fit_leaves_the_names_of_the_previous_fit():
    X, y = _data()
    model = fastlr.LinearRegression().fit(X, y)
    before = _fitted_attributes(model)
    other = pd.DataFrame(X.to_numpy(), columns=["p", "q", "r"])
    with pytest.raises(ValueError, match="sample_weight must be finite"):
        model.fit(other, y, sample_weight=np.full(len(y), np.nan))
    _assert_unchanged(before, model)
    assert model.feature_names_in_.tolist() == NAMES


def test_any_object_with_string_columns_has_names_without_pandas():
    class Frame:
        """Not a pandas DataFrame: ``columns`` and ``__array__`` are all it has."""

        def __init__(self, values: np.ndarray, columns: list[str]) -> None:
            self.values, self.columns = values, columns

        def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
            return self.values

    X, y = _data()
    values = np.ascontiguousarray(X.to_numpy())
    model = fastlr.LinearRegression().fit(Frame(values, NAMES), y)
    assert model.feature_names_in_.tolist() == NAMES
    np.testing.assert_array_equal(model.predict(Frame(values, NAMES)), model.predict(X))
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- x\n"):
        model.predict(Frame(values, ["rooms", "area", "x"]))


def test_fastlr_does_not_import_pandas():
    code = (
        "import sys, numpy as np, fastlr; "
        "fastlr.LinearRegression().fit(np.eye(3), [1.0, 2.0, 3.0]).predict(np.eye(3)); "
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- predict, score
@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (NAMES[::-1], "Feature names must be in the same order as they were in fit.\n"),
        (["rooms", "size", "age"], "Feature names unseen at fit time:\n- size\n"),
        (
            ["rooms", "size", "year"],
            "Feature names unseen at fit time:\n- size\n- year\n"
            "Feature names seen at fit time, yet now missing:\n- age\n- area\n",
        ),
    ],
    ids=["reordered", "renamed", "two-renamed"],
)
def test_predict_and_score_with_other_columns_raise(cls, columns, message):
    X, y = _data()
    model = cls().fit(X, y)
    bad = pd.DataFrame(X.to_numpy(), columns=columns)
    for method in (model.predict, lambda X: model.score(X, y)):
        with pytest.raises(ValueError, match=re.escape(MISMATCH + message)):
            method(bad)


def test_missing_columns_are_named_before_the_count_is_checked():
    X, y = _data()
    model = fastlr.LinearRegression().fit(X, y)
    with pytest.raises(
        ValueError,
        match=re.escape(MISMATCH + "Feature names seen at fit time, yet now missing:\n- age\n"),
    ):
        model.predict(X[["rooms", "area"]])


def test_more_than_five_names_are_cut_short():
    rng = np.random.default_rng(0)
    columns = [f"x{j}" for j in range(8)]
    X = pd.DataFrame(rng.normal(size=(50, 8)), columns=columns)
    model = fastlr.LinearRegression().fit(X, rng.normal(size=50))
    other = pd.DataFrame(X.to_numpy(), columns=[f"z{j}" for j in range(8)])
    listed = "".join(f"- z{j}\n" for j in range(5)) + "- ...\n"
    with pytest.raises(ValueError, match=re.escape("unseen at fit time:\n" + listed)):
        model.predict(other)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_an_array_after_a_dataframe_fit_warns(cls):
    X, y = _data()
    model = cls().fit(X, y)
    with pytest.warns(UserWarning, match=re.escape(NO_NAMES_NOW)):
        prediction = model.predict(X.to_numpy())
    np.testing.assert_array_equal(prediction, model.predict(X))
    with pytest.warns(UserWarning, match=re.escape(NO_NAMES_NOW)):
        model.score(X.to_numpy(), y)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_a_dataframe_after_an_array_fit_warns(cls):
    X, y = _data()
    model = cls().fit(X.to_numpy(), y)
    with pytest.warns(UserWarning, match=re.escape(NO_NAMES_AT_FIT)):
        model.predict(X)
    with pytest.warns(UserWarning, match=re.escape(NO_NAMES_AT_FIT)):
        model.score(X, y)


def test_the_warning_points_at_the_callers_line():
    X, y = _data()
    model = fastlr.LinearRegression().fit(X, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names") as caught:
        model.predict(X.to_numpy())
    assert caught[0].filename == __file__


def test_the_warning_names_the_class():
    class MyRegression(fastlr.LinearRegression):
        pass

    X, y = _data()
    model = MyRegression().fit(X, y)
    with pytest.warns(UserWarning, match="but MyRegression was fitted with feature names"):
        model.predict(X.to_numpy())


# --------------------------------------------------------------------------- partial_fit
@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_partial_fit_sets_the_names_first_and_checks_them_after(cls):
    X, y = _data()
    model = cls(mode="sgd", random_state=0)
    model.partial_fit(X[:60], y[:60])
    assert model.feature_names_in_.tolist() == NAMES
    model.partial_fit(X[60:], y[60:])  # the same names: fine
    assert model.feature_names_in_.tolist() == NAMES

    before = _fitted_attributes(model)
    with pytest.raises(ValueError, match=re.escape(MISMATCH)):
        model.partial_fit(X[NAMES[::-1]], y)
    _assert_unchanged(before, model)  # a refused chunk changes nothing

    with pytest.warns(UserWarning, match=re.escape(NO_NAMES_NOW)):
        model.partial_fit(X.to_numpy(), y)
    assert model.feature_names_in_.tolist() == NAMES  # kept: only the first call sets them


def test_partial_fit_on_arrays_then_a_dataframe_warns():
    X, y = _data()
    model = fastlr.LinearRegression(mode="sgd", random_state=0).partial_fit(X.to_numpy(), y)
    assert not hasattr(model, "feature_names_in_")
    with pytest.warns(UserWarning, match=re.escape(NO_NAMES_AT_FIT)):
        model.partial_fit(X, y)
    assert not hasattr(model, "feature_names_in_")


def test_partial_fit_after_fit_checks_the_fits_names():
    X, y = _data()
    model = fastlr.LinearRegression(mode="sgd", random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- x\n"):
        model.partial_fit(pd.DataFrame(X.to_numpy(), columns=["rooms", "area", "x"]), y)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_sklearn_check_dataframe_column_names_consistency(cls):
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    for estimator in (cls(), cls(mode="sgd")):
        estimator_checks.check_dataframe_column_names_consistency(
            type(estimator).__name__, estimator
        )


# --------------------------------------------------------------------------- save / load
def _meta(path: pathlib.Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(archive["fastlr_meta"].tobytes().decode())  # type: ignore[no-any-return]


def _edit_meta(path: pathlib.Path, change: Any) -> None:
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["fastlr_meta"].tobytes().decode())
    change(meta)
    arrays["fastlr_meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=IDS)
def test_save_and_load_keep_the_names(cls, tmp_path):
    X, y = _data()
    model = cls(mode="sgd", random_state=0).fit(X, y)
    model.save(tmp_path / "m.npz")
    assert _meta(tmp_path / "m.npz")["feature_names_in_"] == NAMES
    assert _meta(tmp_path / "m.npz")["format_version"] == 1
    loaded = fastlr.load(tmp_path / "m.npz")
    assert type(loaded) is cls
    assert loaded.feature_names_in_.dtype == object
    assert loaded.feature_names_in_.tolist() == NAMES
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    with pytest.raises(ValueError, match=re.escape(MISMATCH)):
        loaded.predict(X[NAMES[::-1]])
    loaded.partial_fit(X, y)  # the names came back: continuing on the same columns is fine
    model.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)


def test_a_model_without_names_round_trips_without_them(tmp_path):
    X, y = _data()
    fastlr.LinearRegression().fit(X.to_numpy(), y).save(tmp_path / "m.npz")
    assert "feature_names_in_" not in _meta(tmp_path / "m.npz")
    loaded = fastlr.load(tmp_path / "m.npz")
    assert not hasattr(loaded, "feature_names_in_")
    loaded.predict(X.to_numpy())  # no warning


def test_a_file_written_before_feature_names_still_loads(tmp_path):
    """Format version 1 files from before feature names: no ``feature_names_in_`` key."""
    X, y = _data()
    model = fastlr.LinearRegression().fit(X, y)
    model.save(tmp_path / "old.npz")
    _edit_meta(tmp_path / "old.npz", lambda meta: meta.pop("feature_names_in_"))
    loaded = fastlr.load(tmp_path / "old.npz")
    assert not hasattr(loaded, "feature_names_in_")
    np.testing.assert_array_equal(loaded.predict(X.to_numpy()), model.predict(X))


@pytest.mark.parametrize(
    "names", [["a", "b"], ["a", "b", 3], "abc", None], ids=["short", "not-str", "a-str", "null"]
)
def test_bad_feature_names_in_a_file_are_a_damaged_file(names, tmp_path):
    X, y = _data()
    fastlr.LinearRegression().fit(X, y).save(tmp_path / "m.npz")
    _edit_meta(tmp_path / "m.npz", lambda meta: meta.update(feature_names_in_=names))
    with pytest.raises(ValueError, match="damaged fastlr model file: 'feature_names_in_' is not"):
        fastlr.load(tmp_path / "m.npz")


# --------------------------------------------------------------------------- command line
@pytest.fixture
def csv_file(tmp_path):
    X, y = _data(n=400)
    frame = X.assign(price=y)
    frame.to_csv(tmp_path / "houses.csv", index=False)
    return tmp_path / "houses.csv", X, y


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_train_on_a_table_prints_and_saves_the_names(capsys, tmp_path, csv_file, kind):
    path, X, y = csv_file
    if kind == "parquet":
        pytest.importorskip("pyarrow")
        path = tmp_path / "houses.parquet"
        X.assign(price=y).to_parquet(path, index=False)
    model_path = tmp_path / "m.npz"
    args = ["train", str(path), "--target", "price", "--quiet", "--no-reference"]
    assert cli.main([*args, "--save", str(model_path)]) == 0
    out = capsys.readouterr().out
    saved = fastlr.load(model_path)
    assert saved.feature_names_in_.tolist() == NAMES
    lines = out.splitlines()
    shown = [line for line in lines if line.startswith("  coef[")]
    assert shown == [
        f"  {'coef[' + name + ']':<17}{value:.6g}"
        for name, value in zip(NAMES, saved.coef_, strict=True)
    ]
    assert lines.index(shown[-1]) + 1 == lines.index(f"  intercept        {saved.intercept_:.6g}")
    direct = fastlr.LinearRegression(random_state=0).fit(X, y)
    np.testing.assert_array_equal(saved.coef_, direct.coef_)  # the same fit as in Python


def test_train_on_a_csv_without_header_or_npy_numbers_the_coefficients(capsys, tmp_path):
    X, y = _data(n=200)
    np.savetxt(tmp_path / "plain.csv", np.column_stack([X.to_numpy(), y]), delimiter=",")
    model_path = tmp_path / "m.npz"
    args = ["train", str(tmp_path / "plain.csv"), "--quiet", "--no-reference"]
    assert cli.main([*args, "--save", str(model_path)]) == 0
    out = capsys.readouterr().out
    assert "  coef[0]          " in out
    assert "  coef[2]          " in out
    assert not hasattr(fastlr.load(model_path), "feature_names_in_")


def test_train_lists_at_most_twenty_coefficients(capsys, tmp_path):
    rng = np.random.default_rng(0)
    columns = [f"a_rather_long_column_name_{j}" for j in range(25)]
    frame = pd.DataFrame(rng.normal(size=(300, 25)), columns=columns).assign(y=rng.normal(size=300))
    frame.to_csv(tmp_path / "wide.csv", index=False)
    args = ["train", str(tmp_path / "wide.csv"), "--target", "y", "--quiet", "--no-reference"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert out.count("  coef[") == 20
    assert "  ... and 5 more coefficients" in out
    assert "coef[a_rather_long_column_name_19] " in out  # names longer than the column: past it


@pytest.fixture
def named_model(tmp_path, csv_file):
    path, X, y = csv_file
    model_path = tmp_path / "named.npz"
    fastlr.LinearRegression().fit(X, y).save(model_path)
    return model_path, path, X, y


def test_predict_checks_a_tables_columns_against_the_names(capsys, tmp_path, named_model):
    model_path, path, X, _y = named_model
    assert cli.main(["predict", str(model_path), str(path), "--target", "price"]) == 0
    captured = capsys.readouterr()
    expected = fastlr.load(model_path).predict(X)
    np.testing.assert_array_equal(np.array(captured.out.split(), dtype=float), expected)
    assert captured.err.startswith("R^2 against 'price': ")


@pytest.mark.parametrize(
    ("columns", "target", "message"),
    [
        (
            ["rooms", "size", "age", "price"],
            ["--target", "price"],
            "unseen at fit time: size; seen at fit time, yet missing: area",
        ),
        (
            ["age", "area", "rooms", "price"],
            ["--target", "price"],
            "the same names in another order (age, area, rooms)",
        ),
        (
            ["rooms", "area", "age", "price"],
            [],
            "unseen at fit time: price; pass --target COL to leave out y",
        ),
    ],
    ids=["renamed", "reordered", "target-left-in"],
)
def test_predict_with_other_columns_is_a_one_line_error(
    capsys, tmp_path, named_model, columns, target, message
):
    model_path, _path, X, y = named_model
    other = tmp_path / "other.csv"
    pd.DataFrame(np.column_stack([X.to_numpy(), y]), columns=columns).to_csv(other, index=False)
    assert cli.main(["predict", str(model_path), str(other), *target]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"fastlr: error: the columns of {other} do not match the feature names the model was "
        "fitted with (rooms, area, age): "
    )
    assert message in err
    assert err.count("\n") == 1


def test_predict_on_a_file_without_names_says_the_columns_are_taken_in_order(
    capsys, tmp_path, named_model
):
    model_path, _path, X, _y = named_model
    np.save(tmp_path / "X.npy", X.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cli.main(["predict", str(model_path), str(tmp_path / "X.npy")]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        f"fastlr: warning: {tmp_path / 'X.npy'} has no column names; its columns are taken as "
        "the model's features rooms, area, age, in that order\n"
    )
    np.testing.assert_array_equal(
        np.array(captured.out.split(), dtype=float), fastlr.load(model_path).predict(X)
    )
