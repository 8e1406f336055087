"""The command line on your own data: ``fastbp train --data``, ``predict``
and ``evaluate``.

A CSV file is read with pandas; numeric columns are standardised and the
others one-hot encoded by a scikit-learn ``ColumnTransformer``, and that
preprocessing is saved with the model (``fastbp.save``, no pickle) in one
Pipeline, so ``predict`` and ``evaluate`` apply exactly what training saw.
The name of the target column is saved with it.
"""

import argparse
import functools
import os
import sys
import time
import zlib

import numpy as np

from .display import step_name

_CLI_EXTRA = 'pip install "fastbp[cli]"'


class CLIError(Exception):
    """A user-facing error: printed as ``fastbp: error: ...``, exit 2."""


def _pandas(purpose="reading data files"):
    """The pandas module, or a :class:`CLIError` naming the extra that
    installs it (``purpose``: what needs it, for the message).

    Every command that reads or writes a data file gets pandas here: an
    unguarded import ahead of :func:`read_table` would end ``train`` and
    ``predict`` with ImportError's own words ("No module named 'pandas'")
    instead of what to install.
    """
    try:
        import pandas
    except ImportError as exc:
        raise CLIError(f"{purpose} needs pandas: {_CLI_EXTRA}") from exc
    return pandas


def read_table(path, text_columns=(), stripped=(), bools=(), marks_missing=()):
    """A CSV file as a DataFrame (clear errors for a missing or empty file,
    one that cannot be decompressed or decoded).

    Only an empty field is a missing value in a text column: "None", "NA"
    or "null" there are values (a class "None"). A column of numbers or of
    True and False with such marks among them (R writes "NA") has them as
    missing values, as pandas reads them.

    Parameters
    ----------
    path : str
    text_columns : sequence of str, default=()
        Columns read as text whatever they hold (a model's categorical
        columns: "1" and "2" must stay the categories they were).
    stripped : sequence of str, default=()
        Those of ``text_columns`` whose values lose their surrounding
        spaces, as codes did in training (:func:`keep_written_codes`: the
        file "x, 02139" trains the code "02139").
    bools : sequence of str, default=()
        Columns that training read as True and False: their "True" and
        "False" are those values, and their "NA" (and pandas' other marks)
        missing values, even where another value of the column (an
        "unknown") made it text.
    marks_missing : sequence of str, default=()
        Those of ``text_columns`` whose "NA", "None" ... are missing values
        all the same: codes (:func:`keep_written_codes`), a column of
        numbers as training read it, and every text column of a model
        trained before only empty fields were missing in text.
    """
    pd = _pandas()
    if not os.path.exists(path):
        raise CLIError(f"no such file: {path}")
    if not path.lower().endswith(TABLE_SUFFIXES):
        raise CLIError(f"{path}: only CSV files are read (.csv, .csv.gz, .txt; .tsv and "
                       ".tsv.gz as tab-separated)")
    try:
        frame = _read_csv(path, dtype={c: str for c in text_columns} or None)
        # The header line too, once more: a damaged file fails here rather
        # than in the check of the names below.
        repeated = _repeated_names(path)
        # The model's columns, written in another Unicode form here (NFD
        # "größe"): read as text under the file's spelling, then named as
        # the model names them.
        spelled = {c: t for t in text_columns for c in frame.columns
                   if t not in frame.columns and c != t and _nfc(c) == _nfc(t)}
        if spelled:
            frame = _read_csv(path, dtype={c: str for c in [*text_columns, *spelled]})
        frame = _nfc_renamed(frame, [*text_columns, *stripped, *bools, *marks_missing],
                             path)
    except UnicodeDecodeError as exc:
        raise CLIError(_not_utf8(path, exc)) from exc
    except (ValueError, pd.errors.ParserError) as exc:
        # One line: pandas' message for a ragged line ends in a newline.
        raise CLIError(f"{path} could not be read as CSV: {one_line(str(exc))}") from exc
    except (OSError, EOFError, zlib.error) as exc:
        # A truncated or damaged .gz file, or plain text under a .gz name.
        hint = (" (a file named .gz is read as gzip-compressed)"
                if path.lower().endswith(".gz") else "")
        raise CLIError(f"{path} could not be read: {error_message(exc)}{hint}") from exc
    frame = _missing_marks_as_missing(frame, set(text_columns))
    for c in stripped:
        if c in frame.columns:
            frame[c] = frame[c].str.strip()
    for c in marks_missing:
        if c in frame.columns:
            frame[c] = frame[c].mask(frame[c].isin(MISSING_MARKS))
    for c in bools:
        if c in frame.columns:
            # Training read a "NA" among True and False as a missing value
            # (_missing_marks_as_missing), whatever other value is here.
            frame[c] = _as_bools(frame[c].mask(frame[c].isin(MISSING_MARKS)))
    if frame.empty:
        raise CLIError(f"{path} holds no rows")
    if frame.shape[1] == 1 and "\t" in str(frame.columns[0]) and _separator(path) != "\t":
        raise CLIError(f"{path} has one column, {frame.columns[0]!r}: its fields seem "
                       "separated by tabs, and fastbp reads a .csv or .txt file "
                       "comma-separated; name it .tsv (or .tsv.gz), which is read "
                       "tab-separated")
    if frame.shape[1] == 1 and "," in str(frame.columns[0]) and _separator(path) == "\t":
        raise CLIError(f"{path} has one column, {frame.columns[0]!r}: its fields seem "
                       "separated by commas, and fastbp reads a .tsv file tab-separated; "
                       "name it .csv (or .csv.gz), which is read comma-separated")
    if frame.shape[1] == 1 and ";" in str(frame.columns[0]):
        raise CLIError(f"{path} has one column, {frame.columns[0]!r}: its fields seem "
                       "separated by ';', and fastbp reads comma-separated files (or "
                       "tab-separated .tsv files); convert it first (for example "
                       "pandas.read_csv(path, sep=';').to_csv(new_path, index=False), with "
                       "decimal=',' too where numbers are written 3,5)")
    if repeated and _header_of_numbers(frame):
        # helper-163: a file without a header line, whose first data line
        # repeats a number, was refused for naming columns twice.
        raise CLIError(f"{path}: its first line holds numbers, not column names (and "
                       "repeats some): add a header line naming the columns")
    if repeated:
        # pandas reads a second "churn" as "churn.1": --target would pick the
        # first, and the other would train as a feature under a new name.
        first = repeated[0]
        raise CLIError(f"{path}: the header line names the column(s) {repeated} more than "
                       f"once, and they would be read as different columns ({first!r} and "
                       f"{first + '.1'!r}); give each column a name of its own")
    return frame


def _header_of_numbers(frame):
    """Whether the header of ``frame`` reads as one of its data rows: some
    names are numbers, and each name is a number exactly where its column
    holds numbers (an Iris file's "5.1,3.5,1.4,0.2,Iris-setosa"), so the
    file's first line is data, not a header. (helper-173: a majority of
    numbers called a real header of years, "2019,2020,2021,label", data.)"""
    pd = _pandas()
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    def holds_numbers(column):
        # Mostly numbers: codes kept as written ("007") are text columns of
        # numbers, and a "?" for a missing value leaves one numeric.
        if is_bool_dtype(column):
            return False
        if is_numeric_dtype(column):
            return True
        values = column.dropna()
        return bool(pd.to_numeric(values, errors="coerce").notna().mean() > 0.5) \
            if len(values) else False

    numbers = [_is_number(name) for name in frame.columns]
    return any(numbers) and all(number == holds_numbers(frame[name])
                                for name, number in zip(frame.columns, numbers))


def _repeated_names(path):
    """The names that the header line of ``path`` gives more than once, as
    written (pandas renames the repeats, so that a real column named
    ``age.1`` cannot be told from a second ``age`` by the names it gives);
    an empty field (a trailing comma) is no name."""
    # As written: "null" or "NA" are names here, not missing values.
    names = [name for name in _read_csv(path, header=None, nrows=1, dtype=str,
                                        keep_default_na=False, na_filter=False).iloc[0]
             if name != ""]
    seen, repeated = set(), []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


#: The file names read as tab-separated values.
_TAB_SEPARATED = (".tsv", ".tsv.gz")

#: The file names that :func:`read_table` reads, and so that the tables
#: fastbp writes (``predict --out``, ``--history-out``) may have.
TABLE_SUFFIXES = (".csv", ".csv.gz", ".txt") + _TAB_SEPARATED

