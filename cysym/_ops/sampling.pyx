"""Kernels of the random-sampling family (cysym/ops/random_ops.py): the samplers of
_random_*, _random_*_like, _sample_* and _sample_multinomial, and the densities of
_random_pdf_* with their gradients (sampling_pdf.pxi).

Random numbers come from splitmix64 (cysym/_ops/_random.pxd) at the run context's rng_state.
Each sampling op first runs a Python call that reseeds the plan from cysym.random's generator,
so every forward draws new numbers and `cysym.random.seed(n)` reproduces them, whether the
executor runs for training or not.  Parameters are read and samples written through dtype codes
(float32, float64, int32, int64), so the samplers serve every output dtype with one loop:
samples are drawn in double precision and rounded once into the output.
"""
from libc.math cimport log, sqrt, exp, floor, fabs, lgamma, cos, pow, M_PI
from libc.stdint cimport int32_t, int64_t
from libc.string cimport memcpy, memset
from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype, req_code, REQ_NULL
from cysym._ops._index cimport index_code, read_index, INDEX_FLOAT32, INDEX_FLOAT64, INDEX_INT32
from cysym._ops._random cimport _splitmix64
from cysym._ops.runner cimport Plan, KernelCall, RunContext
from scipy.special.cython_special cimport psi

from cysym import random as _random

DISTRIBUTIONS = {"uniform": 0, "normal": 1, "gamma": 2, "exponential": 3, "poisson": 4,
                 "negative_binomial": 5, "generalized_negative_binomial": 6, "randint": 7,
                 "dirichlet": 8}
cdef enum:
    UNIFORM = 0
    NORMAL = 1
    GAMMA = 2
    EXPONENTIAL = 3
    POISSON = 4
    NEGATIVE_BINOMIAL = 5
    GENERALIZED_NEGATIVE_BINOMIAL = 6
    RANDINT = 7
    DIRICHLET = 8


# ---------------------------------------------------------------------------------------------
# the samplers: one draw each, in double precision

cdef inline double _uniform(unsigned long long* state) noexcept nogil:
    """U in [0, 1), 53 random bits."""
    return (_splitmix64(state) >> 11) * (1.0 / 9007199254740992.0)


cdef inline double _open_uniform(unsigned long long* state) noexcept nogil:
    """U in (0, 1): logarithms of it are finite."""
    return ((_splitmix64(state) >> 11) + 0.5) * (1.0 / 9007199254740992.0)


cdef inline double _normal(unsigned long long* state) noexcept nogil:
    """A standard normal draw (Box-Muller)."""
    return sqrt(-2.0 * log(_open_uniform(state))) * cos(2.0 * M_PI * _uniform(state))


cdef double _gamma(unsigned long long* state, double alpha, double scale) noexcept nogil:
    """Gamma(alpha) * scale by Marsaglia and Tsang (2000); alpha < 1 through Gamma(alpha + 1)."""
    cdef double d, c, x, v, u
    if alpha <= 0 or scale == 0:
        return 0.0
    if alpha < 1:
        return _gamma(state, alpha + 1.0, scale) * pow(_open_uniform(state), 1.0 / alpha)
    d = alpha - 1.0 / 3.0
    c = 1.0 / sqrt(9.0 * d)
    while True:
        x = _normal(state)
        v = 1.0 + c * x
        if v <= 0:
            continue
        v = v * v * v
        u = _open_uniform(state)
        if u < 1.0 - 0.0331 * x * x * x * x or log(u) < 0.5 * x * x + d * (1.0 - v + log(v)):
            return d * v * scale


