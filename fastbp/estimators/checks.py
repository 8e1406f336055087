"""Input checks that scikit-learn's validation leaves to fastbp.

scikit-learn validates shapes, dtypes and finiteness. What it does not
check, and what would make a compiled kernel crash or silently compute the
wrong thing, is checked here, before any kernel sees the data:

- the index structure of a sparse matrix (an out-of-range column index
  reads outside the weight matrix; scikit-learn's MLP crashes on it);
- values that overflow the model's dtype when cast (a float64 ``X`` given
  to a float32 model, float64 targets or weights of a float32 fit);
- byte order: kernels are compiled for native-endian arrays only.
"""

import contextlib
import itertools
import math
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn import get_config


def check_sparse_structure(X, name="X"):
    """Raise a ``ValueError`` if sparse ``X`` has a malformed index structure.

    scipy trusts a matrix's index arrays: its conversions to CSR (which
    scikit-learn's validation makes of COO, LIL, DIA and BSR input) and the
    kernels read and write where they point, so an index outside the
    matrix corrupted memory or was read as another entry. Checked, for
    the formats whose conversion or use trusts them:

    - CSR, CSC and BSR: what scipy's full format check covers, with its
      words: the length and monotonicity of ``indptr``, the lengths of
      ``indices`` and ``data``, and that every stored index lies inside
      the matrix;
    - COO: that the coordinate arrays match ``data`` and lie inside it;
    - LIL: one list of column indices and one of values per row, of equal
      lengths, the indices integers inside the matrix;
    - DIA: one offset per diagonal of ``data``, no two alike.

    (A DOK matrix's keys are checked as they are set, and again by its
    conversion.) Nothing is modified: scipy's ``check_format`` rebinds
    the caller's arrays, pruned and converted.

    Parameters
    ----------
    X : object
        Anything; only scipy sparse matrices and arrays are checked.
    name : str
        The argument's name, for the message.
    """
    if not sp.issparse(X):
        return
    if X.ndim != 2:
        # A 1-D sparse array (scipy's csr_array of a row; a column taken
        # out of a sparse array), or a COO array of more axes: the
        # per-format checks read two axes.
        if name == "y":
            # A 1-D dense y is the usual one: only a sparse y must be 2-D.
            hint = (" Pass 1-D targets as a dense array (y.toarray())." if X.ndim == 1
                    else "")
            raise ValueError(
                "A sparse y must be 2-D (multilabel indicators or multi-output targets), "
                f"got a sparse array of shape {X.shape}.{hint}")
        # The reshape hint fits a 1-D array (a single sample) only.
        hint = (f" Reshape it to one row per sample ({name}.reshape(1, -1) for a single "
                "sample)." if X.ndim == 1 else "")
        raise ValueError(f"{name} must be 2-D, got a sparse array of shape {X.shape}.{hint}")
    check = _STRUCTURE_CHECKS.get(X.format)
    problem = None if check is None else check(X)
    if problem is not None:
        what, how = problem
        raise ValueError(
            f"{name} is a malformed {X.format.upper()} matrix of shape {X.shape}: {what}. "
            f"{how}; build it with scipy.sparse.{X.format}_matrix from valid arrays.")


def _index_problem(indices, bound, what):
    """What is wrong with the index array ``indices`` (a view of the
    stored ones) for an axis of length ``bound``, or None. ``what`` names
    them in the message, as scipy's checks do."""
    if indices.dtype.kind not in "iu":
        return f"{what} must be integers, not {indices.dtype}"
    if indices.size == 0:
        return None
    if int(np.max(indices)) >= bound:
        return f"{what} must be < {bound}"
    if int(np.min(indices)) < 0:
        return f"{what} must be >= 0"
    return None


