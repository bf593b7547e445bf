"""Fused optimizer updates: one pass over the weight instead of NumPy's several passes and
temporaries (an update runs once per parameter per batch, so its fixed cost adds up on
small layers: the entry points take arrays straight, without memoryview set-up).  Each
line keeps MXNet's order of operations, in the weight's dtype."""
from libc.math cimport sqrt, sqrtf, fabs, pow, isfinite
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
cimport numpy as cnp
import numpy as np
from cysym._ops._blas cimport real
from cysym._ops._common cimport common_dtype
from cysym._ops._index cimport index_code, read_index
from cysym._ops.runner cimport Plan, KernelCall, RunContext

cnp.import_array()


cdef inline real _clipped(real g, real bound, bint clip) noexcept nogil:
    if clip:
        if g > bound:
            return bound
        if g < -bound:
            return -bound
    return g


cdef inline real _sqrt(real x) noexcept nogil:
    if real is float: return sqrtf(x)
    else: return sqrt(x)


cdef void _sgd(real* w, const real* grad, real* mom, Py_ssize_t n, real lr, real wd, real rescale,
               real bound, bint clip, real momentum) noexcept nogil:
    cdef Py_ssize_t i
    cdef real g, decay = lr * wd, keep = 1 - lr * wd, step = lr * rescale
    # one loop per case, so that the common ones (no clipping) vectorize
    if mom == NULL and not clip:
        for i in range(n):
            # weight = (1 - lr * wd) * weight - lr * rescale * grad
            w[i] = keep * w[i] - step * grad[i]
    elif mom == NULL:
        for i in range(n):
            w[i] = keep * w[i] - lr * _clipped(grad[i] * rescale, bound, True)
    elif not clip:
        for i in range(n):
            # mom = momentum * mom - lr * wd * weight - lr * g;  weight += mom
            mom[i] = mom[i] * momentum - decay * w[i] - lr * (grad[i] * rescale)
            w[i] = w[i] + mom[i]
    else:
        for i in range(n):
            g = _clipped(grad[i] * rescale, bound, True)
            mom[i] = mom[i] * momentum - decay * w[i] - lr * g
            w[i] = w[i] + mom[i]


cdef void _adam(real* w, const real* grad, real* mean, real* var, Py_ssize_t n, real lr, real wd,
                real rescale, real bound, bint clip, real beta1, real beta2, real epsilon) noexcept nogil:
    cdef Py_ssize_t i
    cdef real g
    for i in range(n):
        # g = clip(rescale * grad + wd * weight)
        g = _clipped(grad[i] * rescale + wd * w[i], bound, clip)
        mean[i] = beta1 * mean[i] + (1 - beta1) * g
        var[i] = beta2 * var[i] + (1 - beta2) * g * g
        w[i] = w[i] - lr * mean[i] / (_sqrt(var[i]) + epsilon)


cdef cnp.ndarray _updated_in_place(object array, str what):
    """array itself, when it is a C-contiguous float32/float64 ndarray the update can write."""
    if (not isinstance(array, np.ndarray) or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>array)
            or cnp.PyArray_TYPE(<cnp.ndarray>array) not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)
            or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>array)):
        raise ValueError(f"{what} must be a writeable C-contiguous float32 or float64 array "
                         f"(it is updated in place)")
    return <cnp.ndarray>array


cdef cnp.ndarray _read_as(object array, cnp.ndarray weight, str what):
    """array with the weight's dtype and size, C-contiguous (copied only when it is not)."""
    cdef cnp.ndarray result
    if (isinstance(array, np.ndarray) and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>array)
            and cnp.PyArray_TYPE(<cnp.ndarray>array) == cnp.PyArray_TYPE(weight)):
        result = <cnp.ndarray>array
    else:
        result = np.ascontiguousarray(array, dtype=weight.dtype)
    if cnp.PyArray_SIZE(result) != cnp.PyArray_SIZE(weight):
        raise ValueError(f"{what} has {cnp.PyArray_SIZE(result)} elements, the weight has "
                         f"{cnp.PyArray_SIZE(weight)}")
    return result


cdef cnp.ndarray _state(object array, cnp.ndarray weight, str what):
    cdef cnp.ndarray state = _updated_in_place(array, what)
    if cnp.PyArray_TYPE(state) != cnp.PyArray_TYPE(weight) or cnp.PyArray_SIZE(state) != cnp.PyArray_SIZE(weight):
        raise ValueError(f"{what} must match the weight: {state.dtype} {state.size} vs "
                         f"{weight.dtype} {weight.size}")
    return state


