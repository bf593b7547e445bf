"""Elementary functions written so that a loop over them vectorizes, for every kernel module.

A libm call, a branch or a float-to-int floor in a loop body keeps the compiler from
vectorizing the loop, so exp, expm1, log, log1p, tanh and a single-precision erfc are computed
here from their bits and a few polynomials, both branches of a case computed and one selected.
Accuracy, tested over the whole range in tests/test_elemwise_kernels.py: within 4e-7 relative
error in float32 and 1e-15 in float64.  _sum, _max, _sum_products, _moments and
_sum_and_products reduce arrays through
independent partial results (a single running sum is one long chain of dependent additions,
which the compiler may not reorder).
"""
from libc.stdint cimport int32_t, int64_t
from libc.math cimport INFINITY, NAN
from cysym._ops._blas cimport real


ctypedef union FloatBits:
    float value
    int32_t bits

ctypedef union DoubleBits:
    double value
    int64_t bits


cdef inline float _expm1_reduced_float(float x, float* low, float* high) noexcept nogil:
    """exp(x) = (1 + q) * low * high, returning q: x = n ln2 + r with n = round(x / ln2) and
    |r| <= ln2/2, q = exp(r) - 1 by Cephes' degree-6 polynomial, and 2^n split over two
    exponent fields so that overflow to inf and underflow to 0 need no branch.  Adding and
    subtracting 1.5 * 2^23 rounds to an integer without a float-to-int floor."""
    cdef float clamped = <float>-104.0 if x < <float>-104.0 else x     # NaN passes through
    clamped = <float>89.0 if clamped > <float>89.0 else clamped
    cdef float fn = (clamped * <float>1.44269504088896341 + <float>12582912.0) - <float>12582912.0
    cdef int32_t n = <int32_t>fn
    cdef float r = clamped - fn * <float>0.693359375 - fn * <float>-2.12194440e-4
    cdef float p = ((((<float>1.9875691500e-4 * r + <float>1.3981999507e-3) * r
                      + <float>8.3334519073e-3) * r + <float>4.1665795894e-2) * r
                    + <float>1.6666665459e-1) * r + <float>5.0000001201e-1
    cdef FloatBits bits
    bits.bits = ((n >> 1) + 127) << 23
    low[0] = bits.value
    bits.bits = ((n - (n >> 1)) + 127) << 23
    high[0] = bits.value
    return p * r * r + r


cdef inline double _expm1_reduced_double(double x, double* low, double* high) noexcept nogil:
    """The same for float64: ln2 split in two (Cody-Waite) so that r is exact to the last bit,
    and Taylor's polynomial to degree 13 (truncation < 2^-60 for |r| <= ln2/2).  The rounding
    constant 1.5 * 2^52 also leaves n in the low bits of its sum, so no float-to-int
    conversion is needed (none vectorizes before AVX-512)."""
    cdef double clamped = -746.0 if x < -746.0 else x                # NaN passes through
    clamped = 710.0 if clamped > 710.0 else clamped
    cdef DoubleBits bits
    bits.value = clamped * 1.4426950408889634074 + 6755399441055744.0
    cdef double fn = bits.value - 6755399441055744.0
    # the low 52 bits of the sum hold 2^51 + n; biased = n + 2048 is positive, so halving
    # it is a plain shift (an arithmetic shift of 64-bit lanes needs AVX-512)
    cdef int64_t biased = (bits.bits + 2048) & 0xFFF
    cdef double r = clamped - fn * 6.93145751953125e-1 - fn * 1.42860682030941723212e-6
    cdef double p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    bits.bits = ((biased >> 1) - 1) << 52                 # 2^(floor(n/2)), exponent bias 1023
    low[0] = bits.value
    bits.bits = ((biased - (biased >> 1)) - 1) << 52      # 2^(n - floor(n/2))
    high[0] = bits.value
    return p * r * r + r


cdef inline real _exp(real x) noexcept nogil:
    cdef real low, high, q
    if real is float: q = _expm1_reduced_float(x, &low, &high)
    else: q = _expm1_reduced_double(x, &low, &high)
    return (q + <real>1) * low * high