def _compressed_problem(X):
    """A CSR, CSC or BSR matrix's structure problem (see
    :func:`check_sparse_structure`), or None."""
    how = "Its indices or indptr are inconsistent with its shape"
    indptr, indices, data = X.indptr, X.indices, X.data
    if X.format == "bsr":
        rows, cols = X.blocksize
        if indices.ndim != 1 or indptr.ndim != 1:
            return "indices, and indptr should be 1-D", how
        if data.ndim != 3 or data.shape[1:] != (rows, cols):
            return f"data should be 3-D, of blocks of shape {(rows, cols)}", how
        n_major, n_minor = X.shape[0] // rows, X.shape[1] // cols
        messages = ("column index values", "index pointer values must form a "
                    "non-decreasing sequence")
    else:
        if data.ndim != 1 or indices.ndim != 1 or indptr.ndim != 1:
            return "data, indices, and indptr should be 1-D", how
        n_major, n_minor = X.shape if X.format == "csr" else X.shape[::-1]
        messages = ("indices", "indptr must be a non-decreasing sequence")
    if indptr.dtype.kind not in "iu":
        return f"indptr must hold integers, not {indptr.dtype}", how
    if len(indptr) != n_major + 1:
        return f"index pointer size {len(indptr)} should be {n_major + 1}", how
    if indptr[0] != 0:
        return "index pointer should start with 0", how
    if len(indices) != len(data):
        return "indices and data should have the same size", how
    end = int(indptr[-1])
    if end > len(indices):
        return ("Last value of index pointer should be less than the size of index and "
                "data arrays"), how
    # Entries past indptr[-1] are spare room, never read.
    problem = _index_problem(indices[:end], n_minor, messages[0])
    if problem is not None:
        return problem, how
    if n_major and np.any(indptr[1:] < indptr[:-1]):
        return messages[1], how
    return None


def _coo_problem(X):
    """A COO matrix's structure problem, or None: scipy's conversion to
    CSR counts entries per row at their row index, unchecked."""
    how = "Its row or column indices are inconsistent with its shape"
    coords = X.coords if hasattr(X, "coords") else (X.row, X.col)
    if len(coords) != len(X.shape):
        return (f"it has {len(coords)} index arrays for a shape of {len(X.shape)} "
                "dimensions"), how
    if X.data.ndim != 1 or any(c.ndim != 1 or len(c) != len(X.data) for c in coords):
        return "its index arrays and data should be 1-D arrays of the same length", how
    names = ("row indices", "col indices") if len(coords) == 2 else (
        [f"axis {axis} indices" for axis in range(len(coords))])
    for indices, bound, what in zip(coords, X.shape, names):
        problem = _index_problem(indices, bound, what)
        if problem is not None:
            return problem, how
    return None


def _lil_problem(X):
    """A LIL matrix's structure problem, or None: scipy's conversion to
    CSR sizes its arrays by the lengths of ``rows`` and copies ``data``'s
    lists and the indices into them, unchecked."""
    how = "Its rows or data are inconsistent with its shape"
    n_rows = X.shape[0]
    if X.rows.shape != (n_rows,) or X.data.shape != (n_rows,):
        return (f"rows and data should hold one list per row ({n_rows}); they have shapes "
                f"{X.rows.shape} and {X.data.shape}"), how
    try:
        lengths = np.fromiter(map(len, X.rows), dtype=np.int64, count=n_rows)
        data_lengths = np.fromiter(map(len, X.data), dtype=np.int64, count=n_rows)
        # The types first: the int64 conversion below (and scipy's own to
        # CSR) truncates a float index, reading 2.9 as column 2, and takes
        # True for column 1, where the other formats refuse both.
        kinds = set(map(type, itertools.chain.from_iterable(X.rows)))
        not_integer = [kind for kind in kinds if not issubclass(kind, numbers.Integral)
                       or issubclass(kind, (bool, np.bool_))]
        if not_integer:
            return ("column indices must be integers, not "
                    f"{', '.join(sorted(kind.__name__ for kind in not_integer))}"), how
        columns = np.fromiter(itertools.chain.from_iterable(X.rows), dtype=np.int64,
                              count=int(lengths.sum()))
    except (TypeError, ValueError, OverflowError):
        return "rows should hold lists of integer column indices", how
    differ = np.flatnonzero(lengths != data_lengths)
    if differ.size:
        i = int(differ[0])
        return (f"row {i} has {lengths[i]} column indices and {data_lengths[i]} "
                "values"), how
    problem = _index_problem(columns, X.shape[1], "column indices")
    return None if problem is None else (problem, how)


