"""Calling one compiled kernel from another through its address, so its code is compiled once.

numba links the LLVM IR of every callee into each library that calls it, and optimizes and turns
it into machine code again there. The epoch's ``chunk`` (forward, loss and backward: most of the
epoch's code) was so compiled five times in one fit: in its own library, in the prange body that
runs the chunks, in that body's two gufunc wrappers and in ``run_epoch``. Called through its
address instead, the chunk is compiled once, in its own library (and cached there), and each
caller compiles only a call.

The address is a run-time argument, ``kernel = address_of(dispatcher, args)``, taken in Python
from the dispatcher compiled (or loaded from numba's cache) for the types of ``args``; the caller
then runs ``call_native(kernel, args)`` with arguments of those same types. ``kernel`` also
carries a digest of the argument types, which the compiled call compares with the types it was
compiled for: a mismatch raises TypeError instead of calling code compiled for other types.
The arrays passed are borrowed (``_borrowed``): the callee does not count references to them.
"""

from __future__ import annotations

import platform
import zlib

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ._config import canonical_type, jit


def _digest(argtypes) -> int:
    """A digest of argument types, the same in every process (crc32 of their names)."""
    return zlib.crc32(repr(tuple(argtypes)).encode())


def _fingerprint(a):
    """What numba's type of ``a`` depends on, read cheaply: ``numba.typeof`` of an array is slow
    next to a predict of one row (docs/performance.md)."""
    if isinstance(a, np.ndarray):
        flags = a.flags
        return (type(a), a.dtype.str, a.ndim, flags.c_contiguous, flags.f_contiguous,
                flags.writeable, flags.aligned)
    if isinstance(a, tuple):
        return tuple(_fingerprint(x) for x in a)
    return type(a)


_ADDRESSES = {}  # (dispatcher, fingerprints of the arguments) -> (address, digest)


def address_of(dispatcher, args) -> tuple:
    """(address, digest) of ``dispatcher`` compiled for the types of ``args``, compiling it (or
    loading it from numba's cache) if needed. With NUMBA_DISABLE_JIT, (the function, 0)."""
    if numba.config.DISABLE_JIT:
        return (dispatcher, 0)
    key = (dispatcher, _fingerprint(args))
    found = _ADDRESSES.get(key)
    if found is not None:
        return found
    argtypes = tuple(canonical_type(numba.typeof(a)) for a in args)
    dispatcher = getattr(dispatcher, "callee", None) or dispatcher  # no Python wrappers needed
    dispatcher.compile(argtypes)
    cres = dispatcher.overloads[argtypes]
    address = cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
    # the compiled code stays loaded for the life of the process (numba never unloads it)
    _ADDRESSES[key] = found = (address, _digest(argtypes))
    return found


@jit(inline="always")
def kernel_at(table, row, column):
    """The kernel at ``table[row, column:column + 2]`` (address, digest), as ``call_native``
    takes it."""
    return (table[row, column], table[row, column + 1])


def kernel_table(rows, width: int) -> np.ndarray:
    """Rows of ``width`` values, ``address_of`` results side by side (address, digest, address,
    digest, ...), as the int64 table compiled code reads them from (an object array with
    NUMBA_DISABLE_JIT, where the addresses are the Python functions)."""
    table = np.zeros((len(rows), width), dtype=object if numba.config.DISABLE_JIT else np.int64)
    for i, row in enumerate(rows):
        table[i] = row
    return table


def _borrowed(context, builder, typ, value):
    """``value`` of numba type ``typ`` with every array in it (in tuples and records too)
    borrowed: the same array without its reference count (a null meminfo, as numba's arrays
    over foreign memory have). The kernel called gets these: the caller holds the references
    for the call, and a kernel returns nothing, so no array escapes it. Without this the
    callee counts every array of every record in and out (an atomic add each, twice per call:
    a quarter of a tiny-batch fit, docs/performance.md); with it those are a null test."""
    if isinstance(typ, types.Array):
        array = cgutils.create_struct_proxy(typ)(context, builder, value=value)
        array.meminfo = cgutils.get_null_value(array.meminfo.type)
        return array._getvalue()
    if isinstance(typ, types.BaseTuple):
        for i, member in enumerate(typ.types):
            value = builder.insert_value(
                value, _borrowed(context, builder, member, builder.extract_value(value, i)), i)
    return value


if numba.config.DISABLE_JIT:

    def borrow(args):
        """``args`` itself, in pure Python."""
        return args

else:

    @intrinsic
    def borrow(typingctx, args):
        """``args`` (a tuple) with every array in it borrowed (``_borrowed``), for a kernel
        called from Python to work on from its start: its calls to other compiled functions
        then count no references either. The arrays must not outlive the kernel's call (the
        Python caller holds their references): return none of them."""
        if not isinstance(args, types.BaseTuple):
            return None

        def codegen(context, builder, sig, llargs):
            return _borrowed(context, builder, sig.args[0], llargs[0])

        return args(args), codegen


