"""Numba options for every compiled kernel of jitmlp, in one place.

Every kernel is compiled with ``jit(...)`` or ``jit_parallel(...)`` from this module, never with a
bare ``numba.njit``; changing an option here changes it everywhere.

fastmath
    Only flags that keep NaN and inf detectable: no ``nnan``/``ninf``, so a diverging fit is
    still caught by the finiteness check. ``contract`` lets LLVM fuse multiply-add (FMA);
    ``nsz`` and ``arcp`` are harmless for training. No ``reassoc``: every sum is evaluated in
    the order the loop is written, which keeps results independent of thread count.
one compile per argument type
    Kernels are ``_Dispatcher``s: a call from compiled code compiles the callee for the plain
    types of its arguments, never for a literal constant (``f(x, 0)`` and ``f(x, i)`` share one
    compiled ``f``) or for prange's unsigned loop index (cast to int64). numba's own dispatcher
    compiles a callee once per literal value it is called with, and every such copy is linked,
    optimized and turned into machine code again in each caller.
internal kernels
    ``jit(internal=True)`` marks a kernel only compiled code calls (a helper of other kernels,
    or one called through its address, ``_native``): numba compiles it without the CPython and
    C wrappers a call from Python needs, the larger part of a small kernel's compile time. A
    call from Python raises TypeError. Every other kernel has such a twin (``callee``) that
    compiled callers and ``_native``'s addresses use: a kernel is compiled with wrappers only
    where Python calls it.
no reference counting (``nrt=False``)
    numba counts references to every array a compiled function holds: on entry it increments
    the count of each array among its arguments, a record's arrays included, and decrements it
    on the way out, each an atomic operation. A kernel called once per item of a minibatch's
    phases with all of the fit's records pays some 40 of them per call, which in a small
    network was most of what a minibatch costs beyond its arithmetic.
    ``jit(internal=True, nrt=False)`` compiles a kernel without reference counting (numba's
    private ``_nrt`` flag; its caller holds the references for the call). Only for a kernel that
    allocates nothing and that neither returns an array nor calls a function that does: such a
    callee, compiled with counting for another caller, hands it a reference it would never
    give back (numba refuses the first two at compile time; ``tests/test_leaks.py`` checks the
    third, fitting every kind of model with numba's allocation counts on).
cache
    Compiled kernels are written to numba's on-disk cache so a fresh process does not
    recompile. Where the package directory is not writable numba falls back to its user-wide
    cache directory (``NUMBA_CACHE_DIR`` overrides); if no location is writable numba warns and
    keeps working without a cache.
threading layer
    numba's ``tbb`` layer, the one that is both fork-safe (a process that forked after a fit or
    predict, and its children, keep working) and thread-safe (fits in several Python threads at
    once). The ``tbb`` wheel, a dependency on Linux x86-64, puts ``libtbb.so.12`` in the
    environment's ``lib`` folder, which the loader does not search: it is loaded here by its full
    path, before numba starts its thread pool, so that numba's default choice (tbb first) finds
    it. A layer or a priority the user set (``NUMBA_THREADING_LAYER``,
    ``NUMBA_THREADING_LAYER_PRIORITY`` or ``numba.config``) is left alone; where TBB cannot be
    loaded numba chooses as it always does (OpenMP, then workqueue).
"""

from __future__ import annotations

import ctypes
import hashlib
import sys
import types as types_module
from pathlib import Path

import numba
from numba.core import types
from numba.core.registry import CPUDispatcher

FASTMATH = frozenset({"nsz", "arcp", "contract"})
ERROR_MODEL = "numpy"  # no ZeroDivisionError checks in hot loops; IEEE results as numpy gives


# Threading layers that would take TBB if it is there ("default" follows the priority list).
_TBB_CANDIDATE_LAYERS = ("default", "tbb", "safe", "threadsafe", "forksafe")


def _tbb_library() -> Path | None:
    """libtbb.so.12 of the ``tbb`` wheel installed beside jitmlp, or None."""
    from importlib import metadata

    try:
        files = metadata.files("tbb") or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == "libtbb.so.12":
            path = Path(file.locate()).resolve()
            return path if path.is_file() else None
    return None


def _load_tbb() -> str | None:
    """Load the ``tbb`` wheel's libtbb.so.12 so that numba's TBB layer can be chosen.

    Returns the path loaded, or None where nothing was (not Linux, numba's pool already started,
    the user chose another layer, no ``tbb`` wheel, or loading it failed).
    """
    from numba.np.ufunc import parallel

    if (not sys.platform.startswith("linux") or getattr(parallel, "_is_initialized", True)
            or numba.config.THREADING_LAYER not in _TBB_CANDIDATE_LAYERS):
        return None
    try:
        library = _tbb_library()
        if library is None:
            return None
        ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
        return str(library)
    except Exception:  # a broken or foreign install: numba then chooses as it would without
        return None


