"""Reading a fitted model's training history, and it as a pandas DataFrame.

``pd.DataFrame(model.history_)`` fails, since ``history_["grad_norm"]`` is
2-D (epochs by layers): :func:`history_frame` flattens it, one column per
layer. The command line's ``--history-out`` CSV is this frame, written
without its index. pandas is imported only here, when called.

The helpers below read a history for the rest of fastbp too: which model
of a Pipeline or search holds it, its rows with a converted model's
scikit-learn epochs first, what one step is called, and why a model has
none. :class:`fastbp.display.TrainingHistoryDisplay` only draws what they
read, and this module imports nothing of it (nor matplotlib).
"""

import numpy as np


def history_frame(estimator):
    """A fitted model's ``history_`` as a DataFrame, one row per epoch.

    Parameters
    ----------
    estimator : fitted estimator
        A fastbp model, or what holds one as its last step or fitted
        model (a Pipeline, a search's ``best_estimator_``, a
        ``TransformedTargetRegressor``), as for
        :meth:`TrainingHistoryDisplay.from_estimator`.

    Returns
    -------
    frame : pandas.DataFrame
        One row per epoch that :meth:`TrainingHistoryDisplay.from_estimator`
        plots, with a default ``RangeIndex``: for a model converted from
        scikit-learn, first one per epoch scikit-learn trained (its
        ``loss`` from ``loss_curve_``, its ``val_score`` from
        ``validation_scores_``, NaN in the columns scikit-learn did not
        record), then fastbp's. The columns:

        - ``epoch`` (1, 2, ...), or ``iteration`` where the model's last
          fit was L-BFGS, whose history records iterations: the number
          :class:`TrainingHistoryDisplay` plots the row at;
        - each per-epoch entry of ``history_`` under its own name:
          ``loss``, ``learning_rate``, ``epoch_time``, ``dead_fraction``,
          and ``val_loss`` and ``val_score`` when early stopping
          validated (L-BFGS: ``loss`` and ``epoch_time`` only);
        - ``grad_norm_layer1``, ``grad_norm_layer2``, ...: column ``N`` of
          ``history_["grad_norm"]``, layer ``N``'s gradient norm.

        The step is a column rather than the index so that the frame
        written with ``to_csv(index=False)`` (as ``fastbp train
        --history-out`` writes it) reads back the same, and plots:
        ``TrainingHistoryDisplay(frame.to_dict("list"))``.

    Raises
    ------
    TypeError
        If ``estimator`` is not an estimator: its ``history_`` dict, say
        (``pd.DataFrame(model.history_)`` fails, this takes the model).
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If the fitted model records no training history (no ``history_``
        or ``loss_curve_``: a model converted from an L-BFGS fit, a model
        not fastbp's, a search fitted with ``refit=False``, or what holds
        several fitted models), saying which model to pass instead where
        there is one.
    ImportError
        If pandas is not installed.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fastbp import MLPClassifier, history_frame
    >>> X, y = load_iris(return_X_y=True)
    >>> model = MLPClassifier((8,), max_iter=20, random_state=0).fit(X, y)
    >>> frame = history_frame(model)
    >>> len(frame) == model.n_iter_
    True
    >>> list(frame.columns[:3])
    ['epoch', 'loss', 'learning_rate']
    >>> [c for c in frame.columns if c.startswith("grad_norm")]
    ['grad_norm_layer1', 'grad_norm_layer2']
    """
    from sklearn.utils.validation import check_is_fitted

    check_estimator_given(estimator, "history_frame")
    check_is_fitted(estimator)
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError('history_frame needs pandas: pip install pandas, or '
                          'pip install "fastbp[cli]"') from exc
    model = _trained_model(estimator)
    # The rows from_estimator plots: a model converted from scikit-learn
    # has its scikit-learn epochs first, from loss_curve_, which history_
    # (without early stopping) does not hold. Refusing such a model, or
    # numbering its history_ alone, made the table disagree with the plot.
    h = _history_of(model) if _is_fastbp_model(model) else dict(
        getattr(model, "history_", None) or {})
    if "loss" not in h:
        raise ValueError(_no_history_reason(model))
    # L-BFGS's rows are its iterations, as TrainingHistoryDisplay labels them.
    index = step_name(model)
    columns = {index: np.arange(1, len(h["loss"]) + 1)}
    for key, values in h.items():
        values = np.asarray(values)
        if values.ndim == 2:
            for layer in range(values.shape[1]):
                columns[f"{key}_layer{layer + 1}"] = values[:, layer]
        elif len(values) == len(columns[index]):
            columns[key] = values
    return pd.DataFrame(columns)


