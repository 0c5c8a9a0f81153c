"""One compiled epoch: minibatches -> forward -> backward -> update, and the pieces it composes.

The lecture's algorithm, for each minibatch:

    h_0 = x;  a_k = b_k + W_k h_{k-1},  h_k = g(a_k)  (k < L);  ŷ = O(a_L)        forward
    grad a_L = ŷ - y                                                               output gradient
    grad W_k = grad a_k h_{k-1}ᵀ,  grad b_k = grad a_k                             weight gradients
    grad h_{k-1} = W_kᵀ grad a_k,  grad a_{k-1} = grad h_{k-1} ⊙ g'(a_{k-1})    to the layer below
    θ ← update(θ, grad θ)

with scikit-learn's conventions on top: per-sample weights multiply grad a_L, gradients are
divided by the batch's weight sum, and the L2 term α‖W‖²/2 is added to the loss (α·W to grad W).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import prange
from numba.core import cgutils, types
from numba.extending import intrinsic
from numba.np.ufunc.parallel import _launch_threads

from ._activations import bias_g, bias_g_serial, g_prime, g_prime_serial
from ._config import (
    ADAM_FROM_PARTS_MIN_BYTES,
    BLOCKED_MIN_BYTES,
    CHUNKED_MAX_FLOPS,
    GRAD_ITEMS_PER_THREAD,
    GRAD_ROWS_MIN,
    MAX_GROUPS,
    MIN_GROUP_ROWS,
    MIN_UNIT_ROWS,
    PARALLEL_MIN_ELEMENTS,
    ROW_BLOCK,
    SERIAL_MAX_FLOPS,
    SPIN_LIMIT,
    SYNC_STRIDE,
    TILE_VECTORS,
    UPDATE_BLOCK,
    UPDATE_PARALLEL_MIN,
    jit,
    jit_parallel,
)
from ._dropout import RATES, dropout_rows, dropout_rows_in_place
from ._layers import product_large, product_rows, product_span, runs_blocked, transpose
from ._native import (
    address_of,
    atomic_add,
    atomic_load,
    borrow,
    call_native,
    kernel_at,
    kernel_table,
    spin_pause,
)
from ._optimizers import (
    ADAM,
    PART_SUMS_MAX,
    adam_part_span,
    adam_span,
    adam_step_size,
    clip_factor,
    scale_span,
    sgd_span,
)
from ._outputs import KERNELS as O_KERNELS
from ._outputs import O_HUBER, O_IDENTITY
from ._sparse import _csr_tn_columns, csr_matmul, csr_matmul_rows, csr_matmul_tn
from ._views import as_rows


@intrinsic
def get_num_threads(typingctx):
    """numba's thread count of the calling thread, in compiled code, through the symbol the
    thread pool registers (as prange's own code does). ``numba.get_num_threads`` called in
    compiled code embeds the address of a ctypes function: a dynamic global, with which numba
    cannot cache the caller (run_epoch would compile again in every process)."""
    _launch_threads()

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(cgutils.intp_t, []),
                                            "get_num_threads")
        return builder.call(fn, [])

    return types.intp(), codegen


if numba.config.DISABLE_JIT:  # plain Python: numba's own function
    get_num_threads = numba.get_num_threads  # noqa: F811


@jit(internal=True)
def W_k(theta, units, w_off, k):
    """View of W_k, k = 1..L (scikit-learn's coefs_[k - 1]) inside θ, shape (fan_in, fan_out)
    = (units[k - 1], units[k]): row i, column j is the weight from unit i of h_{k-1} to unit j
    of a_k."""
    start = w_off[k - 1]
    return as_rows(theta[start : start + units[k - 1] * units[k]], units[k - 1], units[k])


@jit(internal=True)
def b_k(theta, units, b_off, k):
    """View of b_k, k = 1..L (scikit-learn's intercepts_[k - 1]) inside θ."""
    return theta[b_off[k - 1] : b_off[k - 1] + units[k]]


@jit(internal=True)
def _gather_span(X, idx, h0, r0, r1):
    for r in range(r0, r1):
        src = X[idx[r]]
        dst = h0[r]
        for i in range(src.shape[0]):
            dst[i] = src[i]


@jit_parallel(internal=True)
def gather_rows_parallel(X, idx, h0):
    """h_0 = X[idx] with fixed blocks of rows spread over threads (for large batches)."""
    n = idx.shape[0]
    if h0.size < PARALLEL_MIN_ELEMENTS:
        _gather_span(X, idx, h0, 0, n)
        return
    for blk in prange((n + 7) // 8):
        _gather_span(X, idx, h0, blk * 8, min(n, blk * 8 + 8))


@jit
def gather_rows(X, idx, h0):
    """h_0 = X[idx]: the minibatch, copied contiguous (the order of idx is the shuffle)."""
    _gather_span(X, idx, h0, 0, idx.shape[0])


# Rows of the ``kernels`` table of an epoch (``chunk_kernels_of``) and of prediction
# (``predict_kernel_of``): (address, digest) of the kernels they call through ``_native``, each
# compiled once in its own library (not again inside every caller), and only where it is used.
# A row a table does not use holds (0, 0): a call through it raises TypeError.
BIAS_O, LOSS = 0, 1  # the output function's ŷ = O(a_L + b_L), and the loss with grad a_L
PRODUCT, PRODUCT_ROWS_PARALLEL = 2, 3  # layer products: serial (rows i0:i1), rows over threads
CHUNK, CHUNK_ROWS_PARALLEL = 4, 5  # the epoch's row units (``unit_rows``), the row-parallel batch
PREDICT_BLOCK = 6  # prediction's ``_predict_block``
# dropout's masks forward and backward (``_dropout.dropout_rows``, ``dropout_rows_in_place``):
# only in fits where some hidden layer drops units
DROPOUT, DROPOUT_IN_PLACE = 7, 8
# the blocked layer product for operands past L2 (``_layers.product_large``): only in fits whose
# row-parallel batches have such a layer; without it those products run on PRODUCT_ROWS_PARALLEL
# (the same bits)
PRODUCT_LARGE = 9
GRAD_BLOCK = 10  # one block of a weight gradient's rows (``grad_block``)
# the blocked product with B = W_kᵀ read as the view W_k.T (packed from W_k's rows): grad h of a
# row-parallel batch where it runs blocked, so that W_k needs no transposed copy; in the same fits
# as PRODUCT_LARGE (the same bits as the product from the copy)
PRODUCT_LARGE_T = 11
# an item of ``run_epoch``'s phases (``_epoch_item``: a row unit, a weight-gradient block, a block
# of θ's update), so that neither run_epoch nor its parallel body compiles that code again
EPOCH_ITEM = 12
# Adam's step of a block of weights straight from the row groups' gradient sums
# (``_adam_block``): only in fits of a θ of ADAM_FROM_PARTS_MIN_BYTES or more
# (``update_kernels_of``)
ADAM_FROM_PARTS = 13
# W_2..W_L transposed into a copy of W_kᵀ (``transpose_weights``): by the batch's start, or by
# each row group's item (``_plan``), whose kernel counts no references and so calls it here
TRANSPOSE_W = 14
N_KERNELS = 15

# The phases of one minibatch in ``run_epoch``, each a set of independent items run by one
# prange (one parallel body to compile for all of them), or on the calling thread:
ROW_UNITS, GRAD_BLOCKS = 0, 1  # the data term's (``_phase_item``), as in ``batch_data_term``
NORM_PASS, STEP_PASS = 2, 3  # the update's blocks of θ (``_update_block``), as in ``update_theta``
# the row units where each is a whole row group, each then a share of the step (``_step_share``)
UNITS_THEN_STEP = 4
# the counters in ``Workspace.sync`` of a UNITS_THEN_STEP phase: its items started, finished, and
# the next share of θ's blocks to step; SYNC_SIZE int64s in all (``Layout.workspace``)
STARTED, FINISHED, NEXT_SHARE = 0, SYNC_STRIDE, 2 * SYNC_STRIDE
SYNC_SIZE = 3 * SYNC_STRIDE

# How a minibatch runs (``regime_of``, a function of the shapes alone)
SERIAL, UNITS, ROWS_PARALLEL = 0, 1, 2


@jit(internal=True)
def chunk_rows(buf, off, width, r0, r1):
    """View of rows r0:r1 of a (rows, width) block of a flat workspace."""
    return as_rows(buf[off + r0 * width : off + r1 * width], r1 - r0, width)


@jit(internal=True)
def n_weights_of(units):
    """Σ_k fan_in_k · fan_out_k: how many of θ's elements are weights (they come first)."""
    n = 0
    for k in range(units.shape[0] - 1):
        n += units[k] * units[k + 1]
    return n


@jit
def regime_of(nb, units):
    """How a batch of nb rows runs, from the shapes alone (never the thread count):

    SERIAL         under SERIAL_MAX_FLOPS, all of it on the calling thread: too little work to
                   pay for waking a second thread and moving θ and the gradients between cores;
    UNITS          up to CHUNKED_MAX_FLOPS, with the serial kernels (``schedule``): each row
                   group (``row_groups``) whole on a thread, or with more threads than groups
                   the row-local work (forward, loss, grad a of every layer) as units of rows
                   side by side, then the groups' weight gradients as blocks of their rows;
    ROWS_PARALLEL  from CHUNKED_MAX_FLOPS on, one pass whose layer products split their rows (or
                   columns) over the threads: better-shaped products, no per-unit overhead.

    Each gives the same bits for any thread count: every sum runs in an order fixed by the
    shapes (over the batch's rows, or its row groups' rows, in row order; the groups in order).
    """
    flops = batch_flops(nb, units)
    if flops < SERIAL_MAX_FLOPS:
        return SERIAL
    if flops < CHUNKED_MAX_FLOPS:
        return UNITS
    return ROWS_PARALLEL


@jit
def runs_rows_parallel(nb, units):
    """Whether a batch of nb rows runs as one pass whose layer products split their rows over
    the threads (``regime_of``)."""
    return regime_of(nb, units) == ROWS_PARALLEL


@jit
def batch_flops(nb, units):
    """Flops of forward and backward of nb rows (no gradient to the input layer)."""
    return 2.0 * nb * (3 * n_weights_of(units) - units[0] * units[1])


@jit
def row_groups(nb, units):
    """How many groups of rows the gradient sums of a batch of nb rows are taken in (each
    group's in row order, then the groups' sums in group order), from the shapes alone: up to
    MAX_GROUPS groups of at least MIN_GROUP_ROWS rows in the UNITS regime, else one. Group g
    is rows g·nb//groups to (g + 1)·nb//groups."""
    if regime_of(nb, units) != UNITS:
        return 1
    return max(1, min(MAX_GROUPS, nb // MIN_GROUP_ROWS))


@jit(internal=True)
def _plan(nb, units, sparse, n_threads):
    """How a UNITS or SERIAL batch of nb rows runs on n_threads threads: (row groups, row units
    per group, work per gradient block, gradient blocks per group, fused, own W_kᵀ), a tuple of
    int64s and bools (a prange body cannot take a tuple of one type). With no more threads
    than groups (fused), each group is one item: its rows, then its whole gradients; where
    those items run side by side (own W_kᵀ), each first transposes W_2..W_L into its group's
    ``work.wt[g]``, on its own core, instead of all of them on the calling thread before.
    Else each group's rows run as up to n_threads/groups units of at least MIN_UNIT_ROWS rows,
    and its gradients as blocks (``_grad_per_block`` for n_threads/groups threads)."""
    groups = row_groups(nb, units)
    if n_threads <= groups:
        per_block = _grad_per_block(units, sparse, 1)
        return (np.int64(groups), np.int64(1), np.int64(per_block),
                np.int64(_grad_count(units, sparse, per_block)), True,
                groups > 1 and n_threads > 1)
    per_group = -(-n_threads // groups)
    row_units = max(1, min(per_group, nb // groups // MIN_UNIT_ROWS))
    per_block = _grad_per_block(units, sparse, per_group)
    return (np.int64(groups), np.int64(row_units), np.int64(per_block),
            np.int64(_grad_count(units, sparse, per_block)), False, False)


@jit(internal=True)
def _grad_dim(units, sparse, k):
    """(length, work per unit of length) of the dimension grad W_k (k = 1..L) is split along:
    its rows (fan_in), or for sparse input's first layer its columns (fan_out)."""
    if k == 1 and sparse:
        return units[1], units[0]
    return units[k - 1], units[k]


@jit(internal=True)
def _grad_block(units, sparse, k, per_block):
    """Rows (or columns) per block of weight gradient k for blocks of about ``per_block`` of
    work: the whole gradient, or a multiple of GRAD_ROWS_MIN (the 6-row register tiles)."""
    length, per_unit = _grad_dim(units, sparse, k)
    block = per_block // max(1, per_unit)
    if block >= length:
        return max(1, length)
    return max(GRAD_ROWS_MIN, block // GRAD_ROWS_MIN * GRAD_ROWS_MIN)


@jit(internal=True)
def _grad_count(units, sparse, per_block):
    n = 0
    for k in range(1, units.shape[0]):
        length = _grad_dim(units, sparse, k)[0]
        n += -(-length // _grad_block(units, sparse, k, per_block))
    return n


@jit(internal=True)
def _grad_per_block(units, sparse, n_threads):
    """Work per block of the weight gradients on n_threads threads: about 1/(GRAD_ITEMS_PER_THREAD
    · n_threads) of all of it (a layer's share of the blocks follows its share of the flops,
    and unequal blocks even out), less where that leaves fewer blocks than threads while the
    shapes have room for more; one thread: each gradient whole."""
    total = 0
    for k in range(units.shape[0] - 1):
        total += units[k] * units[k + 1]
    if n_threads <= 1:
        return total
    most = _grad_count(units, sparse, 0)  # blocks of GRAD_ROWS_MIN rows
    per_block = max(1, total // (GRAD_ITEMS_PER_THREAD * n_threads))
    while per_block > 1 and _grad_count(units, sparse, per_block) < min(n_threads, most):
        per_block //= 2
    return per_block


@jit
def grad_blocks(units, sparse, n_threads):
    """How many blocks the weight gradients of one row group run as on n_threads threads."""
    return _grad_count(units, sparse, _grad_per_block(units, sparse, n_threads))


@jit
def grad_block_at(units, sparse, n_threads, t):
    """(k, i0, i1) of block t of the weight gradients (``grad_blocks``): rows i0:i1 of grad W_k,
    k = 1..L (columns for sparse input's first layer); (-1, 0, 0) past them."""
    return _grad_block_of(units, sparse, _grad_per_block(units, sparse, n_threads), t)


@jit(internal=True)
def _grad_block_of(units, sparse, per_block, t):
    for k in range(1, units.shape[0]):
        length = _grad_dim(units, sparse, k)[0]
        block = _grad_block(units, sparse, k, per_block)
        n = -(-length // block)
        if t < n:
            return k, t * block, min(length, (t + 1) * block)
        t -= n
    return -1, 0, 0


@jit(internal=True)
def _items(plan):
    """(items of the row-local phase, of the weight-gradient phase) of a ``_plan``: one per
    row unit; one per gradient block, or none where each group's gradients run in its unit."""
    groups, per_group, _, n_grad, fused, _ = plan
    return groups * per_group, 0 if fused else groups * n_grad


@jit
def schedule(nb, units, n_threads, sparse=False):
    """How the work of a batch of nb rows is spread on n_threads threads: (independent items
    of the first parallel region, of the second; 0: no second region, each group's gradients
    run in its item of the first). A pure function of its arguments; the bits of the result
    depend on neither count (each item owns whole rows of the row-local work, or whole rows of
    a row group's weight gradient; every sum in row order within its group, ``row_groups``)."""
    regime = regime_of(nb, units)
    if regime == SERIAL:
        return 1, 0
    if regime == ROWS_PARALLEL:  # the products' own fixed blocks of ROW_BLOCK rows: of the
        # batch's rows, and of the first weight gradient's (the largest, most often)
        return -(-nb // ROW_BLOCK), -(-units[0] // ROW_BLOCK)
    return _items(_plan(nb, units, sparse, max(1, n_threads)))


# Dense input comes with X_csr None, sparse input with X_csr = (data, indices, indptr). numba
# prunes an ``X_csr is None`` branch by the argument's type when it compiles the caller (through
# inlined calls too), so a fit on dense input never compiles the sparse kernels (and the reverse).
# That pruning reads a kernel's own arguments only: X_csr is one, beside the ``Data`` record.
#
# The kernels (the functions compiled on their own and called through ``_native``, and the entry
# points) take the records of ``_records``: ``net`` the Network, ``data`` the Data, ``work`` the
# Workspace, ``step`` the optimizer's Step; ``dropout`` is the record of ``_dropout`` (rates,
# seed, epoch). The small helpers they call take the few arrays they read: a record passed to a
# function numba compiles on its own is every member array passed (and reference-counted).


@jit(inline="always")
def first_layer_product(kernels, X_csr, rows, h_0, W, a, parallel):
    """a_1 = h_0 W_1 (before the bias): from the gathered rows h_0 of dense input, or from the
    stored non-zeros of sparse input's rows ``rows`` (then h_0 is not used)."""
    if X_csr is None:
        layer_product(kernels, h_0, False, W, a, parallel)
    elif parallel:  # the whole batch: rows split over threads
        csr_matmul(X_csr[0], X_csr[1], X_csr[2], rows, W, a)
    else:
        csr_matmul_rows(X_csr[0], X_csr[1], X_csr[2], rows, W, a, 0, rows.shape[0])


@jit(inline="always")
def first_layer_grad_W(kernels, X_csr, rows, h_0, grad_a, gW, parallel):
    """grad W_1 = h_0ᵀ grad a_1 (dense input), or X[rows]ᵀ grad a_1 from the stored non-zeros
    (sparse input; h_0 is not used), rows (or columns) split over threads."""
    if X_csr is None:
        layer_product(kernels, h_0, True, grad_a, gW, parallel)
    else:  # the whole batch: column blocks split over threads
        csr_matmul_tn(X_csr[0], X_csr[1], X_csr[2], rows, grad_a, gW)


@jit(internal=True)
def drops(dropout, k):
    """Whether hidden layer k (1..L-1) drops units: its rate in the dropout record is > 0."""
    return k >= 1 and dropout[RATES + k - 1] > 0


@jit(internal=True)
def layer_input(h_buf, h_off, units, dropout, k, r0, r1):
    """Rows r0:r1 of h_k as layer k+1 reads it: h̃_k = h_k ⊙ m_k / (1 − p_k) where hidden layer
    k drops units (``_dropout``), kept in the workspace's h̃ block (``Layout.workspace``), else
    h_k."""
    if drops(dropout, k):
        L = h_off.shape[0] - 4
        return chunk_rows(h_buf, h_off[L + 3] + h_off[k] - h_off[1], units[k], r0, r1)
    return chunk_rows(h_buf, h_off[k], units[k], r0, r1)


@jit(inline="always")
def forward_chunk(kernels, X_csr, rows, theta, net, work, r0, parallel, dropout):
    """Forward pass of the samples ``rows`` (indices into X), rows r0.. of the batch's
    workspace; leaves ŷ in their rows of h_L.

    ``net.act`` is the network's ``g_kernels`` table (``_activations``), ``kernels`` the
    epoch's (O is its BIAS_O row). A hidden layer with a dropout rate in ``dropout`` (the
    record of ``_dropout``) also writes h̃_k into the workspace's h̃ block (``layer_input``).

    Dense input (X_csr is None) has been gathered into h_0; sparse input (X_csr = (data, indices,
    indptr)) is read from its stored non-zeros by the first layer directly.
    """
    units, w_off, b_off, act = net.units, net.w_off, net.b_off, net.act
    h_buf, h_off = work.h_buf, work.h_off
    L = units.shape[0] - 1
    r1 = r0 + rows.shape[0]
    for k in range(1, L + 1):
        # a_k = W_k h_{k-1} (rows: samples), in h_k's rows of the workspace
        W = W_k(theta, units, w_off, k)
        a = chunk_rows(h_buf, h_off[k], units[k], r0, r1)
        h_prev = layer_input(h_buf, h_off, units, dropout, k - 1, r0, r1)  # h̃ if it drops
        if k == 1:
            first_layer_product(kernels, X_csr, rows, h_prev, W, a, parallel)
        else:
            layer_product(kernels, h_prev, False, W, a, parallel)
        if k < L:
            # h_k = g(a_k + b_k), in place (act's row k - 1 is layer k's g)
            bias_g_of(act, k - 1, a, b_k(theta, units, b_off, k),
                      kept_g_prime(h_buf, h_off, units, k, r0, r1), parallel)
            if drops(dropout, k):  # h̃_k = h_k ⊙ m / (1 − p)
                call_native(kernel_at(kernels, DROPOUT, 0),
                            (a, layer_input(h_buf, h_off, units, dropout, k, r0, r1), rows,
                             np.int64(k), dropout))
        else:  # ŷ = O(a_L + b_L)
            call_native(kernel_at(kernels, BIAS_O, 0), (a, b_k(theta, units, b_off, k)))


@jit(internal=True)
def layer_product(kernels, A, a_transposed, B, C, parallel):
    """C = op(A) @ B (``_layers.product``): on the calling thread, or if ``parallel`` split over
    threads, blocked for operands past L2 where the table has that kernel."""
    row = PRODUCT
    if parallel:
        row = PRODUCT_ROWS_PARALLEL
        if kernels[PRODUCT_LARGE, 0] != 0 and runs_blocked(a_transposed, B, C):
            row = PRODUCT_LARGE
        call_native(kernel_at(kernels, row, 0), (A, a_transposed, B, C))
    else:
        call_native(kernel_at(kernels, row, 0),
                    (A, a_transposed, B, C, np.int64(0), np.int64(C.shape[0])))


@jit(internal=True)
def kept_g_prime(h_buf, h_off, units, k, r0, r1):
    """Rows r0:r1 of d_k = g'(a_k) of hidden layer k = 1..L-1, for activations that keep it
    (``_activations.KEEPS_G_PRIME``): the workspace's d block, laid out as grad a, where
    ``Layout.workspace(keep_g_prime=True)`` made room; else an empty view (g only)."""
    L = h_off.shape[0] - 4
    if h_off[L + 2] < 0:
        return chunk_rows(h_buf, 0, units[k], 0, 0)
    return chunk_rows(h_buf, h_off[L + 2] + h_off[k] - h_off[1], units[k], r0, r1)


@jit(inline="always")
def bias_g_of(act, k, a, b, d, parallel):
    """h = g(a + b) with hidden layer k's g (d = g'(a + b) for a kept g), rows split over
    threads if ``parallel``."""
    if parallel:
        bias_g(act, k, a, b, d)
    else:
        bias_g_serial(act, k, a, b, d)


@jit(inline="always")
def g_prime_of(act, k, h, d, grad_a, parallel):
    """grad_a <- grad_h ⊙ g'(a) with hidden layer k's g, rows split over threads if
    ``parallel``."""
    if parallel:
        g_prime(act, k, h, d, grad_a)
    else:
        g_prime_serial(act, k, h, d, grad_a)


@jit(inline="always")
def gather_of(X, idx, h0, parallel):
    """h_0 = X[idx], rows split over threads if ``parallel``."""
    if parallel:
        gather_rows_parallel(X, idx, h0)
    else:
        gather_rows(X, idx, h0)


@jit(internal=True)
def Wt_k(wt, units, k):
    """View of W_kᵀ, k = 2..L (scikit-learn's coefs_[k - 1] transposed), in the ``wt``
    workspace (W_2ᵀ .. W_Lᵀ one after the other), shape (fan_out, fan_in)."""
    start = 0
    for q in range(2, k):
        start += units[q - 1] * units[q]
    return as_rows(wt[start : start + units[k - 1] * units[k]], units[k], units[k - 1])


@jit(internal=True)
def transpose_weights(theta, units, w_off, wt):
    """W_kᵀ into ``wt`` for k = 2..L, for the gradients to the layers below."""
    for k in range(2, units.shape[0]):
        transpose(W_k(theta, units, w_off, k), Wt_k(wt, units, k))


@jit(internal=True)
def grad_h_from_W(kernels, Wt, grad_h):
    """Whether grad h = grad a W_kᵀ of a row-parallel batch runs blocked with W_kᵀ packed from
    W_k itself (PRODUCT_LARGE_T), for the shapes of W_kᵀ (``Wt``) and grad h: then W_k is not
    transposed into the workspace (``chunk_rows_parallel``)."""
    return kernels[PRODUCT_LARGE_T, 0] != 0 and runs_blocked(False, Wt, grad_h)


@jit(inline="always")
def backward_rows(kernels, rows, theta, net, work, r0, slot, parallel, dropout):
    """The row-local part of the backward pass of the samples ``rows`` (rows r0.. of the
    workspace): from grad a_L down to grad a_1,

        grad h_{k-1} = grad a_k W_kᵀ,  grad a_{k-1} = grad h_{k-1} ⊙ g'(a_{k-1}).

    Below a hidden layer k that drops units, grad h_k is grad h̃_k ⊙ m_k / (1 − p_k), the
    forward mask computed again (``_dropout``), before g'. W_kᵀ is read from work.wt[slot]
    (where it is not read from W_k itself). The weight gradients, sums over the rows of the
    batch's row groups, follow in ``chunk_rows_parallel`` or ``grad_block``.
    """
    units, act = net.units, net.act
    h_buf, h_off, ga_buf, wt = work.h_buf, work.h_off, work.ga_buf, work.wt[slot]
    L = units.shape[0] - 1
    r1 = r0 + rows.shape[0]
    for k in range(L, 1, -1):
        grad_a = grad_a_rows(ga_buf, h_off, units, k, r0, r1)
        # grad h_{k-1} = grad a_k W_kᵀ, written where grad a_{k-1} goes
        grad_h = grad_a_rows(ga_buf, h_off, units, k - 1, r0, r1)
        Wt = Wt_k(wt, units, k)
        if parallel and grad_h_from_W(kernels, Wt, grad_h):  # W_kᵀ read from W_k
            call_native(kernel_at(kernels, PRODUCT_LARGE_T, 0),
                        (grad_a, False, W_k(theta, units, net.w_off, k).T, grad_h))
        else:
            layer_product(kernels, grad_a, False, Wt, grad_h, parallel)
        if drops(dropout, k - 1):  # grad h_{k-1} = grad h̃_{k-1} ⊙ m / (1 − p), in place
            call_native(kernel_at(kernels, DROPOUT_IN_PLACE, 0),
                        (grad_h, rows, np.int64(k - 1), dropout))
        # grad a_{k-1} = grad h_{k-1} ⊙ g'(a_{k-1}), in place (g' from h_{k-1}, or kept d_{k-1})
        g_prime_of(act, k - 2, chunk_rows(h_buf, h_off[k - 1], units[k - 1], r0, r1),
                   kept_g_prime(h_buf, h_off, units, k - 1, r0, r1), grad_h, parallel)


@jit(internal=True)
def grad_a_rows(ga_buf, h_off, units, k, r0, r1):
    """Rows r0:r1 of grad a_k, k = 1..L, in the grad a workspace (laid out as h_1 .. h_L)."""
    return chunk_rows(ga_buf, h_off[k] - h_off[1], units[k], r0, r1)


@jit(internal=True)
def grad_b(part, units, b_off, ga_buf, h_off, k, r0, r1):
    """grad b_k = Σ_n grad a_k[n] over the batch's rows r0:r1, in row order (unscaled)."""
    fan_out = units[k]
    gb = b_k(part, units, b_off, k)
    grad_a = grad_a_rows(ga_buf, h_off, units, k, r0, r1)
    for j in range(fan_out):
        gb[j] = part.dtype.type(0)
    for r in range(r1 - r0):
        grad_a_r = grad_a[r]
        for j in range(fan_out):
            gb[j] += grad_a_r[j]


@jit(internal=True)
def grad_block(kernels, X_csr, idx, net, work, dropout, k, i0, i1, g, groups):
    """Rows i0:i1 of grad W_k = h_{k-1}ᵀ grad a_k over the rows r0:r1 of the batch's row
    group g of ``groups`` (for sparse input's first layer, X[idx]ᵀ grad a_1's columns i0:i1),
    into parts[g]; with the block at i0 = 0 also grad b_k. Unscaled sums: ``update_theta`` or
    ``reduce_chunks`` adds the groups' sums, the L2 term and divides. Every element is its FMA
    chain over the group's rows in order, whichever block computes it."""
    units, h_buf, h_off, ga_buf = net.units, work.h_buf, work.h_off, work.ga_buf
    nb = idx.shape[0]
    r0, r1 = g * nb // groups, (g + 1) * nb // groups
    part = work.parts[g]
    grad_a = grad_a_rows(ga_buf, h_off, units, k, r0, r1)
    gW = W_k(part, units, net.w_off, k)
    if k == 1 and X_csr is not None:
        _csr_tn_columns(X_csr[0], X_csr[1], X_csr[2], idx[r0:r1], grad_a, gW, i0, i1)
    else:
        call_native(kernel_at(kernels, PRODUCT, 0),
                    (layer_input(h_buf, h_off, units, dropout, k - 1, r0, r1), True, grad_a, gW,
                     np.int64(i0), np.int64(i1)))
    if i0 == 0:
        grad_b(part, units, net.b_off, ga_buf, h_off, k, r0, r1)


@jit(inline="always")
def unit_body(kernels, data, X_csr, rows, theta, net, work, r0, slot, parallel, dropout):
    """Forward, loss and grad a of every layer for the samples ``rows`` (indices into X), rows
    r0:r1 = r0 + len(rows) of the batch: the row-local work, the unit of the first parallel
    phase.

    The unit writes rows r0:r1 of every layer's block of the workspace, and the rows' losses
    into stats[r0:r1]. W_kᵀ is in ``work.wt[slot]`` already
    (``transpose_weights``). ``parallel`` (a constant in each kernel below) picks the serial
    kernels or the row-parallel ones (for a batch that runs as one pass). Both give the same
    bits.
    """
    units, h_buf, h_off = net.units, work.h_buf, work.h_off
    n = rows.shape[0]
    r1 = r0 + n
    L = units.shape[0] - 1
    if X_csr is None:  # dense input: h_0 = X[rows]; sparse input is read where it is stored
        gather_of(data.X, rows, chunk_rows(h_buf, h_off[0], units[0], r0, r1), parallel)
    forward_chunk(kernels, X_csr, rows, theta, net, work, r0, parallel, dropout)
    y_hat = chunk_rows(h_buf, h_off[L], units[L], r0, r1)
    ga_L = grad_a_rows(work.ga_buf, h_off, units, L, r0, r1)
    # stats[r0 + r] = loss of row r (weighted and added up in batch_data_term), and grad a_L
    call_native(kernel_at(kernels, LOSS, 0),
                (data.Y, data.sw, rows, y_hat, ga_L, net.loss_param, work.stats, r0))
    if n > 0:
        backward_rows(kernels, rows, theta, net, work, r0, slot, parallel, dropout)


# The compiled row unit and the row-parallel batch. Their callers call them through their
# addresses (``_native``), so each is compiled once; the row-parallel one only for fits with
# batches large enough for it.
@jit(internal=True)
def chunk(kernels, data, X_csr, idx, theta, net, work, r0, r1, slot, dropout):
    """``unit_body`` of rows r0:r1 of the batch ``idx`` with the serial kernels, W_kᵀ from
    work.wt[slot]."""
    unit_body(kernels, data, X_csr, idx[r0:r1], theta, net, work, r0, slot, False, dropout)


@jit(internal=True)
def chunk_rows_parallel(kernels, data, X_csr, idx, theta, net, work, r0, r1, slot, dropout):
    """The whole batch ``idx`` (r0 = 0, r1 = nb) with the layer products and activations
    splitting rows over threads: W_kᵀ into work.wt[slot], ``unit_body``, then the weight
    gradients product by product."""
    units, w_off, b_off = net.units, net.w_off, net.b_off
    h_buf, h_off, ga_buf = work.h_buf, work.h_off, work.ga_buf
    nb = idx.shape[0]
    for k in range(2, units.shape[0]):  # W_kᵀ, where backward does not read it from W_k
        Wt = Wt_k(work.wt[slot], units, k)
        if not grad_h_from_W(kernels, Wt, grad_a_rows(ga_buf, h_off, units, k - 1, 0, nb)):
            transpose(W_k(theta, units, w_off, k), Wt)
    unit_body(kernels, data, X_csr, idx[r0:r1], theta, net, work, r0, slot, True, dropout)
    part = work.parts[0]
    for k in range(units.shape[0] - 1, 1, -1):  # grad W_k = h_{k-1}ᵀ grad a_k, k = L..2
        layer_product(kernels, layer_input(h_buf, h_off, units, dropout, k - 1, 0, nb), True,
                      grad_a_rows(ga_buf, h_off, units, k, 0, nb), W_k(part, units, w_off, k),
                      True)
        grad_b(part, units, b_off, ga_buf, h_off, k, 0, nb)
    # grad W_1 = h_0ᵀ grad a_1, or X[idx]ᵀ grad a_1 for sparse input
    first_layer_grad_W(kernels, X_csr, idx, chunk_rows(h_buf, h_off[0], units[0], 0, nb),
                       grad_a_rows(ga_buf, h_off, units, 1, 0, nb), W_k(part, units, w_off, 1),
                       True)
    grad_b(part, units, b_off, ga_buf, h_off, 1, 0, nb)


@jit(internal=True)
def _reduce_span(theta, work, n_weights, alpha_t, sw_sum_t, p0, p1):
    """grad[p0:p1] = (Σ_c parts[c] + α θ) / Σw (no α term for biases), parts added in order."""
    grad, parts = work.grad, work.parts
    # unsigned indices into the whole arrays, no views: see _optimizers.adam_span
    u0, u1 = np.uint64(p0), np.uint64(p1)
    u_w = np.uint64(min(p1, max(p0, n_weights)))  # θ[p0:u_w] are weights
    first = parts[0]
    for p in range(u0, u1):
        grad[p] = first[p]
    for c in range(1, parts.shape[0]):
        part = parts[c]
        for p in range(u0, u1):
            grad[p] += part[p]
    for p in range(u0, u_w):
        grad[p] = (grad[p] + alpha_t * theta[p]) / sw_sum_t
    for p in range(u_w, u1):
        grad[p] = grad[p] / sw_sum_t


@jit_parallel
def reduce_chunks(theta, work, n_weights, alpha, sw_sum):
    """work.grad = (Σ_c parts[c] + α W) / Σw, parts added in order 0, 1, ...; biases get no α
    term."""
    T = theta.dtype.type
    alpha_t, sw_sum_t = T(alpha), T(sw_sum)
    n = theta.shape[0]
    if n * work.parts.shape[0] >= PARALLEL_MIN_ELEMENTS:
        step = 4096
        for blk in prange((n + step - 1) // step):
            _reduce_span(theta, work, n_weights, alpha_t, sw_sum_t, blk * step,
                         min(n, (blk + 1) * step))
    else:
        _reduce_span(theta, work, n_weights, alpha_t, sw_sum_t, 0, n)


@jit
def _sum_sq_span(theta, p0, p1):
    """Σ θ[p]² over p0:p1 in float64: four running sums over interleaved elements, added in a
    fixed order at the end (a single running sum is bound by the latency of one addition)."""
    # unsigned indices into θ, no view: see _optimizers.adam_span
    u0, u1, one, four = np.uint64(p0), np.uint64(p1), np.uint64(1), np.uint64(4)
    u4 = u1 - (u1 - u0) % four
    s0 = s1 = s2 = s3 = 0.0
    for p in range(u0, u4, four):
        x0, x1 = float(theta[p]), float(theta[p + one])
        x2, x3 = float(theta[p + one + one]), float(theta[p + four - one])
        s0 += x0 * x0
        s1 += x1 * x1
        s2 += x2 * x2
        s3 += x3 * x3
    total = (s0 + s1) + (s2 + s3)
    for p in range(u4, u1):
        total += float(theta[p]) * float(theta[p])
    return total


@jit
def sum_sq_weights(theta, units, w_off):
    """‖W‖² over all weight matrices (biases are not regularized), in float64."""
    return _sum_sq_span(theta, w_off[0], w_off[0] + n_weights_of(units))


@jit(internal=True)
def _grad_item(kernels, X_csr, idx, net, work, dropout, plan, g, b):
    """Block b of row group g's weight gradients (``_plan``'s ``plan``): ``grad_block``."""
    groups, _, per_block, _, _, _ = plan
    k, i0, i1 = _grad_block_of(net.units, X_csr is not None, per_block, b)  # W_k's rows
    call_native(kernel_at(kernels, GRAD_BLOCK, 0),
                (kernels, X_csr, idx, net, work, dropout, k, i0, i1, g, groups))


@jit(internal=True, nrt=False)  # from the parallel body and the serial loop: compiled once
def _phase_item(kernels, data, X_csr, idx, theta, net, work, dropout, which, plan, t):
    """Item t of a UNITS (or SERIAL) batch's phase ``which`` (``_plan``'s ``plan``): row unit
    t (ROW_UNITS, ``chunk``; where ``plan`` fuses, then its row group's weight gradients, and
    where it says so W_kᵀ first, into its group's copy), or block t of the weight gradients of
    all row groups (GRAD_BLOCKS, ``grad_block``)."""
    groups, per_group, _, n_grad, fused, own_wt = plan
    if which == ROW_UNITS:
        nb = idx.shape[0]
        g, j = t // per_group, t % per_group
        g0, g1 = g * nb // groups, (g + 1) * nb // groups
        slot = g if own_wt else 0
        if own_wt:
            call_native(kernel_at(kernels, TRANSPOSE_W, 0),
                        (theta, net.units, net.w_off, work.wt[slot]))
        call_native(kernel_at(kernels, CHUNK, 0),
                    (kernels, data, X_csr, idx, theta, net, work,
                     g0 + j * (g1 - g0) // per_group, g0 + (j + 1) * (g1 - g0) // per_group,
                     np.int64(slot), dropout))
        if fused:
            for b in range(n_grad):
                _grad_item(kernels, X_csr, idx, net, work, dropout, plan, g, np.int64(b))
    else:
        _grad_item(kernels, X_csr, idx, net, work, dropout, plan, t // n_grad, t % n_grad)


@jit(internal=True)
def _begin_batch(kernels, data, X_csr, idx, theta, net, work, dropout):
    """Start the data term of the minibatch ``idx``: run all of it where it runs row-parallel,
    else transpose W_2..W_L for grad h (unless each row group's item does, ``_plan``); return
    (threads, items of the row-local phase, items of the weight-gradient phase, ``_plan``'s
    plan) (``schedule``; no items in the ROWS_PARALLEL regime). A batch of fewer row groups
    than the workspace has sums for (a last, smaller batch) zeroes the other groups' sums."""
    nb = idx.shape[0]
    units = net.units
    regime = regime_of(nb, units)
    n_threads = get_num_threads() if regime == UNITS else 1
    plan = _plan(nb, units, X_csr is not None, n_threads)
    parts = work.parts
    for g in range(plan[0], parts.shape[0]):
        parts[g, :] = 0
    if regime == ROWS_PARALLEL:
        call_native(kernel_at(kernels, CHUNK_ROWS_PARALLEL, 0),
                    (kernels, data, X_csr, idx, theta, net, work, np.int64(0), np.int64(nb),
                     np.int64(0), dropout))
        return 1, 0, 0, plan
    own_wt = plan[-1]  # ``_plan``: each group's item transposes into its own copy
    if not own_wt:  # W_kᵀ shared by the batch's items
        call_native(kernel_at(kernels, TRANSPOSE_W, 0), (theta, units, net.w_off, work.wt[0]))
    n_units, n_grad = _items(plan)
    return n_threads, n_units, n_grad, plan


@jit(internal=True)
def _batch_loss(stats, sw, idx, units, out):
    """Σ_n w_n·loss_n of a minibatch, in row order, from the per-row losses in ``stats``."""
    data_loss = 0.0
    for r in range(idx.shape[0]):
        data_loss += float(sw[idx[r]]) * stats[r]
    if out == O_IDENTITY or out == O_HUBER:  # (MEAN_OVER_OUTPUTS)
        data_loss /= units[units.shape[0] - 1]  # scikit-learn: squared error averaged over outputs
    return data_loss


@jit(internal=True)
def _weight_sum(sw, idx):
    """Σ_n w_n of a minibatch, in row order: known before its data term."""
    sw_sum = 0.0
    for r in range(idx.shape[0]):
        sw_sum += float(sw[idx[r]])
    return sw_sum


@jit(internal=True)
def _batch_sums(stats, sw, idx, units, out):
    """(Σ_n w_n·loss_n, Σ_n w_n) of a minibatch (``_batch_loss``, ``_weight_sum``)."""
    return _batch_loss(stats, sw, idx, units, out), _weight_sum(sw, idx)


@jit(inline="always")  # inlined into its (parallel) caller: no library of its own to link
def batch_data_term(kernels, data, X_csr, idx, theta, net, work, dropout):
    """Forward and backward of one minibatch, the samples ``idx``: its row groups' gradient
    sums into parts[0], parts[1], ... (lbfgs's ``batch_loss_and_grad``; ``run_epoch`` runs the
    same phases, then the update's, in its own loop).

    Returns (Σ_n w_n·loss_n, Σ_n w_n). X (``data.X``) is dense (n, n_features) with X_csr None,
    or X is empty and X_csr holds the CSR (data, indices, indptr) of the input. ``kernels`` is
    ``chunk_kernels_of`` these arguments.

    What fixes the bits: the loss and Σw are sums over all of the batch's rows in row order;
    grad W_k and grad b_k are sums over each row group's rows in row order (``row_groups``, a
    function of the shapes), into parts[g], added in group order by the update. What adapts
    to the threads (``schedule``): in the UNITS regime, each group whole on a thread, or the
    row-local work as units of rows, then the weight gradients as blocks of their rows, each
    phase one parallel region.
    """
    n_threads, n_units, n_grad, plan = _begin_batch(kernels, data, X_csr, idx, theta, net,
                                                    work, dropout)
    groups, per_group, per_block, blocks, fused, own_wt = plan  # (a prange body takes no tuple)
    # phase 0: the row units; phase 1: the blocks of the weight gradients. One prange for
    # both (one parallel body to compile), run once per phase.
    for which in range(2):
        n = n_units if which == 0 else n_grad
        if n_threads > 1 and n > 1:
            for t in prange(n):
                _phase_item(kernels, data, X_csr, idx, theta, net, work, dropout,
                            np.int64(which),
                            (groups, per_group, per_block, blocks, fused, own_wt),
                            np.int64(t))
        else:
            for t in range(n):
                _phase_item(kernels, data, X_csr, idx, theta, net, work, dropout,
                            np.int64(which), plan, np.int64(t))
    return _batch_sums(work.stats, data.sw, idx, net.units, net.out)


def chunk_kernels_of(data, X_csr, sample_idx, theta, net, work, batch_sizes, rows_parallel=False,
                     dropout=None, large=False):
    """The ``kernels`` table of ``run_epoch`` or ``batch_loss_and_grad`` for these arguments and
    batches of ``batch_sizes`` rows: the output function's and the loss's (``_outputs``, of
    output code ``net.out``), the row unit, the weight-gradient block and W_kᵀ's copy (rows
    BIAS_O, LOSS, CHUNK, GRAD_BLOCK, PRODUCT, TRANSPOSE_W), and the row-parallel batch
    (CHUNK_ROWS_PARALLEL).

    The row-parallel batch is compiled only where one of the batches runs row-parallel (or
    with ``rows_parallel``: ``jitmlp.precompile``); elsewhere the row unit stands in for it
    (never called). The blocked products (PRODUCT_LARGE, PRODUCT_LARGE_T) only where a
    row-parallel batch may have operands past L2 (``may_run_blocked``), or with ``large``.
    ``dropout``: the record the epoch gets (``_dropout.record``; None: no dropout); the DROPOUT
    rows are compiled only where one of its rates is > 0, and the workspace must then have room
    for h̃ (``Layout.workspace(dropout=True)``).
    """
    units = net.units
    if dropout is None:
        dropout = no_dropout(units)
    drop = bool((dropout[RATES:] > 0).any())
    if drop and work.h_off[-1] < 0:
        raise ValueError("a fit with dropout needs a workspace with room for the dropped "
                         "activations: Layout.workspace(..., dropout=True)")
    kernels = _kernel_table(theta.dtype, net.out)
    a = np.empty((1, 1), theta.dtype)
    kernels[LOSS] = address_of(O_KERNELS[net.out][1],
                               (data.Y, data.sw, sample_idx[:0], a, a, net.loss_param, work.stats,
                                0))
    args = (kernels, data, X_csr, sample_idx, theta, net, work, 0, 0, 0, dropout)
    kernels[CHUNK] = kernels[CHUNK_ROWS_PARALLEL] = address_of(chunk, args)
    kernels[TRANSPOSE_W] = address_of(transpose_weights, (theta, net.units, net.w_off, theta))
    kernels[GRAD_BLOCK] = address_of(grad_block,
                                     (kernels, X_csr, sample_idx, net, work, dropout, 0, 0, 0, 0,
                                      0))
    if drop:
        rows = sample_idx[:0]
        kernels[DROPOUT] = address_of(dropout_rows, (a, a, rows, 0, dropout))
        kernels[DROPOUT_IN_PLACE] = address_of(dropout_rows_in_place, (a, rows, 0, dropout))
    parallel_sizes = [nb for nb in batch_sizes if nb > 0 and runs_rows_parallel(nb, units)]
    if rows_parallel or parallel_sizes:
        kernels[PRODUCT_ROWS_PARALLEL] = address_of(product_rows, (a, True, a, a))
        kernels[CHUNK_ROWS_PARALLEL] = address_of(chunk_rows_parallel, args)
    if large or may_run_blocked(units, parallel_sizes, theta.itemsize):
        kernels[PRODUCT_LARGE] = address_of(product_large, (a, True, a, a))
        W_T = np.empty((2, 3), theta.dtype).T  # the view W_k.T: numba layout "F"
        kernels[PRODUCT_LARGE_T] = address_of(product_large, (a, False, W_T, a))
    return kernels


def may_run_blocked(units, batch_sizes, itemsize):
    """Whether a layer product of a row-parallel batch of one of ``batch_sizes`` rows may run
    blocked (``_layers.runs_blocked``): some weight matrix, or some batch's rows of a layer, of
    at least BLOCKED_MIN_BYTES. A superset of the products that do: the others fall back to the
    unblocked kernel (the same bits)."""
    units = [int(u) for u in units]
    rows = max(batch_sizes, default=0)
    if TILE_VECTORS != 4 or rows == 0:
        return False
    largest = max(max(f_in * f_out, rows * f_in, rows * f_out)
                  for f_in, f_out in zip(units[:-1], units[1:]))
    return largest * itemsize >= BLOCKED_MIN_BYTES


def no_dropout(units):
    """The dropout record of a network that drops nothing (``_dropout.record``)."""
    return np.zeros(RATES + len(units) - 2, dtype=np.float64)


def _kernel_table(dtype, out):
    """A ``kernels`` table with the output function ``out``'s ŷ = O(a_L + b_L) and the serial
    layer product for ``dtype``, the other rows (0, 0)."""
    a, b = np.empty((1, 1), dtype), np.empty(1, dtype)
    kernels = kernel_table([(0, 0)] * N_KERNELS, 2)
    kernels[BIAS_O] = address_of(O_KERNELS[out][0], (a, b))
    kernels[PRODUCT] = address_of(product_span, (a, True, a, a, 0, 0))
    return kernels


@jit_parallel
def batch_loss_and_grad(kernels, data, X_csr, idx, theta, net, work, alpha, dropout):
    """Loss of one minibatch, the samples ``idx`` (scikit-learn's definition), and its gradient
    into ``work.grad``, with the dropout masks of ``dropout`` (``_dropout.record``; rates 0:
    none)."""
    data_loss, sw_sum = batch_data_term(kernels, data, X_csr, idx, theta, net, work, dropout)
    reduce_chunks(theta, work, net.b_off[0], alpha, sw_sum)
    return data_loss / sw_sum + 0.5 * alpha * sum_sq_weights(theta, net.units,
                                                              net.w_off) / sw_sum


@jit(internal=True)
def _adam_block(theta, work, step, eta, sw_sum, blk):
    """Block blk of θ (weights only) by ``_optimizers.adam_part_span``: Adam with the gradient
    taken straight from the row groups' sums, not stored; ‖W‖² of the block before the step
    into penalty[blk]. The same bits as ``_update_block``'s reduce and step."""
    p0 = blk * UPDATE_BLOCK
    p1 = min(theta.shape[0], p0 + UPDATE_BLOCK)
    work.penalty[blk] = adam_part_span(theta, work.parts, step, eta, sw_sum, p0, p1)


def update_kernels_of(kernels, theta, work, step, fused=None):
    """Add to ``kernels`` the ADAM_FROM_PARTS row (``_adam_block``) where Adam updates a θ of at
    least ADAM_FROM_PARTS_MIN_BYTES (or where ``fused`` says so): a step bound by memory, where
    a gradient stored and read back costs two of the nine words per element it moves. Smaller
    fits do not compile it (about a second of compile time)."""
    if fused is None:
        fused = step.solver == ADAM and theta.nbytes >= ADAM_FROM_PARTS_MIN_BYTES
    if fused:
        T = theta.dtype.type
        kernels[ADAM_FROM_PARTS] = address_of(_adam_block, (theta, work, step, T(0), 0.0, 0))
    return kernels


@jit(internal=True, nrt=False)  # once per block of θ (_config: nrt=False)
def _update_block(kernels, theta, work, n_weights, step, eta, sw_sum, blk, which, scale):
    """One block of ``update_theta`` in pass ``which``: in the STEP_PASS, reduce the parts'
    sums into grad (and ‖W‖² of θ before the step into penalty[blk]; already done where
    clipping is on), then the optimizer's step; in clipping's NORM_PASS, the reduce and the
    block's ‖grad‖² into penalty[n_blocks + blk]. ``scale`` (clipping) of 1 touches nothing,
    nor weight decay of 0.

    Adam with at most PART_SUMS_MAX row groups' sums and no weight decay, in a block of
    weights only (all but the last one or two), takes its gradient straight from the sums, and
    ‖W‖² beside the step (``_adam_block``, the same bits) where ``kernels`` has that row: grad
    is not stored there.

    The step's constants are taken in θ's dtype; ``eta`` (``update_theta``) is Adam's
    bias-corrected step size, or SGD's learning rate."""
    T = theta.dtype.type
    n = theta.shape[0]
    p0 = blk * UPDATE_BLOCK
    p1 = min(n, p0 + UPDATE_BLOCK)
    p_w = min(p1, max(p0, n_weights))  # θ[p0:p_w] are weights
    update = which == STEP_PASS
    reduce = which == NORM_PASS or not step.max_grad_norm < np.inf  # no clipping: one pass
    keep = T(1.0 - step.learning_rate * step.weight_decay)
    if (reduce and update and keep == 1 and step.solver == ADAM
            and work.parts.shape[0] <= PART_SUMS_MAX
            and p_w == p1 and kernels[ADAM_FROM_PARTS, 0] != 0):
        # Adam straight from the row groups' sums, grad not stored (memory-bound step)
        call_native(kernel_at(kernels, ADAM_FROM_PARTS, 0),
                    (theta, work, step, eta, sw_sum, blk))
        return
    grad, penalty = work.grad, work.penalty
    if reduce:
        penalty[blk] = _sum_sq_span(theta, p0, p_w)  # θ before the step
        _reduce_span(theta, work, n_weights, T(step.alpha), T(sw_sum), p0, p1)
    if not update:
        penalty[(n + UPDATE_BLOCK - 1) // UPDATE_BLOCK + blk] = _sum_sq_span(grad, p0, p1)
        return
    if scale != 1:
        scale_span(grad, scale, p0, p1)
    if keep != 1:  # decoupled: the weights shrink apart from the gradient step
        scale_span(theta, keep, p0, p_w)
    if step.solver == ADAM:
        adam_span(theta, grad, step.state_1, step.state_2, T(step.beta_1), T(step.beta_2), eta,
                  T(step.epsilon), p0, p1)
    else:
        sgd_span(theta, grad, step.state_1, T(step.momentum), eta, step.nesterov, p0, p1)


@jit(internal=True)
def step_size(theta, step, t):
    """η of the step at Adam's time step t (its bias correction), or SGD's learning rate, in
    θ's dtype: once per step, not once per block."""
    T = theta.dtype.type
    if step.solver == ADAM:
        return T(adam_step_size(t, step.learning_rate, step.beta_1, step.beta_2))
    return T(step.learning_rate)


@jit(internal=True)
def _clip_scale(theta, work, step, n_blocks):
    """Clipping's factor min(1, max_grad_norm/‖grad θ‖) in θ's dtype, from the per-block
    ‖grad‖² of the first pass (penalty[n_blocks:]) added in block order."""
    penalty = work.penalty
    grad_sq = 0.0
    for blk in range(n_blocks):
        grad_sq += penalty[n_blocks + blk]
    return theta.dtype.type(clip_factor(grad_sq, step.max_grad_norm))


@jit(internal=True)
def _penalty_total(work, n_blocks):
    """‖W‖² of θ before the step (float64): the blocks' sums added in block order."""
    penalty = work.penalty
    total = 0.0
    for blk in range(n_blocks):
        total += penalty[blk]
    return total


@jit_parallel
def update_theta(kernels, theta, net, work, step, t, sw_sum):
    """grad θ from the parts' sums, then one optimizer ``step``, in one pass over θ (two with
    gradient clipping). ``run_epoch`` runs the same passes inside its own parallel loop.

    Block by block (fixed blocks of UPDATE_BLOCK elements, spread over threads): ‖W‖² of the
    block before the step, grad = (Σ_c parts[c] + α W) / Σw, then the update of θ and the
    optimizer's state (Adam at time step t, or SGD). Returns ‖W‖² (float64), the block sums
    added in block order, so it does not depend on the thread count.

    With clipping on (``step.max_grad_norm`` < inf), a first pass reduces the gradient and sums
    ‖grad θ‖² (L2 term included) per block, added in block order; the second pass multiplies
    grad by min(1, max_grad_norm/‖grad θ‖) and steps. With weight decay λ > 0 the weights (not
    the biases) are multiplied by 1 − learning_rate·λ before the step. ``work.penalty`` holds
    two float64 per block (``Layout.workspace``); only the first half is used without
    clipping.
    """
    T = theta.dtype.type
    eta = step_size(theta, step, t)
    n_weights = net.b_off[0]
    clip = step.max_grad_norm < np.inf
    n = theta.shape[0]
    n_blocks = (n + UPDATE_BLOCK - 1) // UPDATE_BLOCK
    scale = T(1)
    for which in range(NORM_PASS if clip else STEP_PASS, STEP_PASS + 1):
        if which == STEP_PASS and clip:
            scale = _clip_scale(theta, work, step, n_blocks)
        if n >= UPDATE_PARALLEL_MIN:
            for blk in prange(n_blocks):
                _update_block(kernels, theta, work, n_weights, step, eta, sw_sum, blk, which,
                              scale)
        else:
            for blk in range(n_blocks):
                _update_block(kernels, theta, work, n_weights, step, eta, sw_sum, blk, which,
                              scale)
    return _penalty_total(work, n_blocks)


def epoch_kernels_of(kernels, data, X_csr, sample_idx, theta, net, work, step, dropout,
                     large=False):
    """Add to ``kernels`` (``chunk_kernels_of`` these arguments) the row ``run_epoch`` needs
    besides them: its phases' item (``_epoch_item``) for this ``step`` record's types, and
    Adam's step from the sums (``update_kernels_of``; always with ``large``:
    ``jitmlp.precompile``)."""
    T = theta.dtype.type
    plan = (np.int64(0), np.int64(0), np.int64(0), np.int64(0), False, False)  # ``_plan``'s
    phase = (np.int64(0), np.int64(0), plan, T(0), 0.0, T(1))  # as run_epoch makes it
    kernels[EPOCH_ITEM] = address_of(_epoch_item, (kernels, data, X_csr, sample_idx, theta, net,
                                                   work, step, dropout, phase, 0))
    return update_kernels_of(kernels, theta, work, step, fused=large or None)


@jit(internal=True, nrt=False)  # from _epoch_item (_config: nrt=False)
def _step_share(kernels, theta, net, work, step, eta, sw_sum, n_items):
    """After a row group's item of a UNITS_THEN_STEP phase of ``n_items`` items: where it is
    the last to finish, the optimizer's step of θ block by block (``_update_block``, as the
    STEP_PASS would), else where the others run now on other threads, wait for them (at most
    SPIN_LIMIT polls) and take blocks too; where one has not started, return (it may run next
    on this very thread, and will find itself last). The blocks are n_items shares of
    consecutive blocks, each taken once (an atomic counter), so θ gets the same bits whichever
    thread steps it. Not with gradient clipping, whose norm pass covers all blocks before any
    block steps."""
    sync = work.sync
    if atomic_add(sync, FINISHED, 1) + 1 < n_items:  # another group's gradients are not done
        if atomic_load(sync, STARTED) < n_items:
            return
        polls = 0
        while atomic_load(sync, FINISHED) < n_items:
            spin_pause()
            polls += 1
            if polls == SPIN_LIMIT:  # its thread stalled: the last one steps alone
                return
    n_blocks = (theta.shape[0] + UPDATE_BLOCK - 1) // UPDATE_BLOCK
    one = theta.dtype.type(1)
    share = atomic_add(sync, NEXT_SHARE, 1)  # n_items shares of consecutive blocks
    while share < n_items:
        for blk in range(share * n_blocks // n_items, (share + 1) * n_blocks // n_items):
            _update_block(kernels, theta, work, net.b_off[0], step, eta, sw_sum, blk,
                          STEP_PASS, one)
        share = atomic_add(sync, NEXT_SHARE, 1)


# called through its address (EPOCH_ITEM): compiled once; once per item of every phase of a
# minibatch, with all of the fit's records, so without reference counting (_config: nrt=False)
@jit(internal=True, nrt=False)
def _epoch_item(kernels, data, X_csr, idx, theta, net, work, step, dropout, phase, i):
    """Item i of ``run_epoch``'s phase ``phase`` = (which, items, ``_plan``'s plan, η, Σw,
    clipping's scale): a row unit or a block of the weight gradients (``_phase_item``), or
    block i of θ in clipping's norm pass or in the step (``_update_block``), or a whole row
    group and then its share of the step (UNITS_THEN_STEP, ``_step_share``; Σw known before
    the data term)."""
    which, n, plan, eta, sw_sum, scale = phase
    if which == UNITS_THEN_STEP:
        atomic_add(work.sync, STARTED, 1)
        _phase_item(kernels, data, X_csr, idx, theta, net, work, dropout, ROW_UNITS, plan, i)
        _step_share(kernels, theta, net, work, step, eta, sw_sum, n)
    elif which < NORM_PASS:
        _phase_item(kernels, data, X_csr, idx, theta, net, work, dropout, which, plan, i)
    else:
        _update_block(kernels, theta, work, net.b_off[0], step, eta, sw_sum, i, which, scale)


@jit_parallel
def run_epoch(kernels, data, X_csr, sample_idx, theta, net, work, step, t, accumulated_loss,
              dropout):
    """A pass over the samples in ``sample_idx`` order, updating θ after every minibatch of
    ``step.batch_size`` rows.

    ``step`` is the optimizer (``_records.Step``: its hyper-parameters, clipping and weight
    decay, and its arrays), t is Adam's update count; ``kernels`` is ``chunk_kernels_of`` and
    then ``epoch_kernels_of`` these arguments; ``dropout`` the record of ``_dropout`` (the
    rates, the seed and this epoch's number). Returns (accumulated_loss + Σ batch_loss ·
    batch_size, t) for scikit-learn's loss_. ``sample_idx`` may be a slice of the epoch's
    order starting at a multiple of batch_size (the driver runs long epochs slice by slice,
    see ``_estimators._fit_stochastic``); the loss sum carried in keeps its order of
    additions.

    Each minibatch is ``batch_data_term`` then ``update_theta``, the same work in the same
    order (the same bits), with all their phases run by one prange: one parallel body to
    compile instead of two.
    """
    # the records' arrays without reference counts for the calls on this thread below, which
    # would count each in and out once per call (``_native.borrow``); the parallel loop takes
    # the arguments themselves (numba's prange cannot take tuples made in the function) and
    # borrows the tuple it builds for each item: otherwise each item counts every array in
    # and out, atomics on counters the other threads' items hit at the same time
    b_kernels, b_data, b_X_csr, b_order, b_theta, b_net, b_work, b_step, b_dropout = borrow(
        (kernels, data, X_csr, sample_idx, theta, net, work, step, dropout))
    T = theta.dtype.type
    n = sample_idx.shape[0]
    units = b_net.units
    clip = step.max_grad_norm < np.inf
    n_blocks = (theta.shape[0] + UPDATE_BLOCK - 1) // UPDATE_BLOCK
    update_parallel = theta.shape[0] >= UPDATE_PARALLEL_MIN
    for start in range(0, n, step.batch_size):
        stop = min(n, start + step.batch_size)
        idx, b_idx = sample_idx[start:stop], b_order[start:stop]
        n_threads, n_units, n_grad, plan = _begin_batch(b_kernels, b_data, b_X_csr, b_idx,
                                                        b_theta, b_net, b_work, b_dropout)
        groups, per_group, per_block, blocks, fused, own_wt = plan  # (a prange body takes no tuple)
        # each group whole on its own thread (``_plan``): the step in the groups' parallel
        # region (_step_share)
        share_step = own_wt and not clip
        if share_step:
            sync = b_work.sync
            sync[STARTED] = sync[FINISHED] = sync[NEXT_SHARE] = 0
        if step.solver == ADAM:
            t += 1
        eta = step_size(b_theta, b_step, t)
        data_loss, sw_sum = 0.0, _weight_sum(b_data.sw, b_idx)
        scale = T(1)
        for which in range(ROW_UNITS, STEP_PASS + 1):
            if which == ROW_UNITS:
                items = n_units
            elif which == GRAD_BLOCKS:
                items = n_grad
            elif which == NORM_PASS:  # the data term is complete
                data_loss = _batch_loss(b_work.stats, b_data.sw, b_idx, units, net.out)
                items = n_blocks if clip else 0
            else:
                if clip:
                    scale = _clip_scale(b_theta, b_work, b_step, n_blocks)
                items = 0 if share_step else n_blocks
            # the phase's tuple is made in the loop's body from scalars: a prange body cannot
            # take a tuple of tuples (or of one type) from outside
            which_i = np.int64(UNITS_THEN_STEP if share_step and which == ROW_UNITS else which)
            items_i = np.int64(items)
            if items > 1 and (update_parallel if which >= NORM_PASS else n_threads > 1):
                for i in prange(items):
                    call_native(kernel_at(kernels, EPOCH_ITEM, 0),
                                borrow((kernels, data, X_csr, idx, theta, net, work, step,
                                        dropout, (which_i, items_i,
                                                  (groups, per_group, per_block, blocks, fused,
                                                   own_wt), eta, sw_sum, scale),
                                        np.int64(i))))
            else:
                for i in range(items):
                    call_native(kernel_at(b_kernels, EPOCH_ITEM, 0),
                                (b_kernels, b_data, b_X_csr, b_idx, b_theta, b_net, b_work,
                                 b_step, b_dropout, (which_i, items_i, plan, eta, sw_sum, scale),
                                 np.int64(i)))
        sq = _penalty_total(b_work, n_blocks)
        loss = data_loss / sw_sum + 0.5 * step.alpha * sq / sw_sum
        accumulated_loss += loss * (stop - start)
    return accumulated_loss, t
