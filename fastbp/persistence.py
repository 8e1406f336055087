"""Saving and loading models without pickle.

:func:`save` writes a fitted fastbp estimator, or any scikit-learn object
that holds one (a Pipeline, a fitted ``GridSearchCV``), to a zip file with
two members:

- ``model.skops``: the object graph in skops' secure format
  (https://skops.readthedocs.io), which stores arrays and plain values and
  rebuilds objects from an allow-list of types: loading never unpickles and
  never runs code from the file;
- ``fastbp.json``: the format version, the versions of fastbp,
  scikit-learn, skops and NumPy that wrote it, the model dtype(s) and a
  SHA-256 of ``model.skops``.

:func:`load` checks the container, the checksum and the format version,
then lets skops rebuild only skops' own allow-list (builtins, NumPy, most of
scikit-learn), scikit-learn's estimator, CV-splitter and scorer classes and
public metric functions (a search result's splitter and scorer), and
fastbp's own types (:data:`TRUSTED`): see :func:`_allowed`. Anything else
in the file, a function from ``os`` in a ``FunctionTransformer`` or any
other scikit-learn function for instance, is an error that lists the
unexpected types. :func:`save` refuses to write what :func:`load` would
refuse. Everything a fitted estimator
holds, optimizer state and training history included, is saved, so a loaded
model predicts bit for bit as before and continues training (``partial_fit``,
``warm_start``) exactly as if it had never been saved. Callbacks
(``set_callbacks``) belong to a run, not to the model: :func:`save` warns
that it leaves them out.

skops is an optional dependency: ``pip install "fastbp[io]"``.
"""

import hashlib
import json
import os
import warnings
import zipfile
import zlib

import numpy as np

from .files import destination_problem, replace_atomically, source_problem

# What the README documents.
__all__ = ["load", "read_metadata", "save"]

FORMAT = "fastbp-model"
FORMAT_VERSION = 1
_MODEL = "model.skops"
_META = "fastbp.json"

# Estimator attributes of a running fit, never saved.
_RUN_ONLY = ("_skl_callbacks", "_skl_callbacks_to_teardown", "_callback_fit_ctx",
             "_parent_callback_ctx", "_on_epoch_end", "_announce_compile")

# Where a saved object keeps its metadata routing requests, as plain dicts.
_REQUESTS = "_fastbp_metadata_requests"

# Where a saved object keeps, as lists of (key, value) pairs, its dicts whose
# keys skops would not rebuild as they were (a class_weight {False: 5.0,
# True: 1.0} of boolean labels), and lists of them (a multilabel
# class_weight): {attribute: ["dict", pairs] or ["list" or "tuple", [pairs,
# ...]]}.
_KEYED = "_fastbp_keyed_dicts"


def _same_key(a, b):
    # The type too: 1 and True are equal keys, and so are 1 and np.int64(1).
    return type(a) is type(b) and (a == b or (a != a and b != b))


def _keys_round_trip(sio, d):
    """Whether skops rebuilds the keys of the dict ``d`` as they are.

    skops writes keys as JSON strings and calls each key's type on its
    string when loading: ``bool("False")`` is True, so a dict ``{False: a,
    True: b}`` comes back as ``{True: b}``, and ``{1: a, "1": b}`` loses a
    key. Tried on the keys themselves rather than predicted, so that what
    this skops does is what counts.
    """
    if all(type(k) is str for k in d):
        return True
    try:
        data = sio.dumps(dict.fromkeys(d))
        # The user's own keys, just written: their types may be rebuilt.
        back = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    except Exception:  # keys skops cannot store at all (None, a tuple)
        return False
    return len(back) == len(d) and all(_same_key(a, b) for a, b in zip(d, back))


def _keys_kept(sio, d, memo):
    """:func:`_keys_round_trip`, remembered in ``memo`` by the keys' types
    and values: a search's candidates repeat the same few dicts (one per
    parameter value) in ``cv_results_``, ``param_grid`` and
    ``best_params_``, and each round trip through skops costs milliseconds.
    """
    if all(type(k) is str for k in d):
        return True
    # The type too: 1 and True are equal keys skops rebuilds differently.
    key = tuple((type(k), k) for k in d)
    kept = memo.get(key)
    if kept is None:
        kept = memo[key] = _keys_round_trip(sio, d)
    return kept


def _saved_attributes(obj):
    """``{name: value}`` of what skops writes of ``obj``: its
    ``__getstate__``, which may leave caches out, else its ``__dict__``."""
    try:
        state = obj.__getstate__()
    except Exception:  # no state of its own to give: its __dict__ is written
        state = None
    return state if isinstance(state, dict) else vars(obj)


def _keyed_dicts(sio, obj, memo=None):
    """``{attribute: encoded}`` for the attributes of ``obj`` that are dicts,
    or lists or tuples of dicts, whose keys skops would change (see
    :data:`_KEYED`)."""
    memo = {} if memo is None else memo
    found = {}
    saved = _saved_attributes(obj).keys()
    for name, value in vars(obj).items():
        if name not in saved:
            continue
        if type(value) is dict:
            if not _keys_kept(sio, value, memo):
                found[name] = ["dict", [[k, v] for k, v in value.items()]]
        elif (isinstance(value, (list, tuple)) and value
              and all(type(d) is dict for d in value)
              and not all(_keys_kept(sio, d, memo) for d in value)):
            found[name] = ["list" if isinstance(value, list) else "tuple",
                           [[[k, v] for k, v in d.items()] for d in value]]
    return found


# What may hold a dict, as skops writes it; anything else is a value, or an
# object of its own that save looks into on its own (:func:`_objects`).
_CONTAINERS = (dict, list, tuple, np.ndarray)


