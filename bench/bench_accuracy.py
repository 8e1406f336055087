"""MNIST test accuracy: fastbp vs scikit-learn (and PyTorch) at the same
settings, initial weights and number of epochs. Recorded, not asserted."""

from __future__ import annotations

from bench import accuracy, peers, workloads


def test_accuracy(benchmark, bench_grid, skip_if):
    setting = bench_grid.accuracy
    skip_if(peers.unavailable_reason("fastbp"), workloads.unavailable_reason(setting.workload))
    benchmark.group = "accuracy"
    result = benchmark.pedantic(accuracy.measure, args=(setting,),
                                kwargs=dict(systems=("fastbp", "sklearn", "torch")),
                                rounds=1, iterations=1)
    benchmark.extra_info.update(result)
