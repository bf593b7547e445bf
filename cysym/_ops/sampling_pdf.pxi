# The densities of _random_pdf_* and their gradients (included by sampling.pyx): MXNet's
# formulas of src/operator/random/pdf_op.h, computed in double precision.  The parameters of
# distribution d serve the `per` samples d * per ... d * per + per - 1; a parameter's gradient
# sums over its samples.  gamma's density takes beta as a rate (a log b + (a-1) log x - b x),
# as MXNet's does.

cdef double _log_pdf(int distribution, double x, double p1, double p2) noexcept nogil:
    cdef double limit, prob
    if distribution == UNIFORM:
        return -log(p2 - p1)
    if distribution == NORMAL:
        return -0.5 * (x - p1) * (x - p1) / (p2 * p2) - log(sqrt(2.0 * M_PI) * p2)
    if distribution == GAMMA:
        return p1 * log(p2) + (p1 - 1) * log(x) - p2 * x - lgamma(p1)
    if distribution == EXPONENTIAL:
        return log(p1) - p1 * x
    if distribution == POISSON:
        return x * log(p1) - lgamma(x + 1) - p1
    if distribution == GENERALIZED_NEGATIVE_BINOMIAL:   # NB(1 / alpha, 1 / (mu alpha + 1))
        limit = 1.0 / p2
        prob = 1.0 / (p1 * p2 + 1.0)
        p1, p2 = limit, prob
    # NEGATIVE_BINOMIAL (k, p)
    return lgamma(x + p1) - lgamma(x + 1) - lgamma(p1) + p1 * log(p2) + x * log(1 - p2)


cdef void _log_pdf_grad(int distribution, double x, double p1, double p2, double scaling,
                        double* dx, double* dp1, double* dp2) noexcept nogil:
    """The derivatives of the density (scaling = out_grad * pdf) or of its log (out_grad)."""
    cdef double grad_l, grad_p, limit, prob, den
    dx[0] = 0.0
    dp2[0] = 0.0
    if distribution == UNIFORM:
        dp1[0] = scaling / (p2 - p1)
        dp2[0] = scaling / (p1 - p2)
    elif distribution == NORMAL:
        dp1[0] = scaling * (x - p1) / (p2 * p2)
        dp2[0] = scaling * ((x - p1) * (x - p1) - p2 * p2) / (p2 * p2 * p2)
        dx[0] = scaling * (p1 - x) / (p2 * p2)
    elif distribution == GAMMA:
        dp1[0] = scaling * (log(p2) + log(x) - psi(p1))
        dp2[0] = scaling * (p1 / p2 - x)
        dx[0] = scaling * ((p1 - 1) / x - p2)
    elif distribution == EXPONENTIAL:
        dp1[0] = scaling * (1.0 / p1 - x)
        dx[0] = -scaling * p1
    elif distribution == POISSON:
        dp1[0] = scaling * (x / p1 - 1.0)
    elif distribution == NEGATIVE_BINOMIAL:
        dp1[0] = scaling * (psi(x + p1) - psi(p1) + log(p2))
        dp2[0] = scaling * (p1 / p2 - x / (1 - p2))
    else:   # GENERALIZED_NEGATIVE_BINOMIAL through NB(limit, prob)
        den = p1 * p2 + 1.0
        limit = 1.0 / p2
        prob = 1.0 / den
        grad_l = scaling * (psi(x + limit) - psi(limit) + log(prob))
        grad_p = scaling * (limit / prob - x / (1 - prob))
        dp1[0] = -grad_p * p2 / (den * den)
        dp2[0] = -grad_l / (p2 * p2) - grad_p * p1 / (den * den)


cdef double _dirichlet_log_pdf(const real* x, const real* alpha, Py_ssize_t k) noexcept nogil:
    cdef double total = 0, log_gammas = 0, weighted = 0
    cdef Py_ssize_t j
    for j in range(k):
        total += alpha[j]
        log_gammas += lgamma(alpha[j])
        weighted += (alpha[j] - 1) * log(x[j])
    return weighted + lgamma(total) - log_gammas