def _dia_problem(X):
    """A DIA matrix's structure problem, or None: scipy's conversion to
    CSR reads as many diagonals of ``data`` as there are offsets."""
    offsets, data = X.offsets, X.data
    if data.ndim != 2 or offsets.ndim != 1 or len(offsets) != data.shape[0]:
        return (f"it has {offsets.size} offsets for data of shape {data.shape}, one per "
                "diagonal (row of data)",
                "Its offsets are inconsistent with its data")
    # scipy's constructor refuses repeated offsets, which its conversion
    # sums into one diagonal; set afterwards they pass unchecked.
    if len(np.unique(offsets)) != len(offsets):
        return ("offset array contains duplicate values",
                "Each diagonal (row of data) needs an offset of its own")
    return None


_STRUCTURE_CHECKS = {"csr": _compressed_problem, "csc": _compressed_problem,
                     "bsr": _compressed_problem, "coo": _coo_problem, "lil": _lil_problem,
                     "dia": _dia_problem}


#: NumPy dtype kinds that are no numbers, which a cast to float would
#: still convert (numeric strings parsed, dates counted from 1970).
_NOT_NUMBERS = {"U": "strings", "S": "bytes", "V": "structured records", "M": "dates",
                "m": "time spans"}


def not_numbers(dtypes):
    """What the first of ``dtypes`` that holds no numbers holds
    (:data:`_NOT_NUMBERS`), as ``"strings (dtype <U3)"``; None if all hold
    numbers. pandas' extension dtypes count by their kind (a zoned
    datetime's is "M") and their strings as strings; the others (Int64,
    category, ...) pass, and their conversion says what fails."""
    for dtype in dtypes:
        kind = getattr(dtype, "kind", None)
        if type(dtype).__name__ == "StringDtype":  # pandas' "string" and "str"
            kind = "U"
        if kind in _NOT_NUMBERS:
            return f"{_NOT_NUMBERS[kind]} (dtype {dtype})"
    return None


def dtypes_of(value):
    """The dtypes an input holds: an array's or Series' one, a DataFrame's
    distinct ones (once each: a wide frame has thousands of columns), a
    list's as NumPy reads it; none where that cannot be told."""
    if hasattr(value, "dtypes") and not hasattr(value, "dtype"):  # a DataFrame
        return set(value.dtypes.tolist())
    if isinstance(value, (list, tuple)):
        try:
            return [np.asarray(value).dtype]
        except (ValueError, TypeError):  # ragged: scikit-learn's message says so
            return []
    dtype = getattr(value, "dtype", None)
    return [] if dtype is None else [dtype]


def check_not_numbers(dtypes, name):
    """Raise a ``ValueError`` naming the input ``name`` if any of its
    ``dtypes`` holds no numbers (:func:`not_numbers`)."""
    what = not_numbers(dtypes)
    if what is not None:
        raise ValueError(f"{name} holds {what}, and fastbp needs numbers. Convert {name} to "
                         f"numbers first (for example {name}.astype(float) for numbers "
                         "written as text)" + (", or encode it (sklearn.preprocessing."
                                               "OneHotEncoder for categories)."
                                               if name == "X" else "."))


#: How scikit-learn's validation says a conversion to float failed, without
#: saying which input failed.
_CONVERSION_FAILURES = ("could not convert", "Complex data not supported",
                        "float() argument must be")


@contextlib.contextmanager
def naming(name, *others):
    """Re-raise a conversion failure of scikit-learn's validation within
    the block ("could not convert string to float: 'a'") with the input's
    name in front of its first line (the rest prints the array), and an
    ``OverflowError`` of the conversion (a Python int beyond float64's
    range) as a ``ValueError`` naming the input.

    ``name`` is the input's name, or, where the block validates several
    (``validate_data(X, y)``), the first of ``(name, value)`` pairs,
    ``others`` the rest: the failure is then put on the first that fails to
    convert alone (checked only on this error path).
    """
    try:
        yield
    except (ValueError, TypeError, OverflowError) as exc:
        message = str(exc)
        # (rev-259) Python's float() of an int beyond float64's range (an
        # object array or list holding 10**400) raises a bare OverflowError
        # naming no input; the guarantee is a ValueError that names it.
        overflow = isinstance(exc, OverflowError)
        if not (overflow or message.startswith(_CONVERSION_FAILURES)):
            raise
        if others:
            candidates = [name, *others]
            name = next((n for n, value in candidates[:-1] if not _converts(value)),
                        candidates[-1][0])
        if overflow:
            raise ValueError(f"{name}: a value is beyond float64's range (about 1.8e308) "
                             f"and cannot be converted to a float ({message}). Rescale "
                             f"{name} or drop that value.") from exc
        raise type(exc)(f"{name}: {message.splitlines()[0]}") from exc


