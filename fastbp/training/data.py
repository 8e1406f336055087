"""Input arrays in the form the kernels take."""

import ctypes

import numpy as np
import scipy.sparse as sp

from ..kernels.records import Inputs

#: The CSR index arrays of a dense input (never written, so shared).
EMPTY_INDEX = np.empty(0, dtype=np.int64)


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
    A dense ``X`` that is already C-contiguous is used as is, never copied;
    read-only memory is read through :func:`writable_alias`.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
        Validated input, float32 or float64.
    """

    def __init__(self, X):
        self._source = X  # keeps the memory of writable aliases alive
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        if sp.issparse(X):
            X = X.tocsr()
            self.is_sparse = True
            self.dense = np.empty((0, self.n_features), dtype=X.dtype)
            self.data = writable_alias(np.ascontiguousarray(X.data))
            # One index type for every sparse input keeps one specialisation.
            self.indices = X.indices.astype(np.int64)
            self.indptr = X.indptr.astype(np.int64)
        else:
            self.is_sparse = False
            self.dense = writable_alias(np.ascontiguousarray(X))
            self.data = np.empty(0, dtype=X.dtype)
            self.indices = EMPTY_INDEX
            self.indptr = EMPTY_INDEX

    def inputs(self):
        """The kernels' :class:`~fastbp.kernels.records.Inputs` record."""
        return Inputs(self.dense, self.data, self.indices, self.indptr, self.is_sparse)

    def take(self, rows):
        """The rows ``rows`` as a new ``KernelInput``."""
        if self.is_sparse:
            X = sp.csr_matrix((self.data, self.indices, self.indptr),
                              shape=(self.n_samples, self.n_features))
            return KernelInput(X[rows])
        return KernelInput(self.dense[rows])
