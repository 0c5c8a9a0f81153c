"""Explicit SIMD vectors for the layer products: a numba type and six operations on it.

The layer products' loops (``_layers``) keep a tile of C in registers across the whole sum over
k, as vectors of ``VECTOR_BITS`` each (``_config``: one 512-bit register where AVX-512 is there,
8 float64 or 16 float32 lanes; 256 bits otherwise). Left to itself LLVM vectorizes only the
innermost loop of numba code, so a C tile would make a round trip through memory on every k (and
every pass pays run-time alias checks and a scalar remainder loop). The operations here emit
LLVM's generic vector IR directly, which LLVM maps to the machine's registers:

* ``vzeros(C)``            a vector of zeros of C's dtype
* ``vload(B, k, j)``       B[k, j:j+V]                            (all V lanes in bounds)
* ``vload_n(B, k, j, m)``  B[k, j:j+m], zeros in lanes m..V-1     (masked: no access past m)
* ``vstore(C, i, j, v)``   C[i, j:j+V] = v
* ``vstore_n(C, i, j, v, m)``  C[i, j:j+m] = v[:m]                (masked: no access past m)
* ``vfma(a, b, c)``        c + a·b in every lane, one rounding (fused), a a scalar

``lanes(C)`` is V for C's dtype. Arrays are 2-D and C-contiguous (a vector is V consecutive
elements of a row; anything else does not compile); the caller passes V (or m) lanes that lie
inside the row.
"""

from __future__ import annotations

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, models, overload, register_model
from numba.np.arrayobj import make_array

from ._config import VECTOR_BITS


class Vector(types.Type):
    """V lanes of a float dtype, held as one LLVM vector value."""

    def __init__(self, dtype, n_lanes):
        self.dtype = dtype
        self.n_lanes = n_lanes
        super().__init__(name=f"Vector({dtype} x {n_lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.n_lanes))


def _vector_of(array_type):
    if array_type.dtype not in (types.float32, types.float64):
        raise TypeError(f"SIMD vectors of {array_type.dtype} are not supported")
    return Vector(array_type.dtype, VECTOR_BITS // array_type.dtype.bitwidth)


def lanes(C):
    """Lanes of one vector of C's dtype (a compile-time constant)."""
    raise NotImplementedError("only callable from compiled code")


@overload(lanes)
def _lanes_impl(C):
    n = _vector_of(C).n_lanes
    return lambda C: n


def _element_pointer(context, builder, sig, args):
    """Pointer to element [args[1], args[2]] of the 2-D array args[0]."""
    array_type, array, i, j, index_types = sig.args[0], args[0], args[1], args[2], sig.args[1:3]
    ary = make_array(array_type)(context, builder, array)
    shape = cgutils.unpack_tuple(builder, ary.shape, 2)
    strides = cgutils.unpack_tuple(builder, ary.strides, 2)
    inds = [context.cast(builder, v, t, types.intp) for v, t in zip((i, j), index_types)]
    return cgutils.get_item_pointer2(context, builder, ary.data, shape, strides, array_type.layout,
                                     inds)


def _splat(builder, vector_type, scalar):
    """The scalar in every lane."""
    undef = ir.Constant(vector_type, ir.Undefined)
    first = builder.insert_element(undef, scalar, ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), vector_type.count), [0] * vector_type.count)
    return builder.shuffle_vector(first, undef, zeros)


def _lane_mask(context, builder, n_lanes, m, m_type):
    """<V x i1>: lane q is on if q < m."""
    i64 = ir.IntType(64)
    lane = ir.Constant(ir.VectorType(i64, n_lanes), [ir.Constant(i64, q) for q in range(n_lanes)])
    m = context.cast(builder, m, m_type, types.int64)
    return builder.icmp_signed("<", lane, _splat(builder, lane.type, m))


def _align(dtype):
    return dtype.bitwidth // 8


