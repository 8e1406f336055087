"""Checks and notes on the columns read: which hold numbers, text
among numbers, IDs and row numbers, the task a target column implies, the
feature columns a model expects, and values outside the standardised range
or categories that training never saw.
"""

import shlex
import sys

import numpy as np

from .messages import CLIError, _pandas, print_note
from .tables import MISSING_MARKS, _as_bools, _file_lines, _nfc_renamed


def numeric_columns(X):
    """The columns the pipeline standardises (the others are one-hot
    encoded, a missing value becoming a category of its own)."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return [c for c in X.columns
            if is_numeric_dtype(X[c].dtype) and not is_bool_dtype(X[c].dtype)]


def _text_rows(column):
    """Where ``column`` holds a value (not a missing one) that does not
    read as a number: a boolean Series."""
    return column.notna() & _pandas().to_numeric(column, errors="coerce").isna()


def _text_among_numbers(column):
    """How many of ``column``'s values (missing ones aside) there are, the
    share of them that read as numbers, and the distinct ones that do not."""
    present = column.notna()
    text = _text_rows(column)
    n_values = int(present.sum())
    share = float(1 - text.sum() / n_values) if n_values else float("nan")
    return n_values, share, column[text].unique()


def _stray_text(column):
    """The distinct text values of a ``column`` that holds numbers but for a
    few (at least 10 values, 90 % of them numbers; a "?" for a missing
    value, say), or an empty sequence."""
    n_values, share, stray = _text_among_numbers(column)
    return stray if n_values >= 10 and share >= 0.9 else stray[:0]


#: A text column (or class target) with more distinct values than this, and
#: than half its rows, holds nearly one value per row: numbers written as
#: text ("38,913.77", "12.5%") or an ID, not categories. Ordinary categories
#: (a country, a product line) repeat.
MANY_VALUES = 50


def _nearly_all_distinct(n_distinct, n_values):
    """Whether ``n_distinct`` values among ``n_values`` are nearly one per
    value (:data:`MANY_VALUES`)."""
    return n_distinct > MANY_VALUES and n_distinct > n_values / 2


def _written_numbers(values):
    """Whether the text ``values`` are numbers written with thousands
    separators, percent or currency signs ("38,913.77", "12.5 %", "$1,200"):
    nine in ten of them read as numbers once those are taken out, and some
    had one (codes such as "02134" are numbers without any)."""
    pd = _pandas()

    text = pd.Series(values).dropna().astype(str)
    marks = r"[,%$\u20ac\u00a3]"
    plain = text.str.replace(marks, "", regex=True).str.replace(r"\s", "", regex=True)
    return (bool(text.str.contains(marks).any())
            and pd.to_numeric(plain, errors="coerce").notna().mean() >= 0.9)


def _like_numbers_or_id(values):
    """What text ``values`` with nearly one distinct value per row look like,
    for a message, with a few of them shown."""
    shown = ", ".join(repr(v) for v in values[:3])
    if _written_numbers(values):
        return (f"numbers written as text ({shown}: thousands separators, '%' or a currency "
                "sign)")
    return f"an ID or free text ({shown})"


#: The fewest values of a text column whose distinct values, fewer than
#: :data:`MANY_VALUES`, still make it look like an ID (:func:`_an_id_in_a_small_file`).
FEW_ID_ROWS = 20


def _an_id_in_a_small_file(n_distinct, n_values):
    """Whether ``n_distinct`` values among ``n_values`` (at least
    :data:`FEW_ID_ROWS`) are one per value in nine of ten: an ID in a file
    too small for :data:`MANY_VALUES` (rev-202: 40 IDs in 40 rows got no
    note), where half, as there, would take a small file's categories (16
    states in 30 rows) for one."""
    return n_values >= FEW_ID_ROWS and n_distinct >= 0.9 * n_values


def note_text_in_numbers(X):
    """A note for each text column whose values are numbers but for a few:
    it is one-hot encoded as text, one category per distinct number; and
    for each text column with nearly one distinct value per row (numbers
    written as text, an ID), which one-hot encoding makes into nearly one
    column per row, from which the model learns nothing that holds for new
    rows."""
    numeric = set(numeric_columns(X))
    for c in X.columns:
        if c in numeric:
            continue
        stray = _stray_text(X[c])
        if len(stray):
            shown = ", ".join(repr(v) for v in stray[:3])
            print(f"note: column {c!r} holds numbers but for {len(stray)} text value(s) "
                  f"({shown}), so it is one-hot encoded as text, one category per distinct "
                  "value; if those mark missing values, drop or fill them so that the "
                  "column is standardised as a number", file=sys.stderr)
            continue
        values = X[c].dropna().unique()
        if _written_numbers(values) and not _nearly_all_distinct(len(values),
                                                                X[c].notna().sum()):
            # helper-163: "4,400" or "3%" in 40 distinct values trained as
            # categories without a word.
            shown = ", ".join(repr(v) for v in values[:3])
            print(f"note: column {c!r} holds numbers written as text ({shown}: thousands "
                  "separators, '%' or a currency sign), and is one-hot encoded as text, "
                  f"one category per distinct value ({len(values)}); write numbers as plain "
                  "numbers (38913.77) so that the column is standardised", file=sys.stderr)
        elif (_nearly_all_distinct(len(values), X[c].notna().sum())
              or _an_id_in_a_small_file(len(values), X[c].notna().sum())):
            # Codes kept as text on purpose (keep_written_codes: "02134")
            # get no advice to write them as numbers. train has no option
            # to leave a column out: the file is where to drop it.
            advice = ("write numbers as plain numbers (38913.77) so that the column is "
                      "standardised" if _written_numbers(values)
                      else "drop the column if it is an ID (remove it from the file: a "
                      "value no other row shares teaches the model nothing about new rows)")
            print(f"note: column {c!r} holds {len(values)} distinct text values in "
                  f"{len(X)} rows, and is one-hot encoded into as many columns; it looks "
                  f"like {_like_numbers_or_id(values)}: {advice}", file=sys.stderr)


def note_missing_marks_kept(frame):
    """A note for each text column of ``frame`` (the target's included)
    that holds a mark pandas would have read as a missing value ("None",
    "NA"): it is a value here (read_table), a category or class."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    for c in frame.columns:
        if not (is_object_dtype(frame[c].dtype) or is_string_dtype(frame[c].dtype)):
            continue
        marks = frame[c][frame[c].isin(MISSING_MARKS)]
        if len(marks):
            shown = ", ".join(repr(v) for v in marks.unique()[:3])
            print(f"note: column {c!r} holds {shown} ({len(marks)} row(s)), read as a value "
                  "of the column: in a text column only an empty field is a missing value",
                  file=sys.stderr)


def note_row_numbers(X):
    """A note for a first column without a name (pandas names it
    ``Unnamed: 0``) that holds the row numbers: the index that
    ``DataFrame.to_csv`` writes unless ``index=False``, which would train
    as a feature; and for each other column of integers that looks like a
    row identifier (:func:`_like_a_row_id`)."""
    noted = None
    if len(X.columns) and str(X.columns[0]).startswith("Unnamed: 0"):
        values = X.iloc[:, 0]
        if (values.dtype.kind in "iu" and values.is_monotonic_increasing
                and values.is_unique):
            noted = X.columns[0]
            print(f"note: column {noted!r} (a header field without a name) holds the "
                  "row numbers, as pandas writes a DataFrame's index (to_csv without "
                  "index=False), and trains as a feature; drop it, or write the file with "
                  "index=False", file=sys.stderr)
    for c in X.columns:
        if c != noted and _like_a_row_id(c, X[c]):
            print(f"note: column {c!r} holds {len(X)} distinct integers (from "
                  f"{_plain(X[c].min())} to {_plain(X[c].max())}) and looks like a row "
                  "identifier; it is standardised and used as a feature, from which the "
                  "model learns nothing that holds for new rows: if it is an identifier, "
                  f"remove it from the file (fastbp predict --keep {shlex.quote(str(c))} copies it into the "
                  "predictions)", file=sys.stderr)


def _like_a_row_id(name, column):
    """Whether the feature ``column`` is integers that look like row
    identifiers: one distinct value per row, and either a name that says
    so (``id``, ``customer_id``, ``customerID``, ``PassengerId``) or, in
    at least :data:`FEW_ID_ROWS` rows, values that number the rows without
    gaps (100001 to 100200, whatever the rows' order: a file sorted by
    another column).

    Text IDs get their note from :func:`note_text_in_numbers`; a numeric
    one was standardised as a feature without a word (rev-288). Numbers
    with gaps (timestamps, amounts) are not taken for IDs unless named so.
    """
    if column.dtype.kind not in "iu" or len(column) < 2 or not column.is_unique:
        return False
    text = str(name).strip()
    if (text.lower() == "id" or text.lower().endswith(("_id", " id", "-id"))
            or text.endswith(("ID", "Id"))):
        return True
    # A time series' years, months or days number its rows too, and are
    # features (rev-300: 'year' 1960..2019 was noted as an identifier).
    if _name_words(text) & set(_TIME_WORDS):
        return False
    return (len(column) >= FEW_ID_ROWS
            and int(column.max()) - int(column.min()) == len(column) - 1)


#: Words in a column name that say its numbers are times, not row numbers.
_TIME_WORDS = ("year", "years", "month", "months", "week", "weeks", "day", "days", "date",
               "time", "hour", "hours", "period", "quarter", "yr")


def _name_words(name):
    """The lower-case words of a column name: split at spaces, ``_``, ``-``
    and ``.``, and where camelCase turns (``releaseYear``: release, year),
    so that a time word is matched whole ('update' holds no 'date',
    rev-302)."""
    import re

    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name))
    return {w for w in re.split(r"[\s_.\-]+", spaced.lower()) if w}


