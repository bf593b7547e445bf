"""Kernels of cysym/ops/hawkes.py: _contrib_hawkesll, the log likelihood of K independent Hawkes
processes with exponential kernels observed over (0, max_time], and its gradient.

For each sample i and each event j < valid_length[i] (time t = the sum of the lags so far,
mark k), with d the time since the last event of mark k and s the process's state:
    ed = exp(-beta[k] d), intensity = lda[i, k] + alpha[k] beta[k] s ed,
    ll += log(intensity) - (lda[i, k] d + alpha[k] s (1 - ed)),  s = 1 + s ed;
then each mark's compensator up to max_time[i] is taken from ll and its state decayed to
max_time[i]: the out_state. The arithmetic and its order are MXNet's
(src/operator/contrib/hawkes_ll-inl.h), exp and log in the data's precision.

The gradient is carried forward through the recursion (as MXNet does for beta): along with s,
the derivatives of s with respect to beta[k] and to the initial state.
"""
from libc.math cimport ceil
from libc.string cimport memcpy, memset
from cysym._ops._blas cimport real
from cysym._ops._libm cimport libm_exp as _exp, libm_log as _log
from cysym._ops._common cimport common_dtype, req_code, store, REQ_NULL, DTYPE_FLOAT32
from cysym._ops._index cimport index_code, read_index
from cysym._ops.runner cimport Plan, KernelCall, RunContext

import numpy as np


cdef inline Py_ssize_t _events(double valid_length, Py_ssize_t length) noexcept nogil:
    """How many j satisfy j < valid_length, within the sequence's length."""
    if not valid_length > 0:
        return 0
    if valid_length >= length:
        return length
    return <Py_ssize_t>ceil(valid_length)


# ---------------------------------------------------------------------------------------------
# forward: arrays lda, alpha, beta, state, lags, marks, valid_length, max_time, output,
# out_state, scratch (2 K); ints N, K, T, marks code, req of output, req of out_state

cdef void _hawkes_forward(KernelCall* c, real* dummy) noexcept nogil:
    cdef const real* lda = <real*>c.arrays[0]
    cdef const real* alpha = <real*>c.arrays[1]
    cdef const real* beta = <real*>c.arrays[2]
    cdef const real* state = <real*>c.arrays[3]
    cdef const real* lags = <real*>c.arrays[4]
    cdef const char* marks = c.arrays[5]
    cdef const real* valid_length = <real*>c.arrays[6]
    cdef const real* max_time = <real*>c.arrays[7]
    cdef real* output = <real*>c.arrays[8]
    cdef real* out_state = <real*>c.arrays[9]
    cdef real* last = <real*>c.arrays[10]      # per mark: the time of its last event
    cdef real* s = last + c.ints[1]            # per mark: its state
    cdef Py_ssize_t N = c.ints[0], K = c.ints[1], T = c.ints[2], i, j, k, events
    cdef int marks_code = <int>c.ints[3], req_ll = <int>c.ints[4], req_state = <int>c.ints[5]
    cdef real ll, t, d, ed, intensity, compensator, remaining
    cdef const real* mu
    for i in range(N):
        mu = lda + i * K
        memset(last, 0, K * sizeof(real))
        memcpy(s, state + i * K, K * sizeof(real))
        ll = 0
        t = 0
        events = _events(valid_length[i], T)
        for j in range(events):
            k = <Py_ssize_t>read_index(marks, marks_code, i * T + j)
            t += lags[i * T + j]
            if k < 0 or k >= K:     # MXNet reads outside its arrays: the event is skipped
                continue
            d = t - last[k]
            ed = _exp(-beta[k] * d)
            intensity = mu[k] + alpha[k] * beta[k] * s[k] * ed
            compensator = mu[k] * d + alpha[k] * s[k] * (1 - ed)
            ll += _log(intensity) - compensator
            s[k] = 1 + s[k] * ed
            last[k] = t
        remaining = 0
        for k in range(K):
            d = max_time[i] - last[k]
            ed = _exp(-beta[k] * d)
            remaining += mu[k] * d + alpha[k] * s[k] * (1 - ed)
            store(out_state, i * K + k, ed * s[k], req_state)
        store(output, i, ll - remaining, req_ll)


cdef void hawkes_forward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == DTYPE_FLOAT32:
        _hawkes_forward(c, <float*>NULL)
    else:
        _hawkes_forward(c, <double*>NULL)


