"""A sparse (CSR) first layer on the GPU: each mini-batch is densified on
the device into a batch buffer, then multiplied like a dense one."""

from numba import cuda

from ..._config import cuda_kernel


@cuda_kernel
def densify_rows(data, indices, indptr, perm, p0, use_perm, nb, n_features, xb):
    """``xb[i] = X[row_i]`` for ``i < nb`` (one thread per row).

    Parameters
    ----------
    data, indices, indptr : ndarray
        CSR arrays of ``X``.
    perm : ndarray of int64
        Row order; row ``i`` is ``perm[p0 + i]`` when ``use_perm``, else
        ``p0 + i``.
    p0, use_perm, nb, n_features : int
    xb : ndarray of shape (batch_size * n_features,)
        Dense rows, C order.
    """
    i = cuda.grid(1)
    if i < nb:
        r = perm[p0 + i] if use_perm else p0 + i
        base = i * n_features
        for k in range(n_features):
            xb[base + k] = 0
        # Duplicate entries add up, as in the CPU's CSR products.
        for k in range(indptr[r], indptr[r + 1]):
            c = base + indices[k]
            xb[c] += data[k]