def _converts(value):
    """Whether ``value`` alone converts to float, as scikit-learn's
    validation converts it."""
    from sklearn.utils import check_array

    try:
        check_array(value, accept_sparse=True, dtype=np.float64, ensure_all_finite=False,
                    ensure_2d=False, allow_nd=True, ensure_min_samples=0,
                    ensure_min_features=0)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def check_complex(dtypes, name):
    """Raise a ``ValueError`` naming the input ``name`` if any of its
    ``dtypes`` is complex: scikit-learn's words (which its estimator checks
    look for), and which input holds them."""
    if any(getattr(dtype, "kind", None) == "c" for dtype in dtypes):
        raise ValueError(f"Complex data not supported: {name} holds complex numbers; "
                         "fastbp needs real numbers.")


def check_real(value, name):
    """Raise a ``ValueError`` naming the input ``name`` if ``value`` holds
    complex numbers or no numbers (:func:`not_numbers`)."""
    dtypes = dtypes_of(value)
    check_complex(dtypes, name)
    check_not_numbers(dtypes, name)


def check_raw_input(X, name="X"):
    """``X``, after the checks that must come before scikit-learn's
    conversion: sparse structure, no columns, complex numbers in a list,
    strings or dates (scikit-learn's float conversion would parse or count
    them; its MLP refuses strings at predict but not at fit)."""
    check_sparse_structure(X, name)
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 2 and shape[1] == 0:
        # scikit-learn's wording (an empty DataFrame fails inside NumPy there).
        raise ValueError(f"Found array with 0 feature(s) (shape={tuple(shape)}) while a "
                         f"minimum of 1 is required: {name} needs at least one column.")
    check_real(X, name)
    return X


def native_byte_order(X):
    """``X`` with native byte order (big-endian NumPy arrays and DataFrame
    columns are converted; anything else is returned as is)."""
    if (isinstance(X, np.ndarray) or sp.issparse(X)) and X.dtype.byteorder not in ("=", "|"):
        return X.astype(X.dtype.newbyteorder("="))
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(X, "astype"):
        try:
            swapped = {c: d.newbyteorder("=") for c, d in dtypes.items()
                       if isinstance(d, np.dtype) and d.byteorder not in ("=", "|")}
        except AttributeError:
            return X
        if swapped:
            return X.astype(swapped)
    return X


def float_sparse(X):
    """``X``, validated, with a sparse matrix of neither float32 nor float64
    converted to float64, as validation converts dense integers and bools.

    scikit-learn's validation (1.9) converts a DataFrame whose columns are
    all pandas sparse bools (``pd.get_dummies(df, sparse=True)``) to a
    sparse matrix of bools, ``dtype`` notwithstanding: it casts the frame,
    then takes the uncast frame's values. A fit computes in ``X``'s dtype,
    and failed on bools with an internal error (rev-274).

    Parameters
    ----------
    X : ndarray or sparse matrix
        ``validate_data``'s ``X``.

    Returns
    -------
    X : ndarray or sparse matrix
    """
    if sp.issparse(X) and X.dtype not in (np.float32, np.float64):
        return X.astype(np.float64)
    return X


def refuse_non_finite(name):
    """Raise scikit-learn's ``ValueError`` for the input ``name`` holding
    NaN or infinity, which validation lets through under
    ``sklearn.set_config(assume_finite=True)`` (the message says so then)."""
    skipped = (" (scikit-learn's assume_finite=True skipped the check that would "
               "have said so.)" if get_config()["assume_finite"] else "")
    raise ValueError(f"Input {name} contains NaN or infinity.{skipped}")


