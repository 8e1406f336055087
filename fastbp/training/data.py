"""Input arrays in the form the kernels take."""

import ctypes
import math
import sys

import numpy as np
import scipy.sparse as sp

from ..kernels.records import Inputs

#: The kernels' CSR index dtype wherever the values fit it: scipy's own
#: for every matrix of fewer than 2**31 - 1 stored values, rows and columns.
INDEX_DTYPE = np.dtype(np.int32)

#: The CSR index arrays of a dense input (never written, so shared). Of
#: :data:`INDEX_DTYPE`, so that dense and ordinary sparse inputs share one
#: compiled specialisation of every kernel.
EMPTY_INDEX = np.empty(0, dtype=INDEX_DTYPE)

# Below int32's largest value, not at it, as scipy's own choice: a loop over
# ``range(indptr[r], indptr[r + 1])`` may step its int32 counter to the end.
_INT32_BOUND = 2**31 - 1


def index_dtype(n_stored, shape):
    """The dtype of the kernels' CSR index arrays for a matrix of shape
    ``shape`` with ``n_stored`` stored values (the length of its
    ``indices``): :data:`INDEX_DTYPE`, or int64 where an index, an offset
    or a row number could exceed it (as scipy decides its own; a second
    specialisation, compiled for such matrices alone)."""
    if max(n_stored, *shape) < _INT32_BOUND:
        return INDEX_DTYPE
    return np.dtype(np.int64)