if numba.config.DISABLE_JIT:

    def call_native(kernel, args):
        """kernel(*args), where ``kernel`` is ``address_of``'s (function, 0) in pure Python."""
        kernel[0](*args)

else:

    @intrinsic
    def call_native(typingctx, kernel, args):
        """Call the kernel at ``kernel = address_of(f, args)`` with the tuple ``args``; f returns
        nothing."""
        if not isinstance(kernel, types.BaseTuple) or not isinstance(args, types.BaseTuple):
            return None
        given_types = tuple(args.types)
        argtypes = tuple(canonical_type(t) for t in given_types)  # as address_of compiled for
        digest = _digest(argtypes)

        def codegen(context, builder, sig, llargs):
            address = builder.extract_value(llargs[0], 0)
            passed = builder.extract_value(llargs[0], 1)
            expected = context.get_constant(sig.args[0].types[1], digest)
            with builder.if_then(builder.icmp_signed("!=", passed, expected), likely=False):
                context.call_conv.return_user_exc(
                    builder, TypeError,
                    ("a compiled kernel was called with other argument types than it was "
                     "compiled for",))
            fnty = context.call_conv.get_function_type(types.none, argtypes)
            function = builder.inttoptr(address, fnty.as_pointer())
            values = [_borrowed(context, builder, canonical,
                                context.cast(builder, builder.extract_value(llargs[1], i), given,
                                             canonical))
                      for i, (given, canonical) in enumerate(zip(given_types, argtypes))]
            status, _ = context.call_conv.call_function(builder, function, types.none, argtypes,
                                                        values)
            with cgutils.if_unlikely(builder, status.is_error):
                context.call_conv.return_status_propagate(builder, status)
            return context.get_dummy_value()

        return types.none(kernel, args), codegen


if numba.config.DISABLE_JIT:

    def atomic_add(array, i, value):
        """array[i] += value; the value before (pure Python: one thread at a time)."""
        old = array[i]
        array[i] = old + value
        return old

    def atomic_load(array, i):
        """array[i]."""
        return array[i]

    def spin_pause():
        """Nothing (pure Python)."""

else:

    def _is_int64_array(typ):
        return isinstance(typ, types.Array) and typ.dtype == types.int64

    def _item_pointer(context, builder, array_type, array, i):
        """The address of array[i] (1-D) in generated code."""
        ary = context.make_array(array_type)(context, builder, array)
        return cgutils.get_item_pointer(context, builder, array_type, ary, [i])

    @intrinsic
    def atomic_add(typingctx, array, i, value):
        """array[i] += value as one atomic step (sequentially consistent) of an int64 array;
        returns the value before. The writes a thread made before it are seen by a thread that
        reads the sum with ``atomic_load`` after."""
        if not _is_int64_array(array):
            return None
        sig = types.int64(array, types.intp, types.int64)

        def codegen(context, builder, sig, llargs):
            ptr = _item_pointer(context, builder, sig.args[0], llargs[0], llargs[1])
            return builder.atomic_rmw("add", ptr, llargs[2], "seq_cst")

        return sig, codegen

    @intrinsic
    def atomic_load(typingctx, array, i):
        """array[i] of an int64 array, read atomically (acquire): never hoisted out of a loop
        that waits for another thread's ``atomic_add``."""
        if not _is_int64_array(array):
            return None
        sig = types.int64(array, types.intp)

        def codegen(context, builder, sig, llargs):
            ptr = _item_pointer(context, builder, sig.args[0], llargs[0], llargs[1])
            return builder.load_atomic(ptr, "acquire", 8)

        return sig, codegen

    _MACHINE = platform.machine().lower()

    @intrinsic
    def spin_pause(typingctx):
        """The processor's hint for one poll of a wait loop (x86 ``pause``, arm64 ``yield``;
        nothing elsewhere): the poll yields the core's resources to a sibling hyperthread (which
        may be the very thread waited for) and leaves the loop without a memory-order stall."""
        sig = types.void()

        def codegen(context, builder, sig, llargs):
            if _MACHINE in ("x86_64", "amd64", "i386", "i686"):
                fn = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
                builder.call(fn, [])
            elif _MACHINE in ("aarch64", "arm64"):
                fn = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(ir.VoidType(), [ir.IntType(32)]),
                    "llvm.aarch64.hint")
                builder.call(fn, [ir.Constant(ir.IntType(32), 1)])  # hint #1: yield
            return context.get_dummy_value()

        return sig, codegen