cdef void _pdf(KernelCall* c, real* dummy) noexcept nogil:
    # ints: distribution, distributions, samples per distribution, k (dirichlet: outcomes),
    # is_log, parameter arrays; arrays: sample, p1, [p2], out
    cdef int distribution = <int>c.ints[0]
    cdef Py_ssize_t count = c.ints[1], per = c.ints[2], k = c.ints[3], d, i
    cdef bint is_log = c.ints[4], two = c.ints[5] == 2
    cdef const real* x = <real*>c.arrays[0]
    cdef const real* p1 = <real*>c.arrays[1]
    cdef const real* p2 = <real*>c.arrays[2] if two else p1
    cdef real* out = <real*>c.arrays[3 if two else 2]
    cdef double value
    for d in range(count):
        for i in range(d * per, d * per + per):
            if distribution == DIRICHLET:
                value = _dirichlet_log_pdf(x + i * k, p1 + d * k, k)
            else:
                value = _log_pdf(distribution, x[i], p1[d], p2[d])
            out[i] = <real>(value if is_log else exp(value))


cdef void pdf_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _pdf(c, <float*>NULL)
    else:
        _pdf(c, <double*>NULL)


cdef void _pdf_backward(KernelCall* c, real* dummy) noexcept nogil:
    # ints as _pdf; arrays: out_grad, sample, p1, [p2], out, sample_grad, p1_grad, [p2_grad]
    cdef int distribution = <int>c.ints[0]
    cdef Py_ssize_t count = c.ints[1], per = c.ints[2], k = c.ints[3], d, i, j
    cdef bint is_log = c.ints[4], two = c.ints[5] == 2
    cdef const real* dout = <real*>c.arrays[0]
    cdef const real* x = <real*>c.arrays[1]
    cdef const real* p1 = <real*>c.arrays[2]
    cdef const real* p2 = <real*>c.arrays[3] if two else p1
    cdef const real* out = <real*>c.arrays[4 if two else 3]
    cdef real* dx = <real*>c.arrays[5 if two else 4]
    cdef real* dp1 = <real*>c.arrays[6 if two else 5]
    cdef real* dp2 = <real*>c.arrays[7] if two else NULL
    cdef double scaling, gx, g1, g2, total
    memset(dp1, 0, count * k * sizeof(real))
    if two:
        memset(dp2, 0, count * sizeof(real))
    for d in range(count):
        if distribution == DIRICHLET:
            total = 0
            for j in range(k):
                total += p1[d * k + j]
        for i in range(d * per, d * per + per):
            scaling = dout[i] * (1.0 if is_log else out[i])
            if distribution == DIRICHLET:
                for j in range(k):
                    dp1[d * k + j] += <real>(scaling * (log(x[i * k + j]) + psi(total)
                                                        - psi(p1[d * k + j])))
                    dx[i * k + j] = <real>(scaling * (p1[d * k + j] - 1) / x[i * k + j])
                continue
            _log_pdf_grad(distribution, x[i], p1[d], p2[d], scaling, &gx, &g1, &g2)
            dx[i] = <real>gx
            dp1[d] += <real>g1
            if two:
                dp2[d] += <real>g2


cdef void pdf_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _pdf_backward(c, <float*>NULL)
    else:
        _pdf_backward(c, <double*>NULL)


def _pdf_layout(str distribution, sample, parameter):
    """(distributions, samples per distribution, outcomes per sample)."""
    k = parameter.shape[parameter.ndim - 1] if distribution == "dirichlet" else 1
    count = parameter.size // k if k else 0
    per = sample.size // parameter.size if parameter.size else 0
    return count, per, k


def append_pdf(Plan plan, str distribution, sample, list parameters, out, bint is_log, str req,
               str label):
    """out = the density (or its log) at sample of the distributions with these parameters."""
    if req_code(req, label) == REQ_NULL:
        return
    count, per, k = _pdf_layout(distribution, sample, parameters[0])
    arrays = [sample] + parameters + [out]
    plan.add(pdf_kernel, common_dtype(arrays), arrays,
             [DISTRIBUTIONS[distribution], count, per, k, is_log, len(parameters)], [], label)


def append_pdf_backward(Plan plan, str distribution, out_grad, sample, list parameters, out,
                        list grads, bint is_log, str label):
    """grads = [sample_grad] + one gradient per parameter array (summed over its samples)."""
    count, per, k = _pdf_layout(distribution, sample, parameters[0])
    arrays = [out_grad, sample] + parameters + [out] + grads
    plan.add(pdf_backward_kernel, common_dtype(arrays), arrays,
             [DISTRIBUTIONS[distribution], count, per, k, is_log, len(parameters)], [], label)
