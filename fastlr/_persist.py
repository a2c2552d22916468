"""Model files that cannot run code when loaded: ``.npz`` archives of plain arrays plus JSON.

A file holds the fitted attributes, the training state that :meth:`partial_fit` continues from
(coefficients and momentum in training coordinates, the standardization, the loop state, the
schedule's clock) and, in the member ``fastlr_meta`` (UTF-8 JSON as a uint8 array), the
constructor parameters, the estimator class, the format's name and version and, for a model
fitted on a DataFrame, ``feature_names_in_`` (a list of str; optional, so files written before
it existed still load, in format version 1 as ever). Every member is
read with ``allow_pickle=False``: a file holding a pickled object array is refused, never
unpickled. Writes go to a temporary file in the target's directory, which is flushed, synced and
then renamed over the target, so a crash mid-save leaves the old file as it was.

The path is used exactly as given (no ``.npz`` is appended), by :func:`save` and :func:`load`
alike.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import secrets
import warnings
import zipfile
from typing import IO, Any

import numpy as np

from fastlr.exceptions import NotFittedError
from fastlr.training import rules as _rules
from fastlr.training.loop import LoopResult, Model
from fastlr.training.settings import Scaling, Trained

#: An estimator (fastlr.LinearRegression or its reference twin). Not imported for its type: the
#: estimator imports this module to save, and loading finds the class by its saved name.
LinearRegression = Any

FORMAT = "fastlr-model"
FORMAT_VERSION = 1
META = "fastlr_meta"
#: The estimator classes a file may name (their public path), and only those, with the module
#: that defines each (imported on load by name, so this module imports no estimator).
ESTIMATORS = {
    "fastlr.LinearRegression": "fastlr.estimator",
    "fastlr.reference.LinearRegression": "fastlr.reference",
}
#: Bit generators whose state a ``random_state`` Generator is saved with.
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


# --------------------------------------------------------------------------- save
def save(model: LinearRegression, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` atomically (see :meth:`fastlr.LinearRegression.save`)."""
    name = _estimator_name(model)
    trained: Trained | None = getattr(model, "_trained", None)
    if trained is None or not hasattr(model, "coef_"):
        raise NotFittedError(
            f"this {type(model).__name__} is not fitted yet, so there is nothing to save; call "
            "fit(X, y) or partial_fit(X, y) first"
        )
    from fastlr._version import __version__

    params, generator, unsaved = _params_to_json(model.get_params())
    if unsaved:
        warnings.warn(
            f"{', '.join(unsaved)} cannot be stored in a model file (only None, bool, int, float, "
            "str and a numpy Generator's state can): saved as None; pass "
            f"{', '.join(f'{p}=...' for p in unsaved)} to set_params after fastlr.load",
            UserWarning,
            stacklevel=3,
        )
    two_d = bool(model._two_d)
    model_state = trained.model
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastlr_version": __version__,
        "estimator": name,
        "params": params,
        "random_state_generator": generator,
        "unsaved_params": unsaved,
        "two_d": two_d,
        "n_iter_": int(model.n_iter_),
        "t_": int(model.t_),
        "n_features_in_": int(model.n_features_in_),
        "solver_": str(model.solver_),
        "has_validation_loss_history_": hasattr(model, "validation_loss_history_"),
        **_feature_names_to_json(model),
        "converged_": bool(model.converged_),
        "certified_digits_": None
        if math.isnan(model.certified_digits_)
        else float(model.certified_digits_),
        "trained": {
            "t": int(model_state.t),
            "path": trained.path,
            "n_iter": int(trained.loop.n_iter),
            "converged": bool(trained.loop.converged),
            "stopped_by_user": bool(trained.loop.stopped_by_user),
        },
    }
    arrays: dict[str, np.ndarray] = {
        META: np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
        "coef_": np.asarray(model.coef_, dtype=np.float64),
        "intercept_": np.asarray(model.intercept_, dtype=np.float64).reshape(-1),
        "loss_history_": np.asarray(model.loss_history_, dtype=np.float64),
        "learning_rate_": np.asarray(model.learning_rate_, dtype=np.float64),
        "momentum_": np.asarray(model.momentum_, dtype=np.float64),
        "model.coef": model_state.coef,
        "model.intercept": model_state.intercept,
        "model.velocity": model_state.velocity,
        "model.state": model_state.state,
        "trained.learning_rate": np.asarray(trained.learning_rate, dtype=np.float64),
        "trained.momentum": np.asarray(trained.momentum, dtype=np.float64),
    }
    optional = {
        "validation_loss_history_": getattr(model, "validation_loss_history_", None),
        "model.l1_state": model_state.l1_state,
        "scaling.shift": trained.scaling.shift,
        "scaling.scale": trained.scaling.scale,
    }
    arrays.update({key: np.asarray(value) for key, value in optional.items() if value is not None})
    _write_atomically(os.fspath(path), arrays)