def sgd_update(weight, grad, float lr, float wd=0.0, float rescale_grad=1.0, float clip_gradient=-1.0,
               mom=None, float momentum=0.0):
    """weight -= lr * (clip(rescale_grad * grad) + wd * weight), with momentum when mom is given:
    the operator sgd(_mom)_update's numbers (float32 parameters, as MXNet's, and clipping for
    clip_gradient >= 0), without a plan."""
    cdef cnp.ndarray w = _updated_in_place(weight, "weight")
    cdef cnp.ndarray g = _read_as(grad, w, "grad")
    _sgd_arrays(w, g, None if mom is None else _state(mom, w, "mom"), lr, wd, rescale_grad,
                clip_gradient, momentum)


cdef bint _updatable(object weight, object grad, object mom) except -1:
    """Whether sgd can update the caller's arrays as they are: weight, grad and mom (or None)
    C-contiguous, writeable, of one float dtype and shape, not overlapping."""
    if not (_direct(weight, weight) and _direct(grad, weight) and (mom is None or _direct(mom, weight))):
        return False
    return not (_overlap(weight, grad) or (mom is not None and (_overlap(mom, weight) or _overlap(mom, grad))))


def sgd_update_keywords(weight, grad, mom, dict params, bint with_mom):
    """sgd_update on the caller's arrays as they are (see _updatable), with the keyword
    parameters of mx.nd.sgd_update (with_mom: sgd_mom_update): lr, and optionally wd,
    rescale_grad, clip_gradient, momentum (sgd_mom_update only) as plain numbers, lazy_update as
    a bool, and name.  Returns whether it ran: False (nothing done) for any other keyword or
    value, which the general path converts or refuses, and for arrays it cannot update as they
    are.  One call per parameter and step in a training loop: the keywords are
    read here rather than in Python (4 x 4 weight, at a load of 7: 2.4-2.8 -> 1.5-1.8 us a call)."""
    cdef double lr = 0.0, wd = 0.0, rescale_grad = 1.0, clip_gradient = -1.0, momentum = 0.0
    cdef bint has_lr = False
    for key, value in params.items():
        if key == "name":
            continue
        if key == "lazy_update":
            if type(value) is not bool:
                return False
            continue
        if type(value) is not float and type(value) is not int:
            return False
        if key == "lr":
            lr, has_lr = value, True
        elif key == "wd":
            wd = value
        elif key == "rescale_grad":
            rescale_grad = value
        elif key == "clip_gradient":
            clip_gradient = value
        elif key == "momentum" and with_mom:
            momentum = value
        else:
            return False
    if not (has_lr and _updatable(weight, grad, mom)):
        return False
    _sgd_arrays(weight, grad, mom, <float>lr, <float>wd, <float>rescale_grad, <float>clip_gradient,
                <float>momentum)
    return True


def sgd_arrays_direct(list weights, list grads, list moms):
    """Whether sgd_update_many can update these parameters: each as they are (see _updatable),
    all in one dtype."""
    cdef Py_ssize_t k, count = len(weights)
    if len(grads) != count or len(moms) != count:
        return False
    for k in range(count):
        if not (_updatable(weights[k], grads[k], moms[k])
                and cnp.PyArray_TYPE(<cnp.ndarray>weights[k]) == cnp.PyArray_TYPE(<cnp.ndarray>weights[0])):
            return False
    return True