def _suffix(vector_type):
    element = "f64" if vector_type.element == ir.DoubleType() else "f32"
    return f"v{vector_type.count}{element}"


def _masked(builder, vector_type, store):
    mask = ir.VectorType(ir.IntType(1), vector_type.count)
    pointer = vector_type.as_pointer()
    if store:
        fnty = ir.FunctionType(ir.VoidType(), [vector_type, pointer, ir.IntType(32), mask])
        return cgutils.get_or_insert_function(builder.module, fnty,
                                              f"llvm.masked.store.{_suffix(vector_type)}.p0")
    fnty = ir.FunctionType(vector_type, [pointer, ir.IntType(32), mask, vector_type])
    return cgutils.get_or_insert_function(builder.module, fnty,
                                          f"llvm.masked.load.{_suffix(vector_type)}.p0")


def _is_2d_float(array):
    """A 2-D float array whose rows are contiguous (a vector is V consecutive elements)."""
    return (isinstance(array, types.Array) and array.ndim == 2 and array.layout == "C"
            and array.dtype in (types.float32, types.float64))


def _are_ints(*indices):
    return all(isinstance(t, types.Integer) for t in indices)


@intrinsic
def vzeros(typingctx, C):
    if not _is_2d_float(C):
        return None
    vt = _vector_of(C)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vt), None)

    return vt(C), codegen


def _load(masked):
    def codegen(context, builder, sig, args):
        vty = context.get_value_type(sig.return_type)
        p = builder.bitcast(_element_pointer(context, builder, sig, args), vty.as_pointer())
        align = _align(sig.args[0].dtype)
        if not masked:
            return builder.load(p, align=align)
        mask = _lane_mask(context, builder, vty.count, args[3], sig.args[3])
        return builder.call(_masked(builder, vty, store=False),
                            [p, ir.Constant(ir.IntType(32), align), mask, ir.Constant(vty, None)])

    return codegen


def _store(masked):
    def codegen(context, builder, sig, args):
        v = args[3]
        p = builder.bitcast(_element_pointer(context, builder, sig, args), v.type.as_pointer())
        align = _align(sig.args[0].dtype)
        if not masked:
            builder.store(v, p, align=align)
        else:
            mask = _lane_mask(context, builder, v.type.count, args[4], sig.args[4])
            builder.call(_masked(builder, v.type, store=True),
                         [v, p, ir.Constant(ir.IntType(32), align), mask])
        return context.get_dummy_value()

    return codegen


def _stores_into(C, v):
    """A writable array of v's dtype (numba's own setitem refuses read-only arrays too)."""
    return _is_2d_float(C) and C.mutable and isinstance(v, Vector) and v.dtype == C.dtype


@intrinsic
def vload(typingctx, B, k, j):
    if not (_is_2d_float(B) and _are_ints(k, j)):
        return None
    return _vector_of(B)(B, k, j), _load(masked=False)


@intrinsic
def vload_n(typingctx, B, k, j, m):
    if not (_is_2d_float(B) and _are_ints(k, j, m)):
        return None
    return _vector_of(B)(B, k, j, m), _load(masked=True)


@intrinsic
def vstore(typingctx, C, i, j, v):
    if not (_stores_into(C, v) and _are_ints(i, j)):
        return None
    return types.none(C, i, j, v), _store(masked=False)


@intrinsic
def vstore_n(typingctx, C, i, j, v, m):
    if not (_stores_into(C, v) and _are_ints(i, j, m)):
        return None
    return types.none(C, i, j, v, m), _store(masked=True)


@intrinsic
def vfma(typingctx, a, b, c):
    if not (isinstance(b, Vector) and b == c and a == b.dtype):  # no silent conversion
        return None

    def codegen(context, builder, sig, args):
        vty = args[1].type
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                             f"llvm.fma.{_suffix(vty)}")
        return builder.call(fma, [_splat(builder, vty, args[0]), args[1], args[2]])

    return b(a, b, c), codegen