def _check(lda, alpha, beta, state, lags, marks, valid_length, max_time, str label):
    N, K = lda.shape
    T = lags.shape[1]
    if (alpha.shape != (K,) or beta.shape != (K,) or state.shape != (N, K) or lags.shape != (N, T)
            or marks.shape != (N, T) or valid_length.shape != (N,) or max_time.shape != (N,)):
        raise ValueError(f"{label}: inconsistent shapes lda {lda.shape}, alpha {alpha.shape}, "
                         f"beta {beta.shape}, state {state.shape}, lags {lags.shape}, marks "
                         f"{marks.shape}, valid_length {valid_length.shape}, max_time "
                         f"{max_time.shape}")
    return N, K, T, index_code(marks, label, "marks")


def append_hawkes(Plan plan, lda, alpha, beta, state, lags, marks, valid_length, max_time,
                  output, out_state, str req_ll="write", str req_state="write",
                  str label="_contrib_hawkesll"):
    """output (N,) = the log likelihood of each sample, out_state (N, K) = its states at max_time."""
    cdef int code_ll = req_code(req_ll, label), code_state = req_code(req_state, label)
    if code_ll == REQ_NULL and code_state == REQ_NULL:
        return
    N, K, T, marks_code = _check(lda, alpha, beta, state, lags, marks, valid_length, max_time,
                                 label)
    if output.shape != (N,) or out_state.shape != (N, K):
        raise ValueError(f"{label}: outputs {output.shape} and {out_state.shape} for {N} samples "
                         f"of {K} processes")
    floats = [lda, alpha, beta, state, lags, valid_length, max_time, output, out_state]
    dtype = common_dtype(floats)
    scratch = np.empty(max(2 * K, 1), lda.dtype)
    plan.add(hawkes_forward_kernel, dtype,
             [lda, alpha, beta, state, lags, marks, valid_length, max_time, output, out_state,
              scratch], [N, K, T, marks_code, code_ll, code_state], [], label)


# ---------------------------------------------------------------------------------------------
# backward: arrays out_grad (N,), out_state_grad (N, K), lda, alpha, beta, state, lags, marks,
# valid_length, max_time, lda_grad (N, K), alpha_grad (K,), beta_grad (K,), state_grad (N, K),
# scratch (7 K); ints N, K, T, marks code, the four reqs