def _refuse_nested_keyed_dicts(sio, obj, keyed, memo):
    """Refuse a dict inside an attribute of ``obj`` (a search's
    ``best_params_``, ``param_grid``, ``cv_results_``) whose keys skops
    would change: only an attribute's own dict, or its list of dicts, is
    encoded (:func:`_keyed_dicts`, the names ``keyed``), and a nested
    ``{False: 5.0, True: 1.0}`` would load as ``{True: 1.0}``, so that
    refitting the loaded search, or a clone given its ``best_params_``,
    would train on other weights without a word.

    Parameters
    ----------
    sio : module
        ``skops.io``.
    obj : object
        One of the objects :func:`save` writes (:func:`_objects`).
    keyed : collection of str
        The attributes of ``obj`` that :func:`_keyed_dicts` encodes: their
        own keys are kept, the values they map to are looked into.
    memo : dict
        :func:`_keys_kept`'s memory, shared across the objects saved.

    Raises
    ------
    ValueError
        Naming the dict's path from ``obj``'s class, its keys, and the
        remedies.
    """
    owner = type(obj).__name__
    stack = []
    for name, value in _saved_attributes(obj).items():
        if name in keyed:
            dicts = [("", value)] if type(value) is dict else [
                (f"[{i}]", d) for i, d in enumerate(value)]
            stack.extend((v, f"{owner}.{name}{at}[{k!r}]")
                         for at, d in dicts for k, v in d.items()
                         if isinstance(v, _CONTAINERS))
        elif isinstance(value, _CONTAINERS):
            stack.append((value, f"{owner}.{name}"))
    stack.reverse()
    seen = set()
    while stack:
        value, path = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, dict):
            if not _keys_kept(sio, value, memo):
                keys = ", ".join(repr(k) for k in list(value)[:5])
                more = ", ..." if len(value) > 5 else ""
                raise ValueError(
                    f"cannot save {path}: it is a dict whose keys ({keys}{more}) skops would "
                    "not rebuild as they are (it writes a key as text and rebuilds it with "
                    "the key's type, and bool('False') is True; a None or tuple key it "
                    "cannot write at all), so the loaded copy would "
                    "hold other keys, and other class weights or parameters, without a "
                    "word. Use labels whose keys skops keeps, integers (y.astype(int)) or "
                    "strings; or, for a search, save its best_estimator_ (a model's own "
                    "class_weight is kept); or save with pickle or joblib if you trust "
                    "every reader.")
            # Paths are made only for containers: most values are numbers.
            inner = [(v, f"{path}[{k!r}]") for k, v in value.items()
                     if isinstance(v, _CONTAINERS)]
        elif isinstance(value, (list, tuple)):
            inner = [(v, f"{path}[{i}]") for i, v in enumerate(value)
                     if isinstance(v, _CONTAINERS)]
        elif value.dtype == object:  # an ndarray; a masked one's data too
            data = np.ma.getdata(value)
            inner = [
                (v, f"{path}[{', '.join(str(j) for j in np.unravel_index(i, data.shape))}]")
                for i, v in enumerate(data.ravel()) if isinstance(v, _CONTAINERS)]
        else:  # numbers: no dict in them
            continue
        # Reversed, so that the first dict in the attributes' order is named.
        stack.extend(reversed(inner))


def _set_keyed_dicts(obj, encoded):
    """Set the attributes :func:`_keyed_dicts` encoded on ``obj`` again;
    anything but what save writes is an error (the file is not trusted)."""
    def pairs_ok(pairs):
        return isinstance(pairs, list) and all(
            isinstance(p, list) and len(p) == 2 for p in pairs)

    if not (isinstance(encoded, dict) and all(
            isinstance(name, str) and name not in vars(obj)
            and isinstance(entry, list) and len(entry) == 2
            and (entry[0] == "dict" and pairs_ok(entry[1])
                 or entry[0] in ("list", "tuple") and isinstance(entry[1], list)
                 and all(pairs_ok(p) for p in entry[1]))
            for name, entry in encoded.items())):
        raise ValueError(f"the dict attributes of its {type(obj).__name__} are not what "
                         "fastbp.save writes")
    try:
        rebuilt = {}
        for name, (kind, content) in encoded.items():
            if kind == "dict":
                rebuilt[name] = {k: v for k, v in content}
            else:
                dicts = [{k: v for k, v in pairs} for pairs in content]
                rebuilt[name] = dicts if kind == "list" else tuple(dicts)
    except TypeError as exc:  # an unhashable key
        raise ValueError(f"the dict attributes of its {type(obj).__name__} are not what "
                         f"fastbp.save writes ({exc})") from exc
    obj.__dict__.update(rebuilt)


def _plain_requests(request):
    """``{method: {parameter: request}}`` of a scikit-learn MetadataRequest,
    for the methods whose requests were set (plain values: True, False,
    None, an alias string)."""
    plain = {}
    for method, requests in vars(request).items():
        values = getattr(requests, "requests", None)
        if isinstance(values, dict) and values:
            plain[method] = dict(values)
    return plain


def _set_requests(obj, plain):
    """Set the routing requests :func:`_plain_requests` recorded on ``obj``
    again, through its own ``set_<method>_request`` methods; anything but
    what save writes is an error (the file is not trusted)."""
    import sklearn
    from sklearn.utils._metadata_requests import SIMPLE_METHODS

    if not (isinstance(plain, dict) and all(
            method in SIMPLE_METHODS and isinstance(values, dict)
            and all(isinstance(k, str) and (v is None or isinstance(v, (bool, str)))
                    for k, v in values.items())
            for method, values in plain.items())):
        raise ValueError(f"the metadata routing requests of its {type(obj).__name__} are "
                         "not what fastbp.save writes")
    with sklearn.config_context(enable_metadata_routing=True):
        for method, values in plain.items():
            setter = getattr(obj, f"set_{method}_request", None)
            if setter is None:
                raise ValueError(f"its {type(obj).__name__} has no {method} requests to set")
            setter(**values)


#: fastbp's own types that a saved model may contain.
TRUSTED = (
    "fastbp.estimators.classifier.MLPClassifier",
    "fastbp.estimators.regressor.MLPRegressor",
    "fastbp.training.diagnostics.GradientMonitor",
    "fastbp.training.optimizers.StochasticOptimizer",
    "fastbp.training.progress.Progress",
    "fastbp.training.progress.Series",
    # The regression target's scaler of a model fastbp train --data saves.
    "fastbp.cli_data.target.TargetScaler",
    # A dtype (SimpleImputer's _fit_dtype): built from a type code, it can
    # name no function to call.
    "numpy.dtype",
    # Containers of fitted ensembles (VotingClassifier's and
    # StackingClassifier's named_estimators_, CalibratedClassifierCV's
    # calibrated_classifiers_): built from their stored attributes, they
    # call nothing.
    "sklearn.utils._bunch.Bunch",
    "sklearn.calibration._CalibratedClassifier",
)

