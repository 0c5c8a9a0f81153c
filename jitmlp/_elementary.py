"""Branch-free ``exp``, ``tanh``, ``logistic``, ``expm1`` and ``log1p`` for numba loops.

Why: numba (>= 0.62) has no SVML, so ``np.exp``/``np.tanh`` inside a jitted loop are scalar
libm calls (tens of ns each) and block vectorization. The functions here are written with
arithmetic, bit casts and selects only, so after inlining LLVM vectorizes a loop such as
``for j in range(n): h[j] = tanh(a[j])`` (AVX2/AVX-512 lanes).

Use inside jitted code (they are also callable from Python)::

    from jitmlp._elementary import tanh, exp, logistic

Dtype: each function is specialised at typing time on the scalar type. ``float32`` in gives
``float32`` out and every constant and intermediate is ``float32`` (no float64 promotion);
``float64`` gives ``float64``. Mechanism: the algorithms are written once as Python
*factories* that close over constants already converted to the target numpy type (numba
freezes closure variables as typed constants); an ``overload`` of a private stub returns the
float32 or float64 closure, and the public functions are ``jit(inline="always")`` wrappers
around those stubs. Integer arguments are converted to float64, like numpy.

Flags: the overload implementations are compiled as separate functions with the project's
fastmath/error-model options (``_config``) and then inlined by LLVM, which keeps fast-math
flags per instruction; so a caller compiled with other flags (even ``fastmath=True``, whose
``reassoc`` would otherwise undo the Cody-Waite reduction) gets the same results.

Methods
-------
exp
    ``x = k*ln2 + r`` with ``k = round(x/ln2)`` obtained by the "shifter" trick
    ``t = x*log2(e) + 1.5*2**p`` (the integer ``k`` sits in the low bits of ``t``, read with a
    bit cast, so no float->int conversion that NaN could poison; ``float(k)`` is then exact),
    Cody-Waite two-part ln2 so ``r`` is exact to well below 1 ulp, ``|r| <= ln2/2``;
    ``exp(r)`` by its Taylor polynomial (degree 13 in float64, 7 in float32; truncation
    error < 0.15 ulp) in Horner form;
    ``2**k`` applied as two power-of-two factors ``2**(k//2) * 2**(k - k//2)`` built from
    exponent bits, so overflow gives ``inf`` and gradual underflow gives correctly scaled
    subnormals (a single rounding). ``x`` is first clamped to ``[lo, hi]`` just outside the
    finite range (NaN passes the clamp untouched), so +-inf and huge ``|x|`` give ``inf``/``0``.
tanh
    ``|x| < 0.625``: ``x + x*s*R(s)``, ``s = x*x``, with the Cephes minimax forms (rational
    P2/Q3 in float64, degree-4 polynomial in float32): no cancellation near 0.
    ``|x| >= 0.625``: ``1 - 2/(exp(2|x|) + 1)`` (here the result is >= 0.55, so no
    cancellation), ``|x|`` clamped where tanh rounds to 1 (20 / 9.5) so ``exp`` never overflows.
    Both branches are computed and one is selected; the sign is restored with ``copysign``
    (so ``tanh(-0.0) = -0.0`` and NaN stays NaN).
logistic
    ``e = exp(-|x|)``; ``1/(1+e)`` for ``x >= 0`` and ``e/(1+e)`` for ``x < 0``: no overflow,
    and for very negative ``x`` the (subnormal) result stays accurate where
    ``1/(1+exp(-x))`` would give 0.
expm1
    ``|x| < ln 2``: the Taylor series ``x (1 + x/2 + ... )`` (degree 17 in float64, 10 in
    float32; truncation < 0.1 ulp): no cancellation; else ``exp(x) - 1``, where
    ``exp(x) <= 1/2`` or ``>= 2`` so the subtraction loses at most a bit. (A loop over expm1 does
    not vectorize yet.)
log1p
    ``u = 1 + x``, ``u = 2**k m`` with ``m`` in ``[sqrt(1/2), sqrt(2))`` from the bits (musl's
    offsets), ``log(m) = 2 atanh(s)``, ``s = f/(2+f)``, ``f = m - 1``, by its Taylor series in
    ``s²`` (fdlibm's arrangement ``f - (f²/2 - s (f²/2 + R))``), plus ``k ln2`` (two-part) and
    the first-order correction ``(x - (u - 1))/u`` for the rounding of ``1 + x``. NaN for
    ``x < -1``, ``-inf`` at -1, ``inf`` at inf.

Measured accuracy (``python scripts/bench_elementary.py --accuracy``: 10**7 uniform points in
[-50, 50], 10**6 in [-1, 1], dense grids near 0, around the tanh branch point and the
overflow / underflow / saturation thresholds, both signs). Max error in ulp of the result
dtype against an 80-bit long-double reference rounded to the dtype (the correctly rounded
value), and max distance to numpy / scipy.special.expit in the same dtype (logistic: where
scipy is itself accurate; its ``1/(1+exp(-x))`` underflows to 0 early for x << 0):

    ======== ============ ============ ============ ============
    function f64 vs exact f64 vs numpy f32 vs exact f32 vs numpy
    ======== ============ ============ ============ ============
    exp      1            1            1            2
    tanh     1            2            1            2
    logistic 2            3            2            3
    expm1    2            2            2            3
    log1p    1            1            1            2
    ======== ============ ============ ============ ============

``tests/test_elementary.py`` asserts <= 2 ulp vs exact and <= 3 ulp vs numpy/scipy.
Branch-free, so that numba's loops over them vectorize (speed: docs/performance.md).
"""

