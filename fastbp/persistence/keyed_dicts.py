"""Dicts whose keys skops would not rebuild as they are (a class_weight
``{False: 5.0, True: 1.0}`` of boolean labels): found and encoded as
lists of pairs when saving, refused where nested, and set again when
loading."""

import numpy as np


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