def check_fits_dtype(a, dtype, name):
    """Raise a ``ValueError`` if finite values of ``a`` overflow ``dtype``.

    Casting float64 values beyond float32's range gives ``inf``, and the
    network then returns NaN: refuse instead, naming the input.

    Parameters
    ----------
    a : ndarray or sparse matrix
        Validated input: finite, unless ``assume_finite=True`` skipped
        that check (NaN or infinity are then refused as such, not as out
        of range).
    dtype : numpy dtype
        The dtype the model computes in.
    name : str
        The argument's name, for the message.
    """
    dtype = np.dtype(dtype)
    values = a.data if sp.issparse(a) else np.asarray(a)
    if values.size == 0 or values.dtype.kind != "f" or values.dtype.itemsize <= dtype.itemsize:
        return
    limit = float(np.finfo(dtype).max)
    # The largest magnitude from the extremes: np.abs would build a
    # temporary the size of ``a`` (X, on every prediction of a float64 X by
    # a float32 model). NaN (assume_finite=True) propagates either way.
    biggest = max(-float(np.min(values)), float(np.max(values)))
    # Standardising weights would make them negative.
    remedy = ("divide it by its mean, say" if "weight" in name
              else "for example with sklearn.preprocessing.StandardScaler")
    if not math.isfinite(biggest):
        refuse_non_finite(name)
    if biggest > limit:
        raise ValueError(
            f"{name} holds values beyond {dtype.name}'s range (largest magnitude "
            f"{biggest:.3g} > {limit:.3g}), and this model computes in {dtype.name}. "
            f"Rescale {name} ({remedy}), or fit on float64 data for a float64 model.")


def check_weights_survive_dtype(sample_weight, dtype):
    """Raise a ``ValueError`` if every positive weight of the float array
    ``sample_weight`` is zero in the narrower ``dtype`` (scikit-learn's
    message would then call the weights all zero, which they are not).
    """
    dtype = np.dtype(dtype)
    if sample_weight.dtype.kind != "f" or sample_weight.dtype.itemsize <= dtype.itemsize:
        return
    largest = float(np.max(sample_weight, initial=0.0))
    if largest > 0 and not dtype.type(largest) > 0:
        raise ValueError(
            f"sample_weight's positive weights are all below {dtype.name}'s smallest "
            f"number (largest {largest:.3g}), and this model computes in {dtype.name}, "
            "where they are zero. Rescale sample_weight (for example to a mean of 1: "
            "as in scikit-learn, their sum plays the part of the number of samples "
            "in the alpha penalty), or fit on float64 data for a float64 model.")


def column_vector_as_1d(y):
    """``y`` of shape (n, 1) as (n,), with scikit-learn's
    ``DataConversionWarning`` (``column_or_1d(y, warn=True)``'s words),
    attributed to the caller's line rather than to fastbp's."""
    from sklearn.exceptions import DataConversionWarning
    from sklearn.utils.validation import column_or_1d

    from ..exceptions import warn_at_caller

    warn_at_caller("A column-vector y was passed when a 1d array was expected. Please "
                   "change the shape of y to (n_samples, ), for example using ravel().",
                   DataConversionWarning)
    return column_or_1d(y)


#: Largest weights in ``[2**-SAFE_EXPONENT, 2**SAFE_EXPONENT]`` are used as
#: they are; others are scaled by a power of two (:func:`sample_weight_exponent`).
SAFE_EXPONENT = 16