from __future__ import annotations

import math

import numpy as np
from numba.core import types
from numba.extending import intrinsic, overload, register_jitable

from jitmlp._config import ERROR_MODEL, FASTMATH, jit

__all__ = ["exp", "expm1", "log1p", "logistic", "tanh"]


# --------------------------------------------------------------------------------------------
# bit casts (compile to a plain register move; vectorizable)


@intrinsic
def _float_bits(typingctx, x):
    """Reinterpret a float32/float64 as int32/int64 (same bits)."""
    if not isinstance(x, types.Float):
        return None
    ity = types.int64 if x.bitwidth == 64 else types.int32

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(ity))

    return ity(x), codegen


@intrinsic
def _bits_float(typingctx, i, like):
    """Reinterpret the low bits of integer ``i`` as a float of ``like``'s type."""
    if not isinstance(i, types.Integer) or not isinstance(like, types.Float):
        return None

    def codegen(context, builder, signature, args):
        ival = args[0]
        fty = context.get_value_type(like)
        width = like.bitwidth
        ity = context.get_value_type(types.int64 if width == 64 else types.int32)
        if i.bitwidth > width:
            ival = builder.trunc(ival, ity)
        elif i.bitwidth < width:
            ival = builder.sext(ival, ity)
        return builder.bitcast(ival, fty)

    return like(i, like), codegen


@intrinsic
def _int_to_float(typingctx, i, like):
    """Value conversion of integer ``i`` (truncated to ``like``'s width) to ``like``'s type."""
    if not isinstance(i, types.Integer) or not isinstance(like, types.Float):
        return None

    def codegen(context, builder, signature, args):
        ival = args[0]
        width = like.bitwidth
        ity = context.get_value_type(types.int64 if width == 64 else types.int32)
        if i.bitwidth > width:
            ival = builder.trunc(ival, ity)
        elif i.bitwidth < width:
            ival = builder.sext(ival, ity)
        return builder.sitofp(ival, context.get_value_type(like))

    return like(i, like), codegen


# --------------------------------------------------------------------------------------------
# kernel factories: the same algorithm, with constants typed for one float type


def _exp_poly(ft):
    """Taylor coefficients of exp, highest degree first, in type ``ft``."""
    degree = 13 if ft is np.float64 else 7
    return tuple(ft(1.0 / math.factorial(n)) for n in range(degree, -1, -1))