#: The spellings of NumPy's ``positive`` ufunc, the cast of the scaler a
#: model ``fastbp train --data`` saves. skops names a ufunc where it finds
#: it, and NumPy moved it: 1.x writes ``numpy.core._multiarray_umath``, 2.x
#: ``numpy`` (2.0 ``numpy._core._multiarray_umath``); skops trusts only the
#: running NumPy's spelling, so without these a model saved under one NumPy
#: would not load under the other (pyproject allows both). Each of them
#: imports, without a warning, as ``numpy.positive`` under 1.26 and 2.x
#: alike: NumPy keeps ``numpy.core`` and ``numpy._core`` shims for its
#: ufuncs for pickles' sake.
POSITIVE_UFUNC = (
    "numpy.positive",
    "numpy.core._multiarray_umath.positive",
    "numpy._core._multiarray_umath.positive",
)


# Parts of scikit-learn that deciding about a file never imports: importing
# sklearn.experimental.enable_* changes scikit-learn (it adds the
# experimental estimators to their public modules), and tests and conftest
# modules are no library (they may import pytest and set global state).
_NOT_IMPORTED = ("experimental", "tests", "test", "conftest", "externals")


def _sklearn_attribute(module, attr):
    """``attr`` of the scikit-learn module ``module``, or None.

    A name in a file is untrusted: deciding about it must not import what
    a user would not. A module already imported is looked in as it is;
    otherwise only its public package is imported, as ``import
    sklearn.linear_model`` would (which imports the private modules that
    define its classes), and then a module of public packages with at
    most a private last part (``sklearn.model_selection._search_successive_halving``).
    Nothing in ``sklearn.experimental``, tests, or a private package is
    imported for a file.
    """
    import importlib
    import sys

    parts = module.split(".")
    if parts[0] != "sklearn" or len(parts) < 2 or any(
            part in _NOT_IMPORTED or part.startswith(("test", "__")) for part in parts[1:]):
        return None
    try:
        found = sys.modules.get(module)
        if found is None and not parts[1].startswith("_"):
            importlib.import_module(".".join(parts[:2]))
            found = sys.modules.get(module)
            if found is None and not any(part.startswith("_") for part in parts[1:-1]):
                found = importlib.import_module(module)
        return None if found is None else getattr(found, attr, None)
    except Exception:  # not importable, or a module __getattr__ that raises: not allowed
        return None


def _allowed(name):
    """Whether ``load`` may rebuild the type or function ``name`` (beyond
    skops' own allow-list).

    fastbp's own types; scikit-learn *classes* that are estimators, CV
    splitters or scorers (a search result holds its splitter and scorer);
    and scikit-learn's public metric functions (a scorer's score
    function); and the spellings NumPy 1.x and 2.x give ``numpy.positive``
    (:data:`POSITIVE_UFUNC`). Nothing else: skops may call a type while loading
    (``ConstructorFromReduceNode``), so a prefix rule such as "anything in
    sklearn" would let a file call any function scikit-learn defines.
    """
    if name in TRUSTED or name in POSITIVE_UFUNC:
        return True
    module, _, attr = name.rpartition(".")
    obj = _sklearn_attribute(module, attr)
    if obj is None:
        return False
    if isinstance(obj, type):
        if (module in ("sklearn.metrics._scorer", "sklearn.model_selection._split")
                and obj.__module__ == module):
            # Scorers (some, like _PassthroughScorer, not _BaseScorer) and
            # splitters defined there; not what those modules import
            # (functools.partial, abc.ABCMeta, itertools.chain).
            return True
        from sklearn.base import BaseEstimator
        from sklearn.metrics._scorer import _BaseScorer
        from sklearn.model_selection._split import BaseCrossValidator, BaseShuffleSplit

        return issubclass(obj, (BaseEstimator, BaseCrossValidator, BaseShuffleSplit,
                                _BaseScorer))
    import sklearn.metrics

    return attr in sklearn.metrics.__all__ and getattr(sklearn.metrics, attr) is obj


def _check_array_members(payload):
    """Raise ``ValueError`` where an array member (``.npy``) of the skops
    archive ``payload`` declares more data than it holds.

    ``np.load`` allocates what the header declares before reading: a header
    edited to shape ``(10**12,)`` would ask for terabytes (a MemoryError),
    or for gigabytes it then fails to fill. Only the headers are read.
    """
    import io
    import math

    fmt = np.lib.format
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as fh:
                try:
                    version = fmt.read_magic(fh)
                    if version == (1, 0):
                        shape, _, dtype = fmt.read_array_header_1_0(fh)
                    elif version == (2, 0):
                        shape, _, dtype = fmt.read_array_header_2_0(fh)
                    else:  # np.save writes 1.0 (2.0 for huge headers) without pickle
                        raise ValueError(f".npy format version {version}, which skops "
                                         "does not write")
                except ValueError as exc:  # cut short, or not a header numpy reads
                    raise ValueError(f"its array {info.filename} has no valid .npy "
                                     f"header ({exc})") from exc
                held = info.file_size - fh.tell()
            if dtype.hasobject:  # np.load refuses it without pickle, allocating nothing
                continue
            declared = math.prod(shape) * dtype.itemsize
            if declared > held:
                raise ValueError(f"its array {info.filename} declares shape {shape} of "
                                 f"{dtype} ({declared} bytes) and holds {held} bytes")


def _refused_types(sio, payload):
    """The types of ``payload`` that :func:`load` would refuse."""
    return sorted(t for t in set(sio.get_untrusted_types(data=payload)) if not _allowed(t))


def _skops_io():
    """``skops.io``, or an ``ImportError`` that says what to install: its
    ``name`` is ``"skops"`` where skops is missing, and the module that
    failed where skops is there but one of its own imports failed (a
    broken install), which installing skops again would not mend."""
    try:
        import skops.io
    except ImportError as exc:
        if exc.name is not None and exc.name.partition(".")[0] != "skops":
            raise ImportError(
                f"fastbp.save and fastbp.load need skops, which is installed but failed to "
                f"import: {exc}. Install or repair the package it names.",
                name=exc.name) from exc
        raise ImportError(
            "fastbp.save and fastbp.load need the skops package (secure, pickle-free "
            'persistence): pip install "fastbp[io]"', name="skops") from exc
    return skops.io


