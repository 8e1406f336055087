"""Test-set accuracy after the same training, system by system.

Every system trains from the same initial weights (scikit-learn's Glorot
draws, see :mod:`bench.peers`) for the same number of epochs with the same
settings; fastbp and scikit-learn through ``fit(max_iter=epochs)``, PyTorch
through its epoch loop. Shuffling orders differ between libraries, so the
accuracies agree statistically, not bit for bit.

``train_s`` times the same work for every system: building its model
(estimator or PyTorch module, initial weights, for fastbp loading or
compiling its kernels) and training it, at ``setting.threads`` threads; each
library's imports, PyTorch's optimizer's included, come before the timer. The
systems run one after another in this process, each once, after the
previous one's thread pools have gone quiet: a rough figure beside the
accuracy, not a speed comparison (that is the epoch table's, from
alternating runs).
"""

from __future__ import annotations

import os
import time

import numpy as np

from . import peers, workloads
from .threads import limit_threads
from .worker import wait_quiet
from .workloads import FitSetting


def measure(setting: FitSetting, systems=("fastbp", "sklearn"), standin: bool | None = None,
            tolerate_failures: bool = False) -> dict:
    data = workloads.load(setting.workload, setting.dtype)
    if data.X_test is None:
        raise ValueError(f"workload {setting.workload.name} has no test set")
    spec = peers.TrainSpec(setting.workload.hidden, setting.batch_size)
    results, skipped = {}, {}
    with limit_threads(setting.threads, torch=any(s.startswith("torch") for s in systems)):
        for s in systems:
            reason = peers.unavailable_reason(s, standin)
            if reason:
                skipped[s] = reason
                continue
            runner = peers.make_runner(s, spec, standin)
            # make_runner imports fastbp and scikit-learn; a runner that
            # loads more on first use (PyTorch's first optimizer imports
            # torch._dynamo, ~2 s: rev-207) does it here, before the timer.
            getattr(runner, "import_libraries", lambda: None)()
            # The previous system's BLAS threads spin for a while after its
            # last call; let them sleep before the next timer starts.
            wait_quiet([os.getpid()])
            # helper-77: the timer covered fastbp's and scikit-learn's model
            # building (inside fit) but not PyTorch's (prepare): it covers
            # prepare and fit for every system.
            t0 = time.perf_counter()
            try:
                runner.prepare(data.X_train, data.y_train, data.classes).fit(setting.epochs)
            except Exception as exc:  # noqa: BLE001
                if not tolerate_failures:
                    raise
                skipped[s] = f"failed: {type(exc).__name__}: {exc}"[:400]
                continue
            train_s = time.perf_counter() - t0
            pred = runner.predict(data.X_test)
            results[s] = {"label": runner.label, "accuracy": float(np.mean(pred == data.y_test)),
                          "final_loss": runner.final_loss(), "train_s": train_s}
    return {"workload": setting.workload.label, "n_train": int(data.X_train.shape[0]),
            "n_test": int(data.X_test.shape[0]), "epochs": setting.epochs,
            "batch_size": setting.batch_size, "dtype": setting.dtype, "threads": setting.threads,
            "systems": results, "skipped": skipped}