def _make_exp_core(ft):
    """``exp(x)`` for ``x`` already inside ``[lo, hi]`` (or NaN)."""
    if ft is np.float64:
        shift, bias, mbits = 1.5 * 2.0**52, 1023, 52
        ln2_hi, ln2_lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # fdlibm
    else:
        shift, bias, mbits = 1.5 * 2.0**23, 127, 23
        ln2_hi, ln2_lo = 0.693359375, -2.12194440e-4  # Cephes expf
    SHIFT = ft(shift)
    SHIFT_BITS = int(np.array(SHIFT).view(np.int64 if ft is np.float64 else np.int32))
    SHIFT_BITS = np.int64(SHIFT_BITS)
    BIAS, MBITS = np.int64(bias), np.int64(mbits)
    LOG2E, LN2_HI, LN2_LO = ft(1.4426950408889634), ft(ln2_hi), ft(ln2_lo)
    POLY = _exp_poly(ft)
    ZERO = ft(0.0)

    @register_jitable(inline="always")
    def exp_core(x):
        t = x * LOG2E + SHIFT  # round(x/ln2) + SHIFT, rounded to an integer by the add
        # k is read from the bits of t, not as t - SHIFT: a caller compiled with
        # fastmath "reassoc" would fold (x*LOG2E + SHIFT) - SHIFT into x*LOG2E
        k = _float_bits(t) - SHIFT_BITS
        kf = _int_to_float(k, x)
        r = x - kf * LN2_HI
        r = r - kf * LN2_LO
        p = ZERO
        for c in POLY:
            p = p * r + c
        k1 = k >> 1
        k2 = k - k1
        s1 = _bits_float((k1 + BIAS) << MBITS, x)
        s2 = _bits_float((k2 + BIAS) << MBITS, x)
        return (p * s1) * s2

    return exp_core


def _exp_limits(ft):
    # below lo exp rounds to 0, above hi it overflows; both give the right answer at the limit
    return (ft(-746.0), ft(710.0)) if ft is np.float64 else (ft(-104.0), ft(89.0))


def _make_exp(ft):
    core = _make_exp_core(ft)
    LO, HI = _exp_limits(ft)

    def exp_impl(x):
        x = HI if x > HI else x  # comparisons are False for NaN: NaN passes through
        x = LO if x < LO else x
        return core(x)

    return exp_impl


def _make_tanh(ft):
    core = _make_exp_core(ft)
    ONE, TWO = ft(1.0), ft(2.0)
    SMALL = ft(0.625)
    if ft is np.float64:
        CLAMP = ft(20.0)  # tanh(x) == 1.0 in float64 for x > 19.06
        # Cephes tanh.c: tanh(x) = x + x^3 P(x^2)/Q(x^2) on |x| < 0.625
        P = tuple(ft(c) for c in (
            -9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3))
        Q = tuple(ft(c) for c in (
            1.0, 1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3))
    else:
        CLAMP = ft(9.5)  # tanh(x) == 1.0f for x > 9.01
        # Cephes tanhf.c: tanh(x) = x + x^3 P(x^2) on |x| < 0.625
        P = tuple(ft(c) for c in (
            -5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
            -3.33332819422e-1))
        Q = (ONE,)

    ZERO = ft(0.0)

    def tanh_impl(x):
        ax = abs(x)
        ax = CLAMP if ax > CLAMP else ax  # NaN passes through
        s = ax * ax
        p = ZERO
        for c in P:
            p = p * s + c
        q = ZERO
        for c in Q:
            q = q * s + c
        small = ax + ax * s * (p / q)  # q == 1 in float32: the division folds away
        e = core(ax + ax)
        large = ONE - TWO / (e + ONE)
        t = small if ax < SMALL else large
        return math.copysign(t, x)

    return tanh_impl


def _make_logistic(ft):
    core = _make_exp_core(ft)
    LO, _ = _exp_limits(ft)
    ONE, ZERO = ft(1.0), ft(0.0)

    def logistic_impl(x):
        m = -abs(x)
        m = LO if m < LO else m  # NaN passes through
        e = core(m)
        num = ONE if x >= ZERO else e
        return num / (ONE + e)

    return logistic_impl


def _make_expm1(ft):
    core = _make_exp_core(ft)
    LO, HI = _exp_limits(ft)
    ONE, ZERO = ft(1.0), ft(0.0)
    SMALL = ft(math.log(2.0))
    # x·Σ_{n=1}^{N} x^(n-1)/n!, highest degree first; truncation < 0.1 ulp on |x| < ln 2
    degree = 17 if ft is np.float64 else 10
    POLY = tuple(ft(1.0 / math.factorial(n)) for n in range(degree, 0, -1))

    def expm1_impl(x):
        x = HI if x > HI else x  # NaN passes through
        x = LO if x < LO else x
        p = ZERO
        for c in POLY:
            p = p * x + c
        small = p * x  # no cancellation: the series itself
        large = core(x) - ONE  # |x| >= ln 2: e^x <= 1/2 or >= 2, little cancellation
        return small if abs(x) < SMALL else large

    return expm1_impl


