"""Views of contiguous workspace memory as rows, for compiled code: reshape without the detour.

θ and the workspaces are flat arrays; every layer's W_k, h_k and grad a_k is a (rows, cols) view
into one of them, and the elementwise passes see a (rows, cols) block as one flat span. numba
compiles ``a.reshape(...)`` for any layout into a call of its C helper
``numba_attempt_nocopy_reshape`` (an order of magnitude dearer than a slice), and a
small batch takes a few dozen such views per layer pass. Here the C-contiguous case is built
directly: same data pointer, same owner (the view keeps the buffer alive, as a reshape does),
shape and strides written out. ``as_rows`` checks the element count, so a wrong size raises
instead of reading past the buffer; ``as_flat`` views exactly the block's own elements.
"""

from __future__ import annotations

from numba.core import types
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from ._config import jit


def _view_codegen(n_dims):
    def codegen(context, builder, sig, args):
        source = make_array(sig.args[0])(context, builder, args[0])
        view = make_array(sig.return_type)(context, builder)
        itemsize = source.itemsize
        if n_dims == 1:
            shape = [source.nitems]
            strides = [itemsize]
        else:
            rows = context.cast(builder, args[1], sig.args[1], types.intp)
            cols = context.cast(builder, args[2], sig.args[2], types.intp)
            shape = [rows, cols]
            strides = [builder.mul(cols, itemsize), itemsize]
        populate_array(view, data=source.data, shape=shape, strides=strides, itemsize=itemsize,
                       meminfo=source.meminfo, parent=source.parent)
        return impl_ret_borrowed(context, builder, sig.return_type, view._getvalue())

    return codegen


@intrinsic
def _rows_unchecked(typingctx, flat, rows, cols):
    if not (isinstance(flat, types.Array) and flat.ndim == 1 and flat.layout == "C"):
        return None
    return flat.copy(ndim=2, layout="C")(flat, rows, cols), _view_codegen(2)


@intrinsic
def _flat_unchecked(typingctx, block):
    if not (isinstance(block, types.Array) and block.layout == "C"):
        return None
    return block.copy(ndim=1, layout="C")(block), _view_codegen(1)


@jit(inline="always")
def as_rows(flat, rows, cols):
    """The contiguous 1-D ``flat`` of rows·cols elements as a (rows, cols) C-order view."""
    if flat.shape[0] != rows * cols:
        raise ValueError("as_rows: the span does not hold rows x cols elements")
    return _rows_unchecked(flat, rows, cols)


@jit(inline="always")
def as_flat(block):
    """A C-contiguous array as a 1-D view of all its elements (row after row)."""
    return _flat_unchecked(block)
