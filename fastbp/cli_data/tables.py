"""Reading and writing the CSV files of ``fastbp train --data``,
``predict`` and ``evaluate``: pandas' reading with clear errors (a missing,
undecodable or compressed-wrong file, a repeated or numeric header), the
marks read as missing values, codes kept as written ("02139"), the target
column split off, and tables written.
"""

import zlib

import numpy as np

from ..files import replace_atomically, source_problem
from .messages import CLIError, _pandas, error_message, one_line


def read_table(path, text_columns=(), stripped=(), bools=(), marks_missing=()):
    """A CSV file as a DataFrame (clear errors for a missing or empty file,
    one that cannot be decompressed or decoded, a gzip, zip or Excel file
    named as CSV, and a header line repeated as data).

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
    problem = source_problem(path)
    if problem is not None:
        raise CLIError(f"cannot read {path}: {problem[1]}")
    if not path.lower().endswith(TABLE_SUFFIXES):
        if path.lower().endswith(_SVMLIGHT_SUFFIXES):
            raise CLIError(_svmlight_advice(path))
        raise CLIError(f"{path}: only CSV files are read (.csv, .csv.gz, .txt; .tsv and "
                       ".tsv.gz as tab-separated)")
    binary = _binary_kind(path)
    if binary is not None:
        raise CLIError(binary)
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
        # Under the file's names, before they are renamed to the model's.
        header_rows = _header_rows(frame)
        frame = _nfc_renamed(frame, [*text_columns, *stripped, *bools, *marks_missing],
                             path)
    except UnicodeDecodeError as exc:
        raise CLIError(_not_utf8(path, exc)) from exc
    except (ValueError, pd.errors.ParserError) as exc:
        header = _first_line(path)
        if ";" in header and _separator(path) not in header:
            # rev-288: decimal commas in some rows only ("13,5" beside "12")
            # split those rows into more fields than the header's one, so
            # pandas fails before the one-column check below can advise.
            raise CLIError(_semicolon_advice(path, f"could not be read as CSV: its header "
                                                   f"line {header!r}")) from exc
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
    if frame.shape[1] == 1 and _looks_like_svmlight(frame):
        # rev-274: read as one column named after its first line, the
        # file was then said to lack the --target column.
        raise CLIError(_svmlight_advice(path))
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
        raise CLIError(_semicolon_advice(path, f"has one column, {frame.columns[0]!r}"))
    if header_rows.any():
        raise CLIError(_repeated_header_advice(path, frame, np.flatnonzero(header_rows)))
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


#: The names of svmlight/libsvm files, which fastbp does not read.
_SVMLIGHT_SUFFIXES = (".svm", ".libsvm", ".svmlight", ".svm.gz", ".libsvm.gz",
                      ".svmlight.gz")


def _svmlight_advice(path):
    """The error for ``path``, an svmlight/libsvm file: how to convert it."""
    return (f"{path} looks like an svmlight/libsvm file (lines of 'label "
            "index:value ...'), which fastbp does not read: it reads CSV "
            "files. Convert it first, for example in Python: from "
            "sklearn.datasets import load_svmlight_file; import pandas as pd; "
            "X, y = load_svmlight_file(path); frame = pd.DataFrame(X.toarray()"
            ").add_prefix('x'); frame['target'] = y; frame.to_csv(new_path, "
            "index=False); then train with --target target")


def _semicolon_advice(path, problem):
    """The error for ``path``, a file whose fields seem separated by ';'
    (a European spreadsheet's CSV): ``problem``, then how to convert it."""
    return (f"{path} {problem}: its fields seem separated by ';', and fastbp reads "
            "comma-separated files (or tab-separated .tsv files); convert it first (for "
            "example pandas.read_csv(path, sep=';').to_csv(new_path, index=False), with "
            "decimal=',' too where numbers are written 3,5)")


def _first_line(path):
    """The first line of ``path`` (decompressed where it is a .gz file),
    without its line end; empty where it cannot be read."""
    try:
        with _open_table(path) as fh:
            line = fh.readline(1 << 16)
    except (OSError, EOFError, zlib.error):
        return ""
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


#: The first bytes of files that are no text, and what to do with each:
#: named .csv, they were read as text that is not UTF-8, and the advice to
#: re-encode them as Latin-1 read garbage (rev-288).
_BINARY_SIGNATURES = (
    (b"\x1f\x8b", "is a gzip file: name it .csv.gz (or .tsv.gz), which is read "
                   "gzip-compressed"),
    (b"PK\x03\x04", "is a zip archive (an Excel .xlsx workbook is one): export it as "
                     "CSV, or unzip it"),
    (b"\xd0\xcf\x11\xe0", "is an Excel .xls workbook: export it as CSV"))


def _binary_kind(path):
    """The error for ``path`` where its first bytes are those of a gzip
    file (but its name no .gz), a zip archive or an old Excel workbook;
    ``None`` otherwise."""
    try:
        with open(path, "rb") as fh:
            start = fh.read(4)
    except OSError:
        return None  # read_csv's error names the problem
    for signature, problem in _BINARY_SIGNATURES:
        if start.startswith(signature):
            if signature == b"\x1f\x8b" and path.lower().endswith(".gz"):
                return None
            return f"{path} {problem}"
    return None


def _header_rows(frame):
    """Which rows of ``frame`` repeat its column names, each value the
    name (as text, spaces aside): the header line of a second file where
    files were concatenated (``cat a.csv b.csv``), which would otherwise
    train as data (rev-288: a number column one-hot encoded as text for its
    value "tenure", and a class named after the target)."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    rows = np.ones(len(frame), dtype=bool)
    # Columns of numbers first: a name that is not a number rules out every
    # row at once, without a look at the text columns (a pixel file).
    columns = sorted(range(frame.shape[1]),
                     key=lambda i: not is_numeric_dtype(frame.dtypes.iloc[i]))
    for i in columns:
        if not rows.any():
            break
        name, column = frame.columns[i], frame.iloc[:, i]
        name = str(name).strip()
        if is_numeric_dtype(column.dtype) and not is_bool_dtype(column.dtype):
            if not _is_number(name):
                return np.zeros(len(frame), dtype=bool)
            rows &= (column == float(name)).to_numpy()
            continue
        if name.startswith("Unnamed: "):
            # pandas' name for an empty field of the header line.
            rows &= column.isna().to_numpy()
            continue
        candidates = np.flatnonzero(rows)
        values = column.iloc[candidates]
        rows[candidates] = (values.notna() & (values.astype(str).str.strip() == name)
                            ).to_numpy()
    return rows


def _repeated_header_advice(path, frame, rows):
    """The error for ``path``, whose data ``rows`` of ``frame`` repeat its
    header line."""
    where = _file_lines(path, rows[:5], len(frame)) + (" ..." if len(rows) > 5 else "")
    if _header_of_numbers(frame):
        # A file without a header line whose first line comes again (Iris
        # has duplicate rows) is as likely.
        return (f"{path}: the first line is repeated as data ({where}), and holds "
                "numbers: if it is data, add a header line naming the columns; if files "
                "were concatenated, remove the repeated header lines")
    return (f"{path}: the header line is repeated as data ({where}; files "
            "concatenated?); remove those lines")


#: A line of an svmlight/libsvm file: a label (or labels "1,3"), maybe a
#: query id, then index:value pairs, maybe a comment.
_SVMLIGHT_LINE = r"[^\s:#]+(?:\s+qid:\S+)?(?:\s+\d+:\S+)*\s*(?:#.*)?"


def _looks_like_svmlight(frame):
    """Whether the one-column ``frame`` is an svmlight/libsvm file read as
    CSV: its header and first values all lines of that format (comment
    lines aside), some with an index:value pair."""
    pd = _pandas()

    lines = pd.Series([str(frame.columns[0]), *frame.iloc[:20, 0].dropna().astype(str)])
    lines = lines.str.strip()
    lines = lines[~lines.str.startswith("#") & (lines != "")]
    return bool(len(lines) and lines.str.fullmatch(_SVMLIGHT_LINE).all()
                and lines.str.contains(r"\s\d+:\S").any())


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
    (:func:`~fastbp.files.replace_atomically`), or straight through
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
        else:
            # A UCI-style header (", income") keeps the spaces after its
            # commas, and only --target " income" matched (rev-288): the
            # match is suggested, not taken, as the name asked for is not it.
            key = str(target).strip().casefold()
            near = [c for c in frame.columns if str(c).strip().casefold() == key]
            if near:
                hint = f"; did you mean {' or '.join(repr(c) for c in near)}?"
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
    # Only the candidates, under the names read_table gave them (it was
    # given none to rename): every column as text took more memory than the
    # read of numbers (rev-289). Where the file has no row names, pandas
    # must not take a trailing comma on each data line for them: _read_csv
    # tells so by an empty last column, which the columns read here lack.
    pd = _pandas()
    rows = {} if not isinstance(frame.index, pd.RangeIndex) else {"index_col": False}
    # (A callable: pandas reads a list naming every column of a file with
    # row names as if it had none, each value under the next name.)
    text = _read_csv(path, dtype=str, usecols=set(candidates).__contains__, **rows)
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


#: The bytes that :func:`_may_write_leading_zeros` scans at a time: its
#: arrays of flags take about 6 times as much (16 MiB chunks peaked near
#: 100 MB, more than the columns read again as text; no slower at 4 MiB).
_SCAN_CHUNK = 1 << 22


def _may_write_leading_zeros(path):
    """Whether some field of the file ``path`` may start with a leading zero
    ("007", '"+012"'; "0.5", "0" and the exponent of "1.5e-05" do not): only
    then is it read a second time, as text. A vectorised scan of its bytes
    costs a fraction of that read (a pixel file of 60,000 rows and 785
    integer columns, 2 loaded cores: 1.8 s against 11 s and gigabytes of
    strings)."""
    import gzip

    # What may come before a code's first digit: a separator, a line's
    # start, spaces, a quote or a sign.
    before = np.zeros(256, dtype=bool)
    before[np.frombuffer(b',\t;\n\r\f\v "+-', dtype=np.uint8)] = True
    # rev-289: the "-05" of "1.5e-05" looked like a code, and any file of
    # floats that pandas wrote with an exponent was read again as text. A
    # code's sign follows a separator, a space or a quote, never an "e".
    sign = np.zeros(256, dtype=bool)
    sign[np.frombuffer(b"+-", dtype=np.uint8)] = True
    exponent = np.zeros(256, dtype=bool)
    exponent[np.frombuffer(b"eE", dtype=np.uint8)] = True
    opener = gzip.open if path.lower().endswith(".gz") else open
    # The last 3 bytes read: a zero needs the 2 bytes before it and the one
    # after, which may lie across the chunks. (The file's start is a line's.)
    previous = b"\n\n\n"
    with opener(path, "rb") as fh:
        while True:
            chunk = fh.read(_SCAN_CHUNK)
            if not chunk:
                return False
            raw = np.frombuffer(previous + chunk, dtype=np.uint8)
            zero = raw[2:-1] == ord("0")
            led = before[raw[1:-2]] & ~(sign[raw[1:-2]] & exponent[raw[:-3]])
            if np.any(zero & led & (raw[3:] >= ord("0")) & (raw[3:] <= ord("9"))):
                return True
            previous = raw[-3:].tobytes()


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