def sample_weight_exponent(sample_weight, dtype):
    """The power of two ``k`` by which the kernels' copy of ``sample_weight``
    is scaled, with ``alpha`` and ``l1``, or a ``ValueError``.

    The kernels scale each mini-batch's gradient by the reciprocal of its
    weight sum. Weights far from 1 take that reciprocal, or the weighted
    terms, below ``dtype``'s smallest normal number, which the kernels flush
    to zero (uniform float32 weights of 5e35 left the model untrained,
    silently); a weight below it counts as zero. Scaling the weights and both
    penalties by ``2**k`` leaves the objective unchanged (scikit-learn's
    penalty divides by the weight sum), and, a power of two, every rounding
    too: where the unscaled arithmetic stays in range, the results are bit
    for bit the same.

    Parameters
    ----------
    sample_weight : ndarray of shape (n_samples,)
        Finite, non-negative weights of ``dtype``, at least one positive.
    dtype : numpy dtype
        The model's.

    Returns
    -------
    int
        0 where the largest weight is within ``2**±SAFE_EXPONENT`` and the
        smallest positive one a normal number (no scaling); else the ``k``
        closest to the one that brings the largest into ``[0.5, 1)`` that
        keeps the largest at most ``2**SAFE_EXPONENT`` and the smallest
        normal.
    """
    positive = sample_weight[sample_weight > 0]
    largest, smallest = float(positive.max()), float(positive.min())
    tiny = float(np.finfo(dtype).tiny)
    ceiling = 2.0 ** SAFE_EXPONENT
    mantissa, exponent = math.frexp(largest)  # largest = mantissa * 2**exponent
    wanted = 0 if 1 / ceiling <= largest <= ceiling else -exponent
    # The range of k that keeps both ends in bounds, exactly: tiny is a power
    # of two, 2**(frexp(tiny)[1] - 1), and a mantissa lies in [0.5, 1).
    k_lo = math.frexp(tiny)[1] - math.frexp(smallest)[1]
    k_hi = SAFE_EXPONENT - exponent + (mantissa == 0.5)
    if k_lo > k_hi:
        name = np.dtype(dtype).name
        wider = (", or fit on float64 data for a float64 model" if name == "float32" else "")
        raise ValueError(
            f"sample_weight's positive weights span more than {name} holds: the smallest "
            f"({smallest:.3g}) is about 2**{math.log2(largest) - math.log2(smallest):.0f} "
            f"times below the largest ({largest:.3g}), beyond the "
            f"2**{SAFE_EXPONENT - math.log2(tiny):.0f} within which fastbp's "
            "compiled kernels, which flush subnormal numbers to zero (for speed), keep "
            "both normal; that row would count as weightless, and a mini-batch of only "
            "such rows would take no step where scikit-learn takes a full one. Set those "
            f"weights to 0{wider}.")
    return min(max(wanted, k_lo), k_hi)


