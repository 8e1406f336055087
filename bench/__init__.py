"""fastbp benchmark suite.

Measuring helpers live in small named modules shared by the pytest benches
(``bench_*.py``, collected by pytest) and by the one-command report
(``python -m bench.report``):

workloads    data sets, network shapes and the smoke/quick/full grids
subject      the system under test (fastbp, or a scikit-learn stand-in)
peers        one-epoch runners for fastbp, scikit-learn and PyTorch
threads      one context manager limiting BLAS, Numba and PyTorch threads
timing       interleaved (A B A B) epoch timing
worker       one worker process per timed system (thread pools isolated)
flops        exact FLOPs of one epoch and the GEMM shapes behind them
gemm_peak    best numpy-matmul GFLOP/s on a workload's own GEMM shapes
epochs       one grid case: timings + FLOPs + GEMM peak, in one run (in workers)
matmul       matrix-product kernels (numpy vs a Numba np.dot)
compile_time cold/warm compile cost, measured in fresh subprocesses
memory       peak RSS of a fit, measured in a subprocess
accuracy     test accuracy after the same number of epochs
report       the command that runs all of it and prints markdown + JSON
"""
