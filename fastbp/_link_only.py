"""Inner kernels compiled to be linked into their callers, and never run on
their own.

Numba builds every compiled function as an LLVM library of its own: it
optimises that library's module in full, then generates its machine code.
A caller links its callees' optimised IR into its own module, and
optimises and generates the whole again. In fastbp only the entry points
(``train_epoch``, ``predict``, ...) run; an inner kernel runs as part of
them. Its own optimisation, repeated at every level of the call tree, and
its machine code, never executed, were about a sixth of a cold first fit
(``bench/ab/compile_bench.py``).

:class:`LinkOnlyCompiler` compiles a function into a
:class:`LinkOnlyLibrary`, which skips both: its module is checked and kept
as IR, for the callers to link and optimise once, together. An inner
kernel has no CPython or C wrapper (``fastbp._config``), so nothing can
look up its address; its on-disk cache entry is that IR.
"""

import hashlib

import llvmlite.binding as llvm
from llvmlite import ir
from numba.core.codegen import JITCPUCodegen
from numba.core.compiler import Compiler
from numba.core.compiler_machinery import PassManager


class LinkOnlyLibrary(JITCPUCodegen._library_class):
    """A code library whose module is never optimised on its own nor turned
    into machine code."""

    def _optimize_final_module(self):
        # The caller's library optimises this IR after linking it in.
        pass

    def _finalize_final_module(self):
        self._finalize_dynamic_globals()
        self._verify_declare_only_symbols()
        # The module itself is not added to the JIT engine: MCJIT would
        # generate its machine code at the next engine-wide finalisation.
        # Numba still stores the function's environment pointer in the
        # engine's global of that name, so that global alone is added.
        # (Nothing reads it: a caller links a copy of the IR, globals
        # included, and fastbp's kernels hold no Python objects.)
        self._codegen._add_module(llvm.parse_assembly(str(self._globals_only())))
        self._finalized = True

    def _globals_only(self):
        module = self._codegen._create_empty_module(self.name + ".globals")
        for gv in self._final_module.global_variables:
            if gv.name.startswith("_ZN08NumbaEnv"):
                copy = ir.GlobalVariable(module, ir.IntType(8).as_pointer(), gv.name)
                copy.linkage = "common"
                copy.initializer = ir.Constant(copy.type.pointee, None)
        return module

    def serialize_using_object_code(self):
        # No object code exists: cache the IR, which is what callers link.
        # Numba loads such an entry into an ordinary library, which also
        # generates machine code for it (unused): that costs only a process
        # that compiles a caller against a kernel cached earlier.
        return self.serialize_using_bitcode()


#: Whether this Numba has the library internals the above overrides and
#: calls (all of them since at least 0.60); without them inner kernels are
#: compiled as ordinary Numba functions.
SUPPORTED = all(hasattr(JITCPUCodegen._library_class, name) for name in (
    "_finalize_dynamic_globals", "_verify_declare_only_symbols", "serialize_using_bitcode",
    "_optimize_final_module", "_finalize_final_module", "enable_object_caching")) and all(
    hasattr(JITCPUCodegen, name) for name in ("_add_module", "_create_empty_module"))


#: Passes of Numba's nopython pipeline that fastbp's kernels do not need,
#: by name: they handle ``with`` blocks, closures and comprehensions, and,
#: after type inference, array expressions (``a * b + c`` on arrays, fused
#: into one loop), none of which a kernel holds (kernels are loops over
#: arrays; none of them matched an after-inference rewrite). Each pass
#: still walks every function's IR: together about a twentieth of a cold
#: first fit. The machine code is the same without them (the default
#: path's ``train_epoch`` compared instruction by instruction).
UNNEEDED_PASSES = ("WithLifting", "InlineClosureLikes", "MakeFunctionToJitFunction",
                   "NopythonRewrites")


class _LibraryCompiler(Compiler):
    """Numba's default pipeline less :data:`UNNEEDED_PASSES`, lowering
    into a library of ``library_class``."""

    library_class = None

    def define_pipelines(self):
        lean = []
        for full in super().define_pipelines():
            pm = PassManager(full.pipeline_name)
            for cls, what in full.passes:
                if cls.__name__ not in UNNEEDED_PASSES:
                    pm.add_pass(cls, what)
            pm.finalize()
            lean.append(pm)
        return lean

    def compile_extra(self, func):
        if self.state.library is None:
            codegen = self.state.targetctx.codegen()
            self.state.library = self.library_class(codegen, func.__qualname__)
            self.state.library.enable_object_caching()
        return super().compile_extra(func)


class LinkOnlyCompiler(_LibraryCompiler):
    """Numba's pipeline (less :data:`UNNEEDED_PASSES`), lowering into a
    :class:`LinkOnlyLibrary`."""

    library_class = LinkOnlyLibrary


class EntryLibrary(JITCPUCodegen._library_class):
    """The code library of an entry point, whose linked callees stay its
    own.

    Numba links each callee into its caller as a ``linkonce_odr`` function:
    a weak symbol in the machine code it caches. When two entry points
    that share a callee are loaded, the JIT resolves both to whichever
    copy was loaded first, and the copies differ: each was optimised
    within its own caller's module, and fastbp's fast-math flags let that
    reorder a sum. A float64 batch-norm fit then trained a model one ulp
    apart (2.8e-15 after four epochs) when the process had predicted
    before fitting. Each callee is renamed after the entry point that
    linked it (a hash of the entry's own symbols, which Numba mangles with
    its argument types, so the same in every process), so a result never
    depends on what else the process ran first.

    Renamed rather than made internal: internal linkage gives the same
    results, but it opens the callees to LLVM's interprocedural passes and
    its inliner's bonus for a function's last call, and a cold process that
    compiles and runs a first fit took 0.3-0.4 s more CPU time (6.36
    against 5.95 s in float32, 6.31 against 6.05 in float64, medians of
    four alternating runs each).
    """

    def _optimize_final_module(self):
        defined = [fn for fn in self._final_module.functions if not fn.is_declaration]
        own = sorted(fn.name for fn in defined if fn.linkage != llvm.Linkage.linkonce_odr)
        tag = hashlib.sha1("\n".join(own).encode()).hexdigest()[:16]
        for fn in defined:
            if fn.linkage == llvm.Linkage.linkonce_odr:
                fn.name = f"{fn.name}.{tag}"
        super()._optimize_final_module()


class EntryCompiler(_LibraryCompiler):
    """Numba's pipeline (less :data:`UNNEEDED_PASSES`), lowering into an
    :class:`EntryLibrary`."""

    library_class = EntryLibrary