cdef double _poisson(unsigned long long* state, double lam) noexcept nogil:
    """Poisson(lam): multiplication of uniforms below 10, Hormann's transformed rejection
    (PTRS, 1993) above."""
    cdef double limit, product, k, slam, loglam, b, a, inv_alpha, vr, u, v, us
    if lam <= 0:
        return 0.0
    if lam < 10:
        limit = exp(-lam)
        product = _uniform(state)
        k = 0
        while product > limit:
            product *= _uniform(state)
            k += 1
        return k
    slam = sqrt(lam)
    loglam = log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        u = _uniform(state) - 0.5
        v = _open_uniform(state)
        us = 0.5 - fabs(u)
        k = floor((2 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= vr:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if log(v) + log(inv_alpha) - log(a / (us * us) + b) <= -lam + k * loglam - lgamma(k + 1):
            return k


cdef inline double _draw(int distribution, double p1, double p2,
                         unsigned long long* state) noexcept nogil:
    """One sample of the distribution with parameters (p1, p2), as MXNet parametrizes them."""
    if distribution == UNIFORM:
        return p1 + (p2 - p1) * _uniform(state)
    if distribution == NORMAL:
        return p1 + p2 * _normal(state)
    if distribution == GAMMA:           # alpha (shape), beta (scale)
        return _gamma(state, p1, p2)
    if distribution == EXPONENTIAL:     # lam (rate)
        return -log(1.0 - _uniform(state)) / p1
    if distribution == POISSON:
        return _poisson(state, p1)
    if distribution == NEGATIVE_BINOMIAL:   # k failures, p: Poisson(Gamma(k, (1 - p) / p))
        return _poisson(state, _gamma(state, p1, (1.0 - p2) / p2))
    if distribution == GENERALIZED_NEGATIVE_BINOMIAL:   # mean mu, dispersion alpha
        if p2 == 0:
            return _poisson(state, p1)
        return _poisson(state, _gamma(state, 1.0 / p2, p1 * p2))
    # RANDINT: [low, high)
    return p1 + floor((p2 - p1) * _uniform(state))


cdef inline void _store(char* out, int code, Py_ssize_t i, double value) noexcept nogil:
    if code == INDEX_FLOAT32:
        (<float*>out)[i] = <float>value
    elif code == INDEX_FLOAT64:
        (<double*>out)[i] = value
    elif code == INDEX_INT32:
        (<int32_t*>out)[i] = <int32_t>value
    else:
        (<int64_t*>out)[i] = <int64_t>value


# ---------------------------------------------------------------------------------------------
# _random_*, _random_*_like, _sample_*

cdef void sample_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # ints: distribution, parameter arrays (0, 1 or 2), distributions, samples per distribution,
    # output code, parameter code; floats: p1, p2 (no parameter arrays); arrays: out, p1, p2
    cdef int distribution = <int>c.ints[0], arrays = <int>c.ints[1]
    cdef Py_ssize_t count = c.ints[2], per = c.ints[3], d, j
    cdef int out_code = <int>c.ints[4], param_code = <int>c.ints[5]
    cdef double p1 = c.floats[0], p2 = c.floats[1]
    cdef unsigned long long state = ctx.rng_state
    for d in range(count):
        if arrays >= 1:
            p1 = read_index(c.arrays[1], param_code, d)
        if arrays == 2:
            p2 = read_index(c.arrays[2], param_code, d)
        for j in range(per):
            _store(c.arrays[0], out_code, d * per + j, _draw(distribution, p1, p2, &state))
    ctx.rng_state = state


class _Reseed:
    """The Python call before a sampling kernel: a new seed from cysym.random's generator."""

    def __init__(self, Plan plan):
        self.plan = plan

    def __call__(self):
        self.plan.set_seed(_random.next_seed())


def append_sample(Plan plan, str distribution, out, list parameters, tuple scalars, str req,
                  str label):
    """out = samples of `distribution`: with `parameters` arrays (_sample_*), out holds
    out.size / parameters[0].size samples per distribution; without, every element is a sample
    with the scalar parameters."""
    if req_code(req, label) == REQ_NULL:
        return
    count = parameters[0].size if parameters else 1
    if parameters and any(p.size != count for p in parameters):
        raise ValueError(f"{label}: parameter arrays of sizes {[p.size for p in parameters]}")
    if count and out.size % count:
        raise ValueError(f"{label}: {out.size} samples for {count} distributions")
    param_code = index_code(parameters[0], label, "a parameter") if parameters else 0
    if any(index_code(p, label, "a parameter") != param_code for p in parameters):
        raise TypeError(f"{label}: parameter arrays of different dtypes")
    plan.add_python(_Reseed(plan), label)
    plan.add(sample_kernel, 0, [out] + parameters,
             [DISTRIBUTIONS[distribution], len(parameters), count if out.size else 0,
              out.size // count if count else 0, index_code(out, label, "the output"), param_code],
             list(scalars) + [0.0] * (2 - len(scalars)), label)


# ---------------------------------------------------------------------------------------------
# _sample_multinomial and its gradient (through the log-likelihood output)

cdef void _multinomial(KernelCall* c, RunContext* ctx, real* dummy) noexcept nogil:
    # ints: rows, k, samples per row, sample code, get_prob; arrays: data, sample, [log_prob]
    cdef Py_ssize_t rows = c.ints[0], k = c.ints[1], per = c.ints[2], r, j, i, chosen
    cdef int code = <int>c.ints[3]
    cdef bint get_prob = c.ints[4]
    cdef const real* data = <real*>c.arrays[0]
    cdef real* log_prob = <real*>c.arrays[2]
    cdef unsigned long long state = ctx.rng_state
    cdef double u, total
    for r in range(rows):
        for j in range(per):
            u = _uniform(&state)
            total = 0
            chosen = k - 1      # rounding may leave the sum below u: the last outcome
            for i in range(k):
                total += data[r * k + i]
                if u < total:
                    chosen = i
                    break
            _store(c.arrays[1], code, r * per + j, <double>chosen)
            if get_prob:
                log_prob[r * per + j] = log(data[r * k + chosen])
    ctx.rng_state = state


cdef void multinomial_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _multinomial(c, ctx, <float*>NULL)
    else:
        _multinomial(c, ctx, <double*>NULL)


def append_multinomial(Plan plan, data, sample, log_prob, str label):
    """sample[r, j] ~ Categorical(data[r]) for the rows r of data (k outcomes each), and
    log_prob = log(data[r, sample]) when log_prob is not None."""
    k = data.shape[data.ndim - 1]
    rows = data.size // k if k else 0
    per = sample.size // rows if rows else 0
    arrays = [data, sample] + ([] if log_prob is None else [log_prob])
    plan.add_python(_Reseed(plan), label)
    plan.add(multinomial_kernel, common_dtype([data] + ([] if log_prob is None else [log_prob])),
             arrays, [rows, k, per, index_code(sample, label, "the sample output"),
                      log_prob is not None], [], label)


cdef void _multinomial_backward(KernelCall* c, real* dummy) noexcept nogil:
    # ints: rows, k, samples per row, sample code; arrays: d_log_prob, data, sample, d_data
    cdef Py_ssize_t rows = c.ints[0], k = c.ints[1], per = c.ints[2], r, j, chosen
    cdef int code = <int>c.ints[3]
    cdef const real* dout = <real*>c.arrays[0]
    cdef const real* data = <real*>c.arrays[1]
    cdef real* grad = <real*>c.arrays[3]
    memset(grad, 0, rows * k * sizeof(real))
    for r in range(rows):
        for j in range(per):
            chosen = <Py_ssize_t>read_index(c.arrays[2], code, r * per + j)
            grad[r * k + chosen] += dout[r * per + j] / data[r * k + chosen]


cdef void multinomial_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _multinomial_backward(c, <float*>NULL)
    else:
        _multinomial_backward(c, <double*>NULL)


def append_multinomial_backward(Plan plan, d_log_prob, data, sample, d_data, str req, str label):
    if req_code(req, label) == REQ_NULL:
        return
    k = data.shape[data.ndim - 1]
    rows = data.size // k if k else 0
    plan.add(multinomial_backward_kernel, common_dtype([d_log_prob, data, d_data]),
             [d_log_prob, data, sample, d_data],
             [rows, k, sample.size // rows if rows else 0,
              index_code(sample, label, "the sample")], [], label)


# ---------------------------------------------------------------------------------------------
# _shuffle: a uniform permutation of the rows (first axis), Fisher-Yates in place, recording
# which row of data each row of out holds (for the gradient)

cdef inline void _swap_rows(unsigned char* data, Py_ssize_t row_bytes, Py_ssize_t i,
                            Py_ssize_t j) noexcept nogil:
    cdef unsigned char* first = data + i * row_bytes
    cdef unsigned char* second = data + j * row_bytes
    cdef unsigned char swap
    cdef Py_ssize_t b
    for b in range(row_bytes):
        swap = first[b]
        first[b] = second[b]
        second[b] = swap


cdef void shuffle_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # ints: rows, bytes per row; arrays: data, out, permutation (int64)
    cdef Py_ssize_t rows = c.ints[0], row_bytes = c.ints[1], i, j
    cdef unsigned char* out = <unsigned char*>c.arrays[1]
    cdef int64_t* permutation = <int64_t*>c.arrays[2]
    cdef int64_t swap
    cdef unsigned long long state = ctx.rng_state
    if c.arrays[0] != c.arrays[1]:
        memcpy(out, c.arrays[0], rows * row_bytes)
    for i in range(rows):
        permutation[i] = i
    i = rows - 1
    while i > 0:
        j = <Py_ssize_t>(_uniform(&state) * (i + 1))      # uniform in [0, i]
        if j != i:
            _swap_rows(out, row_bytes, i, j)
            swap = permutation[i]
            permutation[i] = permutation[j]
            permutation[j] = swap
        i -= 1
    ctx.rng_state = state


def append_shuffle(Plan plan, data, out, permutation, str label):
    """out = data with its rows (first axis) in a random order, any dtype; out[i] is
    data[permutation[i]]."""
    if out.size == 0:
        return
    rows = permutation.size
    plan.add_python(_Reseed(plan), label)
    plan.add(shuffle_kernel, 0, [data, out, permutation], [rows, data.nbytes // rows], [], label)


cdef void shuffle_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # ints: rows, bytes per row; arrays: out_grad, permutation, data_grad
    cdef Py_ssize_t rows = c.ints[0], row_bytes = c.ints[1], i
    cdef const int64_t* permutation = <int64_t*>c.arrays[1]
    for i in range(rows):
        # data_grad[permutation[i]] = out_grad[i]
        memcpy(c.arrays[2] + permutation[i] * row_bytes, c.arrays[0] + i * row_bytes, row_bytes)


def append_shuffle_backward(Plan plan, out_grad, permutation, data_grad, str req, str label):
    if req_code(req, label) == REQ_NULL or data_grad.size == 0:
        return
    rows = permutation.size
    plan.add(shuffle_backward_kernel, 0, [out_grad, permutation, data_grad],
             [rows, data_grad.nbytes // rows], [], label)


# ---------------------------------------------------------------------------------------------
# _sample_unique_zipfian: per row, distinct classes of the log-uniform distribution on
# [0, range_max), drawn until num_sampled are distinct; the draws each took

cdef void unique_zipfian_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # ints: batch, num_sampled, range_max; arrays: samples (int64), tries (int64), workspace
    # (one flag byte per class)
    cdef Py_ssize_t batch = c.ints[0], count = c.ints[1], r, found
    cdef double log_range = log(<double>c.ints[2])
    cdef int64_t* samples = <int64_t*>c.arrays[0]
    cdef int64_t* tries = <int64_t*>c.arrays[1]
    cdef unsigned char* seen = <unsigned char*>c.arrays[2]
    cdef int64_t value, draws
    cdef unsigned long long state = ctx.rng_state
    memset(seen, 0, c.ints[2])
    for r in range(batch):
        found = 0
        draws = 0
        while found < count:
            # MXNet's draw, about log-uniform: P(c) ~ log((c + 2) / (c + 1)) / log(range_max + 1)
            value = <int64_t>floor(exp(_uniform(&state) * log_range) + 0.5) - 1
            draws += 1
            if not seen[value]:
                seen[value] = 1
                samples[r * count + found] = value
                found += 1
        tries[r] = draws
        for found in range(count):
            seen[samples[r * count + found]] = 0
    ctx.rng_state = state


def append_unique_zipfian(Plan plan, samples, tries, workspace, int range_max, str label):
    batch, count = samples.shape
    if count > range_max:
        raise ValueError(f"{label}: {count} distinct samples from {range_max} classes")
    plan.add_python(_Reseed(plan), label)
    plan.add(unique_zipfian_kernel, 0, [samples, tries, workspace], [batch, count, range_max], [],
             label)


include "sampling_pdf.pxi"
