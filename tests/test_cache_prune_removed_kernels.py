"""A prune deletes the files of kernels that fastbp no longer has, and
only fastbp's (fix-266, rev-258).

Before, ``prune_cache`` walked the kernels the process had made, so the
files of a kernel since removed or renamed (``activations.relu_tracked``,
reverted) stayed in the cache for good; and ``fastbp info --prune-cache
--clear-cache`` cleared without a word about the prune.
"""

import json
import os
import pickle
import shutil

import pytest

from fastbp import cli

# The fit in a fresh process, and the runner of one, as the first prune
# tests use them.
try:
    from .test_cache_prune import _FIT, _run
except ImportError:  # run as a plain module
    from test_cache_prune import _FIT, _run

# A fresh process that has made no kernel set per output function (those
# are made on a fit's demand): a prune there must not judge them gone.
_PRUNE = """
    import warnings
    warnings.simplefilter("ignore")
    import fastbp
    print("removed", fastbp.prune_compile_cache())
"""


def test_prune_deletes_the_files_of_removed_kernels_and_modules_only(tmp_path):
    first = json.loads(_run(_FIT, tmp_path).strip().splitlines()[-1])
    assert first["counts"][0] > 0  # compiled into the empty cache
    (directory,) = first["directories"]
    names = sorted(os.listdir(directory))
    index = next(n for n in names
                 if n.startswith("network.train_epoch.lean_") and n.endswith(".nbi"))
    stem = index[:-len(".nbi")]
    data = next(n for n in names if n.startswith(stem + ".") and n.endswith(".nbc"))
    python = stem.rpartition(".")[2]
    suffix = stem.split(".")[2].partition("-")[0]  # lean_logistic

    def plant(folder, name):
        source = index if name.endswith(".nbi") else data
        shutil.copyfile(os.path.join(directory, source), os.path.join(folder, name))

    stale = [f"activations.relu_tracked-150.{python}.nbi",    # a kernel since removed
             f"activations.relu_tracked-150.{python}.1.nbc",
             f"activations.relu_tracked-150.{python}.2.nbc",
             f"network.train_epoch.gone_out-270.{python}.nbi",  # a set since removed
             f"retired.kern-3.{python}.nbi",                   # a module since removed
             f"retired.kern-3.{python}.1.nbc",
             "retired.kern-3.py27.nbi",                        # ... in any Python
             "retired.kern-3.py27.1.nbc"]
    kept = ["activations.relu_tracked-150.py27.nbi",          # another Python's, its
            "activations.relu_tracked-150.py27.1.nbc",        # module still there
            f"activations.relu_tracked-150.{python}.nbi.tmp.0123",  # not Numba's name
            # A current kernel that a fresh process has not made (the
            # toolkit's set for another output function), a copy of the
            # default path's entry of the same function and module.
            index.replace(suffix, "full_exp"),
            data.replace(suffix, "full_exp")]
    for name in stale + kept:
        plant(directory, name)
    # The copy's index names its own data file, as a real one would.
    full_index = os.path.join(directory, index.replace(suffix, "full_exp"))
    with open(full_index, "rb") as f:
        version = pickle.load(f)
        stamp, overloads = pickle.loads(f.read())
    with open(full_index, "wb") as f:
        pickle.dump(version, f, protocol=-1)
        f.write(pickle.dumps((stamp, {key: name.replace(suffix, "full_exp")
                                      for key, name in overloads.items()}), protocol=-1))
    # Another project's Numba cache in the same NUMBA_CACHE_DIR, with names
    # that would be stale in fastbp's directory.
    other = tmp_path / "kernels_0123456789abcdef0123456789abcdef01234567"
    other.mkdir()
    others = [f"activations.relu_tracked-150.{python}.nbi",
              f"activations.relu_tracked-150.{python}.1.nbc", f"retired.kern-3.{python}.nbi",
              f"project.kernel-12.{python}.nbi", f"project.kernel-12.{python}.1.nbc"]
    for name in others:
        plant(other, name)

    # Lock files of a removed kernel (an index lock and its holder's ID, a
    # compile lock): a prune deletes them too (rev-270), a live kernel's stay.
    locks = os.path.join(directory, "fastbp-locks")
    os.makedirs(locks, exist_ok=True)
    gone_locks = [f"activations.relu_tracked-150.{python}.index.lock",
                  f"activations.relu_tracked-150.{python}.index.lock.pid",
                  f"activations.relu_tracked-150.{python}.0123456789abcdef.lock",
                  f"retired.kern-3.{python}.index.lock"]
    live_lock = f"{stem}.index.lock"
    for name in gone_locks + [live_lock]:
        open(os.path.join(locks, name), "w").close()

    assert f"removed {len(stale)}\n" in _run(_PRUNE, tmp_path)
    assert not set(os.listdir(locks)) & set(gone_locks)
    assert live_lock in os.listdir(locks)
    left = set(os.listdir(directory))
    assert not left & set(stale)
    assert set(kept) <= left
    assert set(names) <= left  # every current entry stays
    assert sorted(os.listdir(other)) == sorted(others)
    # Nothing left to prune, and a new process loads every kernel it needs.
    out = _run(None, tmp_path, "-m", "fastbp.cli", "info", "--prune-cache")
    assert "removed 0 stale cached files" in out
    again = json.loads(_run(_FIT, tmp_path).strip().splitlines()[-1])
    assert again["counts"][0] == 0 and again["counts"][1] > 0


def test_info_refuses_prune_with_clear(tmp_path, monkeypatch, capsys):
    cleared = []
    monkeypatch.setattr("fastbp._cache.maintenance.clear_cache", lambda: cleared.append(1) or 0)
    with pytest.raises(SystemExit) as exc:
        cli.main(["info", "--prune-cache", "--clear-cache"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--prune-cache" in err and "--clear-cache" in err and "not allowed" in err
    assert not cleared