TBB_LOADED = _load_tbb()


def _cache_probe():  # a plain function of this file, used to ask numba where it would cache
    return None


def _cache_dir() -> Path | None:
    """Where numba caches this package's kernels (NUMBA_CACHE_DIR's subfolder for this package if
    set, else its __pycache__, else a user-wide folder), or None if no location is writable."""
    try:
        from numba.core.caching import FunctionCache

        return Path(FunctionCache(_cache_probe)._cache_path)
    except Exception:  # numba: "cannot cache function ...: no locator available"
        return None


def _drop_stale_cache(cache_dir: Path) -> None:
    """Delete the package's cached kernels when any of its source files changed.

    numba checks only the timestamp of the file that defines a kernel, but our kernels inline
    code from other modules (``_elementary``, ``_layers``, ...): after an edit there, a cached
    epoch would silently keep the old code. A digest of the kernels' sources (KERNEL_SOURCES),
    kept beside the cached kernels (wherever numba keeps them, NUMBA_CACHE_DIR included),
    guards against that; an edit elsewhere (the estimators, files, the command line) keeps them.
    """
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for name in KERNEL_SOURCES:
        source = package / name
        digest.update(source.name.encode() + source.read_bytes())
    stamp = cache_dir / "jitmlp-sources.sha256"
    try:
        if stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return
        for cached in [*cache_dir.glob("*.nbi"), *cache_dir.glob("*.nbc")]:
            cached.unlink(missing_ok=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:  # read-only install: sources cannot change there either
        pass


# The modules compiled code is made from: those that define kernels, and what they import
# (tests/test_cache_stamp.py checks the list against the sources).
KERNEL_SOURCES = ("_activations.py", "_config.py", "_dropout.py", "_elementary.py", "_epoch.py",
                  "_layers.py", "_native.py", "_optimizers.py", "_outputs.py", "_predict.py",
                  "_records.py", "_shuffle.py", "_simd.py", "_sparse.py", "_views.py")
_CACHE_DIR = _cache_dir()
CACHE = _CACHE_DIR is not None
if CACHE:
    _drop_stale_cache(_CACHE_DIR)


def canonical_type(t):
    """The type a kernel is compiled for when compiled code calls it with an argument of type t."""
    t = types.unliteral(t)
    return types.int64 if t == types.uint64 else t


class _Dispatcher(CPUDispatcher):
    """numba's CPU dispatcher, compiling callees for canonical argument types (see above).

    A kernel Python calls has a twin for compiled code (``callee``): the same function compiled
    without the wrappers a call from Python needs, which compiled callers and ``_native``'s
    addresses use. A kernel both call is compiled twice; one that only compiled code calls (most
    of the epoch's helpers) is compiled once, without wrappers.
    """

    callee = None  # the twin compiled code calls (an _InternalDispatcher), or None: this one

    def get_call_template(self, args, kws):
        args = tuple(canonical_type(a) for a in args)
        kws = {k: canonical_type(v) for k, v in kws.items()}
        if self.callee is not None:
            return self.callee.get_call_template(args, kws)
        return super().get_call_template(args, kws)

    def get_overload(self, sig):
        """The compiled function a call from compiled code links (the twin's where it has one)."""
        if self.callee is not None:
            args = tuple(getattr(sig, "args", sig))
            if args in self.callee.overloads:
                return self.callee.get_overload(args)
        return super().get_overload(sig)


class _InternalDispatcher(_Dispatcher):
    """A kernel compiled without the wrappers that let Python call it (``jit(internal=True)``):
    compiled code calls it, directly or through its address (``_native``); a call from Python
    raises TypeError instead of running a missing wrapper."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__qualname__} is called from compiled code only "
                        "(jit(internal=True) compiles no Python wrapper for it)")


def _compile(func, options):
    if numba.config.DISABLE_JIT:
        return func
    cache = options.pop("cache")
    internal = options.pop("internal")
    if internal:  # the wrappers' code is most of a small kernel's compile time
        options.update(no_cpython_wrapper=True, no_cfunc_wrapper=True)
    if not options.pop("nrt"):  # module docstring: no reference counting
        if not internal:
            raise ValueError("nrt=False is for internal kernels (no Python caller)")
        options["_nrt"] = False
    kind = _InternalDispatcher if internal else _Dispatcher
    dispatcher = kind(py_func=func, locals={}, targetoptions=dict(options))
    if cache:
        dispatcher.enable_caching()
    if not internal and options.get("inline", "never") == "never":
        # under its own qualified name: numba's cache files are named by it, and the twin's
        # compiled code, without wrappers, must never load as the Python-callable one
        twin = function_copy(func, qualname=func.__qualname__ + "_callee")
        dispatcher.callee = _compile(twin, dict(options, internal=True, cache=cache, nrt=True))
    return dispatcher


def function_copy(func, qualname=None, **bound_globals):
    """A copy of ``func`` (same code, closure and defaults) for a kernel of its own: under
    ``qualname`` if given, and with ``bound_globals`` added to the globals it reads (numba
    reads a global's value when it compiles)."""
    copy = types_module.FunctionType(func.__code__, {**func.__globals__, **bound_globals}
                                     if bound_globals else func.__globals__, func.__name__,
                                     func.__defaults__, func.__closure__)
    copy.__kwdefaults__ = func.__kwdefaults__
    copy.__qualname__ = qualname or func.__qualname__
    copy.__doc__ = func.__doc__
    return copy


def jit(func=None, **overrides):
    """Compile ``func`` as a serial nopython kernel with the project's options.

    ``internal=True``: for a kernel only compiled code calls (a helper of other kernels, or one
    called through its address); it is compiled without the wrappers a call from Python needs.
    ``nrt=False`` (internal kernels only): compiled without reference counting, see the module
    docstring for where that is allowed.
    """
    options = dict(nopython=True, nogil=True, cache=CACHE, fastmath=set(FASTMATH),
                   error_model=ERROR_MODEL, internal=False, nrt=True)
    options.update(overrides)
    if func is None:
        return lambda f: _compile(f, dict(options))
    return _compile(func, dict(options))


def jit_parallel(func=None, **overrides):
    """Compile ``func`` as a parallel (prange) nopython kernel with the project's options."""
    return jit(func, parallel=True, **overrides)


def _target_features() -> str:
    """The CPU features numba compiles for: NUMBA_CPU_FEATURES if set, else the host's."""
    from numba.core.codegen import get_host_cpu_features

    features = numba.config.CPU_FEATURES
    return features if features is not None else get_host_cpu_features()


_AVX512 = "+avx512f" in _target_features().split(",")
# Bits of one SIMD vector of the layer products (_simd): one register where AVX-512 is there.
VECTOR_BITS = 512 if _AVX512 else 256
# Vectors across a register tile of C (_layers): 6 rows x 4 vectors = 24 accumulators fit AVX-512's
# 32 registers; with 16 (AVX2) 6 x 2 do (a 6 x 4 tile of 512-bit vectors would spill there;
# docs/performance.md).
TILE_VECTORS = 4 if _AVX512 else 2


# Tuning of the parallel kernels (not numba options, but kept beside them so the whole compile and
# threading policy reads in one file).
# A layer product smaller than this many flops runs on one thread: waking the thread pool costs
# microseconds, more than a tiny product takes.
PARALLEL_MIN_FLOPS = 2.0e6
# An elementwise pass over fewer elements than this runs on one thread.
PARALLEL_MIN_ELEMENTS = 32768
# Rows of the output handled together by one thread (the unit of work split across threads).
# A multiple of 6 keeps every block on the 6-row register tiles of _layers.py.
ROW_BLOCK = 12
# Layer products whose B (K x N: the weights, or grad_a for a weight gradient) or C has at least
# BLOCKED_MIN_BYTES (past L2), and C at least BLOCKED_MIN_M rows, run blocked
# (_layers.product_blocked): the sum over k in blocks of BLOCK_K terms, threads owning blocks of
# BLOCK_N columns of C. Under it the unblocked tiles are as fast (wide-f32's 1.6 MB weights are,
# and packing op(A) slows them down; docs/performance.md).
BLOCKED_MIN_BYTES = 2 << 20
BLOCKED_MIN_M = 24
BLOCK_K = 256
BLOCK_N = 128
# Column blocks of a blocked product are narrowed (to 4 vectors at least) until there are this many
# where C is wide enough: work for as many threads.
BLOCKED_MIN_BLOCKS = 16
# W_kᵀ is copied (_layers.transpose) in blocks of TRANSPOSE_BLOCK columns of W_k where the rows of
# W_kᵀ are a multiple of TRANSPOSE_ALIAS_BYTES apart (they share cache sets; docs/performance.md).
TRANSPOSE_ALIAS_BYTES = 4096
TRANSPOSE_BLOCK = 256
# Weight gradients (C = Aᵀ B) with fewer output columns than this (and at least NARROW_MIN_M rows)
# are computed transposed (Cᵀ = Bᵀ A, one thread), so the register tiles run along the long side.
NARROW_N = 16
NARROW_MIN_M = 16
# The order of every sum of a minibatch is a function of the shapes alone: the loss and the
# weight sum are taken over all of the batch's rows in row order; the gradient sums (grad W_k,
# grad b_k) over each of its row groups in row order, then the groups' sums in group order
# (_epoch.row_groups: up to MAX_GROUPS groups of at least MIN_GROUP_ROWS rows in the UNITS regime,
# else one). How the work is spread adapts to the thread count (_epoch.schedule): with no more
# threads than groups, each group runs whole on one thread (its rows, then its gradients: no
# data crosses between cores); with more, the row-local part (forward, loss, grad a of every
# layer) runs as units of rows, each at least MIN_UNIT_ROWS rows (two 6-row register tiles), then
# the weight gradients of every group as blocks of their rows (GRAD_ROWS_MIN, a multiple of the
# 6-row tiles, at least), about GRAD_ITEMS_PER_THREAD blocks per thread so that unequal blocks
# even out. Two groups: one per core on 2 cores, where a group's rows and gradients stay in its
# core's caches (digits 4.5x scikit-learn against 3.3x with one group; docs/performance.md).
MAX_GROUPS = 2
MIN_GROUP_ROWS = 16
MIN_UNIT_ROWS = 12
GRAD_ROWS_MIN = 6
GRAD_ITEMS_PER_THREAD = 2
# From this many flops per minibatch on, a batch runs as one chunk whose layer products split
# their rows over the threads instead (see _epoch.regime_of): set between the batches where one
# chunk per thread wins (100 MFLOP) and where the row-parallel chunk does (616 MFLOP;
# docs/performance.md).
CHUNKED_MAX_FLOPS = 2.0e8
# Under this many flops per minibatch the whole batch runs on the calling thread, as one chunk
# (see _epoch.regime_of): waking a second thread and moving θ and the gradient sums between the
# cores costs more than such a batch takes, and in slow spells of cross-core traffic much more
# (tiny-batch, 0.1 MFLOP per batch, is under it; digits, 6.3 MFLOP, is not; docs/performance.md).
SERIAL_MAX_FLOPS = 1.0e6
# Elements of θ per block of the fused gradient + optimizer step (_epoch.update_theta): small enough
# that a block of θ, its gradient, the optimizer's state and the chunks' sums stay in L1 between
# the step's three loops; also the grouping of the ‖W‖² sum, so a constant.
UPDATE_BLOCK = 1024
# Adam on a θ of at least this many bytes takes each block of weights' gradient straight from
# the row groups' sums (_epoch.update_kernels_of, _optimizers.adam_part_span), without storing
# it; smaller fits do not compile that kernel. From 512 KiB θ, m, v, the sums and grad (about
# 6 x θ) are past L2 and the step is bound by memory: regression's (737 KiB) step 229-246 ->
# 162-163 µs per batch (docs/performance.md).
ADAM_FROM_PARTS_MIN_BYTES = 512 << 10
# θ of at least this many elements is updated by all threads (digits' 7,510 elements gain;
# docs/performance.md).
UPDATE_PARALLEL_MIN = 4096
# Where each row group of a batch runs whole on a thread (_epoch._plan's fused plan), the
# optimizer's step runs in the same parallel region as the groups, not in one of its own
# (_epoch._step_share): the group that finishes last steps θ's blocks, and a group that finished
# before it, while it was still running on another thread, waits for it (at most SPIN_LIMIT
# polls, 1-15 ms) and takes blocks too. The step's region cost about 10 µs of a 100 µs digits
# batch (docs/performance.md).
SPIN_LIMIT = 1 << 18  # polls, each with the processor's pause hint (10-140 cycles)
# int64s between two of the counters of ``Workspace.sync`` (a cache line: no false sharing).
SYNC_STRIDE = 8
# Work (flops) of one compiled call in fit and predict: a longer epoch runs as several calls over
# consecutive slices of its minibatches, a larger prediction as several calls over row slices, so
# that Ctrl-C is seen between calls (0.02 s of work at 100 GFLOP/s, 0.4 s at 5), and a fit stops
# after the minibatch in progress. Never less than one minibatch (or one predict block) per call.
SLICE_FLOPS = 2.0e9
# Rows per block in predict: blocks are spread over the threads, each going through the forward
# pass with the serial kernels (a multiple of the 6-row register tiles of _layers.py).
PREDICT_BLOCK = 240