def _is_fastbp_model(model):
    # Imported here: the estimators need not load with this module.
    from .estimators.base import BaseMLP

    return isinstance(model, BaseMLP)


def _no_history_reason(model):
    """Why :func:`history_frame` finds no ``history_`` in ``model``."""
    name = type(model).__name__
    if getattr(model, "loss_curve_", None) is not None and not _is_fastbp_model(model):
        # rev-258: scikit-learn's own MLP (to_sklearn's) was said to be a
        # model converted from scikit-learn.
        package = type(model).__module__.split(".")[0]
        return (f"{name} ({package}) has no training history_ to tabulate, "
                "only a loss_curve_: history_frame tabulates a fastbp model's history_ "
                "(TrainingHistoryDisplay.from_estimator plots the loss_curve_)")
    # What the plot says of the same objects: a search fitted with
    # refit=False, a meta-estimator holding several models.
    return no_history_message(model, "tabulate")


def _trained_model(estimator):
    """The model inside ``estimator`` whose history to plot: a Pipeline's
    last step, a search's best estimator, a target transformer's regressor,
    a meta-estimator's one fitted ``estimator_`` (SelfTrainingClassifier,
    RANSACRegressor) where that holds a history (nested as deep as they go,
    within reason)."""
    for _ in range(32):
        if hasattr(estimator, "steps"):
            estimator = estimator.steps[-1][1]
        elif hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        elif hasattr(estimator, "regressor_"):
            estimator = estimator.regressor_
        elif (getattr(estimator, "estimator_", None) is not None
              and "loss" not in _history_of(estimator)
              and "loss" in _history_of(_trained_model(estimator.estimator_))):
            # Only a fitted one with a history: a bagging ensemble's
            # estimator_ is the unfitted template of its estimators_.
            estimator = estimator.estimator_
        else:
            break
    return estimator


def check_estimator_given(estimator, caller):
    """Refuse what is not an estimator before scikit-learn's
    ``check_is_fitted`` does: its message prints the object's repr, which
    for a ``history_`` dict (``pd.DataFrame(model.history_)`` leads one to
    pass it) is every array of the history.

    Parameters
    ----------
    estimator : object
        What the caller was given as the fitted estimator.
    caller : str
        The function given it, as the message names it.

    Raises
    ------
    TypeError
        If ``estimator`` is a mapping (a ``history_``) or has no ``fit``.
    """
    from collections.abc import Mapping

    if isinstance(estimator, Mapping):
        raise TypeError(f"{caller} takes the fitted estimator, not its history_ (a "
                        f"{type(estimator).__name__}): pass the estimator itself; to draw a "
                        "history dict, use TrainingHistoryDisplay(history).plot()")
    if not hasattr(estimator, "fit"):
        raise TypeError(f"{caller} takes a fitted estimator; got an object of type "
                        f"{type(estimator).__name__}")


def no_history_message(model, verb="plot"):
    """Why ``model``, which records no training history, has none to
    ``verb`` (``"plot"``; :func:`fastbp.history_frame`'s ``"tabulate"``):
    a search fitted with ``refit=False``, or what holds fitted models, says
    which to use instead (the first that has a history).

    Parameters
    ----------
    model : object
        What :func:`_trained_model` found in the estimator given.
    verb : str, default "plot"
        What the caller would have done with the history, as the message
        says it.

    Returns
    -------
    str
        The message, naming what to pass instead where there is one.
    """
    name = type(model).__name__
    if hasattr(model, "cv_results_") and not hasattr(model, "best_estimator_"):
        return (f"{name} was fitted with refit=False: no best_estimator_ to {verb}. Fit it "
                f"with refit=True, or fit the model with its best_params_ and {verb} that.")
    estimators = getattr(model, "estimators_", None)
    # A list of models (a Pipeline among them would be taken apart by
    # np.ravel), or an array of them (gradient boosting's trees).
    estimators = (list(estimators.ravel()) if isinstance(estimators, np.ndarray)
                  else list(estimators or ()))
    held = {"estimators_": estimators,
            "calibrated_classifiers_": [calibrated.estimator for calibrated
                                        in getattr(model, "calibrated_classifiers_", None) or ()]}
    for attribute, example in (("estimators_", "estimators_[{}]"),
                               ("calibrated_classifiers_", "calibrated_classifiers_[{}].estimator")):
        # The first with a history: a stack's first model may be one that
        # records none (LogisticRegression).
        index = next((i for i, est in enumerate(held[attribute])
                      if "loss" in _history_of(_trained_model(est))), None)
        if index is None:
            continue
        if len(held[attribute]) == 1:
            return (f"{name} holds one fitted model in {attribute}; {verb} it: its "
                    f"{example.format(index)}.")
        return (f"{name} holds several fitted models in {attribute}; {verb} one of them, "
                f"e.g. its {example.format(index)}.")
    inner = getattr(model, "estimator_", None)
    if inner is not None and not estimators:
        return (f"{name} has no training history to {verb}, nor has its fitted estimator_ "
                f"({type(inner).__name__}): no history_ or loss_curve_.")
    return f"{name} has no training history to {verb} (no history_ or loss_curve_)."


