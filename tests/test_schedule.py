"""The schedule of a minibatch: how many independent units of work each parallel region gets.

The order of every sum is fixed by the shapes (tests/test_threads.py checks the bits for 1 to 16
threads); here, that the work spreads: for the workloads of the suite, 16 threads get at least
min(16, what the shapes allow) units in each parallel region, and no more threads than row
groups run each group whole on one thread. ``schedule`` is a pure function, so no 16-core
machine is needed.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from jitmlp._config import GRAD_ROWS_MIN, MAX_GROUPS, MIN_GROUP_ROWS, MIN_UNIT_ROWS, ROW_BLOCK
from jitmlp._epoch import (
    ROWS_PARALLEL,
    SERIAL,
    UNITS,
    grad_block_at,
    grad_blocks,
    regime_of,
    row_groups,
    schedule,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from benchmarks.workloads import WORKLOADS  # noqa: E402

# (features, outputs) of the suite's data sets
DATA_SHAPES = {"digits": (64, 10), "mnist-shape": (784, 10), "mnist-shape-20k": (784, 10),
               "mnist-shape-10k": (784, 10), "mnist-shape-5k": (784, 10), "tiny": (20, 4),
               "regression": (100, 3)}


def _units(workload):
    n_in, n_out = DATA_SHAPES[workload.data]
    return np.array([n_in, *workload.hidden_layer_sizes, n_out], dtype=np.int64)


def _allowed(nb, units):
    """What the shapes allow: units of MIN_UNIT_ROWS rows of each row group of the batch,
    blocks of GRAD_ROWS_MIN rows of each group's weight gradients (of ROW_BLOCK rows where
    products split their own rows)."""
    regime = regime_of(nb, units)
    if regime == SERIAL:
        return 1, 1
    if regime == ROWS_PARALLEL:
        return -(-nb // ROW_BLOCK), -(-units[0] // ROW_BLOCK)
    groups = row_groups(nb, units)
    return (groups * (nb // groups // MIN_UNIT_ROWS),
            groups * sum(-(-int(f) // GRAD_ROWS_MIN) for f in units[:-1]))


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_sixteen_threads_get_work_in_every_parallel_region(name):
    workload = WORKLOADS[name]
    units, nb = _units(workload), workload.batch_size
    row_units, grad_units = schedule(nb, units, 16)
    allowed_rows, allowed_grads = _allowed(nb, units)
    assert row_units >= min(16, allowed_rows)
    if regime_of(nb, units) == SERIAL:  # one item: the rows, then the gradients
        assert (row_units, grad_units) == (1, 0)
    else:
        assert grad_units >= min(16, allowed_grads)


def test_the_suite_has_batches_that_spread_and_the_two_phases():
    regimes = {name: regime_of(w.batch_size, _units(w)) for name, w in WORKLOADS.items()}
    # digits, mnist-shape and regression: two row groups; on 2 threads each group whole on a
    # thread (one parallel region), on 16 units of rows, then blocks of the gradients
    assert [n for n, r in regimes.items() if r == UNITS] == [
        "digits", "mnist-shape-f64", "mnist-shape-f32", "regression"]
    assert regimes["tiny-batch"] == SERIAL
    for name in ("digits", "mnist-shape-f64", "regression"):
        w = WORKLOADS[name]
        units = _units(w)
        assert row_groups(w.batch_size, units) == MAX_GROUPS == 2
        assert schedule(w.batch_size, units, 16) == (16, 2 * grad_blocks(units, False, 8))
        assert schedule(w.batch_size, units, 2) == (2, 0)
        assert schedule(w.batch_size, units, 1) == (2, 0)  # the two groups one after the other


@pytest.mark.parametrize("threads", [1, 2, 3, 8, 16, 64])
@pytest.mark.parametrize("units, sparse", [
    ([64, 100, 10], False), ([784, 100, 10], False), ([100, 256, 256, 3], False),
    ([120, 160, 96, 5], False), ([7, 5], False), ([300, 40, 2], True), ([10, 3, 4], True),
])
def test_gradient_blocks_cover_every_row_of_every_layer_once(units, sparse, threads):
    units = np.array(units, dtype=np.int64)
    # rows of grad W_k, k = 1..L (columns of the first for sparse input), at seen[k - 1]
    seen = [np.zeros(units[1] if k == 1 and sparse else units[k - 1], dtype=int)
            for k in range(1, len(units))]
    n = grad_blocks(units, sparse, threads)
    for t in range(n):
        k, i0, i1 = grad_block_at(units, sparse, threads, t)
        assert 1 <= k < len(units) and 0 <= i0 < i1
        seen[k - 1][i0:i1] += 1
        if i1 < len(seen[k - 1]):  # whole register tiles except at the end
            assert (i1 - i0) % GRAD_ROWS_MIN == 0
    assert all((s == 1).all() for s in seen)
    assert n >= min(threads, sum(-(-len(s) // GRAD_ROWS_MIN) for s in seen))
    assert grad_block_at(units, sparse, threads, n)[0] == -1
    if threads == 1:
        assert n == len(units) - 1  # one thread: each gradient whole, as the serial regime


def test_schedule_is_a_group_an_item_on_one_thread_and_one_under_the_serial_threshold():
    units = np.array([64, 100, 10])
    assert schedule(200, units, 1) == (2, 0)
    assert schedule(8, units, 16) == (1, 0)  # under SERIAL_MAX_FLOPS
    assert regime_of(8, units) == SERIAL and row_groups(8, units) == 1
    assert schedule(200, units, 3) == (4, 2 * grad_blocks(units, False, 2))  # 2 per group
    wide = np.array([784, 100, 10])
    assert row_groups(30, wide) == 1  # fewer than 2 x MIN_GROUP_ROWS rows: one group
    assert schedule(30, wide, 16)[0] == 30 // MIN_UNIT_ROWS
    assert row_groups(2 * MIN_GROUP_ROWS, wide) == 2


@pytest.mark.parametrize("nb", [16, 31, 32, 33, 200, 511])
def test_row_groups_depend_on_the_shapes_alone(nb):
    units = np.array([784, 100, 10])
    groups = row_groups(nb, units)
    if regime_of(nb, units) == UNITS:
        assert groups == max(1, min(MAX_GROUPS, nb // MIN_GROUP_ROWS))
    else:
        assert groups == 1
    for threads in (1, 2, 3, 16):  # no more threads than groups: one item per group
        first, second = schedule(nb, units, threads)
        if threads <= groups or regime_of(nb, units) == SERIAL:
            assert (first, second) == (groups, 0)
