"""Kernel of the CTC loss (Graves et al. 2006): forward cost and, in the same pass, its gradient
with respect to the unnormalized activations, as MXNet 1.9.1 computes them on the CPU
(3rdparty/ctc_include/detail/cpu_ctc.h, warp-ctc's algorithm).

data is (T, N, A) activations (softmax is applied here), label (N, Lmax) class indices.  For
each sample the label sequence is extended with blanks, l' = (blank, l1, blank, l2, ..., blank)
of length S = 2L + 1, and the forward (alpha) and backward (beta) variables run in log space:

    alpha_t(s) = logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), [skip] alpha_{t-1}(s-2)) + lp_t(l'_s)
    beta_t(s)  = logsumexp(beta_{t+1}(s), beta_{t+1}(s+1), [skip] beta_{t+1}(s+2)) + lp_t(l'_s)

where lp is the log-softmax and a skip is allowed between different non-blank labels.  The cost
is -log p = -logsumexp(alpha_{T-1}(S-1), alpha_{T-1}(S-2)), and

    grad_t(k) = softmax_t(k) - exp(logsumexp_{s: l'_s = k}(alpha_t(s) + beta_t(s)) - lp_t(k) + log p)

Samples whose labels cannot fit their length (L + repeated neighbours > T) cost 0, as in
MXNet, and get a zero gradient (MXNet leaves theirs unwritten); time steps past a sample's
length get a zero gradient.
"""
from libc.math cimport exp, log, log1p, fabs, INFINITY
from libc.string cimport memset

from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype, scratch, store, REQ_NULL, req_code
from cysym._ops.runner cimport Plan, KernelCall, RunContext

cdef int ERROR_LABEL_RANGE = 1   # runner.KERNEL_ERRORS[1]: index out of range


cdef inline real _log_plus(real a, real b) noexcept nogil:
    """log(exp(a) + exp(b)), exact when either is -inf."""
    if a == -INFINITY:
        return b
    if b == -INFINITY:
        return a
    return <real>log1p(exp(-fabs(a - b))) + (a if a > b else b)


cdef struct Sizes:
    Py_ssize_t T, N, A, Lmax
    Py_ssize_t blank
    bint has_data_lengths, has_label_lengths, with_grad
    double padding


cdef inline Py_ssize_t _clamp(Py_ssize_t value, Py_ssize_t high) noexcept nogil:
    return 0 if value < 0 else (high if value > high else value)