cdef inline real _expm1(real x) noexcept nogil:
    cdef real low, high, q
    if real is float: q = _expm1_reduced_float(x, &low, &high)
    else: q = _expm1_reduced_double(x, &low, &high)
    cdef real scale = low * high
    # 2^n q + (2^n - 1) keeps the precision of q where exp(x) - 1 would cancel; near overflow
    # 2^n itself is inf, so the product is formed factor by factor as exp does
    return scale * q + (scale - <real>1) if x < <real>64 else (q + <real>1) * low * high - <real>1


cdef inline real _log(real x) noexcept nogil:
    """log(x) = e ln2 + log(m) with m in [sqrt(1/2), sqrt(2)), e and m read from the bits
    (subnormals scaled into the normal range first): Cephes' polynomial in m - 1 for float32,
    fdlibm's in s = (m - 1) / (m + 1) for float64; special values selected at the end."""
    cdef FloatBits fbits
    cdef DoubleBits dbits
    cdef real e, m, f, z, w, s, y, result
    cdef int64_t mantissa
    cdef bint subnormal
    if real is float:
        subnormal = x < <float>1.17549435e-38
        fbits.value = x * <float>8388608.0 if subnormal else x
        e = <float>(((fbits.bits >> 23) & 0xFF) - 126) - (<float>23 if subnormal else <float>0)
        fbits.bits = (fbits.bits & 0x007FFFFF) | 0x3F000000               # m in [0.5, 1)
        m = fbits.value
    else:
        subnormal = x < 2.2250738585072014e-308
        dbits.value = x * 18014398509481984.0 if subnormal else x
        mantissa = (dbits.bits & 0x000FFFFFFFFFFFFFLL) | 0x3FE0000000000000LL   # m in [0.5, 1)
        # the 11-bit exponent field to float64 through the bits of 2^52 + field (int64 to
        # float64 conversion does not vectorize before AVX-512)
        dbits.bits = ((dbits.bits >> 52) & 0x7FF) | 0x4330000000000000LL
        e = dbits.value - 4503599627370496.0 - 1022.0 - (54.0 if subnormal else 0.0)
        dbits.bits = mantissa
        m = dbits.value
    e = e - <real>1 if m < <real>0.70710678118654752440 else e
    f = (m + m if m < <real>0.70710678118654752440 else m) - <real>1
    z = f * f
    if real is float:
        y = ((((((((<float>7.0376836292e-2 * f - <float>1.1514610310e-1) * f + <float>1.1676998740e-1) * f
                  - <float>1.2420140846e-1) * f + <float>1.4249322787e-1) * f - <float>1.6668057665e-1) * f
               + <float>2.0000714765e-1) * f - <float>2.4999993993e-1) * f + <float>3.3333331174e-1) * f * z
        result = f + (y + e * <float>-2.12194440e-4 - <float>0.5 * z) + e * <float>0.693359375
    else:
        s = f / (2.0 + f)
        z = s * s
        w = z * z
        y = (w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01))
             + z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
                                                    + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01))))
        w = 0.5 * f * f
        result = e * 6.93147180369123816490e-01 - ((w - (s * (w + y) + e * 1.90821492927058770002e-10)) - f)
    result = -<real>INFINITY if x == 0 else result
    result = x if x == <real>INFINITY else result
    result = <real>NAN if x < 0 else result
    return x if x != x else result


cdef inline real _log1p(real x) noexcept nogil:
    # Goldberg's: log(1 + x) * x / ((1 + x) - 1) cancels the rounding error of 1 + x
    cdef real w = <real>1 + x
    cdef real d = w - <real>1
    cdef real result = _log(w) * x / d
    result = x if d == 0 else result
    return x if x == <real>INFINITY else result


