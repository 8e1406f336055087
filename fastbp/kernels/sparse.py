"""Sparse (CSR) x dense products for the first layer.

A sparse ``X`` is never densified: the first layer's forward product and its
weight gradient read the CSR arrays directly, for the rows of one batch.
"""

from .._config import kernel


@kernel
def csr_rows_dot(data, indices, indptr, rows, w, out):
    """``out = X[rows] @ w`` for CSR ``X``.

    Parameters
    ----------
    data, indices, indptr : ndarray
        CSR arrays of ``X`` with shape (n_samples, n_features).
    rows : ndarray of shape (n_batch,)
        Row numbers of the batch.
    w : ndarray of shape (n_features, n_out)
    out : ndarray of shape (n_batch, n_out)
    """
    n_out = w.shape[1]
    for r in range(rows.shape[0]):
        row = rows[r]
        for j in range(n_out):
            out[r, j] = 0
        for k in range(indptr[row], indptr[row + 1]):
            x = data[k]
            wk = w[indices[k]]
            for j in range(n_out):
                out[r, j] += x * wk[j]


@kernel
def csr_rows_tdot(data, indices, indptr, rows, delta, out):
    """``out = X[rows].T @ delta`` for CSR ``X``.

    Parameters
    ----------
    data, indices, indptr : ndarray
        CSR arrays of ``X`` with shape (n_samples, n_features).
    rows : ndarray of shape (n_batch,)
    delta : ndarray of shape (n_batch, n_out)
    out : ndarray of shape (n_features, n_out)
    """
    n_out = delta.shape[1]
    for i in range(out.shape[0]):
        for j in range(n_out):
            out[i, j] = 0
    for r in range(rows.shape[0]):
        row = rows[r]
        for k in range(indptr[row], indptr[row + 1]):
            x = data[k]
            ok = out[indices[k]]
            for j in range(n_out):
                ok[j] += x * delta[r, j]
