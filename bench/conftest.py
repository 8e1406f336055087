"""pytest wiring for the benches: mode, grid parametrisation, skip helper.

Mode: ``smoke`` unless ``FASTBP_BENCH_FULL`` is set *and* timing is on
(``--benchmark-enable``, overriding the ``--benchmark-disable`` in addopts):

    pytest bench                                          # smoke, each bench once
    FASTBP_BENCH_FULL=1 pytest bench --benchmark-enable   # full grid, timed

Benches never assert on timings; they record numbers in
``benchmark.extra_info`` (saved with ``--benchmark-json``).

The epoch benches run every system in its own worker process
(``bench.worker``); ``epoch_workers`` keeps those processes for the whole
session (one per system and thread count, set up afresh for each case), and
:func:`pytest_collection_modifyitems` puts the epoch benches in case order
so each case is set up once.
"""

from __future__ import annotations

import os
import re

import pytest

from bench import peers, workloads
from bench.flops import gemm_shapes
from bench.worker import WorkerPool


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
        # The GPU systems only where a GPU is: not skipped items on every CPU.
        metafunc.parametrize("system", [system_param(s) for s in peers.default_systems()])
    if "compile_dtype" in metafunc.fixturenames:
        metafunc.parametrize("compile_dtype", grid.compile_dtypes)


def _epoch_case_id(item):
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("epoch_case") if callspec is not None else None
    return case.id if case is not None and item.path.name == "bench_epoch.py" else None


def pytest_collection_modifyitems(session, config, items):
    """Group bench_epoch's items case by case (stable), in their own slots."""
    slots = [i for i, item in enumerate(items) if _epoch_case_id(item) is not None]
    order: dict[str, int] = {}
    for i in slots:
        order.setdefault(_epoch_case_id(items[i]), len(order))
    grouped = sorted((items[i] for i in slots), key=lambda item: order[_epoch_case_id(item)])
    for i, item in zip(slots, grouped):
        items[i] = item


@pytest.fixture(scope="session")
def epoch_workers():
    """Worker processes for the epoch benches and the GEMM peaks.

    One process per (system, thread count), reused from case to case (each
    new case is set up afresh inside it), so the smoke run starts a handful
    of processes rather than a handful per case.
    """
    with WorkerPool(reuse_across_cases=True) as pool:
        yield pool


@pytest.fixture(scope="session")
def bench_grid(request) -> workloads.Grid:
    return _grid(request.config)


def system_param(system: str):
    """``system`` as a parameter, marked ``torch`` where it needs PyTorch.

    PyTorch is the bench extra's, not the test extra's: its systems are
    deselected unless asked for (``python -m pytest bench -m torch``), as the
    tests' own PyTorch and Ray tests are, rather than skipped in every CI run.
    """
    if system in peers.TORCH_SYSTEMS:
        return pytest.param(system, marks=pytest.mark.torch)
    return system


def torch_selected(config) -> bool:
    """Whether the run's ``-m`` expression selects an item marked ``torch``.

    Benches that compare several systems in one item (the interleaved
    epochs, the accuracy fits) are not marked themselves; they take the
    PyTorch systems only when this holds, so that the default run
    (``-m 'not ray and not torch'``) measures the same systems on every
    machine, whether PyTorch happens to be installed or not.
    """
    markexpr = config.getoption("markexpr", "")
    if not markexpr:
        return True  # no -m: every item runs
    # pytest's own evaluator for -m (private, but what deselection uses).
    # Should a later pytest move or change it, the word itself decides:
    # "torch" selects, "not torch" does not (a CI run must not fail over a
    # private import).
    try:
        from _pytest.mark.expression import Expression

        return bool(Expression.compile(markexpr).evaluate(
            lambda name, **kw: name == "torch"))
    except Exception:  # noqa: BLE001 (any change of the private API)
        return re.search(r"(?<!not )\btorch\b", markexpr) is not None


def systems_for(config, systems) -> list[str]:
    """``systems`` without the PyTorch ones unless ``-m`` selects them."""
    keep_torch = torch_selected(config)
    return [s for s in systems if keep_torch or s not in peers.TORCH_SYSTEMS]


def ci_strict() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture
def skip_if():
    """``skip_if(reason, ...)`` skips with the first non-empty reason.

    Under ``CI=true`` it fails instead: there a bench that needs something
    missing (MNIST, a second core, PyTorch asked for with ``-m torch``) is a
    broken set-up, not an optional peer.
    """

    def check(*reasons):
        for reason in reasons:
            if reason:
                if ci_strict():
                    pytest.fail(f"CI=true but {reason}")
                pytest.skip(reason)

    return check
