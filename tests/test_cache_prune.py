"""The compile cache keeps what can still load, and only that.

Numba forgets a kernel's index entries when the kernel's source changes,
and fastbp's save never reuses a data file's name (a reader must never meet
other code under a name it read), so before these checks every edit of a
kernel module, and every upgrade installed in place, left a full set of
data files in the cache for good (40 MB in a development cache).
"""

import json
import os
import pickle
import subprocess
import sys
import textwrap

from fastbp._cache import key, maintenance
from fastbp._cache.index import OrderedIndexDataCacheFile
from fastbp._cache.key import _key_extras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEM = "mod.kern-7.py311"


def _key(sig, sources=None):
    extras = dict(_key_extras)
    if sources is not None:
        extras["sources"] = sources
    return (sig, ("cpu", "features"), ("hash", "cvars"), tuple(sorted(extras.items())))


def _files(path):
    return sorted(p.name for p in path.iterdir() if p.is_file())


def test_a_save_deletes_the_data_files_its_index_does_not_name(tmp_path):
    # Left by an index of an older source stamp, which Numba reads as empty.
    old = OrderedIndexDataCacheFile(str(tmp_path), STEM, ("old stamp", 1))
    old.save(_key("f32"), b"old float32 code")
    old.save(_key("f64"), b"old float64 code")
    assert _files(tmp_path) == [f"{STEM}.1.nbc", f"{STEM}.2.nbc", f"{STEM}.nbi"]

    new = OrderedIndexDataCacheFile(str(tmp_path), STEM, ("new stamp", 2))
    assert new.load(_key("f32")) is None
    new.save(_key("f32"), b"new float32 code")
    # The old files are gone, and the new one takes a number past theirs:
    # a process that read the old index never opens new code by its name.
    assert _files(tmp_path) == [f"{STEM}.3.nbc", f"{STEM}.nbi"]
    assert new.load(_key("f32")) == b"new float32 code"
    new.save(_key("f64"), b"new float64 code")
    assert _files(tmp_path) == [f"{STEM}.3.nbc", f"{STEM}.4.nbc", f"{STEM}.nbi"]
    assert new.load(_key("f64")) == b"new float64 code"
    assert new.load(_key("f32")) == b"new float32 code"


def test_a_save_drops_the_entries_of_other_sources(tmp_path):
    # A callee's module edited (or another release installed in place):
    # the kernel's own file keeps its stamp, its entries their keys.
    cache = OrderedIndexDataCacheFile(str(tmp_path), STEM, ("stamp", 1))
    cache.save(_key("f32", sources="older sources"), b"stale code")
    cache.save(_key("f64"), b"current float64 code")
    assert cache._load_index() == {_key("f64"): f"{STEM}.2.nbc"}
    assert _files(tmp_path) == [f"{STEM}.2.nbc", f"{STEM}.nbi"]
    # Re-saving an entry that is there rewrites the index where it dropped one.
    cache._save_index({_key("f32", sources="older sources"): f"{STEM}.2.nbc",
                       _key("f64"): f"{STEM}.2.nbc"})
    cache.save(_key("f64"), b"current float64 code, again")
    assert cache._load_index() == {_key("f64"): f"{STEM}.2.nbc"}
    assert cache.load(_key("f64")) == b"current float64 code, again"


def test_a_save_keeps_other_machines_entries_and_other_kernels_files(tmp_path):
    cache = OrderedIndexDataCacheFile(str(tmp_path), STEM, ("stamp", 1))
    other_cpu = ("f32", ("other cpu", "other features")) + _key("f32")[2:]
    cache.save(other_cpu, b"code for another CPU")
    neighbours = [f"{STEM[:-1]}0.1.nbc", "mod.kern.lean-7.py311.1.nbc",
                  f"{STEM}.1.nbc.tmp.0123", f"{STEM}.x.nbc"]
    for name in neighbours:
        (tmp_path / name).write_bytes(b"not this kernel's")
    cache.save(_key("f32"), b"code for this CPU")
    assert cache.load(other_cpu) == b"code for another CPU"
    assert cache.load(_key("f32")) == b"code for this CPU"
    assert all((tmp_path / name).exists() for name in neighbours)


