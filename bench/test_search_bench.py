"""``python -m bench.search --smoke`` runs end to end and its results check holds.

Asserts on the report's structure and on every backend reproducing the
sequential search's scores bit for bit; never on a time. About 20 s on a
warm compile cache (every run is a fresh Python process).
"""

from __future__ import annotations

import json
import re

import pytest

from bench import search


def test_readme_example_is_the_readme_s():
    """The copy the cold row runs is still the README's example."""
    readme = (search.REPO_ROOT / "README.md").read_text()
    section = readme.split("## Use it like scikit-learn", 1)[1]
    assert re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1) == search.README_EXAMPLE


def test_same_results_is_bitwise():
    run = {"mean_test_score": [0.3, float("nan")], "best_params": {"alpha": 1e-4}}
    assert search.same_results(run, dict(run))
    assert not search.same_results(run, {**run, "mean_test_score": [0.1 + 0.2, float("nan")]})
    assert not search.same_results(run, {**run, "best_params": {"alpha": 1e-2}})


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    assert search.main(["--smoke", "--out", str(out)]) == 0
    return json.loads((out / "search-smoke.json").read_text()), (out / "search-smoke.md").read_text()


def test_smoke_rows_cover_the_plan(smoke_report):
    report, markdown = smoke_report
    cells = [(r["grid"], r["backend"], r["cache"]) for r in report["rows"]]
    assert cells == [(g, b, "warm") for g in search.GRIDS for b in search.SMOKE_BACKENDS]
    assert markdown.startswith("# GridSearchCV wall time")
    assert "| grid | backend | cache | fastbp s | sklearn s |" in markdown
    assert {g["name"] for g in report["goals"]} == set(search.GOALS)
    assert report["environment"]["thread_env"].keys() == set(search.THREAD_VARS)
    assert len(report["warm_cache"]) == len(search.GRIDS)


def test_smoke_runs_succeed_and_match_sequential(smoke_report):
    report, _ = smoke_report
    for run in report["runs"]:
        assert "error" not in run, run["error"]
        assert len(run["mean_test_score"]) == 4  # the 2 x 2 grid
        assert set(run["best_params"]) == {"mlpclassifier__hidden_layer_sizes",
                                           "mlpclassifier__alpha"}
    for row in report["rows"]:
        for system in search.SYSTEMS:
            assert row[system]["n"] == 1
            assert row[system]["identical_to_sequential"] is True, (row["grid"], row["backend"], system)


def test_one_blas_thread_rows_divide_their_own_sequential_twin():
    def run(backend, fit_s, grid="readme", system="fastbp"):
        return {"grid": grid, "backend": backend, "system": system, "cache": "warm",
                "repeat": 0, "fit_s": fit_s, "process_s": fit_s + 1, "mean_test_score": [0.5],
                "best_params": {}}

    runs = [run("sequential", 4.0), run("sequential-1blas", 3.0), run("threading-1blas", 2.0),
            run("threading", 5.0)]
    cell = search.summarise(runs, "readme", "threading-1blas", "fastbp", "warm")
    assert cell["speedup_vs_sequential"] == pytest.approx(1.5)
    cell = search.summarise(runs, "readme", "threading", "fastbp", "warm")
    assert cell["speedup_vs_sequential"] == pytest.approx(0.8)
    rows = [{"grid": "readme", "backend": b, "cache": "warm",
             "fastbp": search.summarise(runs, "readme", b, "fastbp", "warm"),
             "sklearn": {}} for b in ("sequential-1blas", "threading-1blas")]
    (goal,) = [g for g in search.goals(rows, []) if g["text"].startswith("(c) readme")]
    assert goal["value"] == pytest.approx(1.5)
    assert "vs fastbp sequential-1blas" in goal["text"]
    # Without a one-thread sequential run, the plain one is the baseline.
    runs = [r for r in runs if r["backend"] != "sequential-1blas"]
    cell = search.summarise(runs, "readme", "threading-1blas", "fastbp", "warm")
    assert cell["speedup_vs_sequential"] == pytest.approx(2.0)


def test_repeats_run_every_backend_in_rotated_order(monkeypatch):
    # helper-153: every repeat of one backend ran in a block before the next
    # backend's (seq, seq, seq, thr, thr, thr), so a speed-up divided runs
    # taken minutes apart.
    labels = []

    def fake_measure(label, code, env):
        labels.append(label)
        return {"fit_s": 1.0, "process_s": 2.0}

    monkeypatch.setattr(search, "measure", fake_measure)
    plan = search.Plan(grids=("readme",), backends=("sequential", "threading"),
                       systems=("fastbp", "sklearn"), caches=("warm",), warm_repeats=3,
                       cold_repeats=1, smoke=True, cache_dir=None)
    runs = search.run_grid(plan, search.make_grid("readme", smoke=True), {})
    order = [(r["backend"], r["system"], r["repeat"]) for r in runs]
    assert order == [
        ("sequential", "fastbp", 0), ("sequential", "sklearn", 0),
        ("threading", "fastbp", 0), ("threading", "sklearn", 0),
        ("threading", "fastbp", 1), ("threading", "sklearn", 1),
        ("sequential", "fastbp", 1), ("sequential", "sklearn", 1),
        ("sequential", "fastbp", 2), ("sequential", "sklearn", 2),
        ("threading", "fastbp", 2), ("threading", "sklearn", 2),
    ]
    assert len(labels) == len(runs)


def test_speedup_is_the_median_of_paired_per_repeat_ratios():
    # helper-153: the speed-up divided two medians taken minutes apart; a
    # load drift between repeats then went into it. Here the machine slows
    # down 4x after the first repeat: each repeat's pair still says 2x.
    def run(backend, rep, fit_s):
        return {"grid": "readme", "backend": backend, "system": "fastbp", "cache": "warm",
                "repeat": rep, "fit_s": fit_s, "process_s": fit_s + 1,
                "mean_test_score": [0.5], "best_params": {}}

    runs = [run("sequential", 0, 4.0), run("threading", 0, 2.0),
            run("threading", 1, 8.0), run("sequential", 1, 16.0),
            run("sequential", 2, 16.0), run("threading", 2, 8.0)]
    cell = search.summarise(runs, "readme", "threading", "fastbp", "warm")
    assert cell["speedup_vs_sequential"] == pytest.approx(2.0)
    assert cell["speedup_pairs"] == 3
    rows = [{"grid": "readme", "backend": b, "cache": "warm",
             "fastbp": search.summarise(runs, "readme", b, "fastbp", "warm"), "sklearn": {}}
            for b in ("sequential", "threading")]
    (goal,) = [g for g in search.goals(rows, []) if g["text"].startswith("(c) readme")]
    assert goal["value"] == pytest.approx(2.0)
