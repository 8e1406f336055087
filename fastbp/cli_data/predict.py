"""``fastbp predict`` and ``fastbp evaluate``: a saved model loaded and
checked to be one the command line trained, a file read as that model's
columns, and its predictions written or scored.
"""

import os
import sys

import numpy as np

from ..files import path_argument, source_problem, special_file
from .columns import (_all_bools, _check_scaled_range, _checked_features, _labels_like_classes,
                      _spaced, note_unseen_categories, regression_target)
from .messages import CLIError, _pandas, error_message, print_note
from .outputs import check_output_path, check_table_name, refuse_overwriting
from .tables import _nfc, _nfc_renamed, _read_csv, read_table, split_target, write_table


def load_model(path):
    import fastbp

    problem = source_problem(path, wanted="a model file")
    if problem is not None:
        raise CLIError(f"--model {path}: {problem[1]}")
    try:
        pipe = fastbp.load(path)
    except (OSError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    if not hasattr(pipe, "fastbp_target_"):
        raise CLIError(f"{path} was not written by 'fastbp train --data' (it has no "
                       "recorded target column); load it with fastbp.load in Python.")
    problem = _cli_model_problem(pipe)
    if problem is not None:
        # predict and evaluate read these unchecked: a KeyError or an
        # AttributeError with a traceback, or an error naming no cause.
        raise CLIError(f"{path} was not written by 'fastbp train' (or was changed since): "
                       f"{problem}; load it with fastbp.load in Python.")
    _predict_where_possible(pipe, path)
    return pipe


def _cli_model_problem(pipe):
    """What in the loaded object ``pipe`` is not what ``fastbp train``
    writes (:func:`build_pipeline` and the attributes it records), in words,
    or None: the structure predict and evaluate read."""
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.pipeline import Pipeline

    from ..estimators.classifier import MLPClassifier
    from ..estimators.regressor import MLPRegressor

    if not isinstance(pipe, Pipeline):
        return f"what it holds is not a Pipeline but {type(pipe).__name__}"
    steps = pipe.steps
    names = [step[0] if isinstance(step, tuple) and len(step) == 2 else step
             for step in steps] if isinstance(steps, list) else steps
    if names != ["preprocess", "model"]:
        return f"its steps are {names!r}, not ['preprocess', 'model']"
    preprocess, model = steps[0][1], steps[1][1]
    transformers = getattr(preprocess, "transformers_", None)
    if not (isinstance(preprocess, ColumnTransformer) and isinstance(transformers, list)):
        return ("its preprocess step is not a fitted ColumnTransformer but "
                f"{type(preprocess).__name__}")
    for entry in transformers:
        if not (isinstance(entry, tuple) and len(entry) == 3):
            return "its preprocess step's transformers are not (name, encoder, columns)"
        name, encoder, _ = entry
        if name == "numeric" and _numeric_scaler(encoder) is None:
            return "its preprocess step's numeric columns have no scale step"
        if name == "categorical" and not hasattr(encoder, "categories_"):
            return "its preprocess step's categorical columns have no fitted encoder"
    target = pipe.fastbp_target_
    if not isinstance(target, str):
        return f"fastbp_target_ is {target!r}, not a column name"
    task = getattr(pipe, "fastbp_task_", None)
    kinds = {"classification": MLPClassifier, "regression": MLPRegressor}
    if not (isinstance(task, str) and task in kinds):
        return f"fastbp_task_ is {task!r}, not 'classification' or 'regression'"
    if task == "regression" and isinstance(model, TransformedTargetRegressor):
        # The regressor of a standardised target (train's default since
        # rev-288); models saved before hold the bare regressor.
        if _target_scaler(model) is None:
            return "its model step's target transformer is not a fitted StandardScaler"
        model = getattr(model, "regressor_", None)
    if not isinstance(model, kinds[task]):
        return f"fastbp_task_ {task!r} does not fit its {type(model).__name__} model step"
    # Absent from models trained before fastbp recorded it (read_for_model).
    marks = getattr(pipe, "fastbp_marks_missing_", [])
    if not (isinstance(marks, list) and all(isinstance(c, str) for c in marks)):
        return f"fastbp_marks_missing_ is {marks!r}, not a list of column names"
    return None


def _target_scaler(model):
    """The fitted ``StandardScaler`` of the ``TransformedTargetRegressor``
    ``model`` (its ``transformer_``), or None."""
    from sklearn.preprocessing import StandardScaler

    scaler = getattr(model, "transformer_", None)
    if (isinstance(scaler, StandardScaler) and getattr(scaler, "mean_", None) is not None
            and getattr(scaler, "scale_", None) is not None):
        return scaler
    return None


def network(pipe):
    """The fastbp estimator of a model that ``fastbp train`` wrote: its
    ``model`` step, or that step's ``regressor_`` where the step puts the
    predictions of a standardised target back in its units."""
    model = pipe.named_steps["model"]
    return getattr(model, "regressor_", model)


def _numeric_scaler(encoder):
    """The fitted ``StandardScaler`` of a saved model's numeric columns, or
    None: the ``scale`` step of :func:`build_pipeline`'s scale and cast
    Pipeline, or the encoder itself in models written before that cast
    (5d21400), which hold a bare scaler and keep loading."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if isinstance(encoder, Pipeline):
        encoder = encoder.named_steps.get("scale")
    # Fitted, with both statistics (with_mean=False or with_std=False
    # leave one None): check_standardised_range reads them.
    if (isinstance(encoder, StandardScaler) and getattr(encoder, "mean_", None) is not None
            and getattr(encoder, "scale_", None) is not None):
        return encoder
    return None


def _predict_where_possible(pipe, path):
    """A model trained with ``--set device=cuda`` predicts on the CPU where
    there is no usable GPU: the commands have no option to set it back, as
    Python's ``set_params(device="cpu")`` does."""
    from ..estimators.base import BaseMLP

    on_gpu = [step for step in (network(pipe),)
              if isinstance(step, BaseMLP) and step.device == "cuda"]
    if not on_gpu:
        return
    from ..kernels.cuda import device_status

    problem = device_status()
    if problem is not None:
        for step in on_gpu:
            step.set_params(device="cpu")
        print(f"note: {path} was trained with device='cuda', and this machine cannot run "
              f"it ({problem.rstrip('.')}); it predicts on the CPU.", file=sys.stderr)


def model_columns(pipe):
    """The saved model's numeric (standardised) feature columns, and those
    of its one-hot encoded columns whose categories are text (not a bool
    column's True and False)."""
    numeric, text = [], []
    for name, encoder, cols in pipe.named_steps["preprocess"].transformers_:
        if name == "numeric":
            numeric = list(cols)
        elif name == "categorical":
            text = [c for c, categories in zip(cols, encoder.categories_)
                    if any(isinstance(v, str) for v in categories)]
    return numeric, text


def read_for_model(pipe, path, keep=()):
    """``path`` read as training read its file: the model's text columns as
    text ("1" and "2" stay the categories that training saw, even where no
    other value of the column is text), without the spaces around their
    values where training had none (codes: :func:`keep_written_codes`), and
    its True and False columns as True and False. The ``keep`` columns that
    are no feature of the model are read as written (an ID "00123" keeps
    its zeros), to be copied into the output."""
    text = model_columns(pipe)[1]
    categories = dict(_model_categories(pipe))
    stripped = [c for c in text if not _spaced(categories[c])]
    bools = [c for c, values in categories.items() if _all_bools(values)]
    if pipe.fastbp_task_ == "classification" and np.asarray(pipe.classes_).dtype.kind in "OUS":
        # Labels the model knows as text ("007", or "1" among "x" and "y")
        # are compared as text, whatever this file's column holds.
        text = [*text, pipe.fastbp_target_]
        if not _spaced(pipe.classes_):
            stripped.append(pipe.fastbp_target_)
    # A model trained before only empty fields were missing in text read
    # "NA", "None" ... as missing everywhere, as pandas does, and learned
    # them so.
    marks = getattr(pipe, "fastbp_marks_missing_", text)
    features = set(pipe.feature_names_in_)
    as_written = [c for c in keep if c not in features and c not in text]
    return read_table(path, [*text, *as_written], stripped, bools, marks)


def kept_as_written(pipe, frame, path, keep):
    """The ``keep`` columns of ``frame`` (:func:`read_for_model` of
    ``path``) as the file writes them: those that the model reads too (a
    feature, the target) were read as it does ("000" the number 0, "1e2"
    100.0, a code without its spaces), and are read again, as text."""
    kept = frame[list(keep)].reset_index(drop=True)
    read = [c for c in keep if c in pipe.feature_names_in_ or c == pipe.fastbp_target_]
    if not read:
        return kept
    # _read_csv, as read_table reads: the same separator, compression and
    # rows; every field as text, only an empty one missing. Only these
    # columns (every column as text took more memory than the whole
    # prediction: rev-289), with the header's last one, by which _read_csv
    # tells a trailing comma on each data line from row names.
    names = {_nfc(c) for c in read}
    header = list(_read_csv(path, dtype=str, nrows=0).columns)
    wanted = [c for c in header if c in read or _nfc(c) in names]
    # (A callable: pandas reads a list naming every column of a file with
    # row names as if it had none, each value under the next name.)
    wanted = {*wanted, header[-1]}
    raw = _nfc_renamed(_read_csv(path, dtype=str, usecols=wanted.__contains__), read, path)
    if len(raw) != len(kept):
        raise CLIError(f"{path} changed while it was read; run the command again")
    for c in read:
        kept[c] = raw[c].to_numpy()
    return kept


def read_data(path, model, index_col=None):
    """Read a data file as ``fastbp predict`` reads it for ``model``.

    The features come back ready for ``model.predict``. A plain
    ``pandas.read_csv`` of the same file can give other predictions,
    silently: it reads "None" or "NA" in a text column as a missing value
    (an unknown category to the model), and "02134" in a code column as the
    number 2134, which the model's encoder refuses.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV file (``.csv``, ``.txt``, ``.csv.gz``; ``.tsv`` and
        ``.tsv.gz`` tab-separated), with a header line naming the columns.
    model : Pipeline
        A model written by ``fastbp train --data ... --model-out`` and
        loaded with :func:`fastbp.load`.
    index_col : str or list of str, optional
        The column name (or a list of names, as a MultiIndex) to make the
        index of ``X``: an ID to join the predictions on. Unlike
        :func:`pandas.read_csv`, a column's position is refused. The file may hold it though the model does not read it (any
        other column the model does not read is refused). Its values are
        the file's text as written ("00123" keeps its zeros); a column the
        model reads stays among the features too.

    Returns
    -------
    X : pandas.DataFrame
        The model's feature columns, in its training order. The target
        column, if the file has it, is dropped. Its index is ``index_col``,
        given, else 0, 1, ... (or the row names of a file that has them,
        as R's ``write.table`` writes).

    Raises
    ------
    ImportError
        If pandas is not installed (``pip install "fastbp[cli]"``).
    FileNotFoundError, IsADirectoryError, NotADirectoryError
        If ``path`` does not exist, is a directory, or lies under a file
        where one of its directories should be.
    TypeError
        If ``path`` is not a str, bytes or path-like (None, or the model
        given in its place), or ``index_col`` is not a column name or a
        list of them.
    ValueError
        If ``path`` is empty, a device, a named pipe or a socket, if ``model`` was
        not written by ``fastbp train --data``, or if the file
        cannot be read as the model's columns (a column missing or
        unexpected, a missing value in a numeric column, text in a column
        that was numeric in training), or lacks an ``index_col`` column,
        with the problem named.

    Warns
    -----
    UserWarning
        For what ``fastbp predict`` notes: a column holding categories that
        training never saw, which the model encodes as none of the known
        ones.

    Examples
    --------
    >>> model = fastbp.load("churn.fastbp")                # doctest: +SKIP
    >>> X = fastbp.read_data("new_customers.csv", model)   # doctest: +SKIP
    >>> model.predict(X)                                   # doctest: +SKIP

    A file with an ID column the model does not read:

    >>> X = fastbp.read_data("new_customers.csv", model, index_col="id")  # doctest: +SKIP
    >>> pd.Series(model.predict(X), index=X.index)         # doctest: +SKIP
    """
    import importlib
    import warnings

    try:
        # Here, not inside read_table: its CLIError names no Python function.
        importlib.import_module("pandas")
    except ImportError as exc:
        raise ImportError('fastbp.read_data needs pandas: pip install "fastbp[cli]"') from exc
    if index_col is None:
        keep = []
    elif isinstance(index_col, str):
        keep = [index_col]
    elif (isinstance(index_col, (list, tuple)) and index_col
          and all(isinstance(c, str) for c in index_col)):
        keep = list(index_col)
    else:
        raise TypeError(f"index_col must be a column name or a list of them, not "
                        f"{index_col!r}")
    repeated = sorted({c for c in keep if keep.count(c) > 1})
    if repeated:
        raise ValueError(f"index_col names the column(s) {repeated} more than once: give "
                         "each once")
    # fix-324: os.fspath's own message ("expected str, bytes or
    # os.PathLike object, not NoneType") named no argument.
    path = path_argument("fastbp.read_data(path, model)", path, "the path of a data file")
    problem = source_problem(path)
    if problem is not None:
        cls, message = problem
        raise cls(f"cannot read {path}: {message}")
    if not hasattr(model, "fastbp_target_"):
        raise ValueError(f"read_data needs a model written by 'fastbp train --data' (it "
                         f"records the target column); got {type(model).__name__}")
    problem = _cli_model_problem(model)
    if problem is not None:
        raise ValueError(f"read_data needs a model written by 'fastbp train --data' (or "
                         f"unchanged since): {problem}")
    # The command line prints its notes on stderr; a library warns instead,
    # which the caller can filter or turn into errors. Collected, and warned
    # once the file is read: an error then comes without the notes before it.
    # (Not by redirecting sys.stderr, which is every thread's.)
    notes = []
    try:
        frame = _nfc_renamed(read_for_model(model, path, keep), keep, path)
        absent = [c for c in keep if c not in frame.columns]
        if absent:
            raise CLIError(f"index_col {absent[0]!r}: {path} has no such column "
                           f"(columns: {list(frame.columns)})")
        X = features_for(model, frame, path, keep, note=notes.append,
                         keep_hint=lambda extra: _index_col_option(extra, keep))
        if keep:
            kept = kept_as_written(model, frame, path, keep)
            index = (_pandas().MultiIndex.from_frame(kept) if len(keep) > 1
                     else _pandas().Index(kept[keep[0]], name=keep[0]))
            X = X.set_axis(index, axis=0)
    except CLIError as exc:
        raise ValueError(str(exc)) from None
    for text in notes:
        warnings.warn(text, UserWarning, stacklevel=2)
    return X


def _model_categories(pipe):
    """``(column, categories)`` for each one-hot encoded column of a saved
    model."""
    for name, encoder, cols in pipe.named_steps["preprocess"].transformers_:
        if name == "categorical":
            yield from zip(cols, encoder.categories_)


def features_for(pipe, frame, path, keep=None, note=print_note, keep_hint=None):
    """The model's feature columns of ``frame``, matched by name, and
    checked against what training saw. ``keep``, given (``predict
    --keep``), names columns that may be there besides the features, and
    the refusal of other columns then suggests the option (``keep_hint``,
    given, says how instead: called with those columns, it returns the
    text added to the error). ``note`` is called with the text of each note
    on the features (by default printed on stderr)."""
    data = _nfc_renamed(frame, [pipe.fastbp_target_], path).drop(
        columns=[pipe.fastbp_target_], errors="ignore")
    hint = ""
    if keep is not None:
        data = data.drop(columns=[c for c in keep if c not in pipe.feature_names_in_],
                         errors="ignore")
        extra = [c for c in data.columns if c not in pipe.feature_names_in_]
        hint = (keep_hint or _keep_options)(extra)
    X = _checked_features(data, list(pipe.feature_names_in_), model_columns(pipe)[0], path,
                          hint)
    check_standardised_range(pipe, X, path)
    note_unseen_categories(pipe, X, path, note)
    return X


def _keep_options(extra):
    """How ``predict`` copies the columns ``extra`` (the model reads none of
    them) into --out, for the error that refuses them."""
    import shlex

    options = " ".join(f"--keep {shlex.quote(str(c))}" for c in extra)
    return (f"; to copy {'it' if len(extra) == 1 else 'them'} into --out beside the "
            f"predictions (an ID to join on), which the model does not read, pass {options}")


def _index_col_option(extra, given=()):
    """How :func:`read_data` reads the columns ``extra`` (the model reads
    none of them), for the error that refuses them: ``given`` are the
    ``index_col`` columns already passed, which the value suggested keeps
    (replacing them with ``extra`` would refuse them in turn)."""
    columns = [*given, *extra]
    value = repr(columns[0]) if len(columns) == 1 else repr(columns)
    return (f"; to read {'it' if len(extra) == 1 else 'them'} as the index of the returned "
            f"features (an ID to join the predictions on), which the model does not read, "
            f"pass index_col={value}")


def check_standardised_range(pipe, X, path):
    """Refuse values of ``X`` whose standardised value (the model's scaler)
    is beyond the range of the model's dtype (3.4e38 in float32), naming
    the column and lines: the cast made them infinite, and scikit-learn's
    error named neither (helper-163)."""
    coefs = getattr(network(pipe), "coefs_", None)
    dtype = np.dtype(coefs[0].dtype) if coefs else np.dtype(np.float32)
    for name, encoder, cols in pipe.named_steps["preprocess"].transformers_:
        if name != "numeric":
            continue
        # A model without the cast step (5d21400) scales to float64, and its
        # network casts that to its dtype: the same range applies.
        scaler = _numeric_scaler(encoder)
        _check_scaled_range(X, list(cols), scaler.mean_, scaler.scale_, dtype, path)


def predict_file(args):
    """``fastbp predict --model M --data FILE --out FILE [--proba] [--keep COL ...]``."""
    pd = _pandas()

    # "-" is standard output (a shell pipeline), as for most tools.
    to_stdout = args.out == "-" or _names_standard_output(args.out)
    if to_stdout and sys.stdout is None:
        # Python's sys.stdout where the shell closed it (>&-): to_csv(None)
        # returned the table as a string and wrote nothing (helper-123).
        raise CLIError("--out -: standard output is closed, so the predictions could not "
                       "be written; give a file name, or run with standard output open")
    if not to_stdout:
        check_output_path(args.out, "--out", special_ok=True)
        refuse_overwriting([("--out", args.out)],
                           [("--model", args.model), ("--data", args.data)])
        check_table_name(args.out, "--out")
    keep = list(getattr(args, "keep", None) or [])
    repeated = sorted({c for c in keep if keep.count(c) > 1})
    if repeated:
        raise CLIError(f"--keep names the column(s) {repeated} more than once: give each once")
    pipe = load_model(args.model)
    if args.proba and pipe.fastbp_task_ != "classification":
        raise CLIError("--proba needs a classifier; this model is a regressor")
    names = ([f"proba_{c}" for c in pipe.classes_] if args.proba
             else [pipe.fastbp_target_])
    clash = [c for c in keep if c in names]
    if clash:
        raise CLIError(f"--keep {clash[0]}: the predictions are written as a column of that "
                       "name; rename the column in the file to keep it")
    frame = _nfc_renamed(read_for_model(pipe, args.data, keep), keep, args.data)
    absent = [c for c in keep if c not in frame.columns]
    if absent:
        raise CLIError(f"--keep {absent[0]}: {args.data} has no column {absent[0]!r} "
                       f"(columns: {list(frame.columns)})")
    X = features_for(pipe, frame, args.data, keep)
    if args.proba:
        out = pd.DataFrame(pipe.predict_proba(X), columns=names)
    else:
        out = pd.DataFrame({pipe.fastbp_target_: pipe.predict(X)})
    if keep:
        # In front, in the order given: the columns to join the predictions on.
        out = pd.concat([kept_as_written(pipe, frame, args.data, keep), out], axis=1)
    special = not to_stdout and special_file(args.out) is not None
    if to_stdout:
        out.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
    else:
        try:
            write_table(out, args.out, in_place=special)
        except OSError as exc:
            # helper-163: a full disk said only "No space left on device", and
            # an unwritable directory named the temporary file, not --out.
            raise CLIError(f"could not write --out {args.out}: "
                           f"{exc.strerror or error_message(exc)}") from exc
    # Beside predictions written to a pipe or device (/dev/stdout), the
    # status line goes to stderr, out of the data's way.
    status = sys.stderr if to_stdout or special else sys.stdout
    print(f"{len(out)} predictions written to "
          f"{'standard output' if args.out == '-' else args.out}", file=status)
    return 0


def _names_standard_output(path):
    """Whether ``path`` is a name of this process's standard output
    (``/dev/stdout``, ``/dev/fd/1``, ``/proc/self/fd/1``), whatever it
    leads to: a terminal, a pipe, or a file the shell redirected it to
    (``> preds.csv``), whose name is no table name, and which replacing
    would take from under the shell's redirection."""
    if not os.path.abspath(path).startswith(("/dev/", "/proc/")):
        # A file named as such (--out p.csv > p.csv) is written as its name says.
        return False
    try:
        own, named = os.fstat(1), os.stat(path)
    except OSError:  # no standard output, or no such device
        return False
    return (own.st_dev, own.st_ino) == (named.st_dev, named.st_ino)


def evaluate_file(args):
    """``fastbp evaluate --model M --data FILE``."""
    pipe = load_model(args.model)
    frame = read_for_model(pipe, args.data)
    frame = _nfc_renamed(frame, [pipe.fastbp_target_], args.data)
    if pipe.fastbp_target_ not in frame.columns:
        raise CLIError(f"{args.data} has no target column {pipe.fastbp_target_!r} to "
                       "evaluate against")
    X, y = split_target(frame, pipe.fastbp_target_, args.data)
    X = features_for(pipe, X, args.data)
    if pipe.fastbp_task_ == "regression":
        y = regression_target(y, pipe.fastbp_target_, args.data)
    else:
        y = _labels_like_classes(y, pipe.classes_, pipe.fastbp_target_, args.data)
    report(pipe, X, y)
    return 0


def _comparable_labels(y, pred, classes):
    """``y`` and the predictions ``pred`` as labels that scikit-learn's
    metrics compare: as text where ``y`` holds a number that is not an
    integer (0.5) among integer or True/False ``classes``, which the
    metrics would refuse as "a mix of continuous and binary targets"; such
    a label is a class the model never predicts, and its rows errors."""
    y = np.asarray(y)
    kind = np.asarray(classes).dtype.kind
    if y.dtype.kind != "f" or kind not in "iub" or np.all(y == np.round(y)):
        return y, pred

    def text(value):
        if value != round(value):
            return str(value)
        if kind == "b" and value in (0, 1):
            return str(bool(value))  # as a prediction True reads
        return str(int(value))

    return (np.array([text(v) for v in y], dtype=object),
            np.array([str(v) for v in np.asarray(pred).tolist()], dtype=object))


def report(pipe, X, y, brief=False):
    from sklearn import metrics

    pred = pipe.predict(X)
    if pipe.fastbp_task_ == "classification":
        pd = _pandas()

        # In the order they first appear (np.unique cannot sort a mix of
        # text and numbers).
        known = set(np.asarray(pipe.classes_).tolist())
        unseen = [c for c in pd.unique(pd.Series(np.asarray(y, dtype=object)))
                  if c not in known]
        if unseen:
            # The model cannot predict them: their rows count as errors.
            shown = ", ".join(repr(c) for c in unseen[:5])
            print(f"note: {len(unseen)} class(es) of these rows the model never saw in "
                  f"training ({shown}{', ...' if len(unseen) > 5 else ''}): it cannot "
                  "predict them, and their rows count as errors", file=sys.stderr)
        y, pred = _comparable_labels(y, pred, pipe.classes_)
        print(f"accuracy: {metrics.accuracy_score(y, pred):.4f}")
        if not brief:
            print(metrics.classification_report(y, pred, zero_division=0))
            labels = np.unique(np.concatenate([np.asarray(y), np.asarray(pred)]))
            print("confusion matrix (rows: true, columns: predicted; labels "
                  f"{labels.tolist()}):")
            print(metrics.confusion_matrix(y, pred, labels=labels))
    else:
        y = np.asarray(y, dtype=float)
        print(f"R2: {metrics.r2_score(y, pred):.4f}  MAE: "
              f"{metrics.mean_absolute_error(y, pred):.4f}  RMSE: "
              f"{np.sqrt(metrics.mean_squared_error(y, pred)):.4f}")
