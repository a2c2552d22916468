"""Model files: ``model.save(path)`` and ``fastlr.load(path)`` (fastlr/_persist.py).

Round trips are bitwise (attributes, predictions, and ``partial_fit`` after loading); the
format is an npz read without pickle; writes are atomic; bad files raise one clear error.
"""

from __future__ import annotations

import json
import os
import pathlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fastlr
from fastlr import _persist, reference
from fastlr.exceptions import NotFittedError

ESTIMATORS = [fastlr.LinearRegression, reference.LinearRegression]
FITTED = (
    "coef_",
    "intercept_",
    "loss_history_",
    "validation_loss_history_",
    "n_iter_",
    "t_",
    "learning_rate_",
    "momentum_",
    "solver_",
    "n_features_in_",
)

# Each configuration exercises a different part of the training state.
CONFIGURATIONS = {
    "batch-gram": dict(),  # automatic step, tuned momentum on the sufficient statistics
    "batch-fused-momentum": dict(solver="fused", momentum=0.5, nesterov=True),
    "sgd-l1": dict(mode="sgd", penalty="l1", alpha=0.01, random_state=3),  # l1_state
    "minibatch-elasticnet": dict(
        mode="minibatch", batch_size=16, penalty="elasticnet", momentum=0.3, random_state=1
    ),
    "invscaling-raw": dict(
        mode="sgd", schedule="invscaling", standardize=False, learning_rate=0.01, random_state=0
    ),  # no scaling arrays
    "no-intercept": dict(fit_intercept=False, solver="fused"),
    "early-stopping": dict(mode="minibatch", early_stopping=True, random_state=2),
}


