"""MNIST test accuracy: fastbp vs scikit-learn (and PyTorch) at the same
settings, initial weights and number of epochs. Recorded, not asserted."""

from __future__ import annotations

from bench import accuracy, peers, workloads
from bench.conftest import systems_for


def test_accuracy(benchmark, bench_grid, skip_if, request):
    setting = bench_grid.accuracy
    skip_if(peers.unavailable_reason("fastbp"), workloads.unavailable_reason(setting.workload))
    benchmark.group = "accuracy"
    # PyTorch only where -m selects it (conftest.torch_selected).
    systems = tuple(systems_for(request.config, ("fastbp", "sklearn", "torch")))
    result = benchmark.pedantic(accuracy.measure, args=(setting,),
                                kwargs=dict(systems=systems),
                                rounds=1, iterations=1)
    benchmark.extra_info.update(result)