def _make_log1p(ft):
    if ft is np.float64:
        ity = np.int64
        # x = 2**k · m with m in [sqrt(1/2), sqrt(2)) (musl's log): the offsets on the bits
        OFFSET, TOP = np.int64((0x3FF00000 - 0x3FE6A09E) << 32), np.int64(0x3FE6A09E << 32)
        MANT, MBITS, BIAS = np.int64((1 << 52) - 1), np.int64(52), np.int64(1023)
        ln2_hi, ln2_lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # fdlibm
        n_terms = 10
    else:
        ity = np.int32
        OFFSET, TOP = np.int32(0x3F800000 - 0x3F3504F3), np.int32(0x3F3504F3)
        MANT, MBITS, BIAS = np.int32((1 << 23) - 1), np.int32(23), np.int32(127)
        ln2_hi, ln2_lo = 6.9313812256e-01, 9.0580006145e-06  # fdlibm logf
        n_terms = 4
    del ity
    LN2_HI, LN2_LO = ft(ln2_hi), ft(ln2_lo)
    # log(1+f) = 2 atanh(s), s = f/(2+f): 2s + s·R(z), z = s², R(z) = Σ_n 2 z^n/(2n+1);
    # |s| <= 0.1716, so truncation < 0.05 ulp
    R = tuple(ft(2.0 / (2 * n + 1)) for n in range(n_terms, 0, -1))
    ONE, TWO, HALF, ZERO = ft(1.0), ft(2.0), ft(0.5), ft(0.0)
    INF = ft(np.inf)
    NAN = ft(np.nan)

    def log1p_impl(x):
        u = ONE + x
        c = (x - (u - ONE)) / u  # what the rounding of 1 + x lost, to first order
        bits = _float_bits(u) + OFFSET
        k = (bits >> MBITS) - BIAS
        m = _bits_float((bits & MANT) + TOP, x)
        f = m - ONE
        hfsq = HALF * f * f
        s = f / (TWO + f)
        z = s * s
        r = ZERO
        for coef in R:
            r = r * z + coef
        r = r * z
        kf = _int_to_float(k, x)
        y = kf * LN2_HI + (f - (hfsq - (s * (hfsq + r) + (kf * LN2_LO + c))))
        y = INF if x == INF else y
        y = -INF if x == -ONE else y
        return NAN if not x >= -ONE else y  # NaN, and x < -1

    return log1p_impl


# --------------------------------------------------------------------------------------------
# type dispatch: stubs overloaded per float type


# The implementations are compiled as their own functions with the project's flags (not
# inlined into the caller's numba IR): LLVM still inlines them, and fast-math flags are
# per-instruction in LLVM, so a caller compiled with e.g. fastmath=True ("reassoc") cannot
# re-associate the Cody-Waite reduction.
_JIT_OPTIONS = dict(fastmath=set(FASTMATH), error_model=ERROR_MODEL)


def _make_dispatch(factory):
    impls = {types.float32: factory(np.float32), types.float64: factory(np.float64)}

    def stub(x):  # pragma: no cover - only the overload below is ever used
        raise NotImplementedError

    @overload(stub, jit_options=_JIT_OPTIONS)
    def _ovl(x):
        if x in impls:
            return impls[x]
        if isinstance(x, (types.Integer, types.Boolean)):
            return lambda x: stub(np.float64(x))
        return None

    return stub


_exp_stub = _make_dispatch(_make_exp)
_tanh_stub = _make_dispatch(_make_tanh)
_logistic_stub = _make_dispatch(_make_logistic)
_expm1_stub = _make_dispatch(_make_expm1)
_log1p_stub = _make_dispatch(_make_log1p)


@jit(inline="always")
def exp(x):
    """``exp(x)`` for a float32/float64 scalar, same dtype out; measured max error 1 ulp."""
    return _exp_stub(x)


@jit(inline="always")
def tanh(x):
    """``tanh(x)`` for a float32/float64 scalar, same dtype out; measured max error 1 ulp."""
    return _tanh_stub(x)


@jit(inline="always")
def logistic(x):
    """``1/(1+exp(-x))`` for a float32/float64 scalar, same dtype out; measured max 2 ulp."""
    return _logistic_stub(x)


@jit(inline="always")
def expm1(x):
    """``exp(x) - 1`` without its cancellation near 0, for a float32/float64 scalar; measured
    max error 1 ulp."""
    return _expm1_stub(x)


@jit(inline="always")
def log1p(x):
    """``log(1 + x)`` without the rounding of 1 + x, for a float32/float64 scalar x >= -1
    (NaN below); measured max error 1 ulp."""
    return _log1p_stub(x)