def _feature_names_to_json(model: LinearRegression) -> dict[str, Any]:
    """``{"feature_names_in_": [...]}`` for a model fitted with column names, else ``{}`` (the
    key is left out, as in the files written before it existed)."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return {}
    return {"feature_names_in_": [str(name) for name in names]}


def _estimator_name(model: object) -> str:
    for name in ESTIMATORS:
        if type(model) is _estimator_class(name):
            return name
    raise TypeError(
        f"model files hold fastlr.LinearRegression or fastlr.reference.LinearRegression, not "
        f"{type(model).__module__}.{type(model).__qualname__}"
    )


def _estimator_class(name: str) -> Any:
    """The class of a name in ESTIMATORS (its module is imported by then: it saved or loads)."""
    return importlib.import_module(ESTIMATORS[name]).LinearRegression


def _params_to_json(
    params: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any] | None, list[str]]:
    """Parameters as JSON values; a Generator ``random_state`` as its bit generator's state;
    the names of the parameters that cannot be stored (saved as None)."""
    stored: dict[str, Any] = {}
    generator = None
    unsaved = []
    for name, value in params.items():
        if isinstance(value, np.generic) and isinstance(value, np.bool_ | np.integer | np.floating):
            value = value.item()  # a numpy scalar: the equal Python number
        if value is None or isinstance(value, bool | int | float | str):
            stored[name] = value
            continue
        if name == "random_state" and isinstance(value, np.random.Generator):
            state = value.bit_generator.state
            if state.get("bit_generator") in BIT_GENERATORS:
                generator = _to_json(state)
                stored[name] = None
                continue
        unsaved.append(name)
        stored[name] = None
    return stored, generator, unsaved


def _to_json(value: Any) -> Any:
    """A bit generator's state (dicts, ints, strs, integer arrays) as JSON values."""
    if isinstance(value, dict):
        return {str(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return {"ndarray": value.dtype.str, "values": value.tolist()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_atomically(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Temporary file beside ``path``, flushed and synced, then renamed over it."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # 0o666 before the umask, like any new file (mkstemp's would stay 0o600 after the rename).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(temporary, flags, 0o666)
    except OSError as exc:  # named by the user's path, not by the temporary one
        raise OSError(exc.errno, exc.strerror, path) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            _write_npz(handle, arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)


def _write_npz(handle: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            _write_member(archive, name, array)


def _write_member(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with archive.open(f"{name}.npy", mode="w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# --------------------------------------------------------------------------- load
def load(path: str | os.PathLike[str]) -> LinearRegression:
    """Read a model written by :meth:`fastlr.LinearRegression.save`.

    Returns the estimator of the class that was saved (:class:`fastlr.LinearRegression` or
    :class:`fastlr.reference.LinearRegression`), fitted, with the same parameters, attributes
    and training state: ``predict`` gives the same numbers and ``partial_fit`` continues as
    it would have on the saved model. Nothing in the file is unpickled or executed.

    Parameters
    ----------
    path : str or os.PathLike
        The file, exactly as given to ``save`` (no ``.npz`` is appended).

    Returns
    -------
    LinearRegression or reference.LinearRegression

    Raises
    ------
    FileNotFoundError
        When there is no file at ``path``.
    ValueError
        When the file is not a fastlr model (another archive, a text file, a damaged file), was
        written with another format version, or holds a pickled object array.

    Examples
    --------
    >>> import os, tempfile
    >>> import fastlr
    >>> X, y, _ = fastlr.make_regression(200, 2, random_state=0)
    >>> model = fastlr.LinearRegression().fit(X, y)
    >>> folder = tempfile.TemporaryDirectory()
    >>> path = os.path.join(folder.name, "model.npz")
    >>> model.save(path)
    >>> again = fastlr.load(path)
    >>> again
    LinearRegression()
    >>> bool((again.predict(X) == model.predict(X)).all())
    True
    >>> folder.cleanup()
    """
    where = os.fspath(path)
    arrays = _read_arrays(where)
    meta = _read_meta(arrays, where)
    return _rebuild(meta, arrays, where)


def _read_arrays(path: str) -> dict[str, np.ndarray]:
    with open(path, "rb") as handle:
        if handle.read(4) not in _ZIP_MAGIC:
            raise ValueError(f"{path!r} is not a fastlr model file (it is not an .npz archive)")
        handle.seek(0)
        try:
            with np.load(handle, allow_pickle=False) as archive:
                names = list(archive.files)
                arrays = {}
                for name in names:
                    try:
                        arrays[name] = archive[name]
                    except ValueError as error:
                        raise _PickledMemberError(
                            f"{path!r} holds a pickled object array ({name!r}); fastlr model "
                            "files never do, so it was refused, not unpickled"
                        ) from error
        except _PickledMemberError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"{path!r} is not a fastlr model file (a damaged archive)") from error
    return arrays


class _PickledMemberError(ValueError):
    pass


def _read_meta(arrays: dict[str, np.ndarray], path: str) -> dict[str, Any]:
    raw = arrays.get(META)
    meta: Any = None
    if raw is not None and raw.dtype == np.uint8 and raw.ndim == 1:
        with contextlib.suppress(UnicodeDecodeError, ValueError):
            meta = json.loads(raw.tobytes().decode("utf-8"))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(
            f"{path!r} is not a fastlr model file (an .npz archive without fastlr's metadata)"
        )
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written by fastlr {meta.get('fastlr_version', '(unknown)')} with "
            f"format version {version}; this fastlr reads version {FORMAT_VERSION}"
        )
    return meta


class _ModelFile:
    """A model file's metadata and arrays, read typed and shaped: a mismatch is a damaged file."""

    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray], path: str) -> None:
        self.meta = meta
        self.arrays = arrays
        self.path = path

    def fail(self, what: str) -> ValueError:
        return ValueError(f"{self.path!r} is a damaged fastlr model file: {what}")

    def field(self, container: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
        value = container.get(key) if isinstance(container, dict) else None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(f"{key!r} is missing or not of type {getattr(kind, '__name__', kind)}")
        return value

    def array(self, key: str, shape: tuple[int, ...] | None = None, optional: bool = False) -> Any:
        value = self.arrays.get(key)
        if value is None:
            if optional:
                return None
            raise self.fail(f"the array {key!r} is missing")
        if value.dtype != np.float64 or (shape is not None and value.shape != shape):
            raise self.fail(
                f"the array {key!r} has dtype {value.dtype} and shape {value.shape}, expected "
                f"float64 and {shape}"
            )
        return np.require(value, requirements=["C", "W"])  # (ascontiguousarray makes 0-d 1-d)


def _rebuild(meta: dict[str, Any], arrays: dict[str, np.ndarray], path: str) -> LinearRegression:
    """The estimator a file holds, every part checked against the shape of the coefficients."""
    file = _ModelFile(meta, arrays, path)
    name = file.field(meta, "estimator", str)
    if name not in ESTIMATORS:
        raise file.fail(f"unknown estimator {name!r}")
    params = file.field(meta, "params", dict)
    two_d = file.field(meta, "two_d", bool)
    trained_meta = file.field(meta, "trained", dict)

    coef = arrays.get("model.coef")
    if coef is None or coef.ndim != 2:
        raise file.fail("the array 'model.coef' is missing or not 2-d")
    k, d = coef.shape
    if file.field(meta, "n_features_in_", int) != d or (not two_d and k != 1):
        raise file.fail("the shapes of the coefficients and n_features_in_ disagree")
    shift = file.array("scaling.shift", (d,), optional=True)
    scale = file.array("scaling.scale", (d,), optional=True)
    if (shift is None) != (scale is None):
        raise file.fail("the standardization has a shift without a scale, or the reverse")
    loss_history = file.array("loss_history_")
    validation = file.array("validation_loss_history_", optional=True)
    if loss_history.ndim != 1 or (validation is not None and validation.ndim != 1):
        raise file.fail("a loss history is not 1-d")

    model = _configured_estimator(file, name, params)
    model._trained = _training_state(
        file, trained_meta, (k, d), Scaling(shift, scale), loss_history, validation
    )
    model._two_d = two_d
    _set_fitted_attributes(model, file, loss_history, validation)
    return model


def _configured_estimator(file: _ModelFile, name: str, params: dict[str, Any]) -> LinearRegression:
    """A new estimator of the class ``name``, with the saved parameters (and random state)."""
    model = _estimator_class(name)()
    try:
        model.set_params(**params)
        if file.meta.get("random_state_generator") is not None:
            model.random_state = _generator(file.meta["random_state_generator"])
    except (ValueError, TypeError, KeyError) as error:
        raise file.fail(f"its parameters cannot be set ({error})") from error
    return model


def _training_state(
    file: _ModelFile,
    trained_meta: dict[str, Any],
    shape: tuple[int, int],
    scaling: Scaling,
    loss_history: np.ndarray,
    validation: np.ndarray | None,
) -> Trained:
    """What ``partial_fit`` continues from (training coordinates, loop record, step, momentum)."""
    k, d = shape
    state = Model(
        coef=file.array("model.coef", (k, d)),
        intercept=file.array("model.intercept", (k,)),
        velocity=file.array("model.velocity", (k, d + 1)),
        l1_state=file.array("model.l1_state", (k * d + 1,), optional=True),
        t=file.field(trained_meta, "t", int),
        state=file.array("model.state", (_rules.STATE_SIZE,)),
    )
    loop = LoopResult(
        history=loss_history.copy(),
        validation_history=None if validation is None else validation.copy(),
        n_iter=file.field(trained_meta, "n_iter", int),
        converged=file.field(trained_meta, "converged", bool),
        stopped_by_user=file.field(trained_meta, "stopped_by_user", bool),
    )
    return Trained(
        model=state,
        scaling=scaling,
        learning_rate=float(file.array("trained.learning_rate", ())),
        momentum=float(file.array("trained.momentum", ())),
        loop=loop,
        path=file.field(trained_meta, "path", str),
    )


def _set_fitted_attributes(
    model: Any, file: _ModelFile, loss_history: np.ndarray, validation: np.ndarray | None
) -> None:
    """The public attributes of the fitted model (``coef_``, ``loss_history_``, ...)."""
    k, d = model._trained.model.coef.shape
    meta, two_d = file.meta, model._two_d
    model.coef_ = file.array("coef_", (k, d) if two_d else (d,))
    intercept = file.array("intercept_", (k,))
    model.intercept_ = intercept if two_d else float(intercept[0])
    model.loss_history_ = loss_history
    if file.field(meta, "has_validation_loss_history_", bool):
        model.validation_loss_history_ = validation
    model.n_iter_ = file.field(meta, "n_iter_", int)
    model.t_ = file.field(meta, "t_", int)
    model.n_features_in_ = d
    model.learning_rate_ = float(file.array("learning_rate_", ()))
    model.momentum_ = float(file.array("momentum_", ()))
    model.solver_ = file.field(meta, "solver_", str)
    # (absent from files written before they existed: the loop's verdict, nothing certified)
    model.converged_ = bool(meta.get("converged_", model._trained.loop.converged))
    digits = meta.get("certified_digits_")
    model.certified_digits_ = math.nan if digits is None else float(digits)
    if "feature_names_in_" in meta:  # (absent: fitted without names, or an older file)
        names = meta["feature_names_in_"]
        if (
            not isinstance(names, list)
            or len(names) != d
            or not all(isinstance(name, str) for name in names)
        ):
            raise file.fail(f"'feature_names_in_' is not a list of {d} str")
        model.feature_names_in_ = np.array(names, dtype=object)


def _generator(saved: Any) -> np.random.Generator:
    """A Generator from a saved bit generator state (only numpy's own bit generators)."""
    state = _from_json(saved)
    kind = state.get("bit_generator") if isinstance(state, dict) else None
    if kind not in BIT_GENERATORS:
        raise ValueError(f"unknown bit generator {kind!r}")
    bit_generator = getattr(np.random, kind)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"ndarray", "values"}:
            dtype = np.dtype(value["ndarray"])
            if dtype.kind not in "ui":
                raise ValueError(f"a generator state holds a {dtype} array")
            return np.array(value["values"], dtype=dtype)
        return {key: _from_json(item) for key, item in value.items()}
    return value