cdef void _hawkes_backward(KernelCall* c, real* dummy) noexcept nogil:
    cdef const real* out_grad = <real*>c.arrays[0]
    cdef const real* out_state_grad = <real*>c.arrays[1]
    cdef const real* lda = <real*>c.arrays[2]
    cdef const real* alpha = <real*>c.arrays[3]
    cdef const real* beta = <real*>c.arrays[4]
    cdef const real* state = <real*>c.arrays[5]
    cdef const real* lags = <real*>c.arrays[6]
    cdef const char* marks = c.arrays[7]
    cdef const real* valid_length = <real*>c.arrays[8]
    cdef const real* max_time = <real*>c.arrays[9]
    cdef real* lda_grad = <real*>c.arrays[10]
    cdef real* alpha_grad = <real*>c.arrays[11]
    cdef real* beta_grad = <real*>c.arrays[12]
    cdef real* state_grad = <real*>c.arrays[13]
    cdef real* scratch = <real*>c.arrays[14]
    cdef Py_ssize_t N = c.ints[0], K = c.ints[1], T = c.ints[2], i, j, k, events
    cdef int marks_code = <int>c.ints[3]
    cdef int req_lda = <int>c.ints[4], req_alpha = <int>c.ints[5], req_beta = <int>c.ints[6]
    cdef int req_state = <int>c.ints[7]
    # per mark of one sample: the time of its last event, its state s, ds/dbeta, ds/dstate0, and
    # the likelihood's derivatives with respect to beta and the initial state
    cdef real* last = scratch
    cdef real* s = scratch + K
    cdef real* s_beta = scratch + 2 * K
    cdef real* s_state = scratch + 3 * K
    cdef real* g_beta = scratch + 4 * K
    cdef real* g_state = scratch + 5 * K
    cdef real* g_alpha = scratch + 6 * K
    cdef real* g_mu = scratch + 7 * K
    cdef real t, d, ed, intensity, head, head_state
    cdef const real* mu
    # alpha and beta gather every sample's share: their totals are kept in the last two rows
    cdef real* alpha_sum = scratch + 8 * K
    cdef real* beta_sum = scratch + 9 * K
    memset(alpha_sum, 0, 2 * K * sizeof(real))
    for i in range(N):
        mu = lda + i * K
        memset(scratch, 0, 8 * K * sizeof(real))
        memcpy(s, state + i * K, K * sizeof(real))
        for k in range(K):
            s_state[k] = 1
        t = 0
        events = _events(valid_length[i], T)
        for j in range(events):
            k = <Py_ssize_t>read_index(marks, marks_code, i * T + j)
            t += lags[i * T + j]
            if k < 0 or k >= K:
                continue
            d = t - last[k]
            ed = _exp(-beta[k] * d)
            intensity = mu[k] + alpha[k] * beta[k] * s[k] * ed
            g_mu[k] = g_mu[k] + 1 / intensity - d
            g_alpha[k] = g_alpha[k] + beta[k] * s[k] * ed / intensity - s[k] * (1 - ed)
            g_beta[k] = (g_beta[k] + alpha[k] * ed * (s[k] * (1 - beta[k] * d) + beta[k] * s_beta[k])
                         / intensity - alpha[k] * (s_beta[k] * (1 - ed) + s[k] * d * ed))
            g_state[k] = (g_state[k] + alpha[k] * beta[k] * s_state[k] * ed / intensity
                          - alpha[k] * s_state[k] * (1 - ed))
            s_beta[k] = ed * (-d * s[k] + s_beta[k])
            s_state[k] = ed * s_state[k]
            s[k] = 1 + s[k] * ed
            last[k] = t
        head = out_grad[i]
        for k in range(K):
            # the compensator up to max_time, and the state decayed to it (out_state)
            d = max_time[i] - last[k]
            ed = _exp(-beta[k] * d)
            g_mu[k] = g_mu[k] - d
            g_alpha[k] = g_alpha[k] - s[k] * (1 - ed)
            g_beta[k] = g_beta[k] - alpha[k] * (s_beta[k] * (1 - ed) + s[k] * d * ed)
            g_state[k] = g_state[k] - alpha[k] * s_state[k] * (1 - ed)
            head_state = out_state_grad[i * K + k]
            store(lda_grad, i * K + k, head * g_mu[k], req_lda)
            alpha_sum[k] += head * g_alpha[k]
            beta_sum[k] += head * g_beta[k] + head_state * ed * (s_beta[k] - d * s[k])
            store(state_grad, i * K + k, head * g_state[k] + head_state * ed * s_state[k], req_state)
    for k in range(K):
        store(alpha_grad, k, alpha_sum[k], req_alpha)
        store(beta_grad, k, beta_sum[k], req_beta)


cdef void hawkes_backward_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == DTYPE_FLOAT32:
        _hawkes_backward(c, <float*>NULL)
    else:
        _hawkes_backward(c, <double*>NULL)


def append_hawkes_backward(Plan plan, out_grad, out_state_grad, lda, alpha, beta, state, lags,
                           marks, valid_length, max_time, lda_grad, alpha_grad, beta_grad,
                           state_grad, reqs, str label="_backward_hawkesll"):
    """The gradients of lda, alpha, beta and state from those of the log likelihood and of
    out_state; reqs: the four requests, in that order."""
    codes = [req_code(req, label) for req in reqs]
    if all(code == REQ_NULL for code in codes):
        return
    N, K, T, marks_code = _check(lda, alpha, beta, state, lags, marks, valid_length, max_time,
                                 label)
    grads = [lda_grad, alpha_grad, beta_grad, state_grad]
    if (out_grad.shape != (N,) or out_state_grad.shape != (N, K)
            or [g.shape for g in grads] != [(N, K), (K,), (K,), (N, K)]):
        raise ValueError(f"{label}: gradients {out_grad.shape}, {out_state_grad.shape} -> "
                         f"{[g.shape for g in grads]} for {N} samples of {K} processes")
    floats = [out_grad, out_state_grad, lda, alpha, beta, state, lags, valid_length, max_time] + grads
    dtype = common_dtype(floats)
    scratch = np.empty(max(10 * K, 1), lda.dtype)
    plan.add(hawkes_backward_kernel, dtype,
             [out_grad, out_state_grad, lda, alpha, beta, state, lags, marks, valid_length,
              max_time] + grads + [scratch], [N, K, T, marks_code] + codes, [], label)