def sgd_update_many(list weights, list grads, list moms, const double[::1] lr_mults,
                    const double[::1] wd_mults, double lr, double wd, float rescale_grad,
                    float clip_gradient, float momentum):
    """sgd_update on every parameter k with lr * lr_mults[k] and wd * wd_mults[k] (products
    in double, then float, as the per-parameter path computes them), in one call without the
    GIL.  The arrays must pass sgd_arrays_direct (the caller checks once; unchecked here)."""
    cdef Py_ssize_t k, count = len(weights)
    cdef bint clip = clip_gradient >= 0
    if lr_mults.shape[0] != count or wd_mults.shape[0] != count:
        raise ValueError(f"sgd_update_many: {count} parameters, {lr_mults.shape[0]} lr and "
                         f"{wd_mults.shape[0]} wd multipliers")
    if count == 0:
        return
    # one block for the pointers and sizes: weight, grad, mom (or NULL) and size of each
    cdef char** pointers = <char**>malloc(count * 3 * sizeof(char*))
    cdef Py_ssize_t* sizes = <Py_ssize_t*>malloc(count * sizeof(Py_ssize_t))
    cdef bint single = cnp.PyArray_TYPE(<cnp.ndarray>weights[0]) == cnp.NPY_FLOAT32
    if pointers == NULL or sizes == NULL:
        free(pointers)
        free(sizes)
        raise MemoryError()
    for k in range(count):
        pointers[3 * k] = <char*>cnp.PyArray_DATA(<cnp.ndarray>weights[k])
        pointers[3 * k + 1] = <char*>cnp.PyArray_DATA(<cnp.ndarray>grads[k])
        pointers[3 * k + 2] = NULL if moms[k] is None else <char*>cnp.PyArray_DATA(<cnp.ndarray>moms[k])
        sizes[k] = cnp.PyArray_SIZE(<cnp.ndarray>weights[k])
    with nogil:
        for k in range(count):
            if single:
                _sgd(<float*>pointers[3 * k], <float*>pointers[3 * k + 1], <float*>pointers[3 * k + 2],
                     sizes[k], <float>(lr * lr_mults[k]), <float>(wd * wd_mults[k]), rescale_grad,
                     clip_gradient, clip, momentum)
            else:
                # the per-parameter entry point takes its parameters as float (C) as well
                _sgd(<double*>pointers[3 * k], <double*>pointers[3 * k + 1], <double*>pointers[3 * k + 2],
                     sizes[k], <float>(lr * lr_mults[k]), <float>(wd * wd_mults[k]), rescale_grad,
                     clip_gradient, clip, momentum)
    free(pointers)
    free(sizes)


def count_updates(dict counts, list indices, Py_ssize_t begin):
    """Count one more update of every index in `counts` (an index not there starts at `begin`),
    when all of them have the same count; returns the new count, or -1 (nothing counted) when
    they differ.  Optimizer._update_count's bookkeeping for a step over many parameters."""
    cdef Py_ssize_t k, count = -1, seen
    for k in range(len(indices)):
        seen = counts.get(indices[k], begin)
        if k > 0 and seen != count:
            return -1
        count = seen
    for index in indices:
        counts[index] = count + 1
    return count + 1


cdef bint _direct(object array, object like):
    """Whether array is a C-contiguous, writeable float32/float64 ndarray of like's dtype and shape."""
    if not isinstance(array, np.ndarray):
        return False
    cdef cnp.ndarray a = <cnp.ndarray>array, b = <cnp.ndarray>like
    cdef int dtype = cnp.PyArray_TYPE(a)
    return ((dtype == cnp.NPY_FLOAT32 or dtype == cnp.NPY_FLOAT64) and dtype == cnp.PyArray_TYPE(b)
            and cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISWRITEABLE(a)
            and cnp.PyArray_SAMESHAPE(a, b))


cdef bint _overlap(cnp.ndarray a, cnp.ndarray b):
    """Whether the memory of two contiguous arrays overlaps."""
    cdef char* start_a = <char*>cnp.PyArray_DATA(a)
    cdef char* start_b = <char*>cnp.PyArray_DATA(b)
    return start_a < start_b + cnp.PyArray_NBYTES(b) and start_b < start_a + cnp.PyArray_NBYTES(a)


