"""What :func:`~fastbp.persistence.save` checks of the models it is given
before writing them: refused here rather than by load, when the model is
still at hand."""

import numpy as np

from .objects import _fastbp_models, _objects


def _refuse_unfitted(obj, estimators):
    """Refuse ``obj`` unless it holds a trained fastbp model, and every
    fastbp model, Pipeline or search in its lists, tuples and dicts is
    fitted.

    Parameters
    ----------
    obj : object
        What save was given (its snapshot).
    estimators : list of BaseMLP
        The fastbp models in ``obj``.

    Raises
    ------
    TypeError
        If ``obj`` is fitted but holds only an unfitted fastbp template (a
        search that chose another estimator).
    sklearn.exceptions.NotFittedError
        If no fastbp model in it is fitted, or one of its containers holds
        an unfitted one: the message says where.
    """
    from sklearn.exceptions import NotFittedError

    if not any(hasattr(est, "coefs_") for est in estimators):
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
        where, item = unfitted
        raise NotFittedError(f"{where} is an unfitted {type(item).__name__}: fastbp.save "
                             "saves trained models only. Fit it first, or leave it out.")


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

    from ..estimators.base import BaseMLP

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
    """Refuse a ``learning_rate`` or ``scoring`` of ``estimators`` that is a
    Python function (a ``TypeError``): skops would need pickle for it."""
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


def _refuse_inconsistent_states(estimators, weights):
    """Refuse, with a ``ValueError``, a fastbp model of ``estimators`` whose
    state :func:`~fastbp.persistence.load` would refuse, checked on a copy
    holding the weights as they will be written (``weights``, by id of the
    model: :func:`_weights_as_predicted`): refused here, when the model is
    still at hand, rather than in production when the file is read.

    A fitted classifier whose weights were set by hand without its classes
    is not fitted (a ``NotFittedError``), as predict says, with its remedy.
    """
    for est in estimators:
        if "coefs_" in est.__dict__:
            # Not fitted, rather than an "inconsistent state" below. An
            # unfitted template (a search's) is not checked.
            est._check_weights_alone_suffice()
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
