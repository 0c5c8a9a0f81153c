"""Calling a compiled kernel through its address (``jitmlp._native``)."""

from __future__ import annotations

import numpy as np
import pytest
from numba.core import cgutils, types
from numba.extending import intrinsic

from jitmlp._config import jit
from jitmlp._native import address_of, borrow, call_native


@jit(cache=False)
def _scale(x, factor, out):
    for i in range(x.shape[0]):
        out[i] = factor * x[i]


@jit(cache=False)
def _caller(kernel, x, factor, out):
    call_native(kernel, (x, factor, out))


def test_call_through_the_address_runs_the_kernel():
    x, out = np.arange(5.0), np.zeros(5)
    _caller(address_of(_scale, (x, 2.0, out)), x, 2.0, out)
    np.testing.assert_array_equal(out, 2.0 * x)


def test_literal_and_unsigned_arguments_use_the_same_compiled_kernel():
    x, out = np.arange(3.0), np.zeros(3)
    kernel = address_of(_scale, (x, 3, out))  # int64 factor

    @jit(cache=False)
    def caller_with_constants(kernel, x, out):
        call_native(kernel, (x, 3, out))  # a literal 3
        call_native(kernel, (x, np.uint64(3), out))  # an unsigned 3

    caller_with_constants(kernel, x, out)
    np.testing.assert_array_equal(out, 3.0 * x)


def test_other_argument_types_raise_instead_of_calling():
    x64, out64 = np.arange(4.0), np.zeros(4)
    x32, out32 = x64.astype(np.float32), np.zeros(4, np.float32)
    kernel64 = address_of(_scale, (x64, 2.0, out64))
    with pytest.raises(TypeError, match="other argument types"):
        _caller(kernel64, x32, 2.0, out32)
    np.testing.assert_array_equal(out32, 0.0)  # nothing was written


@jit(cache=False, internal=True)
def _internal_scale(x, factor, out):
    for i in range(x.shape[0]):
        out[i] = factor * x[i]


@jit(cache=False)
def _calls_internal(x, factor, out):
    _internal_scale(x, factor, out)


def test_an_internal_kernel_runs_from_compiled_code_and_refuses_python():
    """jit(internal=True) compiles no Python wrapper: compiled callers and its address work; a
    call from Python raises TypeError (a missing wrapper would crash the process)."""
    x, out = np.arange(4.0), np.zeros(4)
    _calls_internal(x, 3.0, out)  # compiles the internal kernel as a callee
    np.testing.assert_array_equal(out, 3.0 * x)
    _caller(address_of(_internal_scale, (x, 2.0, out)), x, 2.0, out)
    np.testing.assert_array_equal(out, 2.0 * x)
    with pytest.raises(TypeError, match="compiled code only"):
        _internal_scale(x, 2.0, out)


@jit(cache=False)
def _twice(x, out):
    for i in range(x.shape[0]):
        out[i] = 2.0 * x[i]


@jit(cache=False)
def _calls_twice(x, out):
    _twice(x, out)


def test_compiled_callers_and_addresses_use_the_twin_without_wrappers():
    """A kernel Python may call is compiled for compiled callers (and ``address_of``) as its
    twin ``callee``, without the Python wrappers; only a call from Python compiles the kernel
    itself, with them. Both give the same results."""
    x, out = np.arange(4.0), np.zeros(4)
    _calls_twice(x, out)
    np.testing.assert_array_equal(out, 2.0 * x)
    assert len(_twice.callee.signatures) == 1 and _twice.signatures == []
    out[:] = 0
    _caller(address_of(_scale, (x, 5.0, out)), x, 5.0, out)
    np.testing.assert_array_equal(out, 5.0 * x)
    assert len(_scale.callee.signatures) >= 1
    out[:] = 0
    _twice(x, out)  # from Python: the kernel with its wrappers
    np.testing.assert_array_equal(out, 2.0 * x)
    assert len(_twice.signatures) == 1 and len(_twice.callee.signatures) == 1
    with pytest.raises(TypeError, match="compiled code only"):
        _twice.callee(x, out)


@intrinsic
def _meminfo_address(typingctx, array):
    """The address of ``array``'s meminfo, its reference count (0: none, borrowed)."""

    def codegen(context, builder, signature, args):
        proxy = cgutils.create_struct_proxy(signature.args[0])(context, builder, value=args[0])
        return builder.ptrtoint(proxy.meminfo, cgutils.intp_t)

    return types.intp(array), codegen


@jit(cache=False)
def _record_meminfos(x, pair, out):
    """out[0], out[1], out[2]: the meminfo addresses of x, of pair[0] and of a view of x."""
    out[0] = _meminfo_address(x)
    out[1] = _meminfo_address(pair[0])
    out[2] = _meminfo_address(x[1:])


@jit(cache=False)
def _record_through_the_address(kernel, x, pair, out):
    call_native(kernel, (x, pair, out))


@jit(cache=False)
def _record_directly(x, pair, out):
    _record_meminfos(x, pair, out)


def test_a_kernel_called_through_its_address_gets_borrowed_arrays():
    """The arrays a kernel gets through ``call_native``, in tuples too, carry no reference
    count (their views neither): the callee's counting in and out is a null test, not an
    atomic add. Called directly, the same kernel sees the counted arrays."""
    x, y, out = np.arange(4.0), np.ones(3), np.full(3, -1, dtype=np.intp)
    kernel = address_of(_record_meminfos, (x, (y, x), out))
    _record_through_the_address(kernel, x, (y, x), out)
    np.testing.assert_array_equal(out, 0)
    _record_directly(x, (y, x), out)
    assert (out != 0).all()
    np.testing.assert_array_equal(x, np.arange(4.0))  # the caller's arrays are intact


@jit(cache=False)
def _borrowed_meminfos(x, pair, out):
    b_x, b_pair = borrow((x, pair))
    out[0] = _meminfo_address(b_x)
    out[1] = _meminfo_address(b_pair[0])
    out[2] = _meminfo_address(x)
    b_x[0] = 7.0  # the same memory


def test_borrow_gives_the_same_arrays_without_reference_counts():
    x, y, out = np.arange(4.0), np.ones(3), np.full(3, -1, dtype=np.intp)
    _borrowed_meminfos(x, (y, x), out)
    assert out[0] == 0 and out[1] == 0 and out[2] != 0
    np.testing.assert_array_equal(x, [7.0, 1.0, 2.0, 3.0])
