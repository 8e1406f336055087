"""Compile cost of fastbp: cold (empty Numba cache) and warm, per dtype.

Each measurement runs fresh subprocesses (``bench.compile_time``); the
numbers (import time, first-fit overhead, fit proper) go to ``extra_info``.
"""

from __future__ import annotations

from bench import compile_time, subject


def test_compile(benchmark, compile_dtype, skip_if):
    skip_if(subject.unavailable_reason())
    benchmark.group = "compile"
    result = benchmark.pedantic(compile_time.measure, args=(compile_dtype,), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
