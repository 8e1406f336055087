"""The tabular workload's five matrix products per step, through SciPy's
OpenBLAS (Numba's ``np.dot``), through NumPy's OpenBLAS (fastbp's kernels,
``fastbp.kernels.blas``) and through plain Numba loops.

``python -m bench.small_products`` prints microseconds per product at
batch 32 and 200 (float32, the thread count of the environment);
``--mnist`` takes the shapes of MNIST's first and last layer (784 -> 256,
256 -> 10) instead, ``--dtype float64`` the other dtype; each batch ends with
the sum of the five products through NumPy's BLAS, the floor of a
training step's products. It is the measurement behind not replacing BLAS with
hand-written loops for small layers (on the machine of issue 11's closing
note, BLAS took 0.2-0.6 us per batch-32 product and the loops 0.7-5.5 us),
and behind calling NumPy's BLAS rather than SciPy's. Nothing here asserts.
"""

import argparse
import timeit

import numba
import numpy as np

from fastbp import _link_only
from fastbp.kernels import blas as fastbp_blas

FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

# Compiled as fastbp's own entry points are: fastbp's kernels are built to be
# linked into an entry point's module and optimised there, and a plain
# numba.njit caller runs them unoptimised (rev-217: a lean Adam step took
# 5.65 us against 2.02 us, the products 3.34 us against 3.07-3.22 us).
_ENTRY = ({"pipeline_class": _link_only.EntryCompiler} if _link_only.SUPPORTED else {})
compiled_loop = numba.njit(fastmath=FASTMATH, **_ENTRY)


@compiled_loop
def numpy_nn(a, b, out, reps):
    for _ in range(reps):
        fastbp_blas.matmul(a, b, out)


@compiled_loop
def numpy_tn(a, b, out, reps):
    for _ in range(reps):
        fastbp_blas.matmul_tn(a, b, out)


@compiled_loop
def numpy_nt(a, b, out, reps):
    for _ in range(reps):
        fastbp_blas.matmul_nt(a, b, out)


@compiled_loop
def blas_nn(a, b, out, reps):
    for _ in range(reps):
        np.dot(a, b, out)


@compiled_loop
def blas_tn(a, b, out, reps):
    for _ in range(reps):
        np.dot(a.T, b, out)


@compiled_loop
def blas_nt(a, b, out, reps):
    for _ in range(reps):
        np.dot(a, b.T, out)


@compiled_loop
def loop_nn(a, b, out, reps):
    # out = a @ b, vectorised over out's columns.
    n, k = a.shape
    m = b.shape[1]
    for _ in range(reps):
        for i in range(n):
            o = out[i]
            for j in range(m):
                o[j] = 0
            for p in range(k):
                aip = a[i, p]
                bp = b[p]
                for j in range(m):
                    o[j] += aip * bp[j]


@compiled_loop
def loop_dot(a, bt, out, reps):
    # out = a @ bt.T as dot products over k (for narrow outputs).
    n, k = a.shape
    m = bt.shape[0]
    for _ in range(reps):
        for i in range(n):
            for j in range(m):
                s = a.dtype.type(0)
                for p in range(k):
                    s += a[i, p] * bt[j, p]
                out[i, j] = s


@compiled_loop
def loop_tn(a, b, out, reps):
    # out = a.T @ b, accumulated row by row.
    n, k = a.shape
    m = b.shape[1]
    for _ in range(reps):
        out[:] = 0
        for i in range(n):
            bi = b[i]
            for p in range(k):
                aip = a[i, p]
                op = out[p]
                for j in range(m):
                    op[j] += aip * bi[j]


def _time(fn, args, reps):
    fn(*args, 1)
    return min(timeit.repeat(lambda: fn(*args, reps), number=1, repeat=5)) / reps


def measure(batches=(32, 200), n_in=20, n_hidden=64, n_out=4, reps=2000, dtype=np.float32):
    """``{batch: {product: (scipy_blas_s, numpy_blas_s, loop_s)}}``."""
    rng = np.random.default_rng(0)
    f = np.dtype(dtype).type
    results = {}
    for nb in batches:
        X = rng.standard_normal((nb, n_in)).astype(f)
        W1 = rng.standard_normal((n_in, n_hidden)).astype(f)
        H = rng.standard_normal((nb, n_hidden)).astype(f)
        W2 = rng.standard_normal((n_hidden, n_out)).astype(f)
        W2T = np.ascontiguousarray(W2.T)
        D = rng.standard_normal((nb, n_out)).astype(f)
        G = rng.standard_normal((nb, n_hidden)).astype(f)
        h = np.empty((nb, n_hidden), f)
        o = np.empty((nb, n_out), f)
        hd = np.empty((n_hidden, n_out), f)
        xg = np.empty((n_in, n_hidden), f)
        cases = {
            "X @ W1": ((blas_nn, (X, W1, h)), (numpy_nn, (X, W1, h)),
                       (loop_nn, (X, W1, h))),
            "H @ W2": ((blas_nn, (H, W2, o)), (numpy_nn, (H, W2, o)),
                       (loop_dot, (H, W2T, o))),
            "H.T @ D": ((blas_tn, (H, D, hd)), (numpy_tn, (H, D, hd)), (loop_tn, (H, D, hd))),
            "D @ W2.T": ((blas_nt, (D, W2, h)), (numpy_nt, (D, W2, h)),
                         (loop_nn, (D, W2T, h))),
            "X.T @ G": ((blas_tn, (X, G, xg)), (numpy_tn, (X, G, xg)), (loop_tn, (X, G, xg))),
        }
        # Long products get fewer repetitions (about 0.05 s per timing).
        n_reps = max(1, min(reps, int(2e7 / (nb * n_in * n_hidden))))
        results[nb] = {name: tuple(_time(fn, args, n_reps) for fn, args in systems)
                       for name, systems in cases.items()}
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.small_products",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--mnist", action="store_true",
                    help="MNIST's first and last layer (784 -> 256, 256 -> 10)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = ap.parse_args(argv)
    shape = dict(n_in=784, n_hidden=256, n_out=10) if args.mnist else {}
    print(f"fastbp.kernels.blas.BACKEND = {fastbp_blas.BACKEND}, {args.dtype}")
    from bench.report import environment_header, script_environment

    # The figures the README quotes must be placeable: machine, versions, commit
    # (after the line naming the backend and dtype, which stays the first).
    print(environment_header(script_environment()), flush=True)
    for nb, rows in measure(reps=args.reps, dtype=args.dtype, **shape).items():
        print(f"batch {nb}:")
        for name, (scipy_blas, numpy_blas, loop) in rows.items():
            print(f"  {name:9s} SciPy BLAS {scipy_blas * 1e6:8.2f} us   NumPy BLAS "
                  f"{numpy_blas * 1e6:8.2f} us ({scipy_blas / numpy_blas:4.2f}x)   "
                  f"loops {loop * 1e6:8.2f} us")
        # The floor of a training step's products: each at NumPy's speed.
        print(f"  all five through NumPy's BLAS: "
              f"{sum(r[1] for r in rows.values()) * 1e6:.2f} us per step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