def check_features(X, path, training=True):
    """Refuse missing and infinite values in the numeric feature columns,
    naming them (the estimator's own message names no column), and, in
    the training file, a column empty in every row."""
    numeric = numeric_columns(X)
    empty = [c for c in X.columns if len(X) and X[c].isna().all()] if training else []
    if empty:
        # A spreadsheet's blank column: dropping the rows it misses (the
        # missing values' advice below) would drop them all (rev-288). In
        # a file to predict the model needs the column, so the advice
        # below, for its rows, is the right one.
        raise CLIError(f"{path}: column {empty[0]!r} is empty in every row: remove it from "
                       "the file" if len(empty) == 1 else
                       f"{path}: columns {empty} are empty in every row: remove them from "
                       "the file")
    missing = [c for c in numeric if X[c].isna().any()]
    if missing:
        # Lines, as the missing target's error names them (split_target).
        rows = np.flatnonzero(X[missing].isna().any(axis=1).to_numpy())
        where = _file_lines(path, rows[:5], len(X))
        raise CLIError(f"{path}: numeric column(s) {missing} have missing values ({len(rows)} "
                       f"row(s): {where}{' ...' if len(rows) > 5 else ''}); fill or drop "
                       "them first (fastbp does not impute)")
    infinite = [c for c in numeric if np.isinf(X[c].to_numpy(dtype=float)).any()]
    if infinite:
        raise CLIError(f"{path}: numeric column(s) {infinite} hold infinite values (inf); "
                       "replace or drop them first")
    # (A file to predict is standardised by the training file's scaler,
    # whose range check_standardised_range checks: its own statistics do
    # not matter; helper-173.)
    for c in numeric if training else ():
        # helper-163: values beyond about 1e154 overflow the scaler's
        # variance to inf, and scikit-learn then reported "Input X contains
        # NaN" of a file without one, naming no column.
        values = X[c].to_numpy(dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(values.mean()) and np.isfinite(values.std())
        if not finite:
            size = np.abs(values)
            # The rows whose squares alone would overflow the sum of n of
            # them (helper-173: the five largest named ordinary values too).
            big = np.flatnonzero(~(size <= np.sqrt(np.finfo(np.float64).max / len(size))))
            rows = big[np.argsort(-size[big], kind="stable")][:5]
            raise CLIError(f"{path}: numeric column {c!r} holds values too large to "
                           f"standardise (up to {size.max():.6g}, {_file_lines(path, rows, len(values))}): "
                           "its mean or standard deviation overflows; drop those rows or "
                           "rescale the column (a sentinel such as 1e308 marks a missing "
                           "value: drop or fill it)")


def _plain(value):
    """A NumPy scalar as the Python value it holds, for messages
    (``np.int64(1)`` reads ``1``)."""
    return value.item() if isinstance(value, np.generic) else value


def infer_task(y, task, target="target"):
    """'classification' or 'regression', from ``--task`` or the target."""
    from sklearn.utils.multiclass import type_of_target

    # (Its check for whole numbers casts to int64, which warns "invalid
    # value encountered in cast" for values beyond int64: a warning that
    # tells the user nothing about their data.)
    with np.errstate(invalid="ignore"):
        kind = type_of_target(y)
    continuous = kind in ("continuous", "continuous-multioutput")
    if task == "classification" and continuous:
        example = next(v for v in np.asarray(y, dtype=float) if v != int(v))
        raise CLIError(f"--task classification needs class labels, and {target!r} holds "
                       f"non-integer numbers (for example {example:g}); use --task "
                       "regression, or round the column to classes")
    if task == "classification":
        _note_single_row_classes(y, target)
    if task != "auto":
        return task
    if continuous:
        return "regression"
    if np.asarray(y).dtype.kind not in "iufb":
        pd = _pandas()

        stray = _stray_text(pd.Series(y))
        if len(stray):
            # "12.5, 7.1, ?": read as text, it would become 1000 classes.
            shown = ", ".join(repr(v) for v in stray[:3])
            raise CLIError(f"the target column {target!r} holds numbers but for "
                           f"{len(stray)} text value(s) ({shown}), so its task is unclear: "
                           "drop or fill those rows for a regression, or pass --task "
                           "classification if every value is a class label")
    _refuse_one_class_per_row(y, target)
    n_classes = len(np.unique(y))
    if kind == "multiclass" and np.asarray(y).dtype.kind in "iuf" and n_classes > MANY_VALUES:
        _refuse_count_target(y, target)
        print(f"note: {target!r} holds {n_classes} distinct integers and is treated as "
              "class labels; pass --task regression if it is a quantity", file=sys.stderr)
    _note_single_row_classes(y, target)
    return "classification"


def _note_single_row_classes(y, target, shown=5):
    """A note naming the classes of ``y`` (up to ``shown`` of them) that
    only one row holds: a typo ("Yes" among "yes" and "no" made a third
    class without a word, rev-288) or a class too rare to learn."""
    pd = _pandas()

    counts = pd.Series(y).value_counts(sort=False)
    if len(counts) < 2:
        return  # train refuses a single class, and says why
    single = [_plain(v) for v in counts.index[counts.to_numpy() == 1]]
    if not single:
        return
    names = ", ".join(repr(v) for v in single[:shown])
    more = f" and {len(single) - shown} more" if len(single) > shown else ""
    print(f"note: {len(single)} of the {len(counts)} classes of {target!r} hold a single "
          f"row ({names}{more}): a typo of another class, or a class that needs more rows "
          "to be learnt; fix or drop those rows if so", file=sys.stderr)


#: The fewest rows each of more than :data:`MANY_VALUES` integer classes
#: needs for ``--task auto`` to take them for class labels
#: (:func:`_refuse_count_target`).
ROWS_PER_CLASS = 5


def _refuse_count_target(y, target):
    """Refuse, under ``--task auto``, a target of more than
    :data:`MANY_VALUES` distinct integers that do not look like class
    labels.

    Integers are both class labels (0..K-1 as scikit-learn's encoders
    write them, 1..K as a survey codes them) and counts (bikes rented,
    571 distinct values in 2,000 rows, which trained as 571 classes with
    only a note, rev-288). Labels are numbered without gaps and, with this
    many of them, each is needed by several rows to be learnt; a count
    skips values and its tail values occur once or twice. Anything else is
    a guess either way, so the user says which.
    """
    values, counts = np.unique(np.asarray(y), return_counts=True)
    low = values[0]
    if (low in (0, 1) and values[-1] - low == len(values) - 1
            and counts.min() >= ROWS_PER_CLASS):
        return
    raise CLIError(f"the target column {target!r} holds {len(values)} distinct integers "
                   f"(from {_plain(values[0])!r} to {_plain(values[-1])!r}), too many to take "
                   f"for class labels without being told: pass --task regression if it is a "
                   "quantity (a count, an amount), or --task classification if every value "
                   "is a class label")


def _refuse_one_class_per_row(y, target):
    """Refuse a class target with nearly one distinct value per row (300
    classes in 300 rows): numbers written as text ("38,913.77", "12.5%"), a
    quantity, or an ID, from which a classifier learns nothing."""
    pd = _pandas()

    classes = pd.unique(pd.Series(y))
    if not _nearly_all_distinct(len(classes), len(y)):
        return
    if np.asarray(y).dtype.kind in "iufb":
        what = (f"{len(classes)} distinct numbers in {len(y)} rows, nearly one class per "
                "row: pass --task regression if it is a quantity")
    else:
        what = (f"{len(classes)} distinct values in {len(y)} rows, nearly one class per row: "
                f"it looks like {_like_numbers_or_id(classes)}; write a quantity as plain "
                "numbers (38913.77), or choose another --target")
    raise CLIError(f"the target column {target!r} holds {what}, or pass --task classification "
                   "if every value is a class label")


def note_target_scale(y, target):
    """Say so when a regression target that ``train`` fits as read
    (``--no-scale-target``, or a poisson loss) is far from unit scale: the
    network fits it as it is (as scikit-learn's MLPRegressor does), and
    such a target trains slowly."""
    values = np.asarray(y, dtype=float)
    if not values.size or not np.isfinite(values).all():
        return  # the estimator refuses such a target, and says why
    biggest = float(np.max(np.abs(values)))
    if biggest == 0:
        return
    # Near the largest float64 (1.7e308) the sum in mean() overflows and
    # the note gave an infinite mean for a finite one (rev-259): the
    # statistics are taken of the values divided by a power of two near
    # their largest magnitude, which is exact, so that ordinary targets
    # get the same numbers as before.
    exponent = int(np.frexp(biggest)[1])
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        scaled = np.ldexp(values, -exponent)
        mean = float(np.ldexp(scaled.mean(), exponent))
        std = float(np.ldexp(scaled.std(), exponent))
    if not (np.isfinite(mean) and np.isfinite(std)):
        return  # nothing to say that would be right
    if std > 0 and (std > 10 or std < 0.1 or abs(mean) > 10 * std):
        print(f"note: the target {target!r} has mean {mean:.4g} and standard deviation "
              f"{std:.4g}; the network fits it unscaled here, which trains slowly: without "
              "--no-scale-target, train standardises a squared-error target for training "
              "(predictions stay in its units)", file=sys.stderr)


def regression_target(y, target, path, option=None):
    """The target of a regression as float64, or an error naming the
    column, its text and their lines.

    Text is read as ``--task auto`` reads it (pandas' ``to_numeric``), so
    that a value the automatic task detection takes for text ("1_000",
    "0x10") is not a number here: Python's ``float`` would read "1_000" as
    1000 and "nan" as a missing value.

    Parameters
    ----------
    y : array-like
        The target column, without missing values (``split_target``).
    target : str
        The column's name, for the message.
    path : str
        The file it was read from, for the message and its line numbers.
    option : str, optional
        The option that asked for a regression (``--task regression``),
        named in the message; else the model is a regressor.

    Returns
    -------
    numpy.ndarray of float64

    Raises
    ------
    CLIError
        If the column holds values that do not read as numbers.
    """
    pd = _pandas()

    y = np.asarray(y)
    if y.dtype.kind in "iufb":
        return y.astype(np.float64)
    values = pd.Series(y.astype(object))
    numbers = pd.to_numeric(values, errors="coerce")
    rows = np.flatnonzero(numbers.isna().to_numpy())
    if not len(rows):
        return numbers.to_numpy(dtype=np.float64)
    shown = ", ".join(repr(v) for v in values.iloc[rows].unique()[:3])
    found = (f"{shown}: {_file_lines(path, rows[:5], len(values))}"
             f"{' ...' if len(rows) > 5 else ''}")
    need = (f"{option} needs a numeric target, and the column" if option
            else "the model is a regressor, and the target column")
    raise CLIError(f"{path}: {need} {target!r} holds text ({found}); drop or fix those rows")


def _text_columns(X):
    """The feature columns read as text (a column of True and False, also
    one-hot encoded, keeps those values, missing ones among them or not)."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    return [c for c in X.columns
            if (is_object_dtype(X[c].dtype) or is_string_dtype(X[c].dtype))
            and not _all_bools(X[c].unique())]


def _bool_columns(X):
    """The feature columns of True and False (missing values among them or
    not)."""
    from pandas.api.types import is_bool_dtype

    return [c for c in X.columns if is_bool_dtype(X[c].dtype)
            or (X[c].dtype.kind == "O" and _all_bools(X[c].unique()))]


#: How many column names the refusal of a file's columns lists at most;
#: a longer list shows its first few and counts the rest.
_LISTED_COLUMNS = 8


def _listed(columns):
    """``columns`` as the error lists them: all where few, else the first
    few and how many more (the wrong file's 64 columns filled the
    terminal)."""
    if len(columns) <= _LISTED_COLUMNS:
        return repr(list(columns))
    shown = _LISTED_COLUMNS - 2
    return f"{list(columns[:shown])!r} and {len(columns) - shown} more"


def _matching_columns(expected, data, path, hint=""):
    """``data``'s columns in the order of ``expected``, or an error naming
    the ones missing or unexpected (and ``hint``, how to pass the
    unexpected ones, where none is missing)."""
    data = _nfc_renamed(data, expected, path)
    missing = [c for c in expected if c not in data.columns]
    extra = [c for c in data.columns if c not in expected]
    if missing or extra:
        # The hint (--keep, index_col) only where it makes the file pass:
        # with model columns missing it is likely the wrong file, and
        # keeping the others supplies none of them.
        raise CLIError(f"{path} does not have the model's columns: "
                       + "; ".join(p for p in (f"missing {_listed(missing)}" if missing else "",
                                               f"unexpected {_listed(extra)}" if extra else "")
                                   if p)
                       + (hint if extra and not missing else ""))
    return data[expected]


def _checked_features(data, expected, numeric, path, hint=""):
    """``data``'s feature columns, in the order ``expected`` (training's),
    checked as training saw them: no column missing or unexpected (``hint``
    added to that error), no missing value in a numeric column, no text in
    a column that training standardised as a number (``numeric``)."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    X = _matching_columns(expected, data, path, hint)
    check_features(X, path, training=False)
    for c in numeric:
        if not (is_numeric_dtype(X[c].dtype) or is_bool_dtype(X[c].dtype)):
            rows = np.flatnonzero(_text_rows(X[c]).to_numpy())
            shown = ", ".join(repr(v) for v in X[c].iloc[rows].unique()[:3])
            # Lines, as the missing values' error (check_features) names them.
            raise CLIError(f"{path}: column {c!r} was numeric in training and holds text "
                           f"here ({shown}) on {_file_lines(path, rows[:5], len(X))}"
                           f"{' ...' if len(rows) > 5 else ''}; fix or drop those rows")
    return X