def _data(seed: int = 0, n: int = 120, d: int = 3, outputs: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    coef = rng.normal(size=(d, max(outputs, 1)))
    Y = X @ coef + 0.5 + 0.1 * rng.normal(size=(n, max(outputs, 1)))
    return X, (Y if outputs else Y[:, 0])


def _fit(cls: type, y_outputs: int = 0, **params: Any) -> Any:
    X, y = _data(outputs=y_outputs)
    return cls(max_iter=15, tol=None, **params).fit(X, y)


def _same_bits(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return type(a) is type(b) and (a == b or np.asarray(a).tobytes() == np.asarray(b).tobytes())


def _assert_same_model(original: Any, loaded: Any) -> None:
    assert type(loaded) is type(original)
    for name in FITTED:
        assert hasattr(loaded, name) == hasattr(original, name), name
        if hasattr(original, name):
            assert _same_bits(getattr(original, name), getattr(loaded, name)), name
    assert loaded.get_params() == original.get_params()


def _read(path: pathlib.Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _write(path: pathlib.Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _edit_meta(path: pathlib.Path, change: Callable[[dict[str, Any]], None]) -> None:
    arrays = _read(path)
    meta = json.loads(arrays["fastlr_meta"].tobytes().decode())
    change(meta)
    arrays["fastlr_meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    _write(path, arrays)


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("cls", ESTIMATORS, ids=["fastlr", "reference"])
@pytest.mark.parametrize("config", list(CONFIGURATIONS))
def test_round_trip_is_bitwise_and_partial_fit_continues_alike(cls, config, tmp_path):
    model = _fit(cls, **CONFIGURATIONS[config])
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = fastlr.load(path)

    _assert_same_model(model, loaded)
    X, y = _data(seed=1)
    assert _same_bits(loaded.predict(X), model.predict(X))

    # The training state came back too: one more epoch gives the same bits on both.
    for _ in range(2):
        model.partial_fit(X, y)
        loaded.partial_fit(X, y)
    _assert_same_model(model, loaded)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=["fastlr", "reference"])
def test_multi_output_round_trip(cls, tmp_path):
    model = _fit(cls, y_outputs=2, mode="minibatch", batch_size=32, random_state=0)
    assert model.coef_.shape == (2, 3)
    model.save(tmp_path / "model.npz")
    loaded = fastlr.load(tmp_path / "model.npz")
    _assert_same_model(model, loaded)
    assert isinstance(loaded.intercept_, np.ndarray)
    X, Y = _data(seed=4, outputs=2)
    assert _same_bits(loaded.predict(X), model.predict(X))
    model.partial_fit(X, Y)
    loaded.partial_fit(X, Y)
    _assert_same_model(model, loaded)


def test_a_model_only_ever_partially_fitted_round_trips(tmp_path):
    X, y = _data()
    model = fastlr.LinearRegression(mode="sgd", random_state=0)
    model.partial_fit(X, y)
    assert not hasattr(model, "validation_loss_history_")  # fit sets it, partial_fit does not
    model.save(tmp_path / "m.npz")
    loaded = fastlr.load(tmp_path / "m.npz")
    _assert_same_model(model, loaded)
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    _assert_same_model(model, loaded)


def test_float_parameters_round_trip_exactly(tmp_path):
    model = _fit(fastlr.LinearRegression, learning_rate=0.1 + 0.2, alpha=1e-300, penalty="l2")
    model.save(tmp_path / "m.npz")
    params = fastlr.load(tmp_path / "m.npz").get_params()
    assert params["learning_rate"] == 0.1 + 0.2
    assert params["alpha"] == 1e-300


def test_numpy_scalar_parameters_are_stored_as_python_numbers(tmp_path):
    model = _fit(fastlr.LinearRegression, learning_rate=np.float64(0.25), solver="fused")
    model.set_params(n_iter_no_change=np.int64(7), shuffle=np.bool_(False))
    model.save(tmp_path / "m.npz")
    params = fastlr.load(tmp_path / "m.npz").get_params()
    assert (params["learning_rate"], params["n_iter_no_change"], params["shuffle"]) == (0.25, 7, 0)
    assert type(params["n_iter_no_change"]) is int
    assert type(params["shuffle"]) is bool


def test_reference_estimator_loads_as_reference(tmp_path):
    model = _fit(reference.LinearRegression)
    model.save(tmp_path / "m.npz")
    assert type(fastlr.load(tmp_path / "m.npz")) is reference.LinearRegression


def test_save_does_not_touch_the_model(tmp_path):
    model = _fit(fastlr.LinearRegression, mode="sgd", random_state=np.random.default_rng(0))
    before = {name: getattr(model, name) for name in FITTED}
    state = model.random_state.bit_generator.state
    model.save(tmp_path / "m.npz")
    assert all(_same_bits(before[name], getattr(model, name)) for name in FITTED)
    assert model.random_state.bit_generator.state == state


# --------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937, np.random.Philox])
def test_generator_random_state_is_saved_with_its_state(bit_generator, tmp_path):
    rng = np.random.Generator(bit_generator(11))
    model = _fit(fastlr.LinearRegression, mode="sgd", random_state=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save(tmp_path / "m.npz")
    loaded = fastlr.load(tmp_path / "m.npz")
    restored = loaded.random_state
    assert isinstance(restored, np.random.Generator)
    assert restored is not rng
    assert type(restored.bit_generator) is bit_generator
    assert str(restored.bit_generator.state) == str(rng.bit_generator.state)
    X, y = _data(seed=2)
    model.partial_fit(X, y)  # each draws its next shuffle from its own generator
    loaded.partial_fit(X, y)
    assert _same_bits(model.coef_, loaded.coef_)


def test_callback_is_saved_as_none_with_a_warning_naming_it(tmp_path):
    seen: list[int] = []
    model = _fit(fastlr.LinearRegression, callback=lambda info: seen.append(info.epoch))
    assert seen
    with pytest.warns(UserWarning, match=r"^callback cannot be stored .* saved as None"):
        model.save(tmp_path / "m.npz")
    loaded = fastlr.load(tmp_path / "m.npz")
    assert loaded.callback is None
    assert model.callback is not None  # the model itself keeps it
    expected = {**model.get_params(), "callback": None}
    assert loaded.get_params() == expected
    _assert_same_model(model.set_params(callback=None), loaded)


def test_unstorable_random_state_is_named_in_the_warning(tmp_path):
    model = _fit(fastlr.LinearRegression)
    model.set_params(random_state=np.random.RandomState(0), callback=print)
    with pytest.warns(UserWarning, match=r"^random_state, callback cannot be stored"):
        model.save(tmp_path / "m.npz")
    loaded = fastlr.load(tmp_path / "m.npz")
    assert loaded.random_state is None
    assert loaded.callback is None


# --------------------------------------------------------------------------- paths
def test_str_and_pathlike_paths_are_used_exactly_as_given(tmp_path):
    model = _fit(fastlr.LinearRegression)
    model.save(str(tmp_path / "as-str"))
    model.save(tmp_path / "as-path.model")
    assert sorted(os.listdir(tmp_path)) == ["as-path.model", "as-str"]  # no ".npz" appended
    _assert_same_model(model, fastlr.load(str(tmp_path / "as-str")))
    _assert_same_model(model, fastlr.load(tmp_path / "as-path.model"))


def test_save_overwrites_and_new_files_get_the_usual_permissions(tmp_path):
    first = _fit(fastlr.LinearRegression)
    second = _fit(fastlr.LinearRegression, mode="sgd", random_state=0)
    path = tmp_path / "m.npz"
    first.save(path)
    second.save(path)
    _assert_same_model(second, fastlr.load(path))
    (tmp_path / "plain").write_bytes(b"")  # what the umask gives an ordinary new file
    assert path.stat().st_mode == (tmp_path / "plain").stat().st_mode
    assert sorted(os.listdir(tmp_path)) == ["m.npz", "plain"]


# --------------------------------------------------------------------------- atomic writes
def test_a_crash_mid_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    old = _fit(fastlr.LinearRegression)
    path = tmp_path / "model.npz"
    old.save(path)
    before = path.read_bytes()
    written: list[str] = []
    write_member = _persist._write_member

    def crash_on_the_third(archive, name, array):
        if len(written) == 2:
            raise OSError("disk full (simulated)")
        written.append(name)
        write_member(archive, name, array)

    monkeypatch.setattr(_persist, "_write_member", crash_on_the_third)
    new = _fit(fastlr.LinearRegression, mode="sgd", random_state=0)
    with pytest.raises(OSError, match="simulated"):
        new.save(path)
    assert len(written) == 2  # the crash came part-way through the archive
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]
    _assert_same_model(old, fastlr.load(path))


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_crash_at_sync_or_rename_leaves_the_old_file(step, tmp_path, monkeypatch):
    old = _fit(fastlr.LinearRegression)
    path = tmp_path / "model.npz"
    old.save(path)
    before = path.read_bytes()

    def fail(*args: Any) -> None:
        raise OSError(f"{step} failed (simulated)")

    monkeypatch.setattr(_persist.os, step, fail)
    with pytest.raises(OSError, match="simulated"):
        _fit(fastlr.LinearRegression, mode="sgd", random_state=0).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_a_crash_on_a_new_path_leaves_nothing(tmp_path, monkeypatch):
    def fail(descriptor: int) -> None:
        raise OSError("fsync failed (simulated)")

    monkeypatch.setattr(_persist.os, "fsync", fail)
    with pytest.raises(OSError, match="simulated"):
        _fit(fastlr.LinearRegression).save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_interrupt_mid_write_also_cleans_up(tmp_path, monkeypatch):
    def interrupt(archive, name, array):
        raise KeyboardInterrupt

    monkeypatch.setattr(_persist, "_write_member", interrupt)
    with pytest.raises(KeyboardInterrupt):
        _fit(fastlr.LinearRegression).save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- errors on save
@pytest.mark.parametrize("cls", ESTIMATORS, ids=["fastlr", "reference"])
def test_saving_an_unfitted_model_raises_not_fitted(cls, tmp_path):
    with pytest.raises(NotFittedError, match=r"is not fitted yet, so there is nothing to save"):
        cls().save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_saving_a_subclass_is_refused_rather_than_loaded_as_another_class(tmp_path):
    class Mine(fastlr.LinearRegression):
        pass

    X, y = _data()
    model = Mine(max_iter=5, tol=None).fit(X, y)
    with pytest.raises(TypeError, match=r"model files hold fastlr.LinearRegression or"):
        model.save(tmp_path / "m.npz")


# --------------------------------------------------------------------------- errors on load
def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastlr.load(tmp_path / "nope.npz")


def test_plain_npz_is_not_a_fastlr_model(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, coef_=np.ones(3))
    with pytest.raises(ValueError, match=r"is not a fastlr model file \(an .npz archive without"):
        fastlr.load(path)


@pytest.mark.parametrize(
    "content", [b"", b"coef = 1, 2, 3\n", b"\x93NUMPY\x01\x00", b"PK\x03\x04 truncated"]
)
def test_other_files_are_not_fastlr_models(content, tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"is not a fastlr model file"):
        fastlr.load(path)


def test_npy_file_is_not_a_fastlr_model(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(3.0))
    with pytest.raises(ValueError, match=r"is not a fastlr model file \(it is not an .npz"):
        fastlr.load(path)


def test_truncated_model_file_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    _fit(fastlr.LinearRegression).save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"is not a fastlr model file \(a damaged archive\)"):
        fastlr.load(path)


def test_other_format_version_names_both_versions(tmp_path):
    path = tmp_path / "model.npz"
    _fit(fastlr.LinearRegression).save(path)

    def future(meta: dict[str, Any]) -> None:
        meta.update(format_version=2, fastlr_version="9.0")

    _edit_meta(path, future)
    with pytest.raises(
        ValueError,
        match=r"written by fastlr 9\.0 with format version 2; this fastlr reads version 1$",
    ):
        fastlr.load(path)


def test_other_format_name_is_not_a_fastlr_model(tmp_path):
    path = tmp_path / "model.npz"
    _fit(fastlr.LinearRegression).save(path)
    _edit_meta(path, lambda meta: meta.update(format="something-else"))
    with pytest.raises(ValueError, match="is not a fastlr model file"):
        fastlr.load(path)


EXECUTED: list[str] = []


def _record_execution() -> str:
    EXECUTED.append("unpickled")
    return "payload"


class _Payload:
    """Unpickling this would call _record_execution: the load must never get there."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return _record_execution, ()


@pytest.mark.parametrize("member", ["extra", "coef_", "fastlr_meta"])
def test_a_pickled_object_array_is_refused_and_never_unpickled(member, tmp_path):
    path = tmp_path / "model.npz"
    _fit(fastlr.LinearRegression).save(path)
    arrays = _read(path)
    arrays[member] = np.array([_Payload()], dtype=object)
    _write(path, arrays)
    EXECUTED.clear()
    with pytest.raises(ValueError, match=rf"holds a pickled object array \('{member}'\)"):
        fastlr.load(path)
    assert EXECUTED == []


@pytest.mark.parametrize(
    ("member", "value", "message"),
    [
        ("model.velocity", np.zeros((1, 2)), "'model.velocity' has dtype float64 and shape"),
        ("model.state", np.zeros(11, dtype=np.float32), "'model.state' has dtype float32"),
        ("coef_", np.zeros(5), "'coef_' has dtype float64 and shape"),
        ("scaling.scale", None, "shift without a scale"),
        ("model.coef", None, "'model.coef' is missing"),
    ],
)
def test_inconsistent_arrays_are_a_damaged_file(member, value, message, tmp_path):
    path = tmp_path / "model.npz"
    _fit(fastlr.LinearRegression).save(path)
    arrays = _read(path)
    if value is None:
        del arrays[member]
    else:
        arrays[member] = value
    _write(path, arrays)
    with pytest.raises(ValueError, match=rf"is a damaged fastlr model file: .*{message}"):
        fastlr.load(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(estimator="os.system"), "unknown estimator 'os.system'"),
        (lambda m: m["params"].update(no_such=1), "its parameters cannot be set"),
        (lambda m: m.pop("n_iter_"), "'n_iter_' is missing or not of type int"),
        (lambda m: m["trained"].update(t="7"), "'t' is missing or not of type int"),
        (
            lambda m: m.update(random_state_generator={"bit_generator": "Evil"}),
            "unknown bit generator 'Evil'",
        ),
    ],
)
def test_bad_metadata_is_a_damaged_file(change, message, tmp_path):
    path = tmp_path / "model.npz"
    _fit(fastlr.LinearRegression).save(path)
    _edit_meta(path, change)
    with pytest.raises(ValueError, match=rf"is a damaged fastlr model file: .*{message}"):
        fastlr.load(path)


def test_saving_into_a_missing_folder_names_the_users_path(tmp_path):
    model = fastlr.LinearRegression().fit([[0.0], [1.0]], [1.0, 3.0])
    target = tmp_path / "missing" / "m.npz"
    with pytest.raises(FileNotFoundError) as error:
        model.save(target)
    assert error.value.filename == str(target)  # not the temporary file's name
