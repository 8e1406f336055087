"""Peak RSS of a fit on MNIST vs X + y + params + one batch of activations."""

from __future__ import annotations

import pytest

from bench import memory, peers, workloads
from bench.conftest import system_param


@pytest.mark.parametrize("mem_system", [system_param(s) for s in ("fastbp", "sklearn", "torch")])
def test_peak_rss(benchmark, bench_grid, mem_system, skip_if):
    setting = bench_grid.memory
    skip_if(peers.unavailable_reason(mem_system), workloads.unavailable_reason(setting.workload))
    benchmark.group = "memory"
    result = benchmark.pedantic(memory.measure, args=(mem_system, setting), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