def _spaced(values):
    """Whether some text among ``values`` starts or ends with a space."""
    return any(isinstance(v, str) and v != v.strip() for v in values)


def _all_bools(values):
    """Whether ``values``, missing ones aside, are True and False only (and
    some are)."""
    pd = _pandas()

    present = [v for v in values if not pd.isna(v)]
    return bool(present) and all(isinstance(v, (bool, np.bool_)) for v in present)


def _scaler_statistics(X):
    """The ``mean_`` and ``scale_`` that the pipeline's ``StandardScaler``
    will learn from the numeric columns of the training file ``X``."""
    from sklearn.preprocessing import StandardScaler

    cols = numeric_columns(X)
    if not cols:
        return np.empty(0), np.empty(0)
    scaler = StandardScaler().fit(X[cols].to_numpy(dtype=np.float64))
    return scaler.mean_, scaler.scale_


def _check_scaled_range(X, cols, mean, scale, dtype, path):
    """Refuse values of the columns ``cols`` of ``X`` that, standardised by
    ``mean`` and ``scale``, are beyond the range of ``dtype``."""
    if not cols:
        return
    values = X[list(cols)].to_numpy(dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scaled = np.abs((values - mean) / scale)
    beyond = ~(scaled <= np.finfo(dtype).max)
    for j in np.flatnonzero(beyond.any(axis=0)):
        rows = np.flatnonzero(beyond[:, j])
        raise CLIError(f"{path}: numeric column {cols[j]!r} holds values too large for "
                       f"the model (up to {np.abs(values[rows, j]).max():.6g}, "
                       f"{_file_lines(path, rows[:5], len(X))}"
                       f"{' ...' if len(rows) > 5 else ''}): standardised, they are "
                       f"beyond the range of {dtype}; drop or fix those rows")


def note_unseen_categories(pipe, X, path, note=print_note):
    """A note for each one-hot encoded column of ``X`` that holds
    categories training never saw: the encoder (``handle_unknown="ignore"``,
    scikit-learn's usual choice for new data) encodes them as none of the
    known ones, which the model was never trained on. ``note`` is called
    with each note's text (by default printed on stderr)."""
    for name, encoder, cols in pipe.named_steps["preprocess"].transformers_:
        if name != "categorical":
            continue
        # The encoder's own matching (missing values included): a row's block
        # of a column is all zeros exactly where its value is unknown. CSR
        # where the model's encoder writes it (fix-184; dense in older
        # models): np.asarray made it a 0-d object array.
        codes = encoder.transform(X[cols])
        start = 0
        for c, categories in zip(cols, encoder.categories_):
            block = codes[:, start:start + len(categories)]
            start += len(categories)
            unseen = np.asarray(block.sum(axis=1)).ravel() == 0
            if unseen.any():
                values = X[c][unseen].unique()
                shown = ", ".join(_shown_category(v) for v in values[:3])
                more = f" and {len(values) - 3} more" if len(values) > 3 else ""
                note(f"{path}: column {c!r} holds categories training never saw "
                     f"({shown}{more}; {int(unseen.sum())} row(s)): they are encoded as "
                     "none of the known ones")


def _shown_category(value, width=40):
    """A category as a note shows it: a missing value by name, a long one cut."""
    pd = _pandas()

    if pd.isna(value):
        return "a missing value"
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _labels_like_classes(y, classes, target, path):
    """``y`` as numbers where the model's classes are numbers, or an error
    naming the text among them (scikit-learn's metrics refuse a mix of
    text and numbers with a message about types)."""
    kind = np.asarray(classes).dtype.kind
    if kind not in "iufb" or np.asarray(y).dtype.kind != "O":
        return y
    pd = _pandas()

    values = pd.Series(y)
    if kind == "b":
        # "True" and "False" are the classes, though another value (an
        # "unknown") made the column text.
        values = _as_bools(values)
        if _all_bools(values):
            return values.to_numpy(dtype=bool)
    numbers = pd.to_numeric(values, errors="coerce")
    text = values[numbers.isna()].unique()
    if len(text):
        known = ("True and False" if kind == "b"
                 else f"numbers ({np.asarray(classes)[:5].tolist()})")
        raise CLIError(f"{path}: the target column {target!r} holds text "
                       f"({', '.join(repr(v) for v in text[:3])}) where the model's classes "
                       f"are {known}; drop or fix those rows")
    return numbers.to_numpy()