def all_finite(*arrays):
    """Whether each 1-D array of ``arrays`` holds neither NaN nor infinity.

    Its sum is finite exactly then, unless finite values overflow it; the
    exact check (a boolean array and a pass over it, three times the cost)
    runs only when the sum is not finite. An empty array (no batch-norm
    statistics) is finite without a reduction's set-up. An overflowing sum
    is no event to warn of (NumPy's RuntimeWarning pointed into fastbp, and
    an error filter made it fail the call in place of the check's answer):
    one ``np.errstate`` for all the arrays (see :func:`_sums_finite` for
    callers inside one already).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return _sums_finite(arrays)


def _sums_finite(arrays):
    """:func:`all_finite` of ``arrays``, where NumPy's overflow and invalid
    warnings are off already."""
    for a in arrays:
        if a.size and not (math.isfinite(np.add.reduce(a)) or bool(np.isfinite(a).all())):
            return False
    return True


def writable_alias(a):
    """``a`` itself, or a view of its memory that Numba types as writable.

    Numba compiles a separate specialisation of every kernel for read-only
    arrays (``np.memmap`` in mode 'r', joblib's memmapped arguments, arrays
    with ``writeable=False``): a first use costs seconds of compilation.
    The kernels never write ``X``, so they can read such memory through a
    view flagged writable. The caller must keep ``a`` alive while the view
    is used (:class:`KernelInput` holds it).
    """
    if a.flags.writeable:
        return a
    if a.nbytes == 0:
        return np.empty(a.shape, dtype=a.dtype)
    view = a.view()
    try:
        view.flags.writeable = True
        return view
    except ValueError:  # the memory itself is read-only (a read-only mmap)
        pass
    raw = (ctypes.c_char * a.nbytes).from_address(a.ctypes.data)
    return np.frombuffer(raw, dtype=a.dtype).reshape(a.shape)


class KernelInput:
    """A dense or CSR ``X`` split into the arguments every kernel takes.

    Kernels always receive both a dense array and CSR arrays (the unused
    side empty), so one specialisation per dtype serves dense and sparse.
    A dense ``X`` that is already C-contiguous and of ``dtype`` is used as
    is, never copied, as are a CSR matrix's data of that dtype and its
    int32 indices (scipy's for every matrix that :func:`index_dtype` says
    fits them; int64 ones are converted to int32 there, a copy half their
    size, so that every ordinary input shares the dense inputs' kernels);
    read-only memory is read through :func:`writable_alias`. (A CSC matrix
    is converted to CSR, a copy.)

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Validated input, float32 or float64.
    dtype : numpy dtype, optional
        The kernels' dtype, where it differs from ``X``'s (the values are
        then converted, as ``X.astype(dtype)`` would; the caller checks that
        they fit it).
    """

    def __init__(self, X, dtype=None):
        self._source = X  # keeps the memory of writable aliases alive
        self.n_samples, self.n_features = X.shape
        self.dtype = np.dtype(X.dtype if dtype is None else dtype)
        if sp.issparse(X):
            X = X.tocsr()
            self._set_csr(X.data, X.indices, X.indptr)
        else:
            self.is_sparse = False
            self.dense = writable_alias(np.ascontiguousarray(X, dtype=self.dtype))
            self.data = np.empty(0, dtype=self.dtype)
            self.indices = EMPTY_INDEX
            self.indptr = EMPTY_INDEX

    def _set_csr(self, data, indices, indptr):
        """Take the CSR arrays ``data``, ``indices`` and ``indptr``."""
        self.is_sparse = True
        self.dense = np.empty((0, self.n_features), dtype=self.dtype)
        self.data = writable_alias(np.ascontiguousarray(data, dtype=self.dtype))
        # int64 copies of scipy's int32 indices cost nnz x 8 bytes on every
        # call (rev-289): the indices are read as they are wherever they fit
        # int32, the dtype of dense inputs' EMPTY_INDEX too. Validation
        # (check_sparse_structure) bounds every index by the matrix's shape
        # and indptr by len(indices), so that is told by the sizes alone.
        # int64 indices (load_svmlight_file's) that fit are converted, a
        # copy half their size: read as they were, they compiled kernels of
        # their own, which no warm-up had compiled, without a notice
        # (rev-302).
        idx = index_dtype(len(indices), (self.n_samples, self.n_features))
        self.indices = writable_alias(np.ascontiguousarray(indices, dtype=idx))
        self.indptr = writable_alias(np.ascontiguousarray(indptr, dtype=idx))

    @classmethod
    def rows_of(cls, X, start, stop, dtype):
        """Rows ``start:stop`` of ``X`` (validated, dense or CSR; ``X`` or a
        CSR matrix's data may also hold integers or bools, a dense ``X``
        float16) as a ``KernelInput`` in ``dtype``: views of ``X`` where the
        kernels read it as it is, else a conversion of those rows alone
        (scipy's row slicing would copy a CSR matrix's rows first)."""
        # Through float64, as validation converted all of X before
        # (helper-162): rounding a 64-bit integer to float32 directly can
        # differ from rounding it twice.
        wide = (X.dtype.kind in "iu" and X.dtype.itemsize > 4
                and np.dtype(dtype) != np.float64)
        if not sp.issparse(X):
            rows = X[start:stop]
            if wide:
                rows = rows.astype(np.float64)
            return cls(rows, dtype)
        if (start, stop) == (0, X.shape[0]) and not wide:
            return cls(X, dtype)
        new = cls.__new__(cls)
        new._source = X
        new.n_samples, new.n_features = stop - start, X.shape[1]
        new.dtype = np.dtype(dtype)
        lo, hi = X.indptr[start], X.indptr[stop]
        data = X.data[lo:hi]
        if wide:
            data = data.astype(np.float64)
        # In int64, whatever the matrix's index dtype (_set_csr converts
        # to the kernels'): ``lo`` of an int32 indptr is a NumPy int32.
        new._set_csr(data, X.indices[lo:hi],
                     np.subtract(X.indptr[start:stop + 1], lo, dtype=np.int64))
        return new

    def inputs(self):
        """The kernels' :class:`~fastbp.kernels.records.Inputs` record."""
        return Inputs(self.dense, self.data, self.indices, self.indptr, self.is_sparse)

    def take(self, rows):
        """The rows ``rows`` (an integer array) as a new ``KernelInput``.

        A CSR input's rows are gathered from its arrays directly: a scipy
        matrix of them converted int64 indices that fit int32, copying all
        of them to take a tenth (early stopping's validation rows).
        """
        if not self.is_sparse:
            return KernelInput(self.dense[rows])
        rows = np.asarray(rows, dtype=np.int64)
        # Offsets in int64 whatever the index dtype: their sums below run
        # past int32 (_set_csr converts the result where it fits).
        starts = self.indptr[rows].astype(np.int64)
        counts = self.indptr[rows + 1] - starts
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        # Entry k of output row i comes from starts[i] + (k - indptr[i]).
        where = np.repeat(starts - indptr[:-1], counts)
        where += np.arange(int(indptr[-1]), dtype=np.int64)
        new = KernelInput.__new__(KernelInput)
        new._source = None
        new.n_samples, new.n_features = len(rows), self.n_features
        new.dtype = self.dtype
        new._set_csr(self.data[where], self.indices[where], indptr)
        return new


#: The dtypes validation passes as they are (``validate_data``'s ``dtype``
#: argument in fit); anything else it converts to the first.
FIT_DTYPES = (np.float64, np.float32)


def _validated_dtype(X):
    """The dtype that validation (``dtype=FIT_DTYPES``) gives ``X``, as
    scikit-learn's ``check_array`` decides it, or None where that is not
    told cheaply (lists, other objects)."""
    # A Series (whose ``dtypes`` is one dtype) or other 1-D container is
    # validation's to refuse, with its own message (rev-237).
    if getattr(X, "ndim", 2) != 2:
        return None
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and not isinstance(X, np.ndarray):
        try:
            dtypes = list(dtypes)
        except TypeError:
            return None
        if not dtypes:
            return None
        if not all(isinstance(d, np.dtype) for d in dtypes):
            # scikit-learn casts a frame with pandas' nullable numbers in
            # to its first dtype (pd.NA becoming NaN), whatever the others.
            numeric = all(_masked_numeric(d) or (isinstance(d, np.dtype) and d.kind in "iuf")
                          for d in dtypes)
            return np.dtype(FIT_DTYPES[0]) if numeric else None
        dtype = np.result_type(*dtypes)
    elif isinstance(X, np.ndarray) or sp.issparse(X):
        dtype = X.dtype
    else:
        return None
    return np.dtype(dtype if dtype in FIT_DTYPES else FIT_DTYPES[0])


#: pandas' nullable number dtypes (masked arrays), by name.
_MASKED_DTYPES = ("Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype", "UInt8Dtype",
                  "UInt16Dtype", "UInt32Dtype", "UInt64Dtype", "Float32Dtype", "Float64Dtype")


def _masked_numeric(dtype):
    """Whether ``dtype`` is one of pandas' nullable integer or float dtypes
    (``Int64``, ``Float32``, ...), not a NumPy dtype."""
    # (Only pandas makes one: it was imported to make it.)
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(
        dtype, tuple(getattr(pd, name) for name in _MASKED_DTYPES))


def _plain_numeric_frame(X):
    """Whether ``X`` is a pandas DataFrame of NumPy integer and float32 or
    float64 columns and pandas' nullable integer and float columns (no
    other extension, object, bool or float16 columns, whose conversion is
    scikit-learn's to do), other than one of NumPy float32 or float64
    columns alone (pandas hands their values over as they are)."""
    pd = sys.modules.get("pandas")
    if pd is None or type(X) is not pd.DataFrame:
        return False
    dtypes = list(X.dtypes)
    if not dtypes or not all(_masked_numeric(d) or (
            isinstance(d, np.dtype) and d.isnative and (d.kind in "iu" or d in FIT_DTYPES))
            for d in dtypes):
        return False
    # Integers of one dtype are converted like mixed columns: to one
    # F-order float64 array, which C order copied again (rev-237).
    return len(set(dtypes)) > 1 or dtypes[0].kind in "iu" or _masked_numeric(dtypes[0])


def fit_layout(X, kernel_dtype=None):
    """``X``, and the ``order`` to ask validation for, so that a fit's
    ``X`` is copied at most once on its way to the kernels' C-order array.

    Validation converts an ``X`` that is not float32 or float64 (integers,
    a DataFrame of mixed columns) to float64 in the order the conversion
    gives, F order for an F-order array or a DataFrame, and
    :class:`KernelInput` copied that again into C order (fix-231). Asked
    for C order, validation makes the one copy; that costs nothing where
    its array is what the kernels take, but where ``partial_fit`` then
    casts to the model's dtype (``kernel_dtype``) a float64 C-order copy
    would be one more, so validation is asked for C order only where its
    dtype is the kernels'.

    NumPy converts a DataFrame of several dtypes, or of integers, to one
    F-order array of their common dtype or float64 first (pandas
    interleaves its blocks, or casts its integer block), so C order still
    meant two copies: such a DataFrame (of integer columns, or of integer
    and float ones) is returned as a DataFrame of the same columns over one C-order array
    of the validated dtype, filled column by column, which validation then
    takes as it is (the values those casts give are the ones NumPy's
    conversion gave: every integer converts to a float exactly or rounds
    the same way, directly or through a wider integer).

    Parameters
    ----------
    X : array-like or sparse matrix
        A fit's ``X`` as the caller gave it (native byte order).
    kernel_dtype : numpy dtype, optional
        The model's dtype where validation's is converted to it after
        (``partial_fit`` of a fitted model); None where the kernels take
        validation's dtype.

    Returns
    -------
    X : array-like or sparse matrix
        ``X``, or the DataFrame over its C-order values.
    order : {"C", None}
        The ``order`` argument for ``validate_data``.
    """
    dtype = _validated_dtype(X)
    if kernel_dtype is not None and dtype != np.dtype(kernel_dtype):
        return X, None
    if dtype is not None and _plain_numeric_frame(X):
        values = np.empty(X.shape, dtype=dtype)
        for j, (_, column) in enumerate(X.items()):
            if isinstance(column.dtype, np.dtype):
                values[:, j] = column.to_numpy()
            else:
                # As scikit-learn's cast of the frame converts it (pandas'
                # astype): pd.NA to NaN, which validation then refuses
                # with its own message.
                values[:, j] = column.to_numpy(dtype, na_value=np.nan)
        # Feature names are the caller's columns; copy=False keeps the
        # frame over ``values`` (pandas 3 copies an array by default).
        X = sys.modules["pandas"].DataFrame(values, columns=X.columns, index=X.index,
                                            copy=False)
    return X, "C"