def _history_of(model):
    """``model``'s per-epoch records, as long as its ``loss_curve_``.

    A model converted from scikit-learn without early stopping has no
    ``history_`` of its scikit-learn epochs (one with early stopping has
    them, seeded by ``from_sklearn``), and ``partial_fit`` records only its
    own: those epochs get their loss (and validation score) from
    ``loss_curve_`` (and ``validation_scores_``) and NaN elsewhere, so that
    every epoch stands at its own number. :func:`fastbp.history_frame`
    tabulates these rows, so that the table and the plot agree.
    """
    history = dict(getattr(model, "history_", None) or {})
    curve = np.asarray(_list_or_empty(model, "loss_curve_"), dtype=float)
    n_before = epochs_before(model)
    if not history:
        if not len(curve):
            return history
        history = {"loss": curve}
    elif n_before > 0:
        history = {key: np.concatenate([np.full((n_before,) + np.shape(v)[1:], np.nan),
                                        np.asarray(v, dtype=float)])
                   for key, v in history.items()}
        history["loss"] = curve
    # Validation scores are placed only where they cover every epoch of the
    # loss curve: a shorter list (early stopping turned on or off between
    # fits) does not say which epochs it scored. And only along a stochastic
    # record, whose loss is that curve: an L-BFGS fit records iterations,
    # and leaves the earlier stochastic fit's scores as they were (as
    # scikit-learn does), which may happen to count as many.
    scores = np.asarray(_list_or_empty(model, "validation_scores_"), dtype=float)
    if (len(scores) == len(history["loss"]) == len(curve)
            and not _records_iterations(getattr(model, "history_", None))):
        if "val_score" not in history:
            history["val_score"] = scores
        elif n_before > 0:
            history["val_score"][:n_before] = scores[:n_before]
    return history


def epochs_before(model):
    """How many entries of ``model``'s ``loss_curve_`` come before the
    epochs its ``history_`` records: those scikit-learn trained, for a
    model converted from it. 0 where the curve does not end with the
    history's epochs: it is an earlier fit's, which an L-BFGS fit leaves as
    it was (as scikit-learn does).

    The ends are compared, not the whole tail: TensorBoardCallback asks at
    every epoch.

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        A model, fitted or not (an unfitted one has none).

    Returns
    -------
    int
        The number of ``loss_curve_`` entries before the first epoch of
        ``history_``.
    """
    loss = (getattr(model, "history_", None) or {}).get("loss", ())
    curve = _list_or_empty(model, "loss_curve_")
    n_before = len(curve) - len(loss)
    if n_before <= 0 or not len(loss):
        return 0
    return n_before if curve[n_before] == loss[0] and curve[-1] == loss[-1] else 0


def step_name(model):
    """What one entry of ``model``'s history is: "iteration" (L-BFGS) or
    "epoch". By what recorded it where ``model`` is fitted (an L-BFGS fit
    records its iterations' loss and time only, a stochastic fit its epochs'
    learning rate too, whatever ``solver`` was set to since); by ``solver``
    before its fit.

    Parameters
    ----------
    model : MLPClassifier or MLPRegressor
        A model, fitted or not.

    Returns
    -------
    {"epoch", "iteration"}
        The name of one step of its training.
    """
    history = getattr(model, "history_", None)
    if history:
        return "iteration" if _records_iterations(history) else "epoch"
    return "iteration" if getattr(model, "solver", None) == "lbfgs" else "epoch"


def _records_iterations(history):
    # An L-BFGS fit records its iterations' loss and time only.
    return bool(history) and set(history) <= {"loss", "epoch_time"}


def _list_or_empty(model, name):
    values = getattr(model, name, None)
    return [] if values is None else values
