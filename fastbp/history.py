"""A fitted model's training history as a pandas DataFrame.

``pd.DataFrame(model.history_)`` fails, since ``history_["grad_norm"]`` is
2-D (epochs by layers): :func:`history_frame` flattens it, one column per
layer. The command line's ``--history-out`` CSV is this frame, written
without its index. pandas is imported only here, when called.
"""

import numpy as np

from .display import (_history_of, _trained_model, check_estimator_given, no_history_message,
                      step_name)


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
