"""pytest wiring for the benches: mode, grid parametrisation, skip helper.

Mode: ``smoke`` unless ``FASTBP_BENCH_FULL`` is set *and* timing is on
(``--benchmark-enable``, overriding the ``--benchmark-disable`` in addopts):

    pytest bench                                          # smoke, each bench once
    FASTBP_BENCH_FULL=1 pytest bench --benchmark-enable   # full grid, timed

Benches never assert on timings; they record numbers in
``benchmark.extra_info`` (saved with ``--benchmark-json``).
"""

from __future__ import annotations

import pytest

from bench import peers, workloads
from bench.flops import gemm_shapes


def _benchmark_disabled(config) -> bool:
    try:
        return bool(config.getoption("benchmark_disable")) and not config.getoption("benchmark_enable")
    except ValueError:  # pytest-benchmark not installed
        return True


def _grid(config) -> workloads.Grid:
    return workloads.grid_for(workloads.pytest_mode(_benchmark_disabled(config)))


def pytest_report_header(config):
    g = _grid(config)
    return f"fastbp bench mode: {g.mode} ({len(g.cases())} epoch cases)"


def pytest_generate_tests(metafunc):
    grid = _grid(metafunc.config)
    if "epoch_case" in metafunc.fixturenames:
        cases = grid.cases()
        metafunc.parametrize("epoch_case", cases, ids=[c.id for c in cases])
    if "gemm_case" in metafunc.fixturenames:
        pairs = [(c, s) for c in grid.cases() for s in gemm_shapes(c.batch_size, c.workload.sizes)]
        metafunc.parametrize("gemm_case", pairs,
                             ids=[f"{c.id}-{s.kind}{s.layer}" for c, s in pairs])
    if "system" in metafunc.fixturenames:
        metafunc.parametrize("system", peers.SYSTEMS)
    if "compile_dtype" in metafunc.fixturenames:
        metafunc.parametrize("compile_dtype", grid.compile_dtypes)


@pytest.fixture(scope="session")
def bench_grid(request) -> workloads.Grid:
    return _grid(request.config)


@pytest.fixture
def skip_if():
    """``skip_if(reason, ...)`` skips with the first non-empty reason."""

    def check(*reasons):
        for reason in reasons:
            if reason:
                pytest.skip(reason)

    return check
