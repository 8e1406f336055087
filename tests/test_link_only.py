"""Inner kernels are compiled for linking into their callers only
(``fastbp._link_only``): no optimisation or machine code of their own, and
an on-disk cache entry that callers compiled later still link."""

import os
import subprocess
import sys
import textwrap

import numba
import numpy as np

from fastbp import _config as config
from fastbp._link_only import LinkOnlyLibrary
from fastbp.kernels import network


def test_an_inner_kernel_is_ir_for_its_callers_only():
    from fastbp._config import kernel

    @kernel
    def scale(a, k):
        for i in range(a.size):
            a[i] *= k

    @numba.njit(**config._NJIT_OPTIONS)
    def outer(a):
        scale(a, 2.0)
        return a.sum()

    a = np.arange(4.0)
    assert outer(a) == 12.0
    assert a.tolist() == [0.0, 2.0, 4.0, 6.0]
    (inner,) = scale.overloads.values()
    (caller,) = outer.overloads.values()
    assert isinstance(inner.library, LinkOnlyLibrary)
    assert not isinstance(caller.library, LinkOnlyLibrary)
    engine = inner.library.codegen._engine
    # No machine code of its own: the JIT engine never saw the function;
    # the caller's copy of it is in the caller's module.
    assert not engine.is_symbol_defined(inner.fndesc.llvm_func_name)
    assert engine.is_symbol_defined(caller.fndesc.llvm_func_name)
    # Its IR is not optimised as a module (only function by function, as
    # Numba does on lowering): the loop is vectorised in the caller only.
    assert "x double>" not in inner.library.get_llvm_str()
    assert "x double>" in caller.library.get_llvm_str()


def test_the_engines_inner_kernels_are_link_only():
    from fastbp.kernels import activations, lean, optimizers
    from fastbp.kernels.codes import OUT_SOFTMAX

    for dispatcher in (network.forward_hidden, network.backward, optimizers.update_range,
                       activations.bias_activation, lean.forward_hidden):
        assert dispatcher._compiler.pipeline_class.__name__ == "LinkOnlyCompiler"
    for dispatcher in (network.train_epoch, *vars(lean.for_output(OUT_SOFTMAX)).values()):
        assert dispatcher._compiler.pipeline_class.__name__ != "LinkOnlyCompiler"


_MODULE = """
from fastbp._config import entry_kernel, kernel


@kernel
def scale(a, k):
    for i in range(a.size):
        a[i] *= k


@entry_kernel
def twice(a):
    scale(a, 2.0)
    return a.sum()


@entry_kernel
def thrice(a):
    scale(a, 3.0)
    return a.sum()
"""

_RUN = """
import json, sys
import numpy as np
import toy
out = {{}}
for name in {names!r}:
    out[name] = float(getattr(toy, name)(np.arange(4.0)))
    out[name + "_hits"] = sum(getattr(toy, name).stats.cache_hits.values())
out["scale_hits"] = sum(toy.scale.stats.cache_hits.values())
out["scale_misses"] = sum(toy.scale.stats.cache_misses.values())
print(json.dumps(out))
"""


def test_a_caller_compiled_later_links_the_cached_inner_kernel(tmp_path):
    # A process that loads one entry point from the cache and compiles
    # another against the same inner kernel: the inner kernel comes from
    # its cached IR.
    import json

    (tmp_path / "toy.py").write_text(_MODULE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.getcwd()]),
               NUMBA_CACHE_DIR=str(tmp_path / "cache"))

    def run(names):
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_RUN.format(names=names))],
                              env=env, capture_output=True, text=True, timeout=300,
                              cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first = run(["twice"])
    assert first == {"twice": 12.0, "twice_hits": 0, "scale_hits": 0, "scale_misses": 1}
    second = run(["twice", "thrice"])
    assert second["twice"] == 12.0 and second["thrice"] == 18.0
    assert second["twice_hits"] == 1          # loaded whole, no inner compile
    assert second["scale_hits"] == 1          # thrice linked the cached IR
    assert second["scale_misses"] == 0
    third = run(["thrice", "twice"])
    assert (third["thrice"], third["twice"]) == (18.0, 12.0)
    assert third["thrice_hits"] == third["twice_hits"] == 1


def test_kernels_compile_without_the_passes_they_do_not_need():
    from fastbp._link_only import UNNEEDED_PASSES, EntryCompiler, LinkOnlyCompiler

    # Every kernel compiles through these pipelines: the passes are gone,
    # and the rest are Numba's, in Numba's order.
    for compiler in (EntryCompiler, LinkOnlyCompiler):
        state = compiler.__new__(compiler)
        state.state = numba.core.compiler.StateDict(func_ir=None,
                                                    flags=numba.core.compiler.Flags())
        (pm,) = compiler.define_pipelines(state)
        (full,) = numba.core.compiler.Compiler.define_pipelines(state)
        names = [cls.__name__ for cls, _ in pm.passes]
        assert names == [cls.__name__ for cls, _ in full.passes
                         if cls.__name__ not in UNNEEDED_PASSES]
        assert set(UNNEEDED_PASSES) <= {cls.__name__ for cls, _ in full.passes}
        assert {"TranslateByteCode", "NopythonTypeInference", "NativeLowering"} <= set(names)


def test_no_kernel_holds_what_the_dropped_passes_handle():
    # A closure, a comprehension or a ``with`` block in a kernel needs a
    # pass that fastbp's pipelines leave out (UNNEEDED_PASSES): Numba would
    # fail with "make_function" or "enter_with". Found here first.
    import dis
    import importlib
    import pkgutil
    import types

    from numba.core.registry import CPUDispatcher

    import fastbp
    from fastbp._link_only import _LibraryCompiler

    def code_tree(code):
        yield code
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield from code_tree(const)

    kernels = {}
    for info in pkgutil.walk_packages(fastbp.__path__, "fastbp."):
        if ".cuda" in info.name or info.name.endswith("__main__"):
            continue
        for value in vars(importlib.import_module(info.name)).values():
            if (isinstance(value, CPUDispatcher)
                    and issubclass(value._compiler.pipeline_class, _LibraryCompiler)):
                kernels[id(value)] = value
    assert len(kernels) > 30
    needs = {"MAKE_FUNCTION", "BEFORE_WITH", "SETUP_WITH"}
    found = {d.py_func.__qualname__: sorted(needs & {i.opname for c in code_tree(d.py_func.__code__)
                                                    for i in dis.get_instructions(c)})
             for d in kernels.values()}
    assert {name: ops for name, ops in found.items() if ops} == {}