cdef inline Py_ssize_t _state_label(const real* labels, Py_ssize_t s, Py_ssize_t blank) noexcept nogil:
    """l'_s: the blank at even states, label (s - 1) / 2 at odd ones."""
    return blank if s % 2 == 0 else <Py_ssize_t><int>labels[s // 2]


cdef void _log_softmax(const real* data, real* lp, Py_ssize_t steps, Py_ssize_t b,
                       Py_ssize_t N, Py_ssize_t A) noexcept nogil:
    """lp[t, k] = log_softmax(data[t, b, :])[k] for the sample's time steps."""
    cdef Py_ssize_t t, k
    cdef const real* x
    cdef real largest, log_total
    cdef double total
    for t in range(steps):
        x = data + (t * N + b) * A
        largest = x[0]
        for k in range(1, A):
            if x[k] > largest:
                largest = x[k]
        total = 0
        for k in range(A):
            total += exp(x[k] - largest)
        log_total = <real>log(total)
        for k in range(A):
            lp[t * A + k] = x[k] - largest - log_total


cdef real _alphas(const real* lp, const real* labels, real* alpha, Py_ssize_t steps, Py_ssize_t S,
                  Py_ssize_t A, Py_ssize_t blank) noexcept nogil:
    """The forward variables alpha (steps, S); returns log p."""
    cdef Py_ssize_t t, s, label
    cdef real total
    for s in range(steps * S):
        alpha[s] = -INFINITY
    alpha[0] = lp[blank]
    if S > 1:
        alpha[1] = lp[_state_label(labels, 1, blank)]
    for t in range(1, steps):
        for s in range(S):
            label = _state_label(labels, s, blank)
            total = alpha[(t - 1) * S + s]
            if s >= 1:
                total = _log_plus(total, alpha[(t - 1) * S + s - 1])
            if s >= 2 and label != blank and label != _state_label(labels, s - 2, blank):
                total = _log_plus(total, alpha[(t - 1) * S + s - 2])
            alpha[t * S + s] = total + lp[t * A + label]
    total = alpha[(steps - 1) * S + S - 1]
    if S > 1:
        total = _log_plus(total, alpha[(steps - 1) * S + S - 2])
    return total


cdef void _grad_step(const real* lp_t, const real* alpha_t, const real* beta, const real* labels,
                     real* grad_t, real* posterior, Py_ssize_t S, Py_ssize_t A, Py_ssize_t blank,
                     real log_p) noexcept nogil:
    """grad_t(k) from alpha_t + beta_t (both holding lp_t(l'_s), hence one - lp_t(k))."""
    cdef Py_ssize_t s, k, label
    for k in range(A):
        posterior[k] = -INFINITY
    for s in range(S):
        label = _state_label(labels, s, blank)
        if alpha_t[s] != -INFINITY and beta[s] != -INFINITY:
            posterior[label] = _log_plus(posterior[label], alpha_t[s] + beta[s])
    for k in range(A):
        # MXNet's test also skips a posterior of exactly 0 (log 1)
        if posterior[k] == 0 or posterior[k] == -INFINITY or lp_t[k] == -INFINITY:
            grad_t[k] = <real>exp(lp_t[k])
        else:
            grad_t[k] = <real>(exp(lp_t[k]) - exp(posterior[k] - lp_t[k] - log_p))


cdef void _betas_and_grad(const real* lp, const real* labels, const real* alpha, real* beta,
                          real* posterior, real* grad, Py_ssize_t steps, Py_ssize_t S,
                          Py_ssize_t N, Py_ssize_t A, Py_ssize_t blank, real log_p) noexcept nogil:
    """beta one time step at a time (in place: beta_t(s) reads beta_{t+1} at s, s+1, s+2) and
    the gradient of each step into grad[t, b] (grad points at sample b's row of step 0)."""
    cdef Py_ssize_t t, s, label
    cdef real total
    for s in range(S):
        beta[s] = -INFINITY
    beta[S - 1] = lp[(steps - 1) * A + blank]
    if S > 1:
        beta[S - 2] = lp[(steps - 1) * A + _state_label(labels, S - 2, blank)]
    _grad_step(lp + (steps - 1) * A, alpha + (steps - 1) * S, beta, labels,
               grad + (steps - 1) * N * A, posterior, S, A, blank, log_p)
    for t in range(steps - 2, -1, -1):
        for s in range(S):
            label = _state_label(labels, s, blank)
            total = beta[s]
            if s + 1 < S:
                total = _log_plus(total, beta[s + 1])
            if s + 2 < S and label != blank and label != _state_label(labels, s + 2, blank):
                total = _log_plus(total, beta[s + 2])
            beta[s] = total + lp[t * A + label]
        _grad_step(lp + t * A, alpha + t * S, beta, labels, grad + t * N * A, posterior, S, A,
                   blank, log_p)


cdef int _ctc(const real* data, const real* label, const real* data_lengths,
              const real* label_lengths, real* cost, real* grad, real* work, Sizes* z,
              int req) noexcept nogil:
    cdef Py_ssize_t b, i, t, k, steps, length, repeats, S
    cdef Py_ssize_t T = z.T, N = z.N, A = z.A
    cdef const real* labels
    cdef real* lp = work
    cdef real* alpha = work + T * A
    cdef real* beta = alpha + T * (2 * z.Lmax + 1)
    cdef real* posterior = beta + 2 * z.Lmax + 1
    cdef real log_p
    if z.with_grad:
        memset(grad, 0, T * N * A * sizeof(real))
    for b in range(N):
        labels = label + b * z.Lmax
        steps = _clamp(<Py_ssize_t><int>data_lengths[b], T) if z.has_data_lengths else T
        if z.has_label_lengths:
            length = _clamp(<Py_ssize_t><int>label_lengths[b], z.Lmax)
        else:   # up to the first padding value
            length = 0
            while length < z.Lmax and labels[length] != z.padding:
                length += 1
        repeats = 0
        for i in range(length):
            k = <Py_ssize_t><int>labels[i]
            if k < 0 or k >= A:
                return ERROR_LABEL_RANGE
            if i > 0 and labels[i] == labels[i - 1]:
                repeats += 1
        if steps == 0 or length + repeats > steps:
            store(cost, b, 0, req)
            continue
        S = 2 * length + 1
        _log_softmax(data, lp, steps, b, N, A)
        log_p = _alphas(lp, labels, alpha, steps, S, A, z.blank)
        store(cost, b, -log_p, req)
        if z.with_grad:
            _betas_and_grad(lp, labels, alpha, beta, posterior, grad + b * A, steps, S, N, A,
                            z.blank, log_p)
    return 0


cdef void ctc_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: data, label, data_lengths (or data), label_lengths (or data), cost, grad, work;
    # ints: T, N, A, Lmax, blank, has_data_lengths, has_label_lengths, with_grad, req;
    # floats: padding
    cdef Sizes z
    cdef int status
    z.T = c.ints[0]; z.N = c.ints[1]; z.A = c.ints[2]; z.Lmax = c.ints[3]; z.blank = c.ints[4]
    z.has_data_lengths = <bint>c.ints[5]; z.has_label_lengths = <bint>c.ints[6]
    z.with_grad = <bint>c.ints[7]; z.padding = c.floats[0]
    if c.dtype == 0:
        status = _ctc(<float*>c.arrays[0], <float*>c.arrays[1], <float*>c.arrays[2],
                      <float*>c.arrays[3], <float*>c.arrays[4], <float*>c.arrays[5],
                      <float*>c.arrays[6], &z, <int>c.ints[8])
    else:
        status = _ctc(<double*>c.arrays[0], <double*>c.arrays[1], <double*>c.arrays[2],
                      <double*>c.arrays[3], <double*>c.arrays[4], <double*>c.arrays[5],
                      <double*>c.arrays[6], &z, <int>c.ints[8])
    if status:
        ctx.error_code = status


# ---------------------------------------------------------------------------------------
# append_ functions (bind time, with the GIL)

def ctc_workspace_elements(Py_ssize_t T, Py_ssize_t A, Py_ssize_t max_labels):
    """Scratch elements of append_ctc_loss: one sample's log-softmax (T, A), alphas (T, S),
    betas (S) and per-class posteriors (A), S = 2 * max_labels + 1."""
    S = 2 * max_labels + 1
    return T * A + T * S + S + A


def append_ctc_loss(Plan plan, data, label_array, data_lengths, label_lengths, cost, grad,
                    bint blank_last, bint with_grad, workspace=None, str req="write",
                    str label="CTCLoss"):
    """Append cost (+)= the CTC loss of each sample and, when with_grad, grad = its gradient
    with respect to data.  data_lengths / label_lengths may be None (full lengths; labels up to
    the first padding value: 0 with the blank first, -1 with the blank last)."""
    cdef int code = req_code(req, label)
    if data.ndim != 3 or label_array.ndim != 2 or label_array.shape[0] != data.shape[1]:
        raise ValueError(f"{label}: expected (T, N, A) data and (N, L) labels, got "
                         f"{tuple(data.shape)} and {tuple(label_array.shape)}")
    T, N, A = (int(v) for v in data.shape)
    Lmax = int(label_array.shape[1])
    for name, lengths in (("data_lengths", data_lengths), ("label_lengths", label_lengths)):
        if lengths is not None and lengths.shape != (N,):
            raise ValueError(f"{label}: {name} has shape {tuple(lengths.shape)}, expected ({N},)")
    if cost.shape != (N,) or grad.shape != data.shape:
        raise ValueError(f"{label}: outputs {tuple(cost.shape)} and {tuple(grad.shape)} do not "
                         f"fit data {tuple(data.shape)}")
    if A == 0 and N > 0:
        raise ValueError(f"{label}: data {tuple(data.shape)} has no classes (the blank is one)")
    if code == REQ_NULL and not with_grad or N == 0:
        return
    work = scratch(workspace, ctc_workspace_elements(T, A, Lmax), data.dtype)
    arrays = [data, label_array, data if data_lengths is None else data_lengths,
              data if label_lengths is None else label_lengths, cost, grad, work]
    plan.add(ctc_kernel, common_dtype(arrays), arrays,
             [T, N, A, Lmax, A - 1 if blank_last else 0, data_lengths is not None,
              label_lengths is not None, with_grad, code],
             [-1.0 if blank_last else 0.0], label)