def test_entries_without_fastbps_key_parts_are_stale():
    assert key._current_entries({("sig", "cpu", ("hash", "cvars")): "a.1.nbc",
                                    _key("f32"): "a.2.nbc"}) == {_key("f32"): "a.2.nbc"}


_FIT = """
    import json, warnings
    import numpy as np
    warnings.simplefilter("ignore")
    import fastbp
    from fastbp._cache import counts
    X = np.random.RandomState(0).rand(40, 3)
    fastbp.MLPClassifier((4,), max_iter=2, random_state=0).fit(X, np.arange(40) % 2)
    print(json.dumps({"counts": counts.process_counts(),
                      "directories": fastbp.compile_cache_info()["directories"]}))
"""


def _run(code, cache_dir, *args):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    cmd = [sys.executable, *args] if args else [sys.executable, "-c", textwrap.dedent(code)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_prune_deletes_what_cannot_load_and_keeps_what_can(tmp_path):
    first = json.loads(_run(_FIT, tmp_path).strip().splitlines()[-1])
    assert first["counts"][0] > 0  # compiled into the empty cache
    (directory,) = first["directories"]
    names = sorted(os.listdir(directory))
    index = next(n for n in names if n.startswith("network.") and n.endswith(".nbi"))
    stem = index[:-len(".nbi")]
    fullname, _, rest = stem.rpartition("-")
    python = rest.partition(".")[2]
    data = next(n for n in names if n.startswith(stem + ".") and n.endswith(".nbc"))

    def plant(name, source):
        with open(os.path.join(directory, source), "rb") as f:
            content = f.read()
        with open(os.path.join(directory, name), "wb") as f:
            f.write(content)

    stale = [f"{fullname}-99999.{python}.nbi",      # the kernel on other lines
             f"{fullname}-99999.{python}.1.nbc",
             f"{stem}.777.nbc",                     # a data file its index does not name
             f"{fullname}.unknown-1.{python}.nbi"]  # a kernel this fastbp does not have
    kept = [f"{fullname}-99999.py27.nbi",           # another Python's
            f"{fullname}-99999.{python}.nbi.tmp.0123"]
    for name in stale + kept:
        plant(name, index if name.endswith((".nbi", ".0123")) else data)

    out = _run(None, tmp_path, "-m", "fastbp.cli", "info", "--prune-cache")
    assert f"removed {len(stale)} stale cached files" in out
    left = set(os.listdir(directory))
    assert not left & set(stale)
    assert set(kept) <= left
    assert set(names) <= left  # every current entry stays
    # Nothing left to prune, and a new process loads every kernel it needs.
    assert "removed 0 stale cached files" in _run(None, tmp_path, "-m", "fastbp.cli", "info",
                                                  "--prune-cache")
    again = json.loads(_run(_FIT, tmp_path).strip().splitlines()[-1])
    assert again["counts"][0] == 0 and again["counts"][1] > 0

    # rev-252: a damaged index is deleted with its data files (a load would
    # do the same), not a traceback; another Numba release's index (an
    # environment sharing these sources) is left alone.
    damaged, foreign = [n for n in sorted(os.listdir(directory))
                        if n.endswith(".nbi") and n != index and "-99999." not in n
                        and ".unknown-" not in n][:2]

    def data_of(name):
        return {n for n in os.listdir(directory)
                if n.startswith(name[:-len("nbi")]) and n.endswith(".nbc")}

    assert data_of(damaged) and data_of(foreign)
    with open(os.path.join(directory, damaged), "wb") as f:
        f.write(b"garbage")
    with open(os.path.join(directory, foreign), "rb") as f:
        pickle.load(f)
        rest = f.read()
    with open(os.path.join(directory, foreign), "wb") as f:
        pickle.dump("0.1.0", f)
        f.write(rest)
    foreign_files = data_of(foreign) | {foreign}
    n_damaged = len(data_of(damaged)) + 1
    out = _run(None, tmp_path, "-m", "fastbp.cli", "info", "--prune-cache")
    assert f"removed {n_damaged} stale cached files" in out
    left = set(os.listdir(directory))
    assert damaged not in left and not data_of(damaged)
    assert foreign_files <= left


def test_prune_compile_cache_is_public():
    import fastbp

    assert fastbp.prune_compile_cache is maintenance.prune_cache
    assert "prune_compile_cache" in fastbp.__all__