cdef void _sgd_arrays(cnp.ndarray w, cnp.ndarray g, cnp.ndarray m, float lr, float wd, float rescale_grad,
                      float clip_gradient, float momentum):
    """_sgd on arrays of one dtype and size (m None: no momentum)."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(w)
    cdef bint clip = clip_gradient >= 0
    if cnp.PyArray_TYPE(w) == cnp.NPY_FLOAT32:
        _sgd(<float*>cnp.PyArray_DATA(w), <float*>cnp.PyArray_DATA(g),
             NULL if m is None else <float*>cnp.PyArray_DATA(m), n, lr, wd, rescale_grad,
             clip_gradient, clip, momentum)
    else:
        _sgd(<double*>cnp.PyArray_DATA(w), <double*>cnp.PyArray_DATA(g),
             NULL if m is None else <double*>cnp.PyArray_DATA(m), n, lr, wd, rescale_grad,
             clip_gradient, clip, momentum)


def adam_update(weight, grad, mean, var, float lr, float beta1=0.9, float beta2=0.999, float epsilon=1e-8,
                float wd=0.0, float rescale_grad=1.0, float clip_gradient=-1.0):
    """The operator adam_update's numbers (lr already bias-corrected by the caller), without a
    plan."""
    cdef cnp.ndarray w = _updated_in_place(weight, "weight")
    cdef cnp.ndarray g = _read_as(grad, w, "grad")
    cdef cnp.ndarray m = _state(mean, w, "mean"), v = _state(var, w, "var")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(w)
    cdef bint clip = clip_gradient >= 0
    if cnp.PyArray_TYPE(w) == cnp.NPY_FLOAT32:
        _adam(<float*>cnp.PyArray_DATA(w), <float*>cnp.PyArray_DATA(g), <float*>cnp.PyArray_DATA(m),
              <float*>cnp.PyArray_DATA(v), n, lr, wd, rescale_grad, clip_gradient, clip, beta1, beta2, epsilon)
    else:
        _adam(<double*>cnp.PyArray_DATA(w), <double*>cnp.PyArray_DATA(g), <double*>cnp.PyArray_DATA(m),
              <double*>cnp.PyArray_DATA(v), n, lr, wd, rescale_grad, clip_gradient, clip, beta1, beta2,
              epsilon)


# ---------------------------------------------------------------------------------------------
# The update operators of cysym/ops/update_ops.py, as plan kernels.  A call's arrays are
# [out, weight, grad, states..., (weight32)]: the kernel copies the updated array (the weight,
# or the float32 master copy weight32 of the mp_ operators) into `out` and updates it in place
# with the states, through the loops above.  Clipping follows MXNet's operators: on when
# clip_gradient >= 0.


UPDATE_KINDS = ("sgd", "sgd_mom", "nag_mom", "adam", "adamw", "rmsprop", "rmspropalex", "ftrl",
                "ftml", "signsgd", "signum", "lamb_phase1", "lamb_phase2")
# how many states each kind updates after (out, weight, grad), and its float parameters
_UPDATE_LAYOUT = {
    "sgd": (0, ("lr", "wd", "rescale_grad", "clip_gradient")),
    "sgd_mom": (1, ("lr", "wd", "rescale_grad", "clip_gradient", "momentum")),
    "nag_mom": (1, ("lr", "wd", "rescale_grad", "clip_gradient", "momentum")),
    "adam": (2, ("lr", "wd", "rescale_grad", "clip_gradient", "beta1", "beta2", "epsilon")),
    # rescale_grad is the state-like fourth input (a one-element array): not a float parameter
    "adamw": (3, ("lr", "wd", "eta", "clip_gradient", "beta1", "beta2", "epsilon")),
    "rmsprop": (1, ("lr", "wd", "rescale_grad", "clip_gradient", "gamma1", "epsilon", "clip_weights")),
    "rmspropalex": (3, ("lr", "wd", "rescale_grad", "clip_gradient", "gamma1", "gamma2", "epsilon",
                        "clip_weights")),
    "ftrl": (2, ("lr", "wd", "rescale_grad", "clip_gradient", "lamda1", "beta")),
    "ftml": (3, ("lr", "wd", "rescale_grad", "clip_grad", "beta1", "beta2", "epsilon", "t")),
    "signsgd": (0, ("lr", "wd")),
    "signum": (1, ("lr", "wd", "rescale_grad", "clip_gradient", "momentum", "wd_lh")),
    # phase 1 writes the step direction g to out; phase 2 reads g as its "grad" and r1, r2
    "lamb_phase1": (2, ("wd", "rescale_grad", "clip_gradient", "beta1", "beta2", "epsilon", "t",
                        "bias_correction")),
    "lamb_phase2": (2, ("lr", "lower_bound", "upper_bound")),
}


cdef inline real _sign(real x) noexcept nogil:
    return (x > 0) - (x < 0)


cdef void _nag(real* w, const real* grad, real* mom, Py_ssize_t n, real lr, real wd, real rescale,
               real bound, bint clip, real momentum, bint decay_new_weight) noexcept nogil:
    """MXNet's nag_mom_update; its mp_ form (decay_new_weight) decays the momentum with the
    weight just updated, not the one the step was computed from."""
    cdef Py_ssize_t i
    cdef real g, kept
    for i in range(n):
        # kept = momentum * mom;  w += (1 + momentum) * (kept - lr * (g + wd * w)) - kept
        # mom = kept - lr * (g + wd * w)
        g = _clipped(grad[i] * rescale, bound, clip)
        kept = momentum * mom[i]
        if decay_new_weight:
            w[i] = w[i] - kept + (momentum + 1) * (kept - lr * (g + wd * w[i]))
            mom[i] = kept - lr * (g + wd * w[i])
        else:
            mom[i] = kept - lr * (g + wd * w[i])
            w[i] = w[i] - kept + (momentum + 1) * mom[i]


cdef void _adamw(real* w, const real* grad, real* mean, real* var, Py_ssize_t n, real lr, real wd,
                 real eta, real rescale, real bound, bint clip, real beta1, real beta2,
                 real epsilon) noexcept nogil:
    cdef Py_ssize_t i
    cdef real g
    for i in range(n):
        g = _clipped(grad[i] * rescale, bound, clip)
        mean[i] = beta1 * mean[i] + (1 - beta1) * g
        var[i] = beta2 * var[i] + (1 - beta2) * g * g
        # decoupled weight decay: w -= eta * (lr * mean / (sqrt(var) + epsilon) + wd * w)
        w[i] = w[i] - eta * (lr * mean[i] / (_sqrt(var[i]) + epsilon) + wd * w[i])


cdef void _rmsprop(real* w, const real* grad, real* state_n, real* state_g, real* delta, Py_ssize_t n,
                   real lr, real wd, real rescale, real bound, bint clip, real gamma1, real gamma2,
                   real epsilon, real clip_weights) noexcept nogil:
    """Tieleman & Hinton's RMSProp, or Graves's (rmspropalex) when state_g is given."""
    cdef Py_ssize_t i
    cdef real g
    for i in range(n):
        g = _clipped(grad[i] * rescale + wd * w[i], bound, clip)
        state_n[i] = (1 - gamma1) * g * g + gamma1 * state_n[i]
        if state_g == NULL:
            w[i] = w[i] - lr * (g / _sqrt(state_n[i] + epsilon))
        else:
            state_g[i] = (1 - gamma1) * g + gamma1 * state_g[i]
            delta[i] = gamma2 * delta[i] - lr * (g / _sqrt(state_n[i] - state_g[i] * state_g[i] + epsilon))
            w[i] = w[i] + delta[i]
        if clip_weights >= 0:
            w[i] = _clipped(w[i], clip_weights, True)


cdef void _ftrl(real* w, const real* grad, real* z, real* state_n, Py_ssize_t n, real lr, real wd,
                real rescale, real bound, bint clip, real lamda1, real beta) noexcept nogil:
    cdef Py_ssize_t i
    cdef real g
    for i in range(n):
        g = _clipped(grad[i] * rescale, bound, clip)
        z[i] = z[i] + g - (_sqrt(state_n[i] + g * g) - _sqrt(state_n[i])) * w[i] / lr
        state_n[i] = state_n[i] + g * g
        # w = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd), 0 where |z| <= lamda1
        w[i] = (_sign(z[i]) * lamda1 - z[i]) / ((beta + _sqrt(state_n[i])) / lr + wd) * (fabs(z[i]) > lamda1)


cdef void _ftml(real* w, const real* grad, real* d, real* v, real* z, Py_ssize_t n, real lr, real wd,
                real rescale, real bound, bint clip, real beta1, real beta2, real epsilon,
                double t) noexcept nogil:
    cdef Py_ssize_t i
    cdef real g, d_t
    cdef real bias1 = 1 - <real>pow(beta1, t), bias2 = 1 - <real>pow(beta2, t)
    for i in range(n):
        g = _clipped(grad[i] * rescale + wd * w[i], bound, clip)
        v[i] = beta2 * v[i] + (1 - beta2) * g * g
        d_t = bias1 / lr * (_sqrt(v[i] / bias2) + epsilon)
        z[i] = beta1 * z[i] + (1 - beta1) * g - (d_t - beta1 * d[i]) * w[i]
        d[i] = d_t
        w[i] = -z[i] / d_t


cdef void _signum(real* w, const real* grad, real* mom, Py_ssize_t n, real lr, real wd, real rescale,
                  real bound, bint clip, real momentum, real wd_lh) noexcept nogil:
    """signum_update; signsgd_update when mom is NULL (which reads the gradient's sign only)."""
    cdef Py_ssize_t i
    for i in range(n):
        if mom == NULL:
            w[i] = (1 - lr * wd) * w[i] - lr * _sign(grad[i])
        else:
            mom[i] = momentum * mom[i] - (1 - momentum) * wd * w[i] - (1 - momentum) * _clipped(
                grad[i] * rescale, bound, clip)
            w[i] = (1 - lr * wd_lh) * w[i] + lr * _sign(mom[i])


cdef void _lamb_phase1(const real* w, const real* grad, real* mean, real* var, real* out, Py_ssize_t n,
                       real wd, real rescale, real bound, bint clip, real beta1, real beta2,
                       real epsilon, double t, bint bias_correction) noexcept nogil:
    cdef Py_ssize_t i
    cdef real g
    cdef real bias1 = 1 - <real>pow(beta1, t), bias2 = 1 - <real>pow(beta2, t)
    for i in range(n):
        g = _clipped(grad[i] * rescale, bound, clip)
        mean[i] = beta1 * mean[i] + (1 - beta1) * g
        var[i] = beta2 * var[i] + (1 - beta2) * g * g
        if bias_correction:
            out[i] = (mean[i] / bias1) / (_sqrt(var[i] / bias2) + epsilon) + wd * w[i]
        else:
            out[i] = mean[i] / (_sqrt(var[i]) + epsilon) + wd * w[i]


cdef void _lamb_phase2(real* w, const real* g, real r1, real r2, Py_ssize_t n, real lr, real lower_bound,
                       real upper_bound) noexcept nogil:
    cdef Py_ssize_t i
    cdef real ratio
    if lower_bound >= 0 and r1 < lower_bound:
        r1 = lower_bound
    if upper_bound >= 0 and r1 > upper_bound:
        r1 = upper_bound
    ratio = 1 if r1 == 0 or r2 == 0 else r1 / r2
    for i in range(n):
        w[i] = w[i] - lr * ratio * g[i]


cdef void _update(KernelCall* c, real* like) noexcept nogil:
    # ints: kind, n, clip, master (1: the master copy weight32 follows the states), rate (>= 0:
    # lr and wd are element `rate` of the last two arrays, the preloaded_ forms' lrs and wds),
    # the dtype code of those two
    cdef int kind = <int>c.ints[0]
    cdef Py_ssize_t n = c.ints[1], rate = c.ints[4], k
    cdef bint clip = c.ints[2] != 0, master = c.ints[3] != 0
    cdef Py_ssize_t tail = c.n_arrays - (2 if rate >= 0 else 0)
    cdef real* out = <real*>c.arrays[0]
    cdef real* weight = <real*>c.arrays[1]
    cdef const real* grad = <real*>c.arrays[2]
    cdef real** s = <real**>(c.arrays + 3)
    cdef double f[16]
    for k in range(c.n_floats):
        f[k] = c.floats[k]
    if rate >= 0:
        f[0] = <float>read_index(c.arrays[tail], <int>c.ints[5], rate)
        f[1] = <float>read_index(c.arrays[tail + 1], <int>c.ints[5], rate)
    cdef real* source = <real*>c.arrays[tail - 1] if master else weight
    cdef real* w = source if master else out
    cdef real rescale
    if kind == 11:     # lamb_phase1: out is the step direction, the weight is only read
        _lamb_phase1(source, grad, s[0], s[1], out, n, f[0], f[1], f[2], clip, f[3], f[4], f[5], f[6],
                     f[7] != 0)
        return
    if kind == 12:     # lamb_phase2: the master copy is only read too (MXNet's mp form)
        w = out
        master = False
    if out != source and not master:
        memcpy(out, source, n * sizeof(real))
    if kind == 0 or kind == 1:
        _sgd(w, grad, s[0] if kind == 1 else NULL, n, f[0], f[1], f[2], f[3], clip,
             f[4] if kind == 1 else 0)
    elif kind == 2:
        _nag(w, grad, s[0], n, f[0], f[1], f[2], f[3], clip, f[4], master)
    elif kind == 3:
        _adam(w, grad, s[0], s[1], n, f[0], f[1], f[2], f[3], clip, f[4], f[5], f[6])
    elif kind == 4:
        # MXNet skips the whole update when the rescale factor (read as a float) is not finite
        # (a loss-scale overflow) or 0
        rescale = <float>s[2][0]
        if isfinite(rescale) and rescale != 0:
            _adamw(w, grad, s[0], s[1], n, f[0], f[1], f[2], rescale, f[3], clip, f[4], f[5], f[6])
    elif kind == 5 or kind == 6:
        _rmsprop(w, grad, s[0], s[1] if kind == 6 else NULL, s[2] if kind == 6 else NULL, n, f[0], f[1],
                 f[2], f[3], clip, f[4], f[5] if kind == 6 else 0, f[6] if kind == 6 else f[5],
                 f[7] if kind == 6 else f[6])
    elif kind == 7:
        _ftrl(w, grad, s[0], s[1], n, f[0], f[1], f[2], f[3], clip, f[4], f[5])
    elif kind == 8:
        _ftml(w, grad, s[0], s[1], s[2], n, f[0], f[1], f[2], f[3], clip, f[4], f[5], f[6], f[7])
    elif kind == 9 or kind == 10:
        _signum(w, grad, s[0] if kind == 10 else NULL, n, f[0], f[1], f[2] if kind == 10 else 1,
                f[3] if kind == 10 else -1, clip, f[4] if kind == 10 else 0, f[5] if kind == 10 else 0)
    elif kind == 12:
        _lamb_phase2(w, grad, s[0][0], s[1][0], n, f[0], f[1], f[2])
    if master and out != w:
        memcpy(out, w, n * sizeof(real))


cdef void update_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _update(c, <float*>NULL)
    else:
        _update(c, <double*>NULL)


def append_update(Plan plan, str kind, out, weight, grad, list states, dict params, weight32=None,
                  rates=None, str label="update"):
    """Append one optimizer update: states (and weight32, the mp_ operators' master copy) are
    updated in place, out receives the new weight (phase 1 of LAMB: its step direction).
    params holds the kind's float parameters (_UPDATE_LAYOUT); adamw's rescale_grad and LAMB
    phase 2's r1, r2 are one-element arrays among the states.  rates = (lrs, wds, i): lr and
    wd are read from lrs[i] and wds[i] when the plan runs (MXNet's preloaded_ forms; float32
    like MXNet's parameters), not from params."""
    count, names = _UPDATE_LAYOUT[kind]
    if len(states) != count:
        raise ValueError(f"{label}: {kind} updates {count} states, got {len(states)}")
    arrays = [out, weight, grad] + states + ([] if weight32 is None else [weight32])
    n = weight.size
    for position, array in enumerate(arrays):
        one_element = (kind == "adamw" and position == 5) or (kind == "lamb_phase2" and position in (3, 4))
        if array.size != (1 if one_element else n):
            raise ValueError(f"{label}: array {position} has {array.size} elements, the weight {n}")
    clip_bound = params.get("clip_gradient", params.get("clip_grad", -1.0))
    rate, rate_code = -1, 0
    if rates is not None:
        lrs, wds, rate = rates
        if names[:2] != ("lr", "wd") or lrs.dtype != wds.dtype or not 0 <= rate < min(lrs.size, wds.size):
            raise ValueError(f"{label}: {kind} cannot read lr and wd at {rate} of {lrs.dtype} "
                             f"{lrs.shape} and {wds.dtype} {wds.shape}")
        rate_code = index_code(lrs, label, "lrs")
        params = dict(params, lr=0.0, wd=0.0)
    plan.add(update_kernel, common_dtype(arrays), arrays + ([] if rates is None else [lrs, wds]),
             [UPDATE_KINDS.index(kind), n, clip_bound >= 0, weight32 is not None, rate, rate_code],
             [float(params[name]) for name in names], label)


# ---------------------------------------------------------------------------------------------
# multi_sum_sq and multi_lars (MXNet's LARS optimizer): the sums of squares are float32 whatever
# the weights' dtype, each accumulated in float as MXNet's

cdef void multi_sum_sq_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    # arrays: inputs..., out (float32, one per input); ints: per input its size and dtype code
    cdef Py_ssize_t count = c.n_arrays - 1, k, i
    cdef float total
    cdef float* out = <float*>c.arrays[count]
    for k in range(count):
        total = 0
        if c.ints[2 * k + 1] == 0:
            for i in range(c.ints[2 * k]):
                total += (<const float*>c.arrays[k])[i] * (<const float*>c.arrays[k])[i]
        else:
            for i in range(c.ints[2 * k]):
                total += <float>((<const double*>c.arrays[k])[i] * (<const double*>c.arrays[k])[i])
        out[k] = total


def append_multi_sum_sq(Plan plan, list inputs, out, str label="multi_sum_sq"):
    """out[k] = sum(inputs[k] ** 2), float32."""
    if out.dtype.name != "float32" or out.size != len(inputs):
        raise ValueError(f"{label}: the output must be {len(inputs)} float32 values, got "
                         f"{out.dtype} {out.shape}")
    ints = []
    for array in inputs:
        ints += [array.size, common_dtype([array])]
    plan.add(multi_sum_sq_kernel, 0, inputs + [out], ints, [], label)


cdef void _multi_lars(KernelCall* c, real* like) noexcept nogil:
    # arrays: lrs, weights_sum_sq, grads_sum_sq, wds, out; ints: n; floats: eta, eps, rescale_grad
    cdef Py_ssize_t i
    cdef const real* lrs = <real*>c.arrays[0]
    cdef const real* weights = <real*>c.arrays[1]
    cdef const real* grads = <real*>c.arrays[2]
    cdef const real* wds = <real*>c.arrays[3]
    cdef real* out = <real*>c.arrays[4]
    cdef real eta = <real>c.floats[0], eps = <real>c.floats[1], rescale = <real>c.floats[2]
    cdef real w_norm
    for i in range(c.ints[0]):
        # lr * eta * ||w|| / (||g|| * rescale_grad + wd * ||w|| + eps), lr where a norm is 0
        w_norm = _sqrt(weights[i])
        if w_norm > 0 and grads[i] > 0:
            out[i] = lrs[i] * eta * w_norm / (_sqrt(grads[i]) * rescale + wds[i] * w_norm + eps)
        else:
            out[i] = lrs[i]


cdef void multi_lars_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _multi_lars(c, <float*>NULL)
    else:
        _multi_lars(c, <double*>NULL)


def append_multi_lars(Plan plan, lrs, weights_sum_sq, grads_sum_sq, wds, out, double eta,
                      double eps, double rescale_grad, str label="multi_lars"):
    """The layer-wise learning rates of LARS (arrays of one size and dtype; MXNet's are float32)."""
    arrays = [lrs, weights_sum_sq, grads_sum_sq, wds, out]
    if any(a.size != lrs.size for a in arrays):
        raise ValueError(f"{label}: every array must have {lrs.size} values")
    plan.add(multi_lars_kernel, common_dtype(arrays), arrays, [lrs.size], [eta, eps, rescale_grad],
             label)


# ---------------------------------------------------------------------------------------------
# _multi_lamb_update: LAMB's two phases on one tensor, the step direction in a workspace

cdef float _sum_of_squares(const real* x, Py_ssize_t n) noexcept nogil:
    """sum(x ** 2) accumulated in float, in order, as MXNet's multi_sum_sq."""
    cdef float total = 0
    cdef Py_ssize_t i
    for i in range(n):
        total += <float>(x[i] * x[i])
    return total


cdef void _lamb(KernelCall* c, real* like) noexcept nogil:
    # arrays: out, weight, grad, mean, var[, weight32], g (workspace); ints: n, master;
    # floats: lr, wd, rescale_grad, clip_gradient, beta1, beta2, epsilon, t, bias_correction,
    # lower_bound, upper_bound
    cdef Py_ssize_t n = c.ints[0]
    cdef bint master = c.ints[1] != 0
    cdef double* f = c.floats
    cdef real* out = <real*>c.arrays[0]
    cdef real* w = <real*>c.arrays[5] if master else <real*>c.arrays[1]
    cdef real* g = <real*>c.arrays[c.n_arrays - 1]
    cdef real r1, r2
    _lamb_phase1(w, <real*>c.arrays[2], <real*>c.arrays[3], <real*>c.arrays[4], g, n, f[1], f[2],
                 f[3], f[3] >= 0, f[4], f[5], f[6], f[7], f[8] != 0)
    r1 = sqrtf(_sum_of_squares(w, n))
    r2 = sqrtf(_sum_of_squares(g, n))
    if not master and out != w:
        memcpy(out, w, n * sizeof(real))
    # phase 2 on the output (or the master copy, which MXNet's mp form updates here)
    _lamb_phase2(w if master else out, g, r1, r2, n, f[0], f[9], f[10])
    if master and out != w:
        memcpy(out, w, n * sizeof(real))


cdef void lamb_kernel(KernelCall* c, RunContext* ctx) noexcept nogil:
    if c.dtype == 0:
        _lamb(c, <float*>NULL)
    else:
        _lamb(c, <double*>NULL)


LAMB_PARAMS = ("lr", "wd", "rescale_grad", "clip_gradient", "beta1", "beta2", "epsilon", "t",
               "bias_correction", "lower_bound", "upper_bound")


def append_lamb(Plan plan, out, weight, grad, mean, var, dict params, workspace, weight32=None,
                str label="_multi_lamb_update"):
    """LAMB on one tensor: phase 1 (mean, var updated in place, the step direction g in the
    workspace), r1 = ||weight||, r2 = ||g|| (float sums, as MXNet), then phase 2 into out (and
    into weight32, the mp_ form's master copy)."""
    arrays = [out, weight, grad, mean, var] + ([] if weight32 is None else [weight32])
    n = weight.size
    if any(a.size != n for a in arrays):
        raise ValueError(f"{label}: every array must have the weight's {n} elements")
    dtype = common_dtype(arrays)
    g = np.asarray(workspace)[:n * weight.itemsize].view(weight.dtype) if workspace is not None \
        else np.empty(n, weight.dtype)
    if g.size < n:
        raise ValueError(f"{label}: the workspace holds {g.size} elements, {n} needed")
    plan.add(lamb_kernel, dtype, arrays + [g], [n, weight32 is not None],
             [float(params[name]) for name in LAMB_PARAMS], label)