def check_hidden_layer_sizes(sizes):
    """``hidden_layer_sizes`` as a list of positive ints, or a clear error.

    Parameters
    ----------
    sizes : int or iterable of int

    Returns
    -------
    list of int
    """
    if isinstance(sizes, np.ndarray) and sizes.ndim == 0:
        sizes = sizes.item()  # np.array(8): one layer, as the int 8 is
    if not hasattr(sizes, "__iter__") or isinstance(sizes, str):
        sizes = [sizes]
    sizes = list(sizes)
    for s in sizes:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral):
            raise ValueError(
                "hidden_layer_sizes must hold integers (the number of units of each "
                f"hidden layer); got {s!r} of type {type(s).__name__} in {sizes}.")
    if any(s <= 0 for s in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def check_classes(classes):
    """Raise a ``ValueError`` if ``partial_fit``'s ``classes`` is not 1-D,
    is empty or holds a missing value (NaN or None), naming ``classes``."""
    values = np.asarray(classes, dtype=object)
    if values.ndim != 1:
        # scikit-learn ravels a 2-D classes, and its label checks then
        # failed on it in three ways, one blaming a multilabel fit that
        # never was. Refused rather than ravelled: a row like [[0, 1]] may
        # as well be an indicator row as a list of labels.
        got = (f"shape {values.shape}" if values.ndim else
               f"{type(classes).__name__} {classes!r}")
        raise ValueError(
            f"classes must be a 1-D array of labels, got {got}. Pass every class label "
            "across all calls as one list or 1-D array (np.unique of the whole y, say).")
    values = values.ravel()
    if values.size == 0:
        # (scikit-learn's label checks would say "y has 0 samples".)
        raise ValueError("classes is empty: partial_fit's first call needs every class "
                         "label across all calls (np.unique of the whole y, say).")
    for v in values:
        if v is None or (isinstance(v, (float, np.floating)) and np.isnan(v)):
            raise ValueError(
                f"classes holds a missing value ({v!r}): classes must list every class "
                f"label, and a label cannot be NaN or None. Got {list(values)}.")


def check_finite_targets(y):
    """Raise a ``ValueError`` naming ``y`` if the float targets ``y`` hold
    NaN or infinity (an object ``y``'s None becomes NaN only as it turns
    into floats, after scikit-learn's check)."""
    if y.dtype.kind != "f" or np.isfinite(y).all():
        return
    what = ("NaN (a missing value: None or NaN)" if np.isnan(y).any() else "infinity")
    raise ValueError(f"Input y contains {what}; the targets must all be finite numbers. "
                     "Drop or fill those rows.")


def check_squared_error_range(y, dtype, batch_size=None, n_rows=None):
    """Raise a ``ValueError`` if regression targets are so large that their
    squared errors overflow ``dtype``: the loss, its gradient scale and R^2
    would all be infinite or NaN. A row's squared errors are summed over its
    outputs, so the bound shrinks with their number.

    With ``batch_size`` and ``n_rows`` (a stochastic solver's mini-batch
    and the rows of its epoch), the sums a training epoch forms in float64
    are bounded too: each mini-batch's loss sum times its number of rows
    (``batch_size`` times the half squared errors of its rows), and the
    epoch's loss, the sum of those over ``n_rows``. Either overflowing ended
    the first epoch in a ``DivergenceError`` that blamed the learning rate
    (helper-151). The bound is the worst case of the rows of y: the
    ``batch_size`` largest in one mini-batch, the ``n_rows`` largest in the
    epoch (helper-169: it assumed every row as large as the largest, and
    refused targets with one large value that trained).
    """
    if y.size == 0 or y.dtype.kind not in "iuf":
        return
    n_outputs = y.shape[1] if y.ndim == 2 else 1
    limit = float(np.sqrt(np.finfo(dtype).max / n_outputs)) / 4
    # From the extremes, as Python floats: np.abs would wrap int64's
    # smallest (and build a copy of y). Integer targets are trained as the
    # model's floats, so they are bounded alike.
    biggest = max(-float(np.min(y)), float(np.max(y)))
    if biggest > limit:
        across = f", summed over {n_outputs} outputs," if n_outputs > 1 else ""
        raise ValueError(
            f"y holds values too large for a squared-error loss in {np.dtype(dtype).name} "
            f"(largest magnitude {biggest:.3g}; their squares{across} overflow above about "
            f"{limit:.3g}). Rescale y, for example with "
            "sklearn.compose.TransformedTargetRegressor and a StandardScaler.")
    if batch_size is None or n_rows is None or n_rows < 1 or not biggest > 0:
        return
    # The untrained model predicts about 0, so a row's loss is about half
    # its largest squared target (the mean over outputs is no larger); the
    # kernels accumulate the epoch in float64, whatever the model's dtype.
    # The rows' squares are taken relative to the largest, in (0, 1], so
    # that the check itself overflows nothing.
    batch = max(1, min(int(batch_size), int(n_rows)))
    crude = float(np.sqrt(2.0) * np.sqrt(np.finfo(np.float64).max
                                         / max(batch * batch, int(n_rows))))
    if biggest <= crude:
        # Every row as large as the largest passes: the exact bound below
        # (a float64 copy of y and a partition, 20-40 times the cost of
        # this, paid at every partial_fit call; helper-173) can only pass.
        return
    rows = np.abs(np.asarray(y, dtype=np.float64))
    if rows.ndim == 2:
        rows = rows.max(axis=1)
    rows /= biggest
    rows *= rows
    n_rows = min(int(n_rows), rows.size)

    def largest(k):
        # The sum of the k largest relative squares.
        if k >= rows.size:
            return float(np.sum(rows))
        return float(np.sum(np.partition(rows, rows.size - k)[rows.size - k:]))

    per_batch, per_epoch = batch * largest(batch), largest(n_rows)
    count = max(per_batch, per_epoch)
    epoch_limit = float(np.sqrt(2.0) * np.sqrt(np.finfo(np.float64).max / count))
    if biggest > epoch_limit:
        where = (f"batch_size={batch} (each mini-batch's loss sum is weighed by its "
                 f"{batch} rows)" if per_batch >= per_epoch else
                 f"{n_rows} training rows (the epoch's loss sums over them)")
        raise ValueError(
            f"y's largest magnitude {biggest:.3g} is too large for training at {where}: "
            f"the loss sums overflow float64 above about {epoch_limit:.3g}. Rescale y, for "
            "example with sklearn.compose.TransformedTargetRegressor and a StandardScaler"
            + (", or lower batch_size." if per_batch >= per_epoch and batch > 1 else "."))