def _path_argument(call, path, wanted):
    """``path`` as a str, or a ``TypeError`` or ``ValueError`` that names
    ``call`` (``"fastbp.load(path)"``) and what it takes (``wanted``), for
    a path that is no str, bytes or path-like, or is empty.

    Checked before any work: ``os.fspath`` deep inside said only "expected
    str, bytes or os.PathLike object, not NoneType", naming no argument,
    and an empty path failed only after save had serialised the whole
    model (at the rename of its temporary file onto '').
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        from sklearn.base import BaseEstimator

        if path is None:
            got = "None"
        elif isinstance(path, BaseEstimator):
            from sklearn.utils.validation import check_is_fitted

            try:
                check_is_fitted(path)
                got = f"a fitted {type(path).__name__}"
            except Exception:  # NotFittedError, or a TypeError of an odd estimator
                got = f"an unfitted {type(path).__name__}"
        else:
            got = f"an object of type {type(path).__name__}"
        raise TypeError(f"{call} takes {wanted}; got {got}.")
    path = os.fsdecode(os.fspath(path))
    if not path:
        raise ValueError(f"{call} takes {wanted}; got an empty path.")
    return path


def _objects(obj):
    """The scikit-learn and fastbp objects in ``obj``: itself, or inside a
    Pipeline, a search, or any other meta-estimator (their attributes, lists
    and dicts), fastbp's estimators as leaves."""
    from sklearn.base import BaseEstimator

    from .estimators.base import BaseMLP

    found, stack, seen = [], [obj], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, BaseMLP):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif hasattr(item, "__dict__") and (
                isinstance(item, BaseEstimator)
                or type(item).__module__.split(".")[0] in ("sklearn", "fastbp")):
            found.append(item)
            stack.extend(reversed(list(vars(item).values())))
    return found


def _fastbp_models(objects):
    """The fastbp estimators among :func:`_objects`' ``objects``."""
    from .estimators.base import BaseMLP

    return [item for item in objects if isinstance(item, BaseMLP)]