#: The marks that pandas reads as missing values by default. fastbp reads
#: them so only in a column of numbers or of True and False: in a text
#: column they may be values (a severity "None", a code "NA").
MISSING_MARKS = frozenset([
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"])

#: The values that pandas reads as True and False.
_TRUE, _FALSE = frozenset(["True", "TRUE", "true"]), frozenset(["False", "FALSE", "false"])


def _missing_marks_as_missing(frame, text_columns):
    """``frame`` with the :data:`MISSING_MARKS` of each column, but for the
    ``text_columns``, as missing values where the column's other values are
    all numbers (the column then of numbers), or all True and False: as
    pandas reads such a column by default."""
    pd = _pandas()
    from pandas.api.types import is_object_dtype, is_string_dtype

    converted = {}
    for c in frame.columns:
        column = frame[c]
        if c in text_columns or not (is_object_dtype(column.dtype)
                                     or is_string_dtype(column.dtype)):
            continue
        present = column.dropna()
        marks = present.isin(MISSING_MARKS)
        if not marks.any():
            continue
        rest = present[~marks]
        if pd.to_numeric(rest, errors="coerce").notna().all():
            converted[c] = pd.to_numeric(column.mask(column.isin(MISSING_MARKS)))
        elif rest.isin(_TRUE | _FALSE).all():
            converted[c] = _as_bools(column.mask(column.isin(MISSING_MARKS)))
    if not converted:
        return frame
    frame = frame.copy()
    for c, values in converted.items():  # (assign(**converted) refuses a column named "self")
        frame[c] = values
    return frame


def _as_bools(column):
    """``column`` with its "True" and "False" (and "TRUE", "true", ...) as
    the values True and False, its other values as they are."""
    from pandas.api.types import is_bool_dtype

    if is_bool_dtype(column.dtype):
        return column
    values = column.astype(object)
    return values.mask(values.isin(_TRUE), True).mask(values.isin(_FALSE), False)


def _not_utf8(path, exc):
    """The message for a file that is not UTF-8 text, with what to do."""
    with _open_table(path) as fh:
        start = fh.read(2)
    utf16 = start in (b"\xff\xfe", b"\xfe\xff")  # its byte order mark
    what = "UTF-16 text" if utf16 else f"not UTF-8 text ({exc})"
    encoding = "utf-16" if utf16 else "latin-1"
    return (f"{path} is {what}, and fastbp reads UTF-8 files; save it as UTF-8 (a "
            "spreadsheet's 'CSV UTF-8' format, or pandas.read_csv(path, "
            f"encoding='{encoding}').to_csv(new_path, index=False)"
            f"{'' if utf16 else ' for a Latin-1 or Windows file'})")


def _open_table(path):
    """``path`` opened for reading bytes, decompressed where it is a .gz
    file."""
    import gzip

    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


def _separator(path):
    """The field separator of ``path``: a tab for .tsv and .tsv.gz files,
    a comma otherwise."""
    return "\t" if path.lower().endswith(_TAB_SEPARATED) else ","


def write_table(frame, path, in_place=False):
    """Write ``frame`` to ``path`` as fastbp reads tables: tab-separated for
    a .tsv name, gzip-compressed for a .gz name, comma-separated otherwise.

    Written to a temporary file and renamed onto ``path``
    (:func:`~fastbp.persistence.replace_atomically`), or straight through
    ``path`` where ``in_place`` (a device or pipe, which cannot be renamed
    onto).
    """
    # Compressed here, not by pandas: pandas would infer the compression
    # from the temporary file's name (plain text under a .gz name), and
    # record that name in the gzip header, which gunzip -N restores.
    def write(target):
        if not path.lower().endswith(".gz"):
            frame.to_csv(target, sep=_separator(path), index=False)
            return
        import gzip
        import io

        # GzipFile records the base name of filename, less its ".gz".
        with open(target, "wb") as raw, \
                gzip.GzipFile(filename=path, mode="wb", fileobj=raw) as packed, \
                io.TextIOWrapper(packed, encoding="utf-8", newline="") as text:
            frame.to_csv(text, sep=_separator(path), index=False)

    if in_place:
        write(path)
    else:
        from .persistence import replace_atomically

        replace_atomically(path, write)


def _read_csv(path, **options):
    """``pandas.read_csv`` of ``path`` (tab-separated for a .tsv file), read
    again without an index where a trailing comma on every data line made
    pandas take the first column for row names (the names then shift, and
    the last column is all empty). A file with real row names (R's
    write.table) keeps them as the index."""
    pd = _pandas()

    # Only an empty field is missing as read: read_table reads the other
    # marks pandas takes for missing where the column is not text.
    # Not low_memory: pandas would parse a file of more than 262,144 rows
    # in chunks, each typed on its own, and a column could come out ints
    # in one and text in the next (which the encoder refuses).
    options = {"sep": _separator(path), "keep_default_na": False, "na_values": [""],
               "low_memory": False, **options}
    frame = pd.read_csv(path, **options)
    if (not isinstance(frame.index, pd.RangeIndex) and frame.shape[1]
            and frame.iloc[:, -1].isna().all()):
        frame = pd.read_csv(path, index_col=False, **options)
    # A trailing comma on the header line too: pandas names the empty
    # last field "Unnamed: N", and that column is empty on every line.
    if (frame.shape[1] > 1 and str(frame.columns[-1]).startswith("Unnamed: ")
            and frame.iloc[:, -1].isna().all()):
        frame = frame.iloc[:, :-1]
    return frame


def _nfc(name):
    """``name`` in Unicode's composed form (NFC), as most editors write it."""
    import unicodedata

    return unicodedata.normalize("NFC", name) if isinstance(name, str) else name


def _nfc_renamed(frame, names, path):
    """``frame`` with each column that is not one of ``names`` but equals
    one in Unicode's composed form (NFC) renamed to it: "größe" written
    decomposed (NFD, as macOS may) looks the same, and was reported missing
    and unexpected at once (helper-163). Two columns that would take one
    name are refused."""
    wanted = {}
    for name in names:
        if name not in frame.columns:
            wanted.setdefault(_nfc(name), []).append(name)
    renames = {}
    for c in frame.columns:
        matches = wanted.get(_nfc(c), []) if c not in names else []
        if len(matches) != 1:
            continue
        if matches[0] in renames.values():
            other = next(k for k, v in renames.items() if v == matches[0])
            raise CLIError(f"{path}: columns {other!r} and {c!r} are both the column "
                           f"{matches[0]!r} written in different Unicode forms; keep one")
        renames[c] = matches[0]
    return frame.rename(columns=renames) if renames else frame


def split_target(frame, target, path):
    frame = _nfc_renamed(frame, [target], path)
    if target not in frame.columns:
        hint = ""
        if _header_of_numbers(frame):
            hint = ("; its first line holds numbers, not column names: add a header line "
                    "naming the columns")
        raise CLIError(f"{path} has no column {target!r} (columns: {list(frame.columns)})"
                       + hint)
    missing = frame[target].isna().to_numpy()
    if missing.any():
        where = _file_lines(path, np.flatnonzero(missing)[:5], len(frame))
        raise CLIError(f"{path}: the target column {target!r} has {int(missing.sum())} "
                       f"missing value(s) ({where}{' ...' if missing.sum() > 5 else ''}); "
                       "drop or fill those rows")
    y = frame[target].to_numpy()
    if y.dtype.kind == "f":
        infinite = np.flatnonzero(np.isinf(y))
        if len(infinite):
            raise CLIError(f"{path}: the target column {target!r} holds {len(infinite)} "
                           f"infinite value(s) ({_file_lines(path, infinite[:5], len(y))}); "
                           "drop or fix those rows")
    return frame.drop(columns=[target]), y


def _file_lines(path, rows, n_rows):
    """``"lines [...]"``: the file's line numbers of the data ``rows``
    (pandas skips blank lines, so a row's number is not its line's), or
    ``"data rows [...]"`` where the file does not map line for line (a
    quoted field over several lines)."""
    import gzip

    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as f:
            lines = [n for n, line in enumerate(f, 1) if line.strip()][1:]  # after the header
    except OSError:
        lines = []
    if len(lines) == n_rows:
        return f"lines {[lines[r] for r in rows]}"
    return f"data rows {[int(r) + 1 for r in rows]}, counting from 1 after the header"


def keep_written_codes(frame, path):
    """``frame`` with each column of whole numbers that the file ``path``
    writes with leading zeros ("007", "02134") as text.

    Such a column holds codes (a zip code, a class label), not quantities:
    a feature stays a category (one-hot encoded, not standardised) and a
    target's classes, and so the predictions written later, keep the zeros.

    Parameters
    ----------
    frame : DataFrame
        ``path`` as :func:`read_table` read it.
    path : str

    Returns
    -------
    frame : DataFrame
    codes : list of str
        The columns kept as text: their "NA" (and pandas' other marks) are
        missing values, as in the column of numbers they were read as, and
        files read later must read them so (``marks_missing`` of
        :func:`read_table`).
    """
    candidates = [c for c in frame.columns if _whole_numbers(frame[c])]
    if not candidates or not _may_write_leading_zeros(path):
        return frame, []
    # Read again as text: pandas parsed "007" as 7 (the same rows, in order).
    text = _read_csv(path, dtype=str)
    codes = {}
    for c in candidates:
        # Spaces around a code are not part of it (pandas read " 02134" as a
        # number): read_for_model strips them again in the files read later.
        written = text[c].str.strip()
        # A missing code stays a missing value (the column is of numbers:
        # an "NA" was one).
        written = written.mask(written.isin(MISSING_MARKS))
        present = written.dropna()
        if (present.str.fullmatch(r"[+-]?\d+").all()
                and present.str.match(r"[+-]?0\d").any()):
            codes[c] = written.to_numpy(dtype=object)
    if not codes:
        return frame, []
    frame = frame.copy()
    for c, written in codes.items():  # (assign(**codes) refuses a column named "self")
        frame[c] = written
    return frame, list(codes)


def _may_write_leading_zeros(path):
    """Whether some field of the file ``path`` may start with a leading zero
    ("007", '"+012"'; "0.5" and "0" do not): only then is it read a second
    time, as text. A vectorised scan of its bytes costs a fraction of that
    read (a pixel file of 60,000 rows and 785 integer columns, 2 loaded
    cores: 1.8 s against 11 s and gigabytes of strings)."""
    import gzip

    # What may come before a code's first digit: a separator, a line's
    # start, spaces, a quote or a sign.
    before = np.zeros(256, dtype=bool)
    before[np.frombuffer(b',\t;\n\r\f\v "+-', dtype=np.uint8)] = True
    opener = gzip.open if path.lower().endswith(".gz") else open
    previous = b"\n"  # the file's start is a line's start
    with opener(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 24)
            if not chunk:
                return False
            raw = np.frombuffer(previous + chunk, dtype=np.uint8)
            zero = raw[1:-1] == ord("0")
            if np.any(zero & before[raw[:-2]] & (raw[2:] >= ord("0")) & (raw[2:] <= ord("9"))):
                return True
            previous = chunk[-2:]


def _whole_numbers(column):
    """Whether ``column`` holds integers, or floats that are all whole
    numbers (integers with a missing value among them)."""
    kind = column.dtype.kind
    if kind in "iu":
        return True
    if kind != "f":
        return False
    values = column.dropna().to_numpy()
    return len(values) > 0 and bool(np.all(np.isfinite(values) & (values == np.round(values))))


def _is_number(text):
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def numeric_columns(X):
    """The columns the pipeline standardises (the others are one-hot
    encoded, a missing value becoming a category of its own)."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return [c for c in X.columns
            if is_numeric_dtype(X[c].dtype) and not is_bool_dtype(X[c].dtype)]


def _text_among_numbers(column):
    """How many of ``column``'s values (missing ones aside) there are, the
    share of them that read as numbers, and the distinct ones that do not."""
    pd = _pandas()

    values = column.dropna()
    numbers = pd.to_numeric(values, errors="coerce")
    return len(values), float(numbers.notna().mean()), values[numbers.isna()].unique()


def _stray_text(column):
    """The distinct text values of a ``column`` that holds numbers but for a
    few (at least 10 values, 90 % of them numbers; a "?" for a missing
    value, say), or an empty sequence."""
    n_values, share, stray = _text_among_numbers(column)
    return stray if n_values >= 10 and share >= 0.9 else stray[:0]


#: The exit status of a command stopped by Ctrl-C, as the shell gives one
#: that SIGINT killed (128 + 2).
EXIT_INTERRUPTED = 130

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
    as a feature."""
    if not len(X.columns) or not str(X.columns[0]).startswith("Unnamed: 0"):
        return
    values = X.iloc[:, 0]
    if (values.dtype.kind in "iu" and values.is_monotonic_increasing and values.is_unique):
        print(f"note: column {X.columns[0]!r} (a header field without a name) holds the "
              "row numbers, as pandas writes a DataFrame's index (to_csv without "
              "index=False), and trains as a feature; drop it, or write the file with "
              "index=False", file=sys.stderr)


def _physical_memory():
    """This machine's memory in bytes, or ``None`` where it is not known."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


#: The files that hold this process's cgroup memory limit: cgroup v2's,
#: then v1's ("max", or a huge number, where there is none).
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def _available_memory():
    """The memory this process may use, in bytes: the machine's, or its
    container's (cgroup) limit where lower; ``None`` where neither is
    known. A container sees the host's memory in sysconf, and is killed
    at its own limit (helper-163)."""
    limits = [_physical_memory()]
    for path in _CGROUP_LIMITS:
        try:
            with open(path) as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit():
            limits.append(int(text))
    limits = [m for m in limits if m]
    return min(limits) if limits else None


#: The density (share of nonzero entries) below which the encoded features
#: reach the model as a CSR matrix rather than a dense array: scikit-learn's
#: ``ColumnTransformer`` default. One-hot encoded columns of many values
#: (an ID) are nearly all zeros.
SPARSE_THRESHOLD = 0.3


def encoded_size(X, dtype):
    """What :func:`build_pipeline` will encode ``X`` into, estimated before
    the encoding.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns of the training file.
    dtype : numpy.dtype
        The model's dtype.

    Returns
    -------
    sparse : bool
        Whether the encoding is a CSR matrix (its density below
        :data:`SPARSE_THRESHOLD`, as ``ColumnTransformer`` decides).
    nnz : int
        The entries it stores: every numeric value, and one a row for each
        one-hot encoded column.
    n_columns : int
        Its columns: one a numeric column, one a distinct value of each
        one-hot encoded column.
    size : int
        Its size in bytes: the values and their column indices, and the row
        pointers, where sparse; rows x columns where dense.
    widths : dict
        The distinct values of each one-hot encoded column.
    """
    numeric = set(numeric_columns(X))
    widths = {c: X[c].nunique(dropna=False) for c in X.columns if c not in numeric}
    n_rows = len(X)
    n_columns = len(numeric) + sum(widths.values())
    nnz = n_rows * (len(numeric) + len(widths))
    itemsize = np.dtype(dtype).itemsize
    dense = n_rows * n_columns
    # ColumnTransformer counts a dense block as all nonzero, as here, and
    # builds a dense result where no block is sparse (no text column).
    sparse = bool(widths) and dense > 0 and nnz / dense < SPARSE_THRESHOLD
    if not sparse:
        return False, nnz, n_columns, dense * itemsize, widths
    # scipy's index dtype: int32 while the indices and nnz fit in it.
    index = 4 if max(nnz, n_columns) <= np.iinfo(np.int32).max else 8
    return True, nnz, n_columns, nnz * (itemsize + index) + (n_rows + 1) * index, widths


#: The peak memory of a stochastic solver's training, in arrays of the
#: model's dtype of ``n_params`` values each. fix-229 measured it with
#: tracemalloc (which sees NumPy's allocations; the peak RSS agreed within
#: 2%) over a 2-epoch fit of a (2000, 2000) network on 30 inputs, 4,066,001
#: parameters, in float32 and float64: 8.1 arrays for Adam and AdamW (the
#: weights, their flat copy, the gradient, the two moments, the epoch's
#: rollback snapshot and the update's temporaries), 6.1 for SGD, RMSprop and
#: Adagrad (one state array). Rounded up here.
_SOLVER_PEAK = {"adam": 8.5, "adamw": 8.5, "sgd": 6.5, "rmsprop": 6.5, "adagrad": 6.5}

#: The further arrays early stopping keeps (the best weights and the
#: validation pass's): measured as above, 10.1 arrays for Adam, 8.1 for SGD.
_EARLY_STOPPING_PEAK = 2

#: L-BFGS's peak in bytes a parameter: float64 vectors for scipy's L-BFGS-B
#: (its correction pairs, workspace and the float64 copy of the iterate and
#: gradient), beside arrays of the model's dtype. Measured as above, over 30
#: iterations of a (500, 500) network (scipy's history full): 347 bytes a
#: parameter in float32 and 373 in float64, 321 + 6.5 x the item size;
#: rounded up here.
_LBFGS_FLOAT64_VECTORS = 41
_LBFGS_MODEL_ARRAYS = 7

#: The encoding's peak while ``ColumnTransformer`` builds a CSR matrix, in
#: copies of the result: the numeric block, cast and converted to CSR, and
#: the stacked result. Measured (tracemalloc, float32): 2.9 times the CSR
#: for 400,000 rows of 30 numeric columns and a text column of 20,000
#: values, 2.6 for one numeric column.
_SPARSE_BUILD_COPIES = 3

#: The arrays of a batch's rows x the units of every layer the training
#: keeps (activations and deltas): measured as above with one hidden layer
#: of 50,000 units and batches of 200 rows, 2 arrays of 38.1 MiB beside
#: the parameters' peak (125.4 MiB with Adam, 113.2 with SGD); with
#: early stopping the validation rows' pass too.
_ACTIVATION_ARRAYS = 2


def network_size(estimator, n_columns, n_outputs, dtype, n_rows=0):
    """The memory the network takes, at its peak, while ``estimator`` fits
    on ``n_columns`` encoded columns.

    Parameters
    ----------
    estimator : fastbp.MLPClassifier or fastbp.MLPRegressor
        The estimator to fit; its ``hidden_layer_sizes``, ``solver`` and
        ``early_stopping`` are read.
    n_columns : int
        The encoded columns, the first layer's inputs.
    n_outputs : int
        The output units: the classes (one for two), or 1 for a target.
    dtype : numpy.dtype
        The model's dtype.
    n_rows : int, default=0
        The training rows: a batch of them (``batch_size``, at most
        ``n_rows``) and early stopping's validation rows pass through the
        network; 0 counts no activations.

    Returns
    -------
    first_layer : tuple of int or None
        The first layer's weights, ``(n_columns, units)``.
    size : int
        Bytes, estimated from measured peaks (:data:`_SOLVER_PEAK`,
        :data:`_LBFGS_FLOAT64_VECTORS`): the weights, their gradient, the
        solver's state, the copies the training keeps, and the
        activations (:data:`_ACTIVATION_ARRAYS`). 0 (and
        ``first_layer`` ``None``) where ``hidden_layer_sizes`` or ``solver``
        is not valid: the fit names that.
    """
    from .estimators.checks import check_hidden_layer_sizes

    params = estimator.get_params(deep=False)
    solver = params.get("solver")
    try:
        hidden = check_hidden_layer_sizes(params.get("hidden_layer_sizes"))
    except (ValueError, TypeError):
        return None, 0
    if solver != "lbfgs" and solver not in _SOLVER_PEAK:
        return None, 0
    units = [n_columns, *hidden, n_outputs]
    n_params = sum(a * b + b for a, b in zip(units[:-1], units[1:]))
    itemsize = np.dtype(dtype).itemsize
    if solver == "lbfgs":
        size = n_params * (_LBFGS_FLOAT64_VECTORS * 8 + _LBFGS_MODEL_ARRAYS * itemsize)
    else:
        arrays = _SOLVER_PEAK[solver] + (_EARLY_STOPPING_PEAK if params.get("early_stopping")
                                         else 0)
        size = int(n_params * itemsize * arrays)
    batch = params.get("batch_size")
    if solver == "lbfgs":
        # Its full-batch pass runs in chunks of rows.
        from .training.lbfgs import CHUNK
        batch = CHUNK
    # "auto" is scikit-learn's min(200, rows); a bad value is the fit's to name.
    rows = min(int(batch) if isinstance(batch, (int, np.integer)) and batch > 0 else 200,
               n_rows)
    if params.get("early_stopping"):
        fraction = params.get("validation_fraction")
        rows += int(np.ceil(n_rows * (fraction if isinstance(fraction, float) else 0.1)))
    size += rows * sum(units[1:]) * itemsize * _ACTIVATION_ARRAYS
    return (n_columns, units[1]), size


#: Linux's memory statistics, whose ``MemAvailable`` :func:`_free_memory`
#: reads.
_MEMINFO = "/proc/meminfo"


def _free_memory():
    """The memory the kernel says can be allocated without swapping
    (``MemAvailable`` in :data:`_MEMINFO`), in bytes; ``None`` where it is
    not known (not Linux, or a kernel before 3.14)."""
    try:
        with open(_MEMINFO) as fh:
            for line in fh:
                name, _, value = line.partition(":")
                if name == "MemAvailable":
                    kib = value.split()[0]
                    return int(kib) * 1024 if kib.isdigit() else None
    except OSError:
        pass
    return None


def fit_size(X, dtype, estimator=None, n_outputs=1, encoded=None):
    """An estimate of the memory ``fastbp train`` takes to fit on ``X``.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns of the training file, as read.
    dtype : numpy.dtype
        The model's dtype.
    estimator : fastbp.MLPClassifier or fastbp.MLPRegressor, optional
        The estimator to fit; without it the network is not counted.
    n_outputs : int, default=1
        The network's output units (see :func:`network_size`).
    encoded : tuple, optional
        :func:`encoded_size` of ``X`` where the caller has it already (it
        counts every text column's distinct values: a pass over the file).

    Returns
    -------
    held : int
        Bytes ``X`` takes already (``memory_usage(deep=True)``: text
        values are Python strings).
    needed : int
        Bytes the fit will allocate at its peak, beside ``held``: the
        larger of the encoding while it is built (the numeric columns
        standardised in float64 beside their cast, the stacked blocks and
        their result, or :data:`_SPARSE_BUILD_COPIES` copies of a CSR
        result) and the
        training (the encoding, a CSR matrix's int64 index copy, a copy of
        it for early stopping's split, and :func:`network_size`).
    first_layer : tuple of int or None
        As :func:`network_size` returns it.
    network : int
        :func:`network_size`'s bytes.
    """
    sparse, nnz, n_columns, size, _ = encoded if encoded is not None else encoded_size(X, dtype)
    held = int(X.memory_usage(index=True, deep=True).sum())
    first_layer, network = ((None, 0) if estimator is None
                            else network_size(estimator, n_columns, n_outputs, dtype,
                                              len(X)))
    # StandardScaler's output: float64, whatever the model's dtype.
    scaled = len(X) * len(numeric_columns(X)) * 8
    # Measured (tracemalloc, 400,000 rows of 30 numeric columns, float32):
    # the dense encoding peaked at the scaled copy and the cast, 137.4 MiB.
    # With a text column ColumnTransformer stacks the blocks into a new
    # array: the blocks and the result, twice the encoding (100,000 rows of
    # 20 numeric columns and 8 categories in float64: 44.3 MiB measured,
    # 42.8 so counted). The fit reads a dense encoding of its dtype as it is.
    if sparse:
        build = scaled + _SPARSE_BUILD_COPIES * size
    else:
        build = max(scaled + size, 2 * size if len(numeric_columns(X)) < X.shape[1] else 0)
    # And, a row, three float64 or int64 values: the target, its copy and
    # the shuffled order (measured: 100,000 rows of 2 numeric columns and 3
    # categories peaked 1.6 MiB above the encoding and the parameters).
    train = size + network + len(X) * 3 * 8
    if sparse:
        # The kernels take int64 indices (training/data.py): a copy of an
        # int32 CSR's, and, for safety, of its values (measured: the fit
        # held 1.06 to 1.75 times the CSR beyond it and the parameters).
        train += nnz * (np.dtype(dtype).itemsize + 8) + (len(X) + 1) * 8
    if estimator is not None and estimator.get_params(deep=False).get("early_stopping"):
        # The split's rows, taken as copies (measured: 12 MiB more for a
        # dense 46 MiB encoding; counted as a whole copy).
        train += size
    return held, max(build, train), first_layer, network


def check_one_hot_size(X, dtype, path, estimator=None, n_outputs=1):
    """Refuse, before the encoding, a fit that would not fit in memory:
    by name the one-hot encoded columns (with the first layer they widen,
    however small their encoding), the network's first layer, or the
    rows, whichever takes it.

    The encoding is estimated as :func:`build_pipeline` builds it
    (:func:`encoded_size`): a CSR matrix, by its nonzeros, where the one-hot
    columns make it mostly zeros (an ID of 200,000 values in 200,000 rows:
    2.4 MB in float32, where a dense array took 149 GiB), a dense array
    otherwise; and, given ``estimator``, the network the encoding feeds
    (:func:`network_size`): one input per encoded column, so the same ID
    makes a first layer of 200,001 x 100 weights, 76 MiB in float32 and
    about 650 MiB at Adam's peak, far more than its CSR. The whole fit,
    with the file as read and its float64 standardised copy, is estimated
    by :func:`fit_size`. Too big, the fit fails with a MemoryError, or
    takes the machine's memory, only after minutes.

    Parameters
    ----------
    X : pandas.DataFrame
        The feature columns of the training file.
    dtype : numpy.dtype
        The model's dtype.
    path : str
        The training file, for the message.
    estimator : fastbp.MLPClassifier or fastbp.MLPRegressor, optional
        The estimator to fit; without it only the data is counted.
    n_outputs : int, default=1
        The network's output units (see :func:`network_size`).

    Raises
    ------
    CLIError
        If the encoding alone would take more than a quarter of the
        memory this process may use, or the fit's estimate more than the
        memory free (``MemAvailable``) or than the memory this process may
        use.
    """
    memory = _available_memory()
    free = _free_memory()
    if memory is None and free is None:
        return
    encoded = encoded_size(X, dtype)
    sparse, nnz, n_columns, size, widths = encoded
    widest = sorted(widths, key=widths.get, reverse=True)[:3]
    shown = ", ".join(f"{c!r} ({widths[c]} distinct values)" for c in widest)
    what = (f"a sparse matrix of {nnz} stored values of {np.dtype(dtype)} ({len(X)} rows x "
            f"{n_columns} columns)" if sparse
            else f"{len(X)} rows x {n_columns} columns of {np.dtype(dtype)}")
    if widths and memory is not None and 2 * size > memory / 2:
        # The encoding alone is the problem, whatever the network: name the
        # columns that make it.
        raise CLIError(f"{path}: one-hot encoding the text column(s) {shown} would take "
                       f"{what}, {_in_units(size)} (the fit needs twice that), more than a "
                       f"quarter of the memory available ({_in_units(memory)}); drop such a "
                       "column if it is an ID or free text, or group its values into fewer "
                       "categories")
    held, needed, first_layer, network = fit_size(X, dtype, estimator, n_outputs, encoded)
    # MemAvailable leaves out what this process holds already (the frame,
    # the interpreter), so the fit's new allocations are compared with it;
    # the cgroup limit or the machine's total bounds everything.
    if free is not None and needed > free:
        head = (f"the fit would need about {_in_units(needed)} more memory at its peak (an "
                f"estimate), more than the memory free ({_in_units(free)})")
    elif memory is not None and held + needed > memory:
        head = (f"the fit would take about {_in_units(held + needed)} of memory at its peak "
                f"(an estimate), more than the memory available ({_in_units(memory)})")
    else:
        return
    n_numeric = len(numeric_columns(X))
    parts = [(held, f"the file's {len(X)} rows as read take {_in_units(held)}"),
             (len(X) * n_numeric * 8, f"its {n_numeric} numeric column(s) standardised in "
                                      f"float64 take {_in_units(len(X) * n_numeric * 8)}")]
    # Where text columns make half the first layer's inputs or more, they
    # are why it is wide: a narrower first layer is not the only remedy.
    widening = bool(widths) and sum(widths.values()) >= n_columns / 2
    if widths:
        encoding = (f"one-hot encoding the text column(s) {shown} makes {what}, "
                    f"{_in_units(size)}")
    else:
        encoding = f"the encoded features are {what}, {_in_units(size)}"
    advice = []
    if first_layer is None:
        parts.append((size, encoding))
    else:
        solver = estimator.get_params(deep=False)["solver"]
        if widening:
            # However small their encoding (helper-193: a CSR of 0.3 MiB fed
            # a first layer of 20,000 x 100 weights), the text columns are
            # why the network takes what it does: named with it, the user
            # knows which column to drop.
            parts.append((size + network,
                          f"{encoding}, and a first layer of {first_layer[0]} x "
                          f"{first_layer[1]} weights: the network's parameters take "
                          f"{_in_units(network)} with the {solver} solver's state and the "
                          "activations (an estimate)"))
        else:
            parts.append((size, encoding))
            parts.append((network, f"the network's parameters (first layer {first_layer[0]} x "
                                   f"{first_layer[1]} weights) take {_in_units(network)} with "
                                   f"the {solver} solver's state and the activations"))
        if network >= needed / 4:
            advice.append("give the first hidden layer fewer units (--hidden-layer-sizes)")
            if solver == "lbfgs":
                advice.append("use a stochastic solver (--solver adam: L-BFGS keeps about "
                              "40 float64 values a parameter)")
    if widths and (size >= (held + needed) / 10 or widening):
        advice.insert(0, "drop a text column if it is an ID or free text, or group its "
                         "values into fewer categories")
    if not advice or network < needed / 2:
        advice.append("train on fewer rows")
    # Only what takes a share of the memory: a part of 0.0 MiB beside
    # 100 GiB of weights explains nothing.
    shown_parts = ([text for part, text in parts if part >= (held + needed) / 10]
                   or [max(parts)[1]])
    raise CLIError(f"{path}: {head}: {'; '.join(shown_parts)}; {'; or '.join(advice)}")


def _in_units(size):
    """``size`` bytes in GiB, or in MiB below one (a sparse encoding's size
    read "0.0 GiB", a first layer's 130 MiB "0.1 GiB")."""
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.1f} MiB"


def check_features(X, path, training=True):
    """Refuse missing and infinite values in the numeric feature columns,
    naming them (the estimator's own message names no column)."""
    numeric = numeric_columns(X)
    missing = [c for c in numeric if X[c].isna().any()]
    if missing:
        raise CLIError(f"{path}: numeric column(s) {missing} have missing values; fill or "
                       "drop them first (fastbp does not impute)")
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


def check_output_path(path, option, special_ok=False):
    """Refuse an output path that cannot be written, before any training.

    Parameters
    ----------
    path : str or None
        The path given; ``None`` when the option was not.
    option : str
        The option's name, for the message.
    special_ok : bool, default=False
        Whether an existing device or named pipe may be written through
        (``predict --out /dev/stdout``). The model is saved by replacing
        the file at its path, which would put a regular file in the place
        of ``/dev/null`` or a pipe; the history and plot are refused alike,
        as files. A symbolic link is judged by what it points to.
    """
    from .persistence import special_file

    if path is None:
        return
    if not path:
        raise CLIError(f"{option}: an empty path")
    if os.path.isdir(path):
        raise CLIError(f"{option} {path}: is a directory; give a file name")
    kind = None if special_ok else special_file(path)
    if kind is not None:
        raise CLIError(f"{option} {path}: it is {kind}, not a regular file; give the name "
                       "of a file to write")
    # Not normalised: "missing/../m.fastbp" needs "missing" to exist.
    directory = os.path.dirname(path) or os.curdir
    if not os.path.isdir(directory):
        problem = "is a file, not a directory" if os.path.exists(directory) else "does not exist"
        raise CLIError(f"{option} {path}: the directory {directory} {problem}")
    if not os.access(directory, os.W_OK):
        raise CLIError(f"{option} {path}: the directory {directory} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        # Checked now, as fastbp.save would after training: the model and
        # every output after it would be lost.
        raise CLIError(f"{option} {path}: the file exists and is read-only; make it "
                       "writable or give another path")


def check_table_name(path, option):
    """Refuse a name for a table (:func:`write_table`) that fastbp would not
    read back (:data:`TABLE_SUFFIXES`): it would be written as CSV whatever
    the name says (``p.parquet``, ``p.csv.zip``). A device or named pipe
    (``/dev/stdout``) has any name."""
    from .persistence import special_file

    if path and not path.lower().endswith(TABLE_SUFFIXES) and special_file(path) is None:
        raise CLIError(f"{option} {path}: the file name must end in .csv, .txt or .csv.gz "
                       "(comma-separated), or .tsv or .tsv.gz (tab-separated): fastbp "
                       "writes no other format")


def _same_file(a, b):
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, and case-insensitive file systems
    except OSError:
        return False


def refuse_overwriting(outputs, inputs):
    """Refuse, before any work, an output path that names an input file or
    another output: writing it would destroy the data or the model.

    Parameters
    ----------
    outputs, inputs : list of (str, str or None)
        ``(option, path)`` pairs; a ``None`` path is not given.
    """
    outputs = [(o, p) for o, p in outputs if p]
    inputs = [(o, p) for o, p in inputs if p]
    for i, (option, path) in enumerate(outputs):
        for other, other_path in inputs + outputs[:i]:
            if _same_file(path, other_path):
                raise CLIError(f"{option} {path} is the same file as {other} {other_path}; "
                               f"writing it would overwrite {other_path}. Give another path")


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
    if kind == "multiclass" and np.asarray(y).dtype.kind in "iuf" and n_classes > 50:
        print(f"note: {target!r} holds {n_classes} distinct integers and is treated as "
              "class labels; pass --task regression if it is a quantity", file=sys.stderr)
    return "classification"


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
    """Say so when a regression target is far from unit scale: the network
    fits it as it is (as scikit-learn's MLPRegressor does), and such a
    target trains slowly."""
    values = np.asarray(y, dtype=float)
    mean, std = float(values.mean()), float(values.std())
    if std > 0 and (std > 10 or std < 0.1 or abs(mean) > 10 * std):
        print(f"note: the target {target!r} has mean {mean:.4g} and standard deviation "
              f"{std:.4g}; the network fits it unscaled, which trains slowly: a column "
              "standardised to mean 0 and deviation 1 trains much faster", file=sys.stderr)


def build_pipeline(X, estimator, dtype=np.float64):
    """Standardise numeric columns, one-hot encode the others, then
    ``estimator``, which gets ``dtype``: a CSR matrix where the encoding is
    mostly zeros (:data:`SPARSE_THRESHOLD`; text columns of many values), a
    dense array otherwise (:func:`encoded_size` tells which, beforehand).

    The numeric columns are standardised as read (float64) and only then
    cast to ``dtype``: cast first, float32 would round Unix timestamps
    (1.7e9) to steps of 128 seconds, in training only, since files read
    later reach the scaler as read. The cast is NumPy's ``positive`` ufunc
    with ``dtype`` and ``order="C"``, which ``fastbp.load`` rebuilds (no
    function of fastbp's own): one copy, in the C order the model trains
    from. (``numpy.float32`` kept the scaler's F order, that of a
    DataFrame's values, and the model copied it all again.)"""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    numeric = numeric_columns(X)
    other = [c for c in X.columns if c not in numeric]
    steps = []
    if numeric:
        cast = FunctionTransformer(np.positive, kw_args={"dtype": np.dtype(dtype).type,
                                                         "order": "C"},
                                   feature_names_out="one-to-one")
        steps.append(("numeric", Pipeline([("scale", StandardScaler()), ("cast", cast)]),
                      numeric))
    if other:
        # CSR, so that an ID-like column of thousands of values costs memory
        # by its nonzeros (one a row), not rows x values (fix-184): the
        # estimators train on CSR without densifying it.
        steps.append(("categorical", OneHotEncoder(handle_unknown="ignore",
                                                   sparse_output=True,
                                                   dtype=np.dtype(dtype).type), other))
    # scikit-learn's rule: dense where more than SPARSE_THRESHOLD of the
    # result is nonzero (few categories), for the dense kernels are faster.
    preprocess = ColumnTransformer(steps, sparse_threshold=SPARSE_THRESHOLD)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def parse_settings(pairs):
    """``--set key=value`` pairs as estimator parameters (Python literals
    where they parse, strings otherwise)."""
    import ast

    params = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise CLIError(f"--set expects key=value, got {pair!r}")
        key, text = pair.split("=", 1)
        if key.strip() in params:
            # The later one would win without a word.
            raise CLIError(f"--set {key.strip()}=... is given more than once: give it once")
        if text.strip().lower() in ("true", "false"):
            # Booleans as a shell user writes them, not only Python's True.
            value = text.strip().lower() == "true"
        else:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = text
        params[key.strip()] = value
    return params


def epoch_printer(stream=None, unit="epoch"):
    """One line per epoch (or L-BFGS ``unit="iteration"``), as Keras's
    ``verbose=2``."""
    def on_epoch_end(epoch, max_iter, history):
        parts = [f"{unit} {epoch}/{max_iter}", f"{history['epoch_time'][-1]:.2f}s",
                 f"loss {history['loss'][-1]:.4f}"]
        if history.get("val_loss"):
            parts.append(f"val_loss {history['val_loss'][-1]:.4f}")
        if history.get("val_score"):
            parts.append(f"val_score {history['val_score'][-1]:.4f}")
        print(" - ".join(parts), file=stream or sys.stdout, flush=True)
    return on_epoch_end


def make_estimator(cls, args, params):
    """``cls(**settings(args, params))``, where a ``--set`` name that
    ``cls`` has no parameter of is named with its closest parameters
    (Python's "__init__() got an unexpected keyword argument" named neither
    the option nor what was meant)."""
    import difflib

    params = settings(args, params)
    known = cls().get_params(deep=False)
    for name in params:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=3)
            hint = (f"; did you mean {' or '.join(close)}?" if close
                    else f"; its parameters: {', '.join(sorted(known))}")
            raise CLIError(f"--set {name}=...: {cls.__name__} has no parameter "
                           f"{name!r}{hint}")
    return cls(**params)


def settings(args, params):
    """``params`` with ``--validation-fraction`` and ``--set`` applied."""
    params = dict(params)
    if args.validation_fraction is not None:
        params.update(early_stopping=True, validation_fraction=args.validation_fraction)
    settings_given = parse_settings(args.set)
    for name, option in getattr(args, "options_given", {}).items():
        if name in settings_given:
            # The later one would win without a word (--epochs 3 --set max_iter=5).
            raise CLIError(f"{option} and --set {name}=... both set {name}: give it once")
    params.update(settings_given)
    if params.get("solver") == "lbfgs" and params.get("early_stopping"):
        # scikit-learn's MLP ignores early_stopping with lbfgs, silently.
        given = ("--validation-fraction" if args.validation_fraction is not None
                 else "--early-stopping" if getattr(args, "early_stopping", False)
                 else "--set early_stopping=True")
        held_out = ", or score a held-out file with --valid" if args.data else ""
        raise CLIError(f"{given} (early stopping) needs a stochastic solver: lbfgs "
                       "minimises the full-batch loss and has no epochs to stop early; use "
                       f"--solver adam{held_out}")
    return params


def epochs_option(args):
    """How the command line set ``max_iter``, for a note on the limit:
    ``--epochs``, or ``--set max_iter=...``."""
    return "--set max_iter=..." if "max_iter" in parse_settings(args.set) else "--epochs"


# The options of train that take no value: the parameter's True is the
# option alone (--residual), and its False has only --set.
_SWITCHES = ("residual", "early_stopping")
# Parameters that the library's advice names bare ("alpha > 0", "lower
# gamma") although they are no identifiers with an underscore: English
# words such as "loss" or "solver" stay words.
_BARE_PARAMS = ("alpha", "gamma", "l1")
# A parameter's value in the advice, and the alternatives after it:
# activation='relu' (or 'leaky_relu', 'elu'), init='he_uniform'/'he_normal'.
_VALUE = r"'[^']*'|[\w.+-]+"
_ALTERNATIVES = r"(?:\s*(?:/|,|\(or|or)\s*'[^']*')*"
# A bound after a bare parameter ("alpha > 0"): pasted into a shell,
# "--alpha > 0" would redirect the output to a file named 0.
_BOUND = r" > (?P<bound>\d+(?:\.\d+)?)"
# The library's advice to standardise X (and y): the command line feeds
# the network standardised features already (build_pipeline; the built-in
# datasets come scaled), and fits a regression target as read.
_SCALER = r" \(for example with sklearn\.preprocessing\.StandardScaler\)"
_STANDARDISE_ITEM = (r"standardise (?:X, and y for a regressor|X|the input)"
                     rf"(?:{_SCALER})?")
_STANDARDISE_SENTENCE = (r"To fix it, standardise X \(and y for a regressor\), "
                         r"for example with sklearn\.preprocessing\.StandardScaler\.")
_STANDARDISE_ASIDE = r" \(standardise X, for example with sklearn\.preprocessing\.StandardScaler\)"
# Where a list of remedies starts, for the " or " before its last one.
_LIST_STARTS = ("To fix it, ", "Remedies: ")


def command_line_advice(message, estimator, args, target=None):
    """The advice of a :class:`~fastbp.exceptions.DivergenceError` or a
    :class:`~fastbp.exceptions.GradientWarning` as a command-line user
    acts on it: each parameter it names as the option that sets it
    (``learning_rate_init`` as ``--learning-rate-init``, ``gamma=2`` as
    ``--set gamma=2``, or as ``--set`` where ``args`` set it so), and no
    advice to standardise X, which ``fastbp train`` did.

    Parameters
    ----------
    message : str
    estimator : MLPClassifier or MLPRegressor
        The fitted estimator, whose parameter names are translated.
    args : argparse.Namespace
        ``train``'s arguments.
    target : str or None
        The regression target column, fitted unscaled: the advice to
        standardise y names it. None for a classifier.
    """
    import re

    from .cli import _OPTION_PARAMS

    options = {param: "--" + attr.replace("_", "-") for attr, param in _OPTION_PARAMS.items()}
    given = parse_settings(args.set)
    names = sorted(estimator.get_params(deep=False), key=len, reverse=True)

    def option(match):
        name, value, alternatives, bound = match.group("name", "value", "alternatives",
                                                       "bound")
        if value is None and "_" not in name and name not in _BARE_PARAMS:
            return match.group(0)  # a word of the text ("loss"), not the parameter
        # The command line's choices are written unquoted (--normalization batch).
        value = value.strip("'") if value is not None else "..."
        alternatives = (alternatives or "").replace("'", "")
        bound = f" with a value above {bound}" if bound is not None else ""
        if name in given or name not in options:
            # Set by --set already: its option too would be refused (settings).
            return f"--set {name}={value}" + alternatives + bound
        if value == "...":
            return options[name] + bound
        if name in _SWITCHES:
            return options[name] if value == "True" else f"--set {name}={value}"
        return f"{options[name]} {value}" + alternatives

    message = re.sub(rf"(?<![\w.'-])(?P<name>{'|'.join(map(re.escape, names))})"
                     rf"(?:=(?P<value>{_VALUE})(?P<alternatives>{_ALTERNATIVES})|{_BOUND})?"
                     r"(?![\w=])",
                     option, message)
    scale_target = (f"standardise the target column {target!r} (fastbp train "
                    "standardises the numeric feature columns, not the target)")
    message = re.sub(_STANDARDISE_ASIDE, "", message)
    if target is not None:
        # Functions, not replacement strings: a column name may hold backslashes.
        message = re.sub(_STANDARDISE_SENTENCE, lambda m: f"To fix it, {scale_target}.",
                         message)
        return re.sub(_STANDARDISE_ITEM, lambda m: scale_target, message)
    message = re.sub(r" ?" + _STANDARDISE_SENTENCE, "", message)
    match = re.search(rf"(?P<before>,? or |, )?{_STANDARDISE_ITEM}(?P<after>, )?", message)
    if match is None:
        return message
    if match.group("after") or not match.group("before") or "or" not in match.group("before"):
        # The first (or a middle) remedy: its comma goes with it.
        return (message[:match.start()] + (match.group("before") or "")
                + message[match.end():])
    # The last remedy: the one before it takes its " or ".
    head = message[:match.start()]
    start = max((head.rfind(lead) + len(lead) for lead in _LIST_STARTS if lead in head),
                default=len(head))
    depth, cut = 0, -1
    for i in range(start, len(head)):
        depth += {"(": 1, ")": -1}.get(head[i], 0)
        if depth == 0 and head.startswith(", ", i):
            cut = i
    if cut >= 0:
        head = head[:cut] + match.group("before") + head[cut + 2:]
    return head + message[match.end():]


def fit_with_progress(model, estimator, X, y, quiet, limit_option="--epochs", advise=None):
    """Fit ``model`` (``estimator`` or a Pipeline holding it), announcing a
    cold compile and printing one line per epoch unless ``quiet``; a note
    on a fit that reaches ``max_iter`` names ``limit_option``, the option
    that set it (:func:`epochs_option`). ``advise``, given, rewrites the
    advice of a ``GradientWarning`` and of a ``DivergenceError`` for the
    command line (:func:`command_line_advice`).

    Returns
    -------
    bool
        Whether Ctrl-C ended the fit early: the estimator then keeps the
        state of its last complete epoch (or best L-BFGS iterate), a partly
        trained model that :func:`say_interrupted` names as such. Ctrl-C
        before the first epoch (or L-BFGS iteration) ended leaves nothing
        trained: the ``KeyboardInterrupt`` goes on (:func:`fastbp.cli.run`).
    """
    # The fit announces a cold compile itself, once it knows which kernels
    # it runs (training.compile.announce_compilation).
    import re
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from .exceptions import UNDONE_TRAINING_NOTE, DivergenceError, GradientWarning
    from .training.progress import INTERRUPTED

    estimator._announce_compile = True
    if not quiet:
        estimator._on_epoch_end = epoch_printer(unit=step_name(estimator))
    notes, interrupted = [], []

    def show(message, category, filename, lineno, file=None, line=None):
        # A ConvergenceWarning becomes one line after the fit, which a
        # command-line user can act on, rather than its source location;
        # every other warning shows at once, as it is.
        if str(message).startswith(INTERRUPTED):
            # Said once the outputs are written, with what they hold.
            interrupted.append(str(message))
        elif issubclass(category, ConvergenceWarning):
            notes.append(str(message))
        elif advise is not None and issubclass(category, GradientWarning):
            show_warning(advise(str(message)), category, filename, lineno, file, line)
        else:
            show_warning(message, category, filename, lineno, file, line)

    try:
        with warnings.catch_warnings():  # puts showwarning back
            warnings.showwarning = show
            # The limit reached is the CLI's own note, whatever the filters:
            # PYTHONWARNINGS=error raised it out of the fit, before show()
            # saw it, and no model was saved (helper-123).
            warnings.simplefilter("always", ConvergenceWarning)
            # Whatever the filters (-W ignore, a second fit in one process),
            # an interrupted fit must be seen: it decides the exit status.
            warnings.filterwarnings("always", message=INTERRUPTED)
            model.fit(X, y)
    except DivergenceError as exc:
        if advise is None:
            raise
        # The fit was undone, so the warnings of its training came as the
        # error's notes, which the error raised here drops: an exploding
        # gradient explains the divergence, and shows as it would have.
        for note in getattr(exc, "__notes__", ()):
            if note.startswith(UNDONE_TRAINING_NOTE):
                name, _, said = note[len(UNDONE_TRAINING_NOTE):].partition(": ")
                if name == GradientWarning.__name__:
                    show(said, GradientWarning, "", 0)
                elif name != ConvergenceWarning.__name__:  # said after a success only
                    print(f"warning: {name}: {' '.join(said.split())}", file=sys.stderr,
                          flush=True)
        # helper-142: its advice named Python parameters, and standardising X.
        # helper-163: the command line saves no model after a divergence, so
        # what the estimator keeps is not what the user gets.
        message = re.sub(r"Training stopped there, and the model is as it was before this "
                         r"call.*?\. (?=To fix it)",
                         "Training stopped there, and no model was saved. ", advise(str(exc)))
        message = message.replace("The model keeps its state from before this call. ",
                                  "No model was saved. ")
        # With the last finite epoch, whose history --history-out writes.
        raise DivergenceError(message, epoch=exc.epoch,
                              last_finite_model=exc.last_finite_model) from None
    finally:
        estimator.__dict__.pop("_on_epoch_end", None)
        estimator.__dict__.pop("_announce_compile", None)
    if interrupted:
        return True
    if notes:
        if estimator.n_iter_ >= estimator.max_iter:
            # scikit-learn's message names max_iter; on the command line it is --epochs.
            larger = ("a larger --epochs" if limit_option == "--epochs"
                      else limit_option.replace("...", "N") + " with a larger N")
            limit = (f"--epochs {estimator.max_iter}" if limit_option == "--epochs"
                     else limit_option.replace("...", str(estimator.max_iter)))
            note = (f"training stopped at the epoch limit ({estimator.max_iter}) before the "
                    f"loss stopped improving; pass {larger} to train longer"
                    if estimator.solver != "lbfgs" else
                    f"L-BFGS stopped at its iteration limit ({limit}) "
                    f"before converging; pass {larger} to train longer")
        elif estimator.solver == "lbfgs" and "EVALUATIONS EXCEEDS LIMIT" in notes[0]:
            # scipy's reason for a max_fun stop, and scikit-learn's advice
            # to scale data that the command line standardised already
            # (helper-150): max_fun is set by --set alone.
            note = (f"L-BFGS stopped at its limit of loss evaluations (--set "
                    f"max_fun={estimator.max_fun}) before converging; pass --set max_fun=N "
                    f"with a larger N to train longer")
        else:
            note = " ".join(notes[0].split())  # scipy's reason, on one line
        print(f"note: {note}", file=sys.stderr)
    return False


def show_warning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` of the command line: one line ``warning:
    Category: message`` on stderr, as the notes and errors are. Python's
    own format adds the source file and line, which mean nothing to a
    command-line user."""
    print(f"warning: {category.__name__}: {' '.join(str(message).split())}",
          file=sys.stderr, flush=True)


def final_loss(estimator):
    """The training loss of the last complete epoch, for a status line."""
    return f"{estimator.loss_:.6f}"


def say_interrupted(estimator, saved):
    """Print, last, that Ctrl-C ended the fit of ``estimator`` early, and
    return the exit status of an interrupted command: a model saved
    (``saved``) or scored after an interrupted fit is partly trained, and
    ``fastbp train && deploy`` must not take it for a finished one."""
    unit = step_name(estimator)
    what = "the model saved is" if saved else "the model (not saved) is"
    print(f"fastbp: training interrupted after {estimator.n_iter_} of {estimator.max_iter} "
          f"{unit}s: {what} partly trained", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def check_outputs(args):
    """``--model-out``, ``--history-out`` and ``--plot`` checked before training."""
    outputs = [("--model-out", args.model_out), ("--history-out", args.history_out),
               ("--plot", args.plot)]
    for option, path in outputs:
        check_output_path(path, option)
    refuse_overwriting(outputs, [("--data", args.data), ("--valid", args.valid)])
    check_table_name(args.history_out, "--history-out")
    if args.history_out:
        # Written after training, as the model is (rev-233).
        _pandas("writing --history-out")
    if args.model_out:
        # Saving is the last step: without skops a whole training run would
        # be lost to a package that is missing from the start.
        from .persistence import _skops_io

        try:
            _skops_io()
        except ImportError as exc:
            raise CLIError(f"--model-out needs skops to save the model: {_CLI_EXTRA}") from exc
    if args.plot:
        try:
            from matplotlib.backend_bases import FigureCanvasBase
        except ImportError as exc:
            raise CLIError('--plot needs matplotlib: pip install "fastbp[plot]"') from exc
        kinds = dict(FigureCanvasBase.get_supported_filetypes())  # the class's own dict
        # PGF is LaTeX source that matplotlib compiles with a TeX installation
        # to measure text: without one it would fail after the training.
        kinds.pop("pgf", None)
        suffix = os.path.splitext(args.plot)[1].lstrip(".").lower()
        if suffix not in kinds:
            raise CLIError(f"--plot {args.plot}: the file name must end in one of "
                           f"{', '.join('.' + k for k in sorted(kinds))} (the image format)")


def one_line(text):
    """``text``'s lines joined by spaces, blank ones dropped (the spaces
    within a line, a column name's among them, kept as they are)."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def error_message(exc):
    """``exc`` as the one line after ``fastbp: error:`` ("[Errno 21] Is a
    directory: 'out'" as "out: Is a directory")."""
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, MemoryError):
        # NumPy's says what it could not allocate; Python's own says nothing.
        return f"out of memory{': ' + str(exc) if str(exc) else ''}"
    return str(exc)


#: The failures the command line reports in one line ``fastbp: error: ...``
#: (any other exception is fastbp's bug, and shows its traceback).
REPORTED_ERRORS = (CLIError, OSError, ValueError, TypeError, ImportError, RuntimeError,
                   MemoryError)


def write_outputs(args, model, estimator):
    """``--model-out`` (``model``, saved without pickle), ``--history-out``
    and ``--plot`` (``estimator``'s history).

    Each is written even where one before it failed (the trained model is
    not lost to a plot that cannot be written), and each failure is printed
    as ``fastbp: error: ...``.

    Returns
    -------
    bool
        Whether every output given was written.
    """
    import fastbp

    outputs = [("--model-out", args.model_out, lambda path: fastbp.save(model, path),
                "model saved to"),
               ("--history-out", args.history_out,
                lambda path: write_history(estimator, path), "history written to"),
               ("--plot", args.plot, lambda path: write_plot(estimator, path),
                "plot written to")]
    written = True
    for option, path, write, done in outputs:
        if not path:
            continue
        try:
            write(path)
        except REPORTED_ERRORS as exc:
            # The path once: "could not write --plot p.png: Permission denied".
            own = isinstance(exc, OSError) and exc.filename == path and exc.strerror
            print(f"fastbp: error: could not write {option} {path}: "
                  f"{exc.strerror if own else error_message(exc)}", file=sys.stderr, flush=True)
            written = False
        else:
            print(f"{done} {path}", flush=True)
    return written


def fit_or_write_history(model, estimator, X, y, args, advise):
    """:func:`fit_with_progress` of ``train``; after a divergence, the
    ``--history-out`` of the epochs before it (what diagnosing it needs),
    written before the error goes on, and no other output (helper-163)."""
    from .exceptions import DivergenceError

    try:
        return fit_with_progress(model, estimator, X, y, args.quiet, epochs_option(args),
                                 advise)
    except DivergenceError as exc:
        # The fit is undone: the epochs before the divergence are the
        # exception's (the estimator of a first fit has no history_).
        diverged = exc.last_finite_model
        if args.history_out and diverged is not None:
            write_outputs(argparse.Namespace(model_out=None, history_out=args.history_out,
                                             plot=None), None, diverged)
        raise


def train_on_file(args, estimator_params):
    """``fastbp train --data FILE --target COLUMN``."""
    import fastbp

    pd = _pandas()
    check_outputs(args)
    frame, codes = keep_written_codes(read_table(args.data), args.data)
    X, y = split_target(frame, args.target, args.data)
    if not X.shape[1]:
        raise CLIError(f"{args.data} has no feature columns besides the target "
                       f"{args.target!r}: add the columns to predict it from")
    check_features(X, args.data)
    note_missing_marks_kept(frame)
    note_row_numbers(X)
    note_text_in_numbers(X)
    task = infer_task(y, args.task, args.target)
    classes = pd.unique(y) if task == "classification" else None
    if classes is not None and len(classes) < 2:
        # Most likely the wrong column, or filtered data; a one-class
        # model would predict that class whatever it reads.
        raise CLIError(f"{args.data}: the target column {args.target!r} holds a single "
                       f"class ({_plain(classes[0])!r}); a classifier needs at least two")
    if task == "regression":
        y = regression_target(y, args.target, args.data, "--task regression")
        note_target_scale(y, args.target)
    # The validation file, read before training: a problem with it must not
    # cost the trained model.
    valid = None
    if args.valid:
        # Read as read_for_model reads a file for the model trained here.
        text = _text_columns(X)
        stripped = [c for c in text if not _spaced(X[c].unique())]
        if np.asarray(y).dtype.kind == "O":
            text.append(args.target)
            if not _spaced(classes):
                stripped.append(args.target)
        valid_frame = read_table(args.valid, text, stripped, _bool_columns(X), codes)
        valid_X, valid_y = split_target(valid_frame, args.target, args.valid)
        valid_X = _checked_features(valid_X, list(X.columns), numeric_columns(X), args.valid)
        if task == "regression":
            valid_y = regression_target(valid_y, args.target, args.valid)
        else:
            # As evaluate checks its labels: text among the classes 0 and 1
            # must be refused now, not after the training.
            valid_y = _labels_like_classes(valid_y, classes, args.target, args.valid)
        valid = (valid_X, valid_y)
    dtype = np.dtype(args.dtype)
    cls = fastbp.MLPClassifier if task == "classification" else fastbp.MLPRegressor
    estimator = make_estimator(cls, args, estimator_params)
    # The first layer has one input per encoded column: with an ID column
    # its weights, not the sparse encoding, take the memory.
    n_outputs = 1 if classes is None or len(classes) == 2 else len(classes)
    check_one_hot_size(X, dtype, args.data, estimator, n_outputs)
    if valid is not None:
        # Before training, as the README promises of --valid (helper-173:
        # checked after it, the refusal came with the model already saved
        # and exit status 2): the pipeline's scaler will hold exactly these
        # statistics of the training file.
        _check_scaled_range(valid[0], numeric_columns(X), *_scaler_statistics(X), dtype,
                            args.valid)
    pipe = build_pipeline(X, estimator, dtype)
    pipe.fastbp_target_ = args.target
    pipe.fastbp_task_ = task
    # The text columns whose "NA" is a missing value (read_for_model).
    pipe.fastbp_marks_missing_ = codes
    print(f"data {args.data}: {len(X)} rows, {X.shape[1]} feature columns, target "
          f"{args.target!r} ({task}), {dtype}", flush=True)
    start = time.perf_counter()
    advise = functools.partial(command_line_advice, estimator=estimator, args=args,
                               target=args.target if task == "regression" else None)
    interrupted = fit_or_write_history(pipe, estimator, X, y, args, advise)
    print(f"trained {estimator.n_iter_} {step_name(estimator)}s in {time.perf_counter() - start:.2f} s, "
          f"final loss {final_loss(estimator)}")
    written = write_outputs(args, pipe, estimator)
    if valid is not None:
        print(f"validation file {args.valid}:")
        note_unseen_categories(pipe, valid[0], args.valid)
        report(pipe, *valid, brief=True)
    if interrupted:
        return say_interrupted(estimator, saved=written and bool(args.model_out))
    return 0 if written else 2


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


def _matching_columns(expected, data, path):
    """``data``'s columns in the order of ``expected``, or an error naming
    the ones missing or unexpected."""
    data = _nfc_renamed(data, expected, path)
    missing = [c for c in expected if c not in data.columns]
    extra = [c for c in data.columns if c not in expected]
    if missing or extra:
        raise CLIError(f"{path} does not have the model's columns: "
                       + "; ".join(p for p in (f"missing {missing}" if missing else "",
                                               f"unexpected {extra}" if extra else "") if p))
    return data[expected]


def _checked_features(data, expected, numeric, path):
    """``data``'s feature columns, in the order ``expected`` (training's),
    checked as training saw them: no column missing or unexpected, no
    missing value in a numeric column, no text in a column that training
    standardised as a number (``numeric``)."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    X = _matching_columns(expected, data, path)
    check_features(X, path, training=False)
    for c in numeric:
        if not (is_numeric_dtype(X[c].dtype) or is_bool_dtype(X[c].dtype)):
            stray = _text_among_numbers(X[c])[2]
            raise CLIError(f"{path}: column {c!r} was numeric in training and holds text "
                           f"here ({', '.join(repr(v) for v in stray[:3])}); fix or drop "
                           "those rows")
    return X


def write_history(estimator, path):
    pd = _pandas()

    h = estimator.history_
    # L-BFGS's rows are its iterations, as TrainingHistoryDisplay labels them.
    index = step_name(estimator)
    columns = {index: np.arange(1, len(h["loss"]) + 1)}
    for key, values in h.items():
        values = np.asarray(values)
        if values.ndim == 2:
            for layer in range(values.shape[1]):
                columns[f"{key}_layer{layer + 1}"] = values[:, layer]
        elif len(values) == len(columns[index]):
            columns[key] = values
    write_table(pd.DataFrame(columns), path)


def write_plot(estimator, path):
    # A Figure of its own, not pyplot's: no backend to switch (the caller's,
    # a notebook's, stays as it was) and no figure left open in pyplot.
    from matplotlib.figure import Figure

    from .display import FIGURE_KW, TrainingHistoryDisplay
    from .persistence import replace_atomically

    figure = Figure(**FIGURE_KW)
    disp = TrainingHistoryDisplay.from_estimator(estimator, ax=figure.subplots(1, 3))
    # The display titles only figures of its own: Axes given are the caller's.
    figure.suptitle(disp.estimator_name)
    # The format from the name given (check_outputs checked it), not from
    # the temporary file's.
    image_format = os.path.splitext(path)[1][1:].lower()
    replace_atomically(path, lambda tmp: disp.figure_.savefig(tmp, dpi=110,
                                                              format=image_format))


def load_model(path):
    import fastbp

    if not os.path.exists(path):
        raise CLIError(f"no such file: {path}")
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
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from .estimators.classifier import MLPClassifier
    from .estimators.regressor import MLPRegressor

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
    if not isinstance(model, kinds[task]):
        return f"fastbp_task_ {task!r} does not fit its {type(model).__name__} model step"
    # Absent from models trained before fastbp recorded it (read_for_model).
    marks = getattr(pipe, "fastbp_marks_missing_", [])
    if not (isinstance(marks, list) and all(isinstance(c, str) for c in marks)):
        return f"fastbp_marks_missing_ is {marks!r}, not a list of column names"
    return None


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
    from .estimators.base import BaseMLP

    on_gpu = [step for _, step in pipe.steps
              if isinstance(step, BaseMLP) and step.device == "cuda"]
    if not on_gpu:
        return
    from .kernels.cuda import device_status

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


def read_for_model(pipe, path):
    """``path`` read as training read its file: the model's text columns as
    text ("1" and "2" stay the categories that training saw, even where no
    other value of the column is text), without the spaces around their
    values where training had none (codes: :func:`keep_written_codes`), and
    its True and False columns as True and False."""
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
    return read_table(path, text, stripped, bools, marks)


def _model_categories(pipe):
    """``(column, categories)`` for each one-hot encoded column of a saved
    model."""
    for name, encoder, cols in pipe.named_steps["preprocess"].transformers_:
        if name == "categorical":
            yield from zip(cols, encoder.categories_)


def _spaced(values):
    """Whether some text among ``values`` starts or ends with a space."""
    return any(isinstance(v, str) and v != v.strip() for v in values)


def _all_bools(values):
    """Whether ``values``, missing ones aside, are True and False only (and
    some are)."""
    pd = _pandas()

    present = [v for v in values if not pd.isna(v)]
    return bool(present) and all(isinstance(v, (bool, np.bool_)) for v in present)


def features_for(pipe, frame, path):
    """The model's feature columns of ``frame``, matched by name, and
    checked against what training saw."""
    data = _nfc_renamed(frame, [pipe.fastbp_target_], path).drop(
        columns=[pipe.fastbp_target_], errors="ignore")
    X = _checked_features(data, list(pipe.feature_names_in_), model_columns(pipe)[0], path)
    check_standardised_range(pipe, X, path)
    note_unseen_categories(pipe, X, path)
    return X


def check_standardised_range(pipe, X, path):
    """Refuse values of ``X`` whose standardised value (the model's scaler)
    is beyond the range of the model's dtype (3.4e38 in float32), naming
    the column and lines: the cast made them infinite, and scikit-learn's
    error named neither (helper-163)."""
    model = pipe.named_steps["model"]
    coefs = getattr(model, "coefs_", None)
    dtype = np.dtype(coefs[0].dtype) if coefs else np.dtype(np.float32)
    for name, encoder, cols in pipe.named_steps["preprocess"].transformers_:
        if name != "numeric":
            continue
        # A model without the cast step (5d21400) scales to float64, and its
        # network casts that to its dtype: the same range applies.
        scaler = _numeric_scaler(encoder)
        _check_scaled_range(X, list(cols), scaler.mean_, scaler.scale_, dtype, path)


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


def note_unseen_categories(pipe, X, path):
    """A note for each one-hot encoded column of ``X`` that holds
    categories training never saw: the encoder (``handle_unknown="ignore"``,
    scikit-learn's usual choice for new data) encodes them as none of the
    known ones, which the model was never trained on."""
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
                print(f"note: {path}: column {c!r} holds categories training never saw "
                      f"({shown}{more}; {int(unseen.sum())} row(s)): they are encoded as "
                      "none of the known ones", file=sys.stderr)


def _shown_category(value, width=40):
    """A category as a note shows it: a missing value by name, a long one cut."""
    pd = _pandas()

    if pd.isna(value):
        return "a missing value"
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def predict_file(args):
    """``fastbp predict --model M --data FILE --out FILE [--proba]``."""
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
    pipe = load_model(args.model)
    frame = read_for_model(pipe, args.data)
    X = features_for(pipe, frame, args.data)
    if args.proba:
        if pipe.fastbp_task_ != "classification":
            raise CLIError("--proba needs a classifier; this model is a regressor")
        proba = pipe.predict_proba(X)
        out = pd.DataFrame(proba, columns=[f"proba_{c}" for c in pipe.classes_])
    else:
        out = pd.DataFrame({pipe.fastbp_target_: pipe.predict(X)})
    from .persistence import special_file

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
