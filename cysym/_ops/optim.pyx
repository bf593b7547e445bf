"""Fused optimizer updates: one pass over the weight instead of NumPy's several passes and
temporaries (an update runs once per parameter per batch, so its fixed cost adds up on
small layers: the entry points take arrays straight, without memoryview set-up).  Each
line keeps MXNet's order of operations, in the weight's dtype."""
from libc.math cimport sqrt, sqrtf
cimport numpy as cnp
import numpy as np
from cysym._ops._blas cimport real

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


def sgd_update(weight, grad, double lr, double wd=0.0, double rescale_grad=1.0, double clip_gradient=-1.0,
               mom=None, double momentum=0.0):
    """weight -= lr * (clip(rescale_grad * grad) + wd * weight), with momentum when mom is given
    (clip_gradient <= 0: no clipping)."""
    cdef cnp.ndarray w = _updated_in_place(weight, "weight")
    cdef cnp.ndarray g = _read_as(grad, w, "grad")
    cdef cnp.ndarray m = None if mom is None else _state(mom, w, "mom")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(w)
    cdef bint clip = clip_gradient > 0
    if cnp.PyArray_TYPE(w) == cnp.NPY_FLOAT32:
        _sgd(<float*>cnp.PyArray_DATA(w), <float*>cnp.PyArray_DATA(g),
             NULL if m is None else <float*>cnp.PyArray_DATA(m), n, lr, wd, rescale_grad,
             clip_gradient, clip, momentum)
    else:
        _sgd(<double*>cnp.PyArray_DATA(w), <double*>cnp.PyArray_DATA(g),
             NULL if m is None else <double*>cnp.PyArray_DATA(m), n, lr, wd, rescale_grad,
             clip_gradient, clip, momentum)


def adam_update(weight, grad, mean, var, double lr, double beta1=0.9, double beta2=0.999, double epsilon=1e-8,
                double wd=0.0, double rescale_grad=1.0, double clip_gradient=-1.0):
    """MXNet's adam_update (lr already bias-corrected by the caller)."""
    cdef cnp.ndarray w = _updated_in_place(weight, "weight")
    cdef cnp.ndarray g = _read_as(grad, w, "grad")
    cdef cnp.ndarray m = _state(mean, w, "mean"), v = _state(var, w, "var")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(w)
    cdef bint clip = clip_gradient > 0
    if cnp.PyArray_TYPE(w) == cnp.NPY_FLOAT32:
        _adam(<float*>cnp.PyArray_DATA(w), <float*>cnp.PyArray_DATA(g), <float*>cnp.PyArray_DATA(m),
              <float*>cnp.PyArray_DATA(v), n, lr, wd, rescale_grad, clip_gradient, clip, beta1, beta2, epsilon)
    else:
        _adam(<double*>cnp.PyArray_DATA(w), <double*>cnp.PyArray_DATA(g), <double*>cnp.PyArray_DATA(m),
              <double*>cnp.PyArray_DATA(v), n, lr, wd, rescale_grad, clip_gradient, clip, beta1, beta2,
              epsilon)