cdef inline real _tanh(real x) noexcept nogil:
    cdef real z, clamped, small, large
    cdef real magnitude = x if x >= 0 else -x
    if real is float:
        # Eigen's float tanh: an odd degree-13 over an even degree-6 polynomial on |x| <= 7.905
        # (where it reaches 1.0f), within 4e-7 relative error; one division and no exp, so twice as
        # fast as Cephes' exp-based form.  Below 4e-4 tanh(x) rounds to x.
        clamped = <float>-7.90531110763549805 if x < <float>-7.90531110763549805 else x   # NaN passes
        clamped = <float>7.90531110763549805 if clamped > <float>7.90531110763549805 else clamped
        z = clamped * clamped
        small = ((((((<float>-2.76076847742355e-16 * z + <float>2.00018790482477e-13) * z
                     - <float>8.60467152213735e-11) * z + <float>5.12229709037114e-08) * z
                   + <float>1.48572235717979e-05) * z + <float>6.37261928875436e-04) * z
                 + <float>4.89352455891786e-03)
        large = (((<float>1.19825839466702e-06 * z + <float>1.18534705686654e-04) * z
                  + <float>2.26843463243900e-03) * z + <float>4.89352518554385e-03)
        return x if magnitude < <float>4e-4 else clamped * small / large
    else:
        # Cephes' tanh: a rational function below 0.625, 1 - 2 / (exp(2|x|) + 1) above; both
        # computed and one selected, so the loop vectorizes
        z = x * x
        small = x + x * z * (((-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                              - 1.61468768441708447952e3)
                             / (((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
                                + 4.84406305325125486048e3))
        large = 1.0 - 2.0 / (_exp(2.0 * magnitude) + 1.0)
        large = large if x >= 0 else -large
        return small if magnitude < 0.625 else large


cdef inline double _sum(const real* x, Py_ssize_t n) noexcept nogil:
    """The sum of x[0:n] in float64, from eight partial sums that the compiler keeps in vector
    registers (the order of the additions differs from a running sum, within rounding)."""
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0
    cdef Py_ssize_t i, whole = n - n % 8
    for i in range(0, whole, 8):
        s0 += x[i]
        s1 += x[i + 1]
        s2 += x[i + 2]
        s3 += x[i + 3]
        s4 += x[i + 4]
        s5 += x[i + 5]
        s6 += x[i + 6]
        s7 += x[i + 7]
    for i in range(whole, n):
        s0 += x[i]
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


cdef inline real _max(const real* x, Py_ssize_t n) noexcept nogil:
    """The largest of x[0:n] (n >= 1; NaNs are passed over), from eight partial maxima as _sum."""
    cdef real m0 = x[0], m1 = x[0], m2 = x[0], m3 = x[0], m4 = x[0], m5 = x[0], m6 = x[0], m7 = x[0]
    cdef Py_ssize_t i, whole = n - n % 8
    for i in range(0, whole, 8):
        m0 = x[i] if x[i] > m0 else m0
        m1 = x[i + 1] if x[i + 1] > m1 else m1
        m2 = x[i + 2] if x[i + 2] > m2 else m2
        m3 = x[i + 3] if x[i + 3] > m3 else m3
        m4 = x[i + 4] if x[i + 4] > m4 else m4
        m5 = x[i + 5] if x[i + 5] > m5 else m5
        m6 = x[i + 6] if x[i + 6] > m6 else m6
        m7 = x[i + 7] if x[i + 7] > m7 else m7
    for i in range(whole, n):
        m0 = x[i] if x[i] > m0 else m0
    m0 = m1 if m1 > m0 else m0
    m2 = m3 if m3 > m2 else m2
    m4 = m5 if m5 > m4 else m4
    m6 = m7 if m7 > m6 else m6
    m0 = m2 if m2 > m0 else m0
    m4 = m6 if m6 > m4 else m4
    return m4 if m4 > m0 else m0


cdef inline double _erfc_single(double z) noexcept nogil:
    """erfc(z) to single precision: the Chebyshev fit of Numerical Recipes (erfcc, fractional
    error below 1.2e-7 everywhere), evaluated in float64 so that its exponent -z^2 is exact for
    float32 z.  Small in relative terms where erfc is small, which 1 + erf(x) is not."""
    cdef double magnitude = z if z >= 0 else -z
    cdef double t = 1.0 / (1.0 + 0.5 * magnitude)
    cdef double p = (((((((((0.17087277 * t - 0.82215223) * t + 1.48851587) * t - 1.13520398) * t
                          + 0.27886807) * t - 0.18628806) * t + 0.09678418) * t + 0.37409196) * t
                      + 1.00002368) * t - 1.26551223)
    cdef double tail = t * _exp(p - magnitude * magnitude)
    return tail if z >= 0 else 2.0 - tail


cdef extern from "_moments.h":
    Py_ssize_t cysym_moments_f(const float* x, double shift, Py_ssize_t n, double* total,
                               double* squares) noexcept nogil
    Py_ssize_t cysym_moments_d(const double* x, double shift, Py_ssize_t n, double* total,
                               double* squares) noexcept nogil
    Py_ssize_t cysym_sum_and_products_f(const float* a, const float* b, double shift_b,
                                        Py_ssize_t n, double* total, double* products) noexcept nogil
    Py_ssize_t cysym_sum_and_products_d(const double* a, const double* b, double shift_b,
                                        Py_ssize_t n, double* total, double* products) noexcept nogil
    Py_ssize_t cysym_masked_sum_and_products_f(const float* a, const float* b, double shift_b,
                                               const float* y, Py_ssize_t n, double* total,
                                               double* products) noexcept nogil
    Py_ssize_t cysym_masked_sum_and_products_d(const double* a, const double* b, double shift_b,
                                               const double* y, Py_ssize_t n, double* total,
                                               double* products) noexcept nogil


cdef inline void _moments(const real* x, double shift, Py_ssize_t n, double* total,
                          double* squares) noexcept nogil:
    """Adds the sum of x[0:n] - shift to total[0] and the sum of its squares to squares[0], in
    one pass (BatchNorm's and GroupNorm's statistics: with shift a value of the data, the mean
    and variance follow without a second pass and without cancellation), float64 partial sums
    in vector lanes (_moments.h) and the last n % 16 values one by one."""
    cdef Py_ssize_t i, whole
    cdef double d
    if real is float:
        whole = cysym_moments_f(x, shift, n, total, squares)
    else:
        whole = cysym_moments_d(x, shift, n, total, squares)
    for i in range(whole, n):
        d = x[i] - shift
        total[0] += d
        squares[0] += d * d


cdef inline void _mean_and_variance(double pivot, double total, double squares, Py_ssize_t count,
                                   double* mean, double* variance) noexcept nogil:
    """The mean and (biased) variance of `count` values from _moments' sums about `pivot`."""
    cdef double deviation = total / count
    mean[0] = pivot + deviation
    variance[0] = max(squares / count - deviation * deviation, 0.0)


cdef inline void _sum_and_products(const real* a, const real* b, double shift_b, Py_ssize_t n,
                                   double* total, double* products) noexcept nogil:
    """Adds the sum of a[0:n] to total[0] and the sum of a * (b - shift_b) to products[0], in
    one pass (the normalization layers' backward: both sums of dy) as _moments."""
    cdef Py_ssize_t i, whole
    if real is float:
        whole = cysym_sum_and_products_f(a, b, shift_b, n, total, products)
    else:
        whole = cysym_sum_and_products_d(a, b, shift_b, n, total, products)
    for i in range(whole, n):
        total[0] += a[i]
        products[0] += a[i] * (b[i] - shift_b)


cdef inline void _masked_sum_and_products(const real* a, const real* b, double shift_b,
                                          const real* y, Py_ssize_t n, double* total,
                                          double* products) noexcept nogil:
    """_sum_and_products of a where y > 0 (zero elsewhere): BatchNorm's backward through a ReLU
    whose output is y."""
    cdef Py_ssize_t i, whole
    cdef double v
    if real is float:
        whole = cysym_masked_sum_and_products_f(a, b, shift_b, y, n, total, products)
    else:
        whole = cysym_masked_sum_and_products_d(a, b, shift_b, y, n, total, products)
    for i in range(whole, n):
        v = a[i] if y[i] > 0 else 0.0
        total[0] += v
        products[0] += v * (b[i] - shift_b)


cdef inline double _sum_products(const real* a, double shift_a, const real* b, double shift_b,
                                 Py_ssize_t n) noexcept nogil:
    """The sum of (a - shift_a) * (b - shift_b) over [0:n] (a variance, a covariance, a dot),
    in float64 partial sums as _sum."""
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t i, whole = n - n % 4
    for i in range(0, whole, 4):
        s0 += (a[i] - shift_a) * (b[i] - shift_b)
        s1 += (a[i + 1] - shift_a) * (b[i + 1] - shift_b)
        s2 += (a[i + 2] - shift_a) * (b[i + 2] - shift_b)
        s3 += (a[i + 3] - shift_a) * (b[i + 3] - shift_b)
    for i in range(whole, n):
        s0 += (a[i] - shift_a) * (b[i] - shift_b)
    return (s0 + s1) + (s2 + s3)
