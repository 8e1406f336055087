"""``bench.accuracy`` times the same work for every system (structure only,
never a time: the clock here is a counter)."""

import types

import numpy as np

from bench import accuracy, workloads


class _Runner:
    label = "fake"

    def __init__(self, system, events):
        self.system, self.events = system, events

    def prepare(self, X, y, classes):
        self.events.append((self.system, "prepare"))
        return self

    def fit(self, epochs):
        self.events.append((self.system, "fit"))
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)

    def final_loss(self):
        return None


def test_every_timer_covers_model_building_and_training(monkeypatch):
    # helper-77: fastbp's and scikit-learn's timers covered building the
    # model (inside fit), PyTorch's did not (prepare ran before the timer).
    events = []
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    monkeypatch.setattr(accuracy.workloads, "load", lambda wl, dt: workloads.Dataset(X, y, X, y))
    monkeypatch.setattr(accuracy.peers, "unavailable_reason", lambda s, standin: None)
    monkeypatch.setattr(accuracy.peers, "make_runner", lambda s, spec, standin: _Runner(s, events))
    monkeypatch.setattr(accuracy, "wait_quiet", lambda pids: events.append("quiet"))

    def clock():
        events.append("clock")
        return float(len(events))

    monkeypatch.setattr(accuracy, "time", types.SimpleNamespace(perf_counter=clock))
    systems = ("fastbp", "sklearn", "torch")
    setting = workloads.FitSetting(workloads.tabular(4), batch_size=2, epochs=1)
    result = accuracy.measure(setting, systems=systems, standin=False)
    assert events == [e for s in systems
                      for e in ("quiet", "clock", (s, "prepare"), (s, "fit"), "clock")]
    assert all(result["systems"][s]["train_s"] == 3.0 for s in systems)