def _unfitted_in_containers(obj):
    """``(where, item)`` for the first unfitted fastbp model, or unfitted
    scikit-learn object holding one, in the lists, tuples and dicts that
    ``obj`` is made of (``where`` as ``obj[1]['a']``); ``None`` if none.

    Only plain containers are looked into: a fitted search or ensemble
    holds its unfitted template (``estimator``) beside what it fitted, and
    an unfitted object at the top is refused by save's own check.
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from .estimators.base import BaseMLP

    if not isinstance(obj, (list, tuple, dict)):
        return None
    stack, seen = [("obj", obj)], set()
    while stack:
        where, item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (list, tuple)):
            stack.extend(reversed([(f"{where}[{i}]", v) for i, v in enumerate(item)]))
        elif isinstance(item, dict):
            stack.extend(reversed([(f"{where}[{k!r}]", v) for k, v in item.items()]))
        elif isinstance(item, BaseMLP):
            if "coefs_" not in item.__dict__:
                return where, item
        elif _fastbp_models(_objects(item)):
            try:
                check_is_fitted(item)
            except NotFittedError:
                return where, item
            except TypeError:  # no estimator: nothing says whether it is fitted
                pass
    return None


def _check_saveable(estimators):
    for est in estimators:
        from sklearn.metrics._scorer import _BaseScorer

        for name in ("learning_rate", "scoring"):
            value = getattr(est, name, None)
            if callable(value) and not isinstance(value, _BaseScorer):
                raise TypeError(
                    f"{type(est).__name__}.{name} is a Python function ({value!r}), which "
                    "cannot be saved without pickle (loading it would run code from the "
                    f"file). Use one of the built-in values of {name}, or save with pickle "
                    "or joblib if you trust every reader.")


# A fitted model's arrays of weights and normalisation statistics.
_WEIGHTS = ("coefs_", "intercepts_", "normalization_scales_", "normalization_shifts_",
            "running_mean_", "running_var_")


def _weights_as_predicted(est):
    """``{attribute: list of arrays}`` for the weights of ``est`` that
    :func:`save` writes otherwise than they are held: as ``predict`` packs
    them, contiguous arrays of the model's dtype in this machine's byte
    order, in lists.

    A model whose weights were memory-mapped (``joblib.load(...,
    mmap_mode="r")``), put in a tuple, given a float64 output layer
    (transfer learning) or the other byte order predicts all the same:
    the file holds what it predicts with. What cannot be converted is left
    as it is, for :meth:`_check_loaded_state` to name.
    """
    if "coefs_" not in est.__dict__:
        return {}
    try:
        dtype = est._weights_dtype()
    except Exception:  # weights that are no arrays: the state check says so
        return {}
    converted = {}
    for name in _WEIGHTS:
        arrays = est.__dict__.get(name)
        if not isinstance(arrays, (list, tuple)):
            continue
        try:
            new = [np.ascontiguousarray(np.asarray(a), dtype=dtype) for a in arrays]
        except (TypeError, ValueError):
            continue
        if type(arrays) is not list or any(a is not b for a, b in zip(new, arrays)):
            converted[name] = new
    return converted


def _plain_array(value):
    """``value`` with each memory-mapped array in it (joblib's
    ``mmap_mode``), in lists, tuples and dicts too, as a plain ndarray (a
    view, no copy): skops would write the type ``numpy.memmap``, which load
    does not rebuild. ``value`` itself where it holds none."""
    if isinstance(value, np.ndarray):
        return np.asarray(value) if isinstance(value, np.memmap) else value
    if type(value) in (list, tuple):
        new = [_plain_array(v) for v in value]
        if all(a is b for a, b in zip(new, value)):
            return value
        return new if type(value) is list else tuple(new)
    if type(value) is dict:
        new = {k: _plain_array(v) for k, v in value.items()}
        if all(new[k] is v for k, v in value.items()):
            return value
        return new
    return value


def _plain_arrays(obj):
    """``{attribute: value}`` for the attributes of ``obj`` that hold a
    memory-mapped array (:func:`_plain_array`), with plain arrays instead."""
    state = getattr(obj, "__dict__", {})
    return {name: new for name, value in state.items()
            if (new := _plain_array(value)) is not value}


def _held_within(objects):
    """The fastbp and scikit-learn objects that the fastbp models among
    ``objects`` hold, at any depth, that are not ``objects`` themselves
    (:func:`_objects` does not look into a fastbp model)."""
    from .estimators.base import BaseMLP

    seen = {id(item) for item in objects}
    stack = [v for item in objects if isinstance(item, BaseMLP) for v in vars(item).values()]
    found = []
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif (hasattr(item, "__dict__") and not isinstance(item, type)
              and type(item).__module__.split(".")[0] in ("sklearn", "fastbp")):
            found.append(item)
            stack.extend(vars(item).values())
    return found


def _being_fitted(obj, est):
    """The error that refuses ``est``, in ``obj``, as being fitted."""
    inside = "" if est is obj else f" (in this {type(obj).__name__})"
    return ValueError(
        f"{type(est).__name__}{inside} is being fitted (a fit or partial_fit call, "
        "in this thread or another, is training it and has not set its model yet): "
        "save the fitted_estimator a callback hook receives (a snapshot of that "
        "epoch's model), or save after the call returns.")


def _refuse_being_fitted(obj, estimators):
    """Refuse a fastbp model that a fit or partial_fit call is training.

    Until the call has set the model, the estimator holds what it held
    before (the initial weights of a first fit, the last fit's history):
    saved from an epoch hook, that file would load as a trained model.
    """
    from .estimators.fit_calls import is_being_fitted

    for est in estimators:
        if is_being_fitted(est):
            raise _being_fitted(obj, est)


def _is_copied(item):
    # What _objects and _held_within look into: the objects whose
    # attributes save reads, and edits for writing.
    from sklearn.base import BaseEstimator

    return (hasattr(item, "__dict__") and not isinstance(item, type)
            and (isinstance(item, BaseEstimator)
                 or type(item).__module__.split(".")[0] in ("sklearn", "fastbp")))


def _copied(item, memo):
    """``item`` as it is now, in objects of its own: each scikit-learn and
    fastbp object in it a shallow copy, its lists, tuples and dicts new
    ones, a training record (``Series``) and a ``RandomState`` copies; the
    arrays and other values shared (a fit sets new arrays, never writes
    into a model's). What a fit in another thread goes on to change
    in place (the loss curve it appends to, a caller's generator it draws
    from) does not reach the copy, and what save edits for writing is not
    the user's. ``memo`` maps ids to ``(original, copy)``: an object held
    twice is copied once (and, kept alive, leaves its id to no other)."""
    from .training.progress import Series

    key = id(item)
    if key in memo:
        return memo[key][1]
    kind = type(item)
    if kind in (list, tuple):
        new = [_copied(v, memo) for v in item]
        new = new if kind is list else tuple(new)
    elif kind is dict:
        # (One C-level copy first: a fit adding keys meanwhile is no
        # "changed size during iteration".)
        new = {k: _copied(v, memo) for k, v in dict(item).items()}
    elif kind is Series:
        new = item.copy()
    elif isinstance(item, np.random.RandomState):
        import copy

        new = copy.deepcopy(item)
    elif _is_copied(item):
        try:
            new = object.__new__(kind)
        except TypeError:  # a type object.__new__ cannot make: shared, as before
            return item
        memo[key] = (item, new)
        # A running fit's attributes shared, not copied: save drops them
        # before writing, and tells a checkpoint of the fit's own hooks by
        # the identity of its callbacks (rev-214: copies of a scikit-learn
        # or fastbp callback made every such save warn).
        new.__dict__.update({k: v if k in _RUN_ONLY else _copied(v, memo)
                             for k, v in dict(vars(item)).items()})
        return new
    else:
        return item
    memo[key] = (item, new)
    return new


# How many times save copies a model that calls in other threads keep
# changing before it refuses it as being fitted.
_SNAPSHOT_TRIES = 5


def _snapshot(obj, estimators):
    """A copy of ``obj`` (:func:`_copied`) that holds each fastbp model of
    ``estimators`` (``obj``'s, :func:`_objects`) whole, as a call left it:
    no fit or partial_fit call changed any of them while it was copied.

    Each model's mark and generation (:func:`~fastbp.estimators.fit_calls.
    training_state`) are read before and after copying: a call in another
    thread that started, ran or ended meanwhile replaced one of them, and
    the copy is taken anew.

    Raises
    ------
    ValueError
        If a model is being fitted, or calls kept changing a model through
        :data:`_SNAPSHOT_TRIES` copies.
    """
    from .estimators.fit_calls import training_state

    for _ in range(_SNAPSHOT_TRIES):
        before = [training_state(est) for est in estimators]
        _refuse_being_fitted(obj, estimators)
        snapshot = _copied(obj, {})
        changed = [est for est, (mark, generation) in zip(estimators, before)
                   if (now := training_state(est))[0] is not mark
                   or now[1] is not generation]
        if not changed:
            return snapshot
    _refuse_being_fitted(obj, estimators)
    raise _being_fitted(obj, changed[0])


def save(obj, path):
    """Save a fitted estimator (or a Pipeline or search holding one), without pickle.

    Parameters
    ----------
    obj : estimator, or list, tuple or dict of estimators
        A fastbp estimator, or a scikit-learn object that holds one, or a
        plain list, tuple or dict of them, every fastbp model in it fitted
        (and every Pipeline or search in it that holds one).
    path : str or path-like
        The file to write (by convention ``*.fastbp``); written atomically.

    Raises
    ------
    TypeError
        If ``path`` is no str, bytes or path-like (``None``, a model: the
        message names ``path``), before anything is serialised; or if the
        object holds something that cannot be saved without pickle
        (a ``learning_rate`` or ``scoring`` callable), or holds no fastbp
        model, or only an unfitted one while itself fitted (a search that
        chose another estimator).
    ValueError
        If a fastbp model it holds is being fitted (saved from a callback
        hook: save the hook's ``fitted_estimator``; from another thread,
        also one that calls kept changing while save copied it), or if a fastbp
        model's state is one :func:`load` would refuse
        (parameters or attributes set by hand that do not fit together, a
        parameter deleted, weights that hold NaN or infinity), or
        if a dict nested in an attribute (a search's ``best_params_``,
        ``param_grid`` or ``cv_results_`` with a ``class_weight`` of
        ``{False: ..., True: ...}``) has keys skops would rebuild as other
        keys: the message names the dict's path; or if ``path`` is empty,
        before anything is serialised.
    sklearn.exceptions.NotFittedError
        If no fastbp model it holds is fitted, or one is a classifier with
        weights set by hand but no classes, or if it is a list, tuple or
        dict that holds an unfitted fastbp model (or an unfitted Pipeline
        or search holding one): the message says where.
    IsADirectoryError, FileNotFoundError, NotADirectoryError
        If ``path`` is a directory, or its directory does not exist, or is
        a file.
    OSError
        If ``path`` exists and is not a regular file (``/dev/null``, a
        named pipe), which saving would replace with one. A symbolic link
        is followed: its target is what is checked and written.

    Warns
    -----
    UserWarning
        If the object holds callbacks (``set_callbacks``): they belong to a
        run and are not saved; call ``set_callbacks`` again after
        :func:`load`. Not when called from a hook of the fit those callbacks
        drive (a checkpoint saved by one of them, ``setup`` and
        ``teardown`` included), where they are left out silently.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> import fastbp
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = fastbp.MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "iris.fastbp")
    ...     fastbp.save(clf, path)
    ...     same = fastbp.load(path)
    >>> bool(np.array_equal(same.predict(X), clf.predict(X)))
    True
    """
    try:
        _path_argument("fastbp.save(obj, path)", path,
                       "the name of the file to write as path, for example model.fastbp")
    except TypeError as exc:
        if isinstance(obj, (str, bytes, os.PathLike)):
            raise TypeError(f"{exc} Are the arguments swapped? The model comes first: "
                            "fastbp.save(model, path).") from None
        raise
    sio = _skops_io()
    objects = _objects(obj)
    estimators = _fastbp_models(objects)
    if not estimators:
        raise TypeError(f"fastbp.save saves fastbp models; {type(obj).__name__} holds none. "
                        "Use skops.io.dump for other scikit-learn objects.")
    # From here on, what is checked and written is a snapshot: a fit in
    # another thread may change the user's model meanwhile, and save
    # edits what it writes.
    obj = _snapshot(obj, estimators)
    objects = _objects(obj)
    estimators = _fastbp_models(objects)
    if not any(hasattr(est, "coefs_") for est in estimators):
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        if obj is not estimators[0]:
            try:
                check_is_fitted(obj)
            except (NotFittedError, TypeError):
                pass
            else:
                # A search that chose another estimator: fitted, but what
                # it holds of fastbp is its untrained template.
                raise TypeError(
                    f"fastbp.save saves fastbp models; this fitted {type(obj).__name__} "
                    "holds no trained one (only an unfitted template, such as a search's "
                    "candidate it did not choose). Use skops.io.dump for other "
                    "scikit-learn objects.")
        raise NotFittedError(f"This {type(obj).__name__} is not fitted yet: fastbp.save "
                             "saves a trained model. Call fit first.")
    unfitted = _unfitted_in_containers(obj)
    if unfitted is not None:
        # A list of models saved one of them untrained, as a fitted one to
        # whoever loads it, where save refuses that model alone.
        from sklearn.exceptions import NotFittedError

        where, item = unfitted
        raise NotFittedError(f"{where} is an unfitted {type(item).__name__}: fastbp.save "
                             "saves trained models only. Fit it first, or leave it out.")
    _check_saveable(estimators)
    # The weights as predict packs them: what the file holds.
    weights = {id(est): _weights_as_predicted(est) for est in estimators}
    for est in estimators:
        if "coefs_" in est.__dict__:
            # Weights set by hand without what predicting needs (a
            # classifier's classes): not fitted, as predict says, with its
            # remedy, rather than an "inconsistent state" below. An unfitted
            # template (a search's) is not checked.
            est._check_weights_alone_suffice()
        # What load would refuse, refused here, when the model is still at
        # hand, rather than in production when the file is read: checked
        # on a copy holding the weights as they will be written.
        probe = object.__new__(type(est))
        probe.__dict__.update(est.__dict__)
        probe.__dict__.update(weights[id(est)])
        try:
            probe._check_loaded_state()
        except (ValueError, AttributeError, TypeError) as exc:
            # AttributeError, TypeError: state of the wrong kinds (an
            # attribute deleted, a list where an array belongs) that a check
            # read before one named it.
            raise ValueError(
                f"cannot save this {type(est).__name__}: its state is inconsistent, and "
                f"fastbp.load would refuse the file: {str(exc).rstrip('.')}.") from exc
    # The destination's problems, named after it rather than after the
    # temporary file written beside it. Bytes as str, as load reads them:
    # the temporary file's str prefix does not mix with a bytes directory.
    path = os.fsdecode(os.fspath(path))
    shown = path
    if os.path.islink(path):
        # Through the link, as open(path, "wb") would write: replacing the
        # link itself would leave its target as it was.
        path = os.path.realpath(path)
    # Special files refused: the atomic replace below would swap the
    # device or pipe for a regular file (as root, /dev/null itself).
    problem = destination_problem(path)
    if problem is not None:
        cls, message = problem
        linked = "" if shown == path else f" (a link to {path})"
        raise cls(f"cannot save to {shown}{linked}: {message}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        # The atomic replace below would go through where open() would not.
        raise PermissionError(f"cannot save to {shown}: the file exists and is read-only")
    import sklearn
    import skops

    from . import __version__

    # Callbacks and their contexts belong to a running fit, not to the model
    # (a Pipeline's or a search's too: set_callbacks(ProgressBar()) on it).
    # Said rather than done silently: pickle and clone keep them, and the
    # loaded model would train without its monitor, early stop or
    # TensorBoard writer.
    # Not from a hook of the fit they drive (a checkpoint callback saving
    # its fitted_estimator, which holds them too): said at every epoch, the
    # warning would only be noise to the callback that saves.
    from .estimators.callbacks import saved_from_own_hook

    dropped = []
    for est in objects:
        callbacks = est.__dict__.get("_skl_callbacks") or []
        if callbacks and not saved_from_own_hook(est):
            names = ", ".join(type(c).__name__ for c in callbacks)
            dropped.append(f"{type(est).__name__}'s {names}")
    held = [(est, {k: est.__dict__.pop(k) for k in _RUN_ONLY + ("_metadata_request",)
                   if k in est.__dict__})
            for est in objects]
    memo = {}
    nested = []
    try:
        # Written as plain arrays, the weights as predict packs them; the
        # originals are put back below, so that the model in memory is as
        # it was.
        for est, attributes in held:
            replaced = {**_plain_arrays(est), **weights.get(id(est), {})}
            attributes.update({name: est.__dict__[name] for name in replaced})
            est.__dict__.update(replaced)
        # And in what a fastbp model holds (its optimizer, training record
        # and label binarizer), which _objects does not list.
        for sub in _held_within(objects):
            replaced = _plain_arrays(sub)
            if replaced:
                nested.append((sub, {name: sub.__dict__[name] for name in replaced}))
                sub.__dict__.update(replaced)
        for est, attributes in held:
            keyed = _keyed_dicts(sio, est, memo)
            # Before the attributes are moved: the paths named are the user's.
            _refuse_nested_keyed_dicts(sio, est, keyed, memo)
            for name in keyed:
                value = est.__dict__.pop(name)
                attributes.setdefault(name, value)
            if keyed:
                est.__dict__[_KEYED] = keyed
        # skops recurses without end on scikit-learn's MetadataRequest (a
        # RecursionError): the routing requests (set_fit_request, ...) are
        # saved as plain dicts, and load sets them again.
        for est, attributes in held:
            if "_metadata_request" in attributes:
                est.__dict__[_REQUESTS] = _plain_requests(attributes["_metadata_request"])
        payload = sio.dumps(obj, compression=zipfile.ZIP_DEFLATED)
    finally:
        for sub, attributes in nested:
            sub.__dict__.update(attributes)
        for est, attributes in held:
            est.__dict__.pop(_REQUESTS, None)
            est.__dict__.pop(_KEYED, None)
            est.__dict__.update(attributes)
    refused = _refused_types(sio, payload)
    if refused:
        raise TypeError(
            f"{type(obj).__name__} holds objects that fastbp.load would refuse to rebuild "
            f"({refused}): save it with skops.io.dump, and load it with skops.io.load "
            "naming the types you trust.")
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "type": type(obj).__name__,
        "fastbp": __version__, "scikit-learn": sklearn.__version__,
        "skops": skops.__version__, "numpy": np.__version__,
        "dtypes": sorted({str(e._weights_dtype()) for e in estimators
                          if hasattr(e, "coefs_")}),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    def write(tmp):
        with open(tmp, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
                zf.writestr(_META, json.dumps(meta, indent=1))
                zf.writestr(_MODEL, payload)
            fh.flush()
            os.fsync(fh.fileno())

    replace_atomically(path, write, failure=f"cannot save to {shown}")
    if dropped:
        warnings.warn(
            f"fastbp.save does not save callbacks ({'; '.join(dropped)}): they belong to a "
            "run, not to the model. Call set_callbacks(...) again after fastbp.load to "
            "train the loaded model with them.", UserWarning, stacklevel=2)


def read_metadata(path):
    """The metadata of a saved model (versions, dtypes, checksum), without
    loading it.

    Parameters
    ----------
    path : str or path-like
        The file :func:`save` wrote.

    Returns
    -------
    dict
        What :func:`save` recorded: ``"format"`` (``"fastbp-model"``),
        ``"format_version"`` (int), ``"type"`` (the class name of the object
        saved: ``"MLPClassifier"``, ``"Pipeline"``, ...), ``"fastbp"``,
        ``"scikit-learn"``, ``"skops"`` and ``"numpy"`` (the versions that
        saved it), ``"dtypes"`` (sorted list of the weights' dtypes of the
        fitted fastbp models in it, such as ``["float32"]``) and
        ``"sha256"`` (the checksum of the model data, checked here).

    Raises
    ------
    TypeError
        If ``path`` is no str, bytes or path-like (``None``, a model).
    ValueError
        If the file is not a fastbp model file, is truncated, damaged or
        modified (its checksum does not match), was written in a newer
        format, or if ``path`` is empty, a device, a named pipe or a socket.
    IsADirectoryError, FileNotFoundError, NotADirectoryError
        If ``path`` is a directory, or does not exist, or a file stands
        where one of its directories should be.
    """
    path = _path_argument("fastbp.read_metadata(path)", path, "a path to a saved model")
    meta, _ = _read(path)
    return meta


def _read(path):
    # Bytes as save takes them (zipfile would take bytes for a file object).
    path = os.fsdecode(os.fspath(path))
    problem = source_problem(path, wanted="a model file")
    if problem is not None:
        cls, message = problem
        raise cls(f"cannot load {path}: {message}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if not {_META, _MODEL} <= names:
                # A damaged central directory can hide the members too, and a
                # file cut short ends in the directory of the skops archive
                # stored inside it (helper-43): what was read is shown.
                shown = ", ".join(sorted(names)[:4]) + (", ..." if len(names) > 4 else "")
                raise ValueError(
                    f"{path} is not a fastbp model file, or it is truncated or damaged: the "
                    f"zip archive read from it has no {_META} and {_MODEL} (it lists "
                    f"{shown or 'nothing'}).")
            meta = json.loads(zf.read(_META))
            payload = zf.read(_MODEL)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path} is not a fastbp model file, or it is truncated or "
                         f"damaged ({exc}).") from exc
    except (EOFError, zlib.error, json.JSONDecodeError, UnicodeDecodeError,
            NotImplementedError, KeyError) as exc:
        raise ValueError(f"{path} is damaged: {type(exc).__name__}: {exc}") from exc
    except RuntimeError as exc:
        # A flipped flag bit makes zipfile ask for a password ("is
        # encrypted", a RuntimeError, which fastbp never writes), and a
        # fastbp.json nested without end exhausts json's recursion (a
        # RecursionError, one too).
        raise ValueError(f"{path} is damaged: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        if isinstance(exc, (PermissionError, FileNotFoundError)):
            raise
        # A damaged central directory sends zipfile seeking before the
        # file's start ("[Errno 22] Invalid argument").
        raise ValueError(f"{path} is not a fastbp model file, or it is truncated or "
                         f"damaged ({exc}).") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastbp model file (its {_META} does not "
                         f"declare format {FORMAT!r}).")
    version = meta.get("format_version")
    # Every file fastbp writes has a version from 1 up (bool is an int too).
    if type(version) is not int or version < 1:
        raise ValueError(f"{path} is damaged: its format_version is {version!r}.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by fastbp {meta.get('fastbp')} in format version "
            f"{meta.get('format_version')}; this fastbp reads up to version {FORMAT_VERSION}. "
            "Upgrade fastbp to load it.")
    if hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
        raise ValueError(f"{path} is damaged or was modified: the checksum of {_MODEL} "
                         "does not match the one recorded when it was saved.")
    return meta, payload


def load(path):
    """Load a model saved by :func:`save`, without unpickling anything.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    estimator
        The saved object, fitted as it was.

    Raises
    ------
    TypeError
        If ``path`` is no str, bytes or path-like (``None``, a model).
    ValueError
        If ``path`` is empty; if the file is not a fastbp model file, is
        truncated, damaged or modified, was written by a newer format, has
        a ``fastbp.json`` whose ``type`` or ``dtypes`` (which the checksum
        does not cover) are not its model's, holds types outside
        scikit-learn's, NumPy's and fastbp's own, or holds a fastbp model
        whose state is inconsistent (edited by hand, weights that hold NaN
        or infinity) or that lacks a parameter of this fastbp's class
        (saved by an older fastbp, or edited: the message names the
        parameters and the fastbp version that saved it), or if ``path`` is
        a device, a named pipe or a socket (its content is not a model
        file).
    IsADirectoryError, FileNotFoundError, NotADirectoryError
        If ``path`` is a directory, or does not exist, or a file stands
        where one of its directories should be.
    MemoryError
        If this process cannot allocate the model an intact file holds
        (the message names the file, and does not call it damaged).

    Warns
    -----
    UserWarning
        If the file was saved with another fastbp or scikit-learn version,
        or a fastbp model in it holds public names that are no parameters
        of this fastbp's class (a newer fastbp's), which are ignored and
        dropped from the loaded model (a save of it does not write them).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> import fastbp
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = fastbp.MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "iris.fastbp")
    ...     fastbp.save(clf, path)
    ...     loaded = fastbp.load(path)
    >>> type(loaded).__name__, loaded.n_iter_ == clf.n_iter_
    ('MLPClassifier', True)
    """
    path = _path_argument("fastbp.load(path)", path, "a path to a saved model")
    sio = _skops_io()
    meta, payload = _read(path)
    try:
        untrusted = sio.get_untrusted_types(data=payload)
    except Exception as exc:  # skops' own container is damaged
        raise ValueError(f"{os.fspath(path)} is damaged: {type(exc).__name__}: {exc}") from exc
    unexpected = sorted(t for t in set(untrusted) if not _allowed(t))
    if unexpected:
        raise ValueError(
            f"{os.fspath(path)} holds types that fastbp does not load: {unexpected}. If you "
            "trust the file, inspect it with skops.io.get_untrusted_types and load its "
            "model.skops member with skops.io.load(..., trusted=[...]).")
    import sklearn

    from . import __version__

    for key, current in (("fastbp", __version__), ("scikit-learn", sklearn.__version__)):
        if meta.get(key) != current:
            warnings.warn(f"{os.fspath(path)} was saved with {key} {meta.get(key)}; this is "
                          f"{key} {current}. Check its predictions before relying on it.",
                          UserWarning, stacklevel=2)
    try:
        # Before numpy allocates what a header declares: a 77 kB file may
        # declare terabytes.
        _check_array_members(payload)
        model = sio.loads(payload, trusted=list(untrusted))
    except MemoryError as exc:
        # Not damage: an intact model larger than what this process can
        # allocate now (a declared size the file does not hold was refused
        # above, as damage). Told as such, so that the file is not thrown away.
        raise MemoryError(f"not enough memory to load {os.fspath(path)}: rebuilding its "
                          f"model failed ({exc}); the file itself was read intact") from exc
    except RecursionError:
        # Nor is Python's recursion limit, reached by a deeply nested object.
        raise
    except Exception as exc:
        # What a file whose checksum was recomputed can make rebuilding
        # raise (a missing key, an array member cut short, a JSON value that
        # does not parse, a state a type's __setstate__ refuses): a damaged
        # file, as the docstring says, not a traceback from deep inside
        # skops. (Ctrl-C, a BaseException, goes on as it is.)
        raise ValueError(f"{os.fspath(path)} is damaged: its model cannot be rebuilt "
                         f"({type(exc).__name__}: {exc})") from exc
    objects = _objects(model)
    for item in objects:
        plain = getattr(item, "__dict__", {}).pop(_REQUESTS, None)
        keyed = getattr(item, "__dict__", {}).pop(_KEYED, None)
        try:
            if keyed is not None:
                _set_keyed_dicts(item, keyed)
            if plain is not None:
                _set_requests(item, plain)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{os.fspath(path)} is damaged or was edited: {exc}") from exc
    estimators = _fastbp_models(objects)
    if not estimators:
        # save never writes one: a file built by other means.
        raise ValueError(f"{os.fspath(path)} holds a {type(model).__name__}, not a fastbp "
                         "model or an object holding one")
    saved = meta.get("fastbp")
    for est in estimators:
        name = type(est).__name__
        missing = est._missing_parameters()
        if missing:
            # Before the state check, which would name no version: a file
            # written by a fastbp whose class had fewer parameters.
            why = (f"it was saved by this fastbp ({saved}), whose {name} has them, so it "
                   "was edited after it was saved" if saved == __version__ else
                   f"it was saved by fastbp {saved} (this is fastbp {__version__}), whose "
                   f"{name} may not have had them, or it was edited after it was saved")
            raise ValueError(f"{os.fspath(path)} holds an {name} without the parameter(s) "
                             f"{', '.join(missing)}: {why}.")
        try:
            est._check_loaded_state()
        except (ValueError, AttributeError, TypeError) as exc:
            # AttributeError, TypeError: edited state of the wrong kinds,
            # met by a check before one named it; the file is what is wrong.
            raise ValueError(
                f"{os.fspath(path)} holds an {name} whose fitted state is "
                f"inconsistent: {str(exc).rstrip('.')}. Was the file edited after it was "
                "saved, or saved from a model whose attributes were set by hand?") from exc
        unknown = est._unknown_parameters()
        if unknown:
            # A newer fastbp's parameters: this one neither checks nor uses
            # them, so the model may not train or predict as it did there.
            warnings.warn(
                f"{os.fspath(path)} holds an {name} with the attribute(s) "
                f"{', '.join(unknown)}, which are no parameters of this fastbp's {name} "
                f"(it was saved by fastbp {saved}; this is fastbp {__version__}): they are "
                "ignored, and dropped from the loaded model. Check its predictions before "
                "relying on it.",
                UserWarning, stacklevel=2)
            # Dropped, not kept: kept, a save of the loaded model wrote them
            # again, and every later load repeated this warning about names
            # this fastbp never used.
            for attr in unknown:
                del est.__dict__[attr]
    # The checksum covers the model data only (model.skops), not
    # fastbp.json, whose type and dtypes read_metadata reports without
    # loading: compared here with what was rebuilt, so that an edited
    # fastbp.json is not taken as a description of the model it holds.
    described = {"type": type(model).__name__,
                 "dtypes": sorted({str(est._weights_dtype()) for est in estimators
                                   if hasattr(est, "coefs_")})}
    for field, actual in described.items():
        if meta.get(field) != actual:
            raise ValueError(
                f"{os.fspath(path)} is damaged or was edited: the {field} its {_META} "
                f"records, {meta.get(field)!r}, is not its model's, {actual!r}.")
    return model
